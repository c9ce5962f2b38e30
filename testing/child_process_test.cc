// The fork rule of StartChildProcess: a child outlives the thread that asked
// for it, starts with no signal blocked whatever the caller blocks, and gets
// the descriptors and process group it was given. That it dies with this
// process is proved by tools/zookeeper_launcher_test.sh (kill -9 of the
// launcher leaves no ZooKeeper behind).

#include "testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

namespace slacker::testing {
namespace {

// Waits for `pid` to exit and reaps it; returns its wait status.
int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

int KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  return Reap(pid);
}

// Waits (up to 5 s) until the child `pid` runs /bin/sleep, i.e. has exec'd.
void WaitUntilSleeping(pid_t pid) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name == "sleep") return;
    usleep(10000);
  }
  ADD_FAILURE() << "child " << pid << " never ran /bin/sleep";
}

// The "SigBlk:" mask of /proc/<pid>/status, as hexadecimal text.
std::string BlockedSignals(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "SigBlk:")) {
      return std::string(absl::StripAsciiWhitespace(rest));
    }
  }
  return "(no SigBlk line)";
}

// First in this file, so that the fork thread is started by a thread that
// blocks SIGTERM and SIGINT, as tools/zookeeper_main.cc does: the child must
// not inherit that mask.
TEST(StartChildProcessTest, ChildStartsWithNoSignalBlocked) {
  absl::StatusOr<pid_t> pid;
  std::thread caller([&] {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, nullptr);
    pid = StartChildProcess({"/bin/sleep", "30"});
  });
  caller.join();
  ASSERT_TRUE(pid.ok()) << pid.status();
  // /bin/sleep blocks nothing itself.
  WaitUntilSleeping(*pid);
  EXPECT_EQ(BlockedSignals(*pid), "0000000000000000");
  // SIGTERM is delivered, not held: the child ends by it.
  kill(*pid, SIGTERM);
  const int status = Reap(*pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

TEST(StartChildProcessTest, ChildOutlivesTheThreadThatStartedIt) {
  absl::StatusOr<pid_t> pid;
  std::thread([&] {
    pid = StartChildProcess({"/bin/sleep", "30"});
    // The thread ends only once the child has set PR_SET_PDEATHSIG and
    // exec'd: had the child been forked on this thread, its end would now
    // kill the child.
    if (pid.ok()) WaitUntilSleeping(*pid);
  }).join();
  ASSERT_TRUE(pid.ok()) << pid.status();
  usleep(200000);  // The parent-death signal, if any, is sent meanwhile.
  int status = 0;
  EXPECT_EQ(waitpid(*pid, &status, WNOHANG), 0) << "the child has exited";
  status = KillAndReap(*pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << status;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

TEST(StartChildProcessTest, GivesTheChildItsStdoutAndProcessGroup) {
  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  ChildProcessOptions options;
  options.stdout_fd = pipe_fds[1];
  options.own_process_group = true;
  absl::StatusOr<pid_t> pid =
      StartChildProcess({"/bin/sh", "-c", "echo hello; sleep 30"}, options);
  close(pipe_fds[1]);
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(getpgid(*pid), *pid);
  char buffer[16] = {};
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, 6)) < 0 && errno == EINTR) {
  }
  EXPECT_EQ(std::string(buffer, n > 0 ? n : 0), "hello\n");
  kill(-*pid, SIGKILL);  // The group: sh and its sleep.
  Reap(*pid);
  close(pipe_fds[0]);
}

TEST(StartChildProcessTest, StaysInOurProcessGroupUnlessAsked) {
  absl::StatusOr<pid_t> pid = StartChildProcess({"/bin/sleep", "30"});
  ASSERT_TRUE(pid.ok()) << pid.status();
  EXPECT_EQ(getpgid(*pid), getpgid(0));
  KillAndReap(*pid);
}

TEST(StartChildProcessTest, AProgramThatCannotRunExitsWith127) {
  absl::StatusOr<pid_t> pid = StartChildProcess({"/nonexistent/program"});
  ASSERT_TRUE(pid.ok()) << pid.status();
  const int status = Reap(*pid);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 127);
}

TEST(StartChildProcessTest, NoProgramIsInvalidArgument) {
  absl::StatusOr<pid_t> pid = StartChildProcess({});
  EXPECT_TRUE(absl::IsInvalidArgument(pid.status())) << pid.status();
}

}  // namespace
}  // namespace slacker::testing
