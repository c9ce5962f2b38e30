// A program run as a child process by a test, so that the test can kill it
// with SIGKILL (a crash) or stop it with SIGTERM. It is started with
// StartChildProcess, under the fork rule of testing/child_process.h: it dies
// with the test process, however that dies. Its stdout is read line by line,
// either kept for WaitForLine or handed to a callback; its stdin and stderr
// are the test's own.
//
//   Child server({program, "--zookeeper=" + ConnectString()});
//   std::optional<std::string> address = server.WaitForLine("published ");
//   server.Kill(SIGKILL);

#ifndef SLACKER_TESTING_CHILD_H_
#define SLACKER_TESTING_CHILD_H_

#include <sys/types.h>

#include <condition_variable>
#include <functional>
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
  // The same, but each line of stdout (without its newline) goes to
  // `on_line`, in order, on the thread that reads the child's output, and is
  // not kept: WaitForLine finds nothing. For output that several children
  // share; `on_line` must stay callable until Kill or Wait has returned.
  Child(const std::vector<std::string>& args,
        std::function<void(std::string line)> on_line);
  // Kills (SIGKILL) and reaps the process, if it still runs.
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The first line starting with `prefix`, without it; nullopt after
  // `timeout`.
  std::optional<std::string> WaitForLine(
      const std::string& prefix, absl::Duration timeout = absl::Seconds(30));

  // Sends `signal` and reaps the process, then reads its output to the end;
  // returns its wait status.
  int Kill(int signal);
  // Waits for the process to exit by itself and reaps it; returns its wait
  // status.
  int Wait() { return Kill(0); }

  pid_t pid() const { return pid_; }

 private:
  void AddLine(std::string line);

  const std::function<void(std::string)> on_line_;
  pid_t pid_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_CHILD_H_
