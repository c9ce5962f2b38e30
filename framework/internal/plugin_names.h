// The names by which the rest of the framework reaches the cluster plugin in
// framework/grpc_plugin/, without including anything of gRPC's core: the
// policy's registered name and the metadata keys a call may carry.

#ifndef SLACKER_FRAMEWORK_INTERNAL_PLUGIN_NAMES_H_
#define SLACKER_FRAMEWORK_INTERNAL_PLUGIN_NAMES_H_

namespace slacker::internal {

// The `zk` resolver's URI scheme ("zk://hosts/cluster").
inline constexpr char kResolverScheme[] = "zk";
// The same resolver for servers announced as Curator service instances and
// as ServerSet members.
inline constexpr char kCuratorResolverScheme[] = "curator";
inline constexpr char kServerSetResolverScheme[] = "serverset";

// The load-balancing policy the `zk` resolver selects; what
// grpc::Channel::GetLoadBalancingPolicyName() returns for a cluster channel.
inline constexpr char kLbPolicyName[] = "slacker_cluster";

// Metadata keys a call may carry (set by SetGrouping / SetHashKey).
inline constexpr char kGroupingMetadata[] = "slacker-grouping";
inline constexpr char kHashKeyMetadata[] = "slacker-hash-key";

// The grouping that calls every server: the cluster interceptor's, never the
// LB policy's.
inline constexpr char kAllGrouping[] = "all";

// The namespace a server of a channel over Curator services or ServerSets
// publishes when the channel's options name none (foreign_snapshot.h): it
// serves every call whose namespace no server publishes by name.
inline constexpr char kAnyNamespace[] = "*";

// Channel arguments of a cluster channel over Curator services or
// ServerSets (ClusterChannelOptions::announcement): the format (an int,
// AnnouncementFormat in cluster_view.h), the namespaces its servers serve
// (comma-separated), a ServerSet's additional endpoint, and whether Curator's
// sslPort is used.
inline constexpr char kAnnouncementArg[] = "slacker.announcement";
inline constexpr char kAnnouncedServicesArg[] = "slacker.announced_services";
inline constexpr char kServerSetEndpointArg[] = "slacker.serverset_endpoint";
inline constexpr char kCuratorSslPortArg[] = "slacker.curator_ssl_port";

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_PLUGIN_NAMES_H_
