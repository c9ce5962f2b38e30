// Process-wide discovery statistics per cluster target, recorded by the
// `slacker_cluster` LB policy and read by slacker::GetDiscoveryStats.
//
// Keyed by target ("zk://hosts/cluster" without a query), not by channel:
// the public GetDiscoveryStats takes a target and sums every channel to it.

#ifndef SLACKER_FRAMEWORK_INTERNAL_DISCOVERY_STATS_H_
#define SLACKER_FRAMEWORK_INTERNAL_DISCOVERY_STATS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace slacker::internal {

struct DiscoveryStatsRecord {
  int64_t updates = 0;  // Pickers made from a ZooKeeper change.
  absl::Duration last = absl::ZeroDuration();  // Event to picker, last one.
  absl::Duration max = absl::ZeroDuration();   // The longest so far.
  absl::Time last_update = absl::InfinitePast();
};

// Thread-safe. Records live for the rest of the process.
void RecordDiscoveryUpdate(const std::string& target, absl::Duration latency);
// A zero record for a target never recorded. Thread-safe.
DiscoveryStatsRecord GetDiscoveryStatsRecord(const std::string& target);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_DISCOVERY_STATS_H_
