// The channel arguments by which CreateClusterChannel hands its settings to
// the `zk` resolver and `slacker_cluster` LB policy in framework/grpc_plugin/
// (in-process only: channel arguments are never sent to servers).

#ifndef SLACKER_FRAMEWORK_INTERNAL_CHANNEL_ARGS_H_
#define SLACKER_FRAMEWORK_INTERNAL_CHANNEL_ARGS_H_

namespace slacker::internal {

// JSON object: {"grouping": "random", "methods": {"pkg.Svc/Method": "leader"},
// "setAsideAfter": 5, "setAsideForMs": 10000, "root": "/slacker/cluster"}.
// Every field is optional; the target's query parameters come after it.
inline constexpr char kClusterConfigArg[] = "slacker.cluster_config";
// The channel's own service config (JSON string). gRPC keeps
// GRPC_ARG_SERVICE_CONFIG from resolvers, so the resolver reads this copy.
inline constexpr char kServiceConfigArg[] = "slacker.service_config";
// ZooKeeper session timeout in milliseconds (int).
inline constexpr char kSessionTimeoutArg[] =
    "slacker.zookeeper_session_timeout_ms";
// ZooKeeper digest credentials "user:password" (string).
inline constexpr char kDigestArg[] = "slacker.zookeeper_digest";
// How the view follows the cluster (int: a ClusterChannelOptions::Discovery,
// whose values are those of cluster_view.h's DiscoveryMode).
inline constexpr char kDiscoveryModeArg[] = "slacker.discovery_mode";

// The channel's ChannelId (int, see channel_registry.h), set by
// CreateClusterChannel; absent on a channel made by grpc::CreateChannel.
// The resolver and the LB policy read it to find the channel's entry.
inline constexpr char kChannelIdArg[] = "slacker.channel_id";

// For bench/cluster_benchmark.cc only (int, any value): CreateClusterChannel
// leaves out the channel's interceptor (cluster_interceptor.h), so that the
// benchmark can measure what it costs a one-server call. Such a channel
// cannot make calls to several servers.
inline constexpr char kWithoutInterceptorArg[] =
    "slacker.internal.without_interceptor";

// Set by the resolver on each result: when (Unix ns, as text) the ZooKeeper
// event behind it reached this process; the LB policy measures from it.
inline constexpr char kEventTimeArg[] = "slacker.event_time_ns";

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CHANNEL_ARGS_H_
