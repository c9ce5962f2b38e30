#include "testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/serial_executor.h"

extern char** environ;

namespace slacker::testing {
namespace {

// The fork thread of the fork rule (see the header for why): one of the
// project's single-thread executors, made on first use and never destroyed,
// so that it lives as long as the process.
slacker::internal::SerialExecutor& ForkThread() {
  static auto* const executor =
      new slacker::internal::SerialExecutor("slacker-fork");
  return *executor;
}

// Runs `task` on the fork thread and returns once it has run.
void RunOnForkThread(const std::function<void()>& task) {
  std::mutex mu;
  std::condition_variable ran;
  bool done = false;
  ForkThread().Post([&] {
    task();
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    ran.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu);
  ran.wait(lock, [&] { return done; });
}

// In the child: makes `fd` its descriptor `target`, open across exec. -1
// keeps the inherited one.
void Redirect(int fd, int target) {
  if (fd < 0) return;
  if (fd == target) {
    fcntl(fd, F_SETFD, 0);  // dup2 onto itself would keep FD_CLOEXEC.
  } else {
    dup2(fd, target);
  }
}

}  // namespace

absl::StatusOr<pid_t> StartChildProcess(const std::vector<std::string>& args,
                                        const ChildProcessOptions& options) {
  if (args.empty()) {
    return absl::InvalidArgumentError(
        "StartChildProcess needs at least the program's path in args[0]");
  }
  // Everything the child needs is prepared before fork: between fork and exec
  // only async-signal-safe calls are allowed in a multi-threaded process.
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);

  pid_t pid = -1;
  int fork_errno = 0;
  RunOnForkThread([&] {
    const pid_t parent = getpid();
    pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);  // The parent died before prctl.
      if (options.own_process_group) setpgid(0, 0);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      Redirect(options.stdin_fd, STDIN_FILENO);
      Redirect(options.stdout_fd, STDOUT_FILENO);
      Redirect(options.stderr_fd, STDERR_FILENO);
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    fork_errno = errno;
  });
  if (pid < 0) {
    return absl::InternalError(absl::StrCat(
        "cannot start ", args[0], ": fork: ", std::strerror(fork_errno)));
  }
  if (options.own_process_group) setpgid(pid, pid);
  return pid;
}

}  // namespace slacker::testing
