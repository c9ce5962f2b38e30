// What the `slacker_cluster` LB policy is configured with, as plain C++: the
// fields of its JSON config once parsed (the parser is in
// framework/grpc_plugin/cluster_lb_config.h, since gRPC hands it gRPC's Json).
//
// Config (JSON, made by the resolver): {"cluster", "target",
// "namespacesPath", "grouping", "methods": {name: spec}, "setAsideAfter": N
// consecutive failures (UNAVAILABLE, DEADLINE_EXCEEDED or slow; default 5,
// 0 = never), "setAsideForMs" (default 10000), "setAsideSlowerThanMs" (a call
// slower than this counts as a failure; default 0 = latency not counted),
// "healthChecks" (default true)}. The key names below are the only spelling
// of them.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CLUSTER_LB_OPTIONS_H_
#define SLACKER_FRAMEWORK_INTERNAL_CLUSTER_LB_OPTIONS_H_

#include <functional>
#include <map>
#include <string>

#include "framework/grouping/grouping_registry.h"
#include "framework/internal/set_aside.h"

namespace slacker::internal {

// Keys of the config the resolver writes and the policy reads.
inline constexpr char kLbConfigCluster[] = "cluster";
inline constexpr char kLbConfigTarget[] = "target";
inline constexpr char kLbConfigNamespacesPath[] = "namespacesPath";
inline constexpr char kLbConfigAnnouncedPath[] = "announcedPath";
inline constexpr char kLbConfigGrouping[] = "grouping";
inline constexpr char kLbConfigMethods[] = "methods";
inline constexpr char kLbConfigSetAsideAfter[] = "setAsideAfter";
inline constexpr char kLbConfigSetAsideForMs[] = "setAsideForMs";
inline constexpr char kLbConfigSetAsideSlowerThanMs[] = "setAsideSlowerThanMs";
inline constexpr char kLbConfigHealthChecks[] = "healthChecks";
// The ChannelId (a number) of a channel made by grpc::CreateChannel, which
// its resolver registered (channel_registry.h); readers of the channel's
// service config find the channel's entry by it. The policy ignores it.
inline constexpr char kLbConfigChannelId[] = "channelId";

// A grouping as the config names it: the text (which keys its pickers) and
// what it parsed to.
struct NamedGrouping {
  std::string text;
  GroupingSpec spec;
};

struct ClusterLbOptions {
  std::string cluster;
  std::string target;
  std::string namespaces_path;  // For messages.
  // For messages: a channel over Curator services or ServerSets (the
  // servers' parent node, and the format); empty for the Slacker layout.
  std::string announced_path;
  NamedGrouping grouping{"random", {}};
  // "pkg.Service/Method" or "pkg.Service" -> grouping.
  std::map<std::string, NamedGrouping, std::less<>> methods;
  SetAsideRule set_aside;
  bool health_checks = true;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CLUSTER_LB_OPTIONS_H_
