// Protected registrations: before a server with a ZooKeeper ACL policy other
// than kOpen registers, the persistent nodes of its cluster that its
// registration relies on carry its ACL, whoever made them.
//
// Which nodes are whose (the ZooKeeperClient's AclFor decides the entries):
//   - shared, open to create under: the root (<root>, e.g. /slacker/cluster)
//     and each of its ancestors. Every cluster, open or protected, of every
//     identity lives below them, so they get world:anyone read, create and
//     delete children (ZooKeeperOptions::shared_paths), and no identity owns
//     them: no one can change their data or ACL, and an empty cluster node
//     may be removed by anyone, as under the open default.
//   - the cluster's: <root>/<cluster>, servers/, namespaces/,
//     namespaces/<ns>, namespaces/<ns>/_leader, functions/, functions/<ns>
//     and each functions/<ns>/<method> record. A protected cluster belongs
//     to one identity (every protected server of it uses the same digest;
//     an admin identity may be added): these get that identity's ACL (all
//     permissions for it and the admin, read for everyone with
//     kCreatorAllWorldRead). Under them only that identity can create
//     (no fake publisher, server or candidate), delete (ZooKeeper checks
//     delete on the parent) or overwrite (the node's own write permission).
//     Open servers cannot register in a protected cluster.
//
// A cluster node found with another ACL (made by an open server or client,
// or by a tool, before this server) is repaired: its ACL is replaced, with a
// warning naming the node, the old and new ACL, and what to check. A node
// this server's identity may not re-ACL belongs to another identity: the
// server refuses to start (PermissionDenied saying what to do) rather than
// register where that identity could delete or replace its nodes.
//
// Thread-safety: a function; REQUIRES not called on the client's event
// thread (its ZooKeeper calls are synchronous).

#ifndef SLACKER_FRAMEWORK_INTERNAL_REGISTRY_PROTECTION_H_
#define SLACKER_FRAMEWORK_INTERNAL_REGISTRY_PROTECTION_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"

namespace slacker::internal {

// OK at once if `client` makes open nodes (AclPolicy::kOpen). Otherwise
// creates the cluster's persistent nodes of `layout` for `namespaces` (as
// listed above) where missing, and gives every one of them, and every method
// record already under functions/<ns>, the client's ACL, repairing as said.
// PermissionDenied for a node of another identity; the client's errors
// otherwise (each naming the node).
absl::Status ProtectClusterNodes(discovery::ZooKeeperClient& client,
                                 const discovery::RegistryLayout& layout,
                                 const std::vector<std::string>& namespaces);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_REGISTRY_PROTECTION_H_
