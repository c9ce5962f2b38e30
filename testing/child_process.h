// A program run as a child process by a test, so that the test can kill it
// with SIGKILL (a crash) or stop it with SIGTERM; its stdout lines are
// collected for the test to wait on. The child dies with the test process.

#ifndef SLACKER_TESTING_CHILD_PROCESS_H_
#define SLACKER_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace slacker::testing {

// Thread-safe.
class Child {
 public:
  // Starts args[0] (a path) with args[1...]. A failure to start is a test
  // failure (ADD_FAILURE).
  explicit Child(const std::vector<std::string>& args);
  // Kills (SIGKILL) and reaps the process, if it still runs.
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The first line starting with `prefix`, without it; nullopt after
  // `timeout`.
  std::optional<std::string> WaitForLine(
      const std::string& prefix, absl::Duration timeout = absl::Seconds(30));

  // Sends `signal` and reaps the process; returns its wait status.
  int Kill(int signal);
  // Waits for the process to exit by itself and reaps it; returns its wait
  // status.
  int Wait() { return Kill(0); }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_CHILD_PROCESS_H_
