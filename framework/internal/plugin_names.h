// The names by which the rest of the framework reaches the cluster plugin in
// framework/grpc_plugin/, without including anything of gRPC's core: the
// policy's registered name and the metadata keys a call may carry.

#ifndef SLACKER_FRAMEWORK_INTERNAL_PLUGIN_NAMES_H_
#define SLACKER_FRAMEWORK_INTERNAL_PLUGIN_NAMES_H_

namespace slacker::internal {

// The `zk` resolver's URI scheme ("zk://hosts/cluster").
inline constexpr char kResolverScheme[] = "zk";

// The load-balancing policy the `zk` resolver selects; what
// grpc::Channel::GetLoadBalancingPolicyName() returns for a cluster channel.
inline constexpr char kLbPolicyName[] = "slacker_cluster";

// Metadata keys a call may carry (set by SetGrouping / SetHashKey).
inline constexpr char kGroupingMetadata[] = "slacker-grouping";
inline constexpr char kHashKeyMetadata[] = "slacker-hash-key";

// The grouping that calls every server: the cluster interceptor's, never the
// LB policy's.
inline constexpr char kAllGrouping[] = "all";

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_PLUGIN_NAMES_H_
