// When the `slacker_cluster` LB policy may build its next picker.
//
// A picker is made from every server, so with many servers changing at once
// (1,000 connecting at start-up) a picker per change would make the work
// quadratic: 3,000 pickers of 1,000 servers. So a new picker waits until four
// times the last one's build time has passed since that one was built: at
// once in practice for tens of servers (a build takes microseconds), at most
// about 1 ms late for 1,000. A call picked meanwhile on a server whose
// connection just broke is queued by gRPC until the next picker, not failed.
//
// Not thread-safe: the policy uses it in gRPC's work serializer only.

#ifndef SLACKER_FRAMEWORK_INTERNAL_REBUILD_THROTTLE_H_
#define SLACKER_FRAMEWORK_INTERNAL_REBUILD_THROTTLE_H_

#include "absl/time/time.h"

namespace slacker::internal {

class RebuildThrottle {
 public:
  // Something changed at `now`. Returns zero if a picker is to be built now;
  // else how long from now to build it (the caller starts a timer). Returns
  // InfiniteDuration while a deferred build is already pending (nothing to
  // do).
  absl::Duration Changed(absl::Time now) {
    if (deferred_) return absl::InfiniteDuration();
    const absl::Time due = last_built_at_ + 4 * last_cost_;
    if (now >= due) return absl::ZeroDuration();
    deferred_ = true;
    return due - now;
  }

  // A picker was built from `started` to `finished` (also a build not asked
  // for through Changed); a deferred build is no longer pending.
  void Built(absl::Time started, absl::Time finished) {
    last_built_at_ = finished;
    last_cost_ = finished - started;
    deferred_ = false;
  }

 private:
  absl::Time last_built_at_ = absl::InfinitePast();
  absl::Duration last_cost_;
  bool deferred_ = false;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_REBUILD_THROTTLE_H_
