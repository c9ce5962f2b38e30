// The ZooKeeper C client's log lines, into the project's log
// (common/logging.h) as the "zookeeper" component, its function and line as
// the source, with repeats collapsed: while ZooKeeper is down the C client
// writes the same connection error for every attempt (measured: 31 lines in
// slackerctl's 5 s connect timeout). The first line of each kind is written at
// once; the same kind again (same level, function and text, numbers aside, so
// the attempts on each host of an ensemble count as one kind) is counted, and
// written only as "(N times so far)" when the count reaches 100, 1000...,
// and as "(N times in all, until <state change>)" at the next state change of
// a client (connected, session expired, closed). After a state change the
// next occurrence is written in full again. So a program with ZooKeeper down
// prints one line per state change, with a count, not one per attempt.
//
// Levels: the C client's ERROR lines are warnings (it retries), WARN lines
// info, the rest debug.
//
// Thread-safe.

#ifndef SLACKER_DISCOVERY_INTERNAL_CLIENT_LOG_H_
#define SLACKER_DISCOVERY_INTERNAL_CLIENT_LOG_H_

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "absl/strings/string_view.h"
#include "common/logging.h"

namespace slacker::discovery::internal {

// One C-client line, taken apart.
struct ClientLogLine {
  LogLevel level = LogLevel::kDebug;
  std::string function;  // The C client's function; "" if not found.
  int line = 0;
  std::string text;  // The message, without the C client's prefix.
};

// "2026-12-01 23:05:42,123:4711(0x7f..):ZOO_ERROR@handle_socket_error_msg@1286:
// Socket [127.0.0.1:1] zk retcode=-4, errno=111(Connection refused): ..." ->
// its parts. A line in another shape is kept whole as the text (debug level).
ClientLogLine ParseClientLogLine(absl::string_view raw);

// The counting described at the top of this file, writing through `emit`.
class ClientLogCollapser {
 public:
  using Emit = std::function<void(const ClientLogLine& line)>;
  explicit ClientLogCollapser(Emit emit) : emit_(std::move(emit)) {}

  void Add(absl::string_view raw);
  // A client's state changed (`what`, e.g. "connected"): writes the counts of
  // repeated kinds and starts counting afresh.
  void StateChanged(absl::string_view what);

 private:
  static constexpr size_t kMaxKinds = 64;  // Then counts are written early.

  struct Kind {
    ClientLogLine first;
    int64_t count = 0;
    int64_t written_at = 1;  // The count last written.
  };

  std::mutex mu_;
  const Emit emit_;
  std::map<std::string, Kind> kinds_;  // ABSL_GUARDED_BY(mu_)
};

// The process's collapser, writing to the project's log; its Add is the C
// client's log callback (log_callback_fn) for every handle.
void RouteClientLogLine(const char* raw);
void ClientStateChanged(absl::string_view what);
// A stream for zoo_set_log_stream, for the C client's lines that belong to no
// handle: each line written to it goes through RouteClientLogLine. Never
// closed.
FILE* ClientLogStream();

}  // namespace slacker::discovery::internal

#endif  // SLACKER_DISCOVERY_INTERNAL_CLIENT_LOG_H_
