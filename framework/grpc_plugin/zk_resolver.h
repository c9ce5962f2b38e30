// The `zk` name resolver: target "zk://<zookeeper hosts>/<cluster>[?query]";
// and the same resolver for servers announced in other formats (README.md,
// "Channels over Curator services and ServerSets"):
// "curator://<zookeeper hosts>/<base path>/<service name>[?query]" and
// "serverset://<zookeeper hosts>/<serverset path>[?query]", or zk:// with
// announcement=curator|serverset (and root=). For those formats the query may
// also give services=<pkg.Service,...> (the namespaces the servers serve;
// default: any), endpoint=<name> (a ServerSet's additional endpoint) and
// ssl_port=true (Curator's sslPort).
//
// Query parameters (all optional): root=<path> (default /slacker/cluster),
// grouping=<spec> (the channel's default grouping), session_timeout=<ms>,
// connect_timeout=<ms>. Settings given by CreateClusterChannel through channel
// arguments come first; the query overrides them.
//
// It watches the cluster through ClusterView and reports every server that
// publishes a namespace, each address carrying a ServerAttribute, with a
// service config that selects the `slacker_cluster` LB policy (and keeps the
// rest of the channel's own service config: retries, timeouts,
// wait-for-ready). While ZooKeeper is unreachable it reports nothing new, so
// the channel keeps the last known servers.
//
// TLS: each address also carries, as its own GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
// the name the server published (ServerInfo.tls_name, else its host; see
// framework/internal/tls_name.h), so that the TLS handshake of each server's
// connection checks the certificate against that server's own name. A
// GRPC_SSL_TARGET_NAME_OVERRIDE_ARG in the channel's arguments wins over every
// server's (gRPC prefers channel arguments to an address's): one shared name
// for the whole cluster.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_ZK_RESOLVER_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_ZK_RESOLVER_H_

#include <memory>

#include "framework/internal/cluster_view.h"
#include "src/core/lib/resolver/resolver_factory.h"

namespace slacker::internal {

// `scheme_format`: kSlacker for the zk:// scheme, kCurator for curator://,
// kServerSet for serverset://.
std::unique_ptr<grpc_core::ResolverFactory> MakeZkResolverFactory(
    AnnouncementFormat scheme_format = AnnouncementFormat::kSlacker);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_ZK_RESOLVER_H_
