// How slackerctl reports: its exit codes, its one-line errors on stderr, a
// failed call's status as JSON on stdout, messages as JSON, and the one line
// a wait prints when it lasts.

#ifndef SLACKER_TOOLS_SLACKERCTL_OUTPUT_H_
#define SLACKER_TOOLS_SLACKERCTL_OUTPUT_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slacker::slackerctl {

// Exit codes (README.md, "slackerctl").
inline constexpr int kOk = 0;
inline constexpr int kCallFailed = 1;  // Its status printed as JSON.
inline constexpr int kUsage = 2;
inline constexpr int kUnreachable = 3;  // The cluster or ZooKeeper.

// Prints "slackerctl: <message>" on stderr as one line (line breaks inside
// `message` become "; "); returns `code`.
int Fail(int code, absl::string_view message);

// `message` made one line: each run of line breaks becomes "; ".
std::string OneLine(absl::string_view message);

// A failed call: {"code":NAME,"message":...<extra_json>} on stdout (`extra`,
// if not empty, is appended inside the object: ',"servers":{...}'), one line
// on stderr; returns kCallFailed.
int CallFailed(grpc::StatusCode code, absl::string_view message,
               absl::string_view extra_json = "");

// `message` as protobuf JSON (camelCase names); with `emit_defaults`, fields
// at their default value too. "null" if it cannot be printed.
std::string ToJson(const google::protobuf::Message& message,
                   bool emit_defaults = false);

// A wait that says what it waits for: if it lasts longer than `quiet`, it
// prints "slackerctl: waiting for <what>" on stderr, without a line break,
// and Finish() ends that line with how the wait ended. A wait that ends
// sooner prints nothing (Finish of a failure then prints the failure alone),
// so a wait and its outcome are always one line.
//
// Thread-safe: SetWhat() may be called from any thread while a background
// thread of its own decides when to print.
class WaitLine {
 public:
  explicit WaitLine(std::string what,
                    absl::Duration quiet = absl::Milliseconds(200));
  ~WaitLine();  // Finish("") if not finished.
  WaitLine(const WaitLine&) = delete;
  WaitLine& operator=(const WaitLine&) = delete;

  // What is waited for, as shown if the line is not printed yet.
  void SetWhat(std::string what);

  // Ends the wait. If the line was printed, appends "; <outcome>" (nothing
  // for an empty outcome) and a line break.
  void Finish(absl::string_view outcome);

  // Ends the wait as a failure: the printed line gets "; <message>", or
  // "slackerctl: <message>" is printed; returns `code`.
  int Fail(int code, absl::string_view message);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::string what_;      // Guarded by mu_.
  bool printed_ = false;  // Guarded by mu_.
  bool done_ = false;     // Guarded by mu_.
  std::thread printer_;
};

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_OUTPUT_H_
