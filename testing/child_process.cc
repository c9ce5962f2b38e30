#include "testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace slacker::testing {
namespace {

// Runs closures, one at a time, on one thread that lives as long as the
// process: the fork thread of the fork rule (see the header for why).
class ForkThread {
 public:
  static ForkThread& Get() {
    static ForkThread* const instance = new ForkThread;  // Never destroyed.
    return *instance;
  }

  // Runs `task` on the fork thread and returns once it has run.
  void Run(std::function<void()> task) {
    std::unique_lock<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    const uint64_t ticket = ++submitted_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return finished_ >= ticket; });
  }

 private:
  ForkThread() {
    std::thread([this] { Loop(); }).detach();
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      changed_.wait(lock, [&] { return !tasks_.empty(); });
      std::function<void()> task = std::move(tasks_.front());
      tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      ++finished_;
      changed_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable changed_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  uint64_t submitted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t finished_ ABSL_GUARDED_BY(mu_) = 0;
};

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
  ForkThread::Get().Run([&] {
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
