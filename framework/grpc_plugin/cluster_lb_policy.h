// The `slacker_cluster` load-balancing policy, selected by the `zk`
// resolver's service config. It keeps one subchannel (one connection) per
// server, shared by every namespace the server publishes, and for each call:
// takes the namespace from the call's path, restricts to the READY servers
// that publish it (less those set aside for repeated UNAVAILABLE failures),
// and lets the grouping in force pick one (framework/grouping/).
//
// Grouping in force: the call's `slacker-grouping` metadata (SetGrouping),
// else the config's "methods" entry for "pkg.Service/Method", else for
// "pkg.Service", else the config's "grouping", else "random".
//
// Config (JSON, made by the resolver): {"cluster", "target",
// "namespacesPath", "grouping", "methods": {name: spec}, "setAsideAfter": N
// consecutive UNAVAILABLE failures (default 5, 0 = never),
// "setAsideForMs" (default 10000)}.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_POLICY_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_POLICY_H_

#include <memory>

#include "src/core/lib/load_balancing/lb_policy_factory.h"

namespace slacker::internal {

// Metadata keys a call may carry (set by SetGrouping / SetHashKey).
inline constexpr char kGroupingMetadata[] = "slacker-grouping";
inline constexpr char kHashKeyMetadata[] = "slacker-hash-key";

std::unique_ptr<grpc_core::LoadBalancingPolicyFactory>
MakeClusterLbPolicyFactory();

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_POLICY_H_
