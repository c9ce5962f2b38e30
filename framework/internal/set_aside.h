// Outlier set-aside: a server whose calls keep failing is left out of the
// picks for a while, unless every server of a namespace is.
//
// The rule is failure accrual as in Finagle (and Curator's note-error): a
// server is set aside after `after` failures in a row, where a failure is a
// call that ended UNAVAILABLE (connection refused or broken, or the server
// said so), DEADLINE_EXCEEDED (the server did not answer within the caller's
// own budget: what a hung or overloaded server looks like from here), or took
// longer than `slower_than` whatever its status (latency, off by default:
// only the application knows what slow is). Any other outcome, OK included,
// ends the streak.
//
// Chosen over gRPC's outlier detection (eject by failure percentage or
// success rate per interval) because it needs no interval timer and no
// minimum request volume (gRPC's default is 100 calls per 10 s interval per
// server, which a quiet channel never reaches): a server that fails every
// call is set aside after `after` calls, at any call rate. The price: a
// server failing only some calls is never set aside (a success ends the
// streak), which is what health checks and the server's own NOT_SERVING are
// for.
//
// The last server of a namespace is never set aside in effect: the LB
// policy's picker falls back to the set-aside READY servers of a namespace
// when it has no other (framework/grpc_plugin/cluster_lb_policy.cc,
// CollectChoicesLocked), since a server that may fail beats none.
//
// No gRPC type: the LB policy feeds it call outcomes and asks it per picker.

#ifndef SLACKER_FRAMEWORK_INTERNAL_SET_ASIDE_H_
#define SLACKER_FRAMEWORK_INTERNAL_SET_ASIDE_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "framework/grouping/grouping.h"

namespace slacker::internal {

// From the channel's options ("setAsideAfter", "setAsideForMs",
// "setAsideSlowerThanMs").
struct SetAsideRule {
  int after = 5;  // Consecutive failures (see above); 0 = never.
  absl::Duration period = absl::Seconds(10);
  // A call taking longer than this counts as a failure; infinite = latency
  // is not counted.
  absl::Duration slower_than = absl::InfiniteDuration();
};

// Whether a call that ended with `code` after `latency` counts as a failure
// under `rule`.
bool IsSetAsideFailure(absl::StatusCode code, absl::Duration latency,
                       const SetAsideRule& rule);

// One server's counters as one channel sees them, shared by the policy, its
// pickers and call trackers. Thread-safe: every member is atomic.
class ServerStats : public ServerLoad {
 public:
  // A call on this server started.
  void CallStarted() { in_flight.fetch_add(1); }

  // A call finished with `code` after `latency`. Returns true if it is the
  // one that set the server aside (then the caller re-picks without it now,
  // and again with it after rule.period); exactly one of concurrent callers
  // gets true.
  bool CallFinished(absl::StatusCode code, absl::Duration latency,
                    const SetAsideRule& rule, absl::Time now);

  // The connection became READY: the failure streak starts over.
  void Connected() { consecutive_failures_.store(0); }

  bool IsSetAside(absl::Time now) const {
    return set_aside_until_ns_.load() > absl::ToUnixNanos(now);
  }

 private:
  std::atomic<int> consecutive_failures_{0};
  std::atomic<int64_t> set_aside_until_ns_{0};  // Unix ns; 0 = never set.
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_SET_ASIDE_H_
