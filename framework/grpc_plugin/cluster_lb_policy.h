// The `slacker_cluster` load-balancing policy, selected by the `zk`
// resolver's service config. It keeps one subchannel (one connection) per
// server, shared by every namespace the server publishes, watches each
// namespace's health on it, and makes pickers (cluster_picker.h) from their
// states: for each call, the namespace from the call's path, restricted to
// the READY servers that publish it (less those set aside for repeated
// UNAVAILABLE failures, framework/internal/set_aside.h), and the grouping in
// force picks one (framework/internal/namespace_picker.h).
//
// Config: framework/internal/cluster_lb_options.h, parsed by
// cluster_lb_config.h. After each picker, the servers it picks from are
// published in the channel registry (framework/internal/channel_registry.h).
//
// Names others need (the policy's name, metadata keys) are in
// framework/internal/plugin_names.h, which includes no gRPC core header.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_POLICY_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_POLICY_H_

#include <memory>

#include "src/core/lib/load_balancing/lb_policy_factory.h"

namespace slacker::internal {

std::unique_ptr<grpc_core::LoadBalancingPolicyFactory>
MakeClusterLbPolicyFactory();

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_POLICY_H_
