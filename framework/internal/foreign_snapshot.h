// The servers of a cluster channel whose servers are announced in a format
// other than Slacker's (discovery/foreign_announcements.h): the children of
// one ZooKeeper node, each a Curator ServiceInstance or a ServerSet member,
// turned into the ClusterServers a ClusterSnapshot carries, so that the LB
// policy and its groupings treat them as they treat a Slacker cluster's.
//
// What such a server publishes: the namespaces (gRPC services) the channel's
// options list, or, if they list none, kAnyNamespace, which the LB policy
// picks for every call whose namespace no server publishes by name
// (namespace_picker.h) and health-checks with the server's overall health
// (service name ""). Neither format says which gRPC services a server has.
// No server leads anything (neither format has a leader election the
// channel could trust), so the `leader` grouping finds none.
//
// Pure functions; thread-safe.

#ifndef SLACKER_FRAMEWORK_INTERNAL_FOREIGN_SNAPSHOT_H_
#define SLACKER_FRAMEWORK_INTERNAL_FOREIGN_SNAPSHOT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "discovery/zookeeper_client.h"
#include "framework/internal/cluster_view.h"

namespace slacker::internal {

// A node that does not describe a usable server, and why.
struct RefusedAnnouncement {
  std::string path;
  std::string reason;
  int64_t mzxid = 0;  // The version refused (logged once per version).
};

// `children`: the children of `parent` (name -> data and stat), as a
// ChildrenCache with ChildReads::kDataWatched holds them. Adds one server per
// distinct host:port to `servers` (keyed by address): for Curator, each
// instance's address and port (sslPort with source.use_ssl_port); for
// ServerSets, each member_ node whose status is ALIVE, at its
// serviceEndpoint or at its additional endpoint source.endpoint. Each
// server's server_data is the node's JSON as written (several instances on
// one host:port: the lowest node name's), its weight the Curator payload's
// "weight". Everything else is appended to `refused`.
void AddForeignServers(
    const ForeignSource& source, const std::string& parent,
    const std::map<std::string, discovery::NodeData>& children,
    std::map<std::string, ClusterServer>* servers,
    std::vector<RefusedAnnouncement>* refused);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_FOREIGN_SNAPSHOT_H_
