// Outlier set-aside (Curator's note-error, gRPC's outlier ejection): a
// server whose calls fail with UNAVAILABLE `after` times in a row is left
// out of the picks for `period`, unless every server of a namespace is.
// No gRPC type: the LB policy feeds it call outcomes and asks it per picker.

#ifndef SLACKER_FRAMEWORK_INTERNAL_SET_ASIDE_H_
#define SLACKER_FRAMEWORK_INTERNAL_SET_ASIDE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "framework/grouping/grouping.h"

namespace slacker::internal {

// From the channel's options ("setAsideAfter", "setAsideForMs").
struct SetAsideRule {
  int after = 5;  // Consecutive UNAVAILABLE failures; 0 = never.
  absl::Duration period = absl::Seconds(10);
};

// One server's counters as one channel sees them, shared by the policy, its
// pickers and call trackers. Thread-safe: every member is atomic.
class ServerStats : public ServerLoad {
 public:
  // A call on this server started.
  void CallStarted() { in_flight.fetch_add(1); }

  // A call finished with `code`. Returns true if it is the one that set the
  // server aside (then the caller re-picks without it now, and again with it
  // after rule.period); exactly one of concurrent callers gets true.
  bool CallFinished(absl::StatusCode code, const SetAsideRule& rule,
                    absl::Time now);

  // The connection became READY: the failure streak starts over.
  void Connected() { consecutive_unavailable_.store(0); }

  bool IsSetAside(absl::Time now) const {
    return set_aside_until_ns_.load() > absl::ToUnixNanos(now);
  }

 private:
  std::atomic<int> consecutive_unavailable_{0};
  std::atomic<int64_t> set_aside_until_ns_{0};  // Unix ns; 0 = never set.
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_SET_ASIDE_H_
