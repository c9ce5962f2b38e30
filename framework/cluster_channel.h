// The cluster channel: a grpc::Channel to every server of a Slacker cluster,
// on which the ordinary generated stubs of any service in the cluster work.
//
//   slacker::ClusterChannelOptions options;
//   options.grouping = "round_robin";                       // default: random
//   options.method_groupings["slacker.example.Api/Echo"] = "leader";
//   absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
//       slacker::CreateClusterChannel("zk1:2181,zk2:2181", "orders", options);
//   if (!channel.ok()) return channel.status();
//   auto stub = orders::OrderService::NewStub(*channel);
//
// or, with gRPC's own function (after InitClusterChannels()):
//
//   grpc::CreateChannel("zk://zk1:2181,zk2:2181/orders?grouping=round_robin",
//                       grpc::InsecureChannelCredentials());
//
// Such a channel routes one-server groupings as CreateClusterChannel's does,
// and ReadyServers, ServerData and the fan-out API work on it once it has
// resolved its cluster. Multi-server groupings and grouping functions that
// see the request need the cluster interceptor, which gRPC lets a library
// add to a channel it did not make only through the process's one global
// interceptor factory: call slacker::InstallClusterInterceptor() once (see
// there).
//
// Servers announced as Curator service instances or ServerSet members, not in
// the Slacker layout: ClusterChannelOptions::announcement, or the targets
// "curator://zk1:2181/<base path>/<service name>" and
// "serverset://zk1:2181/<serverset path>" (README.md, "Channels over Curator
// services and ServerSets").
//
// How a call is routed. The channel's `zk` resolver watches the cluster in
// ZooKeeper (<root>/<cluster>/namespaces/<ns>/<host:port>, the leader
// elections and server data; see README.md) and reports every change to the
// channel's load-balancing policy, which keeps one connection per server
// (shared by all the namespaces it serves) and, for each call, takes the
// namespace from the call's method ("/pkg.Service/Method" -> "pkg.Service"),
// keeps the READY servers that publish it, and lets the grouping in force pick
// one. Servers that join are used as soon as they are READY; servers that
// leave (unpublish, shut down, crash) stop receiving calls as soon as
// ZooKeeper reports it or their connection breaks, whichever comes first.
//
// Which grouping: the call's (SetGrouping) beats the method's
// (method_groupings, keyed by "pkg.Service/Method" or "pkg.Service") beats the
// channel's (grouping). Names: random, round_robin, first, sticky, leader,
// least_in_flight, weighted, hash (needs SetHashKey), "host:port" (that
// server), a function registered with slacker::RegisterGroupingFunction
// (framework/grouping/grouping_registry.h), or "all": the call goes to every
// READY server of its namespace and the stub gets the combined outcome
// (framework/call_results.h: slacker::CallResults).
//
// Failures. No server publishes the called namespace: the call fails with
// UNAVAILABLE naming the cluster and namespace (after the default retries
// below, about 0.15 s), unless it waits for ready (wait_for_ready, the service
// config's "waitForReady", or the ClientContext's set_wait_for_ready), in
// which case it waits for a server up to its deadline. A server whose health
// service reports the namespace NOT_SERVING is not picked for it
// (health_checks). ZooKeeper unreachable: the channel keeps using the servers
// it knew; if it never reached ZooKeeper, calls fail with UNAVAILABLE naming
// ZooKeeper's address while it keeps trying.
//
// TLS. Pass TLS credentials (grpc::SslCredentials, with the CA that signed
// the servers' certificates as pem_root_certs) to CreateClusterChannel. The
// channel's authority (the :authority of its calls) is the cluster name, but
// each server's connection checks that server's certificate against the name
// the server published (ClusterOptions::tls_name; by default the host of its
// address), so every server can have a certificate of its own whose
// subjectAltName is its host. Precedence: a name set on the channel
// (channel_arguments.SetSslTargetNameOverride(name)) wins over every
// server's: one name shared by the whole cluster's certificates, as before
// per-server names. Client certificates (mTLS): the credentials'
// pem_cert_chain and pem_private_key; every connection, fan-out sub-calls'
// included (they run on this channel), presents them. Trust: the per-server
// name comes from the registry, so whoever can write the cluster's ZooKeeper
// nodes can point the channel at any server holding any certificate of that
// CA; protect the registry (ACLs) or pin one name on the channel. A failed
// handshake (name mismatch, unknown CA, a server that wants a client
// certificate) is logged as a warning naming the server and the name
// checked, and failed calls say so: UNAVAILABLE "... (last error: ... TLS
// handshake with host:port failed, checking its certificate against ...)",
// and a call that waited for a server until its deadline gets
// DEADLINE_EXCEEDED with the same last connection failure appended.
//
// A server that crashes or hangs. Each of these is on by default:
// - Keepalive (keepalive_time, keepalive_timeout): a connection silent for
//   1 s is pinged, and closed if the ping is not answered within 1 s. A hung
//   server (SIGSTOP, a stuck kernel, a dead link: process alive, sockets
//   open) is so dropped within about 2 s of its last byte, and its calls in
//   flight fail UNAVAILABLE then instead of at their deadlines; without it the
//   server keeps its share of calls until its ZooKeeper session expires (10 s
//   by default). Cluster servers accept these pings (ClusterServerBuilder);
//   other gRPC servers answer more than two pings a connection without data
//   with GOAWAY "too_many_pings", after which gRPC doubles the interval.
// - Set-aside (set_aside_after, set_aside_for, set_aside_slower_than): a
//   server whose calls fail set_aside_after times in a row with UNAVAILABLE
//   or DEADLINE_EXCEEDED (or, if set, take longer than set_aside_slower_than)
//   is not picked for set_aside_for, unless no other server of the namespace
//   is READY: the last server of a namespace is always picked.
// - Retries (when service_config_json is empty and channel_arguments has no
//   GRPC_ARG_SERVICE_CONFIG): kDefaultClusterServiceConfig, gRPC's own retry
//   policy, retries a call that failed UNAVAILABLE before any answer came,
//   up to 3 attempts in all, about 50 ms then 100 ms apart (gRPC adds +-20%
//   jitter), within the call's deadline, each attempt picked anew. Its
//   retryThrottling (20 tokens, a failure costs 1, a success gives 0.1, no
//   retries at 10 or fewer; counted per cluster name, across this process's
//   channels) stops retries while a cluster fails more than it serves.
// What the default guarantees: a call fails UNAVAILABLE only after three
// attempts failed UNAVAILABLE (or the throttle was out), so a call that never
// reached a server (no server READY when picked; a connection that broke
// before the request was written; a server shutting down with GOAWAY) is
// sent again to whatever server is READY then. gRPC also retries, with or
// without a policy (transparent retries, GRPC_ARG_ENABLE_RETRIES, on by
// default), the calls it knows no server saw: not written yet, or refused by
// a GOAWAY; those cost no attempt.
// What it cannot guarantee: gRPC cannot tell a call the server never saw
// from one it was running when its connection broke (kill -9, a keepalive
// timeout), so it retries both: a non-idempotent method may then run twice.
// Give such methods a methodConfig without retryPolicy in your own
// service_config_json (which replaces the default whole; "{}" turns every
// retry but gRPC's transparent ones off). Not retried either: calls that
// failed with another code, DEADLINE_EXCEEDED included; calls once any
// response header or message arrived (a streaming call stops being retried
// at its first response); calls whose messages passed gRPC's 256 KiB retry
// buffer (GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE); calls on channels with
// GRPC_ARG_ENABLE_RETRIES set to 0; and channels made with
// grpc::CreateChannel("zk://...") get no default service config (they do get
// keepalive).

#ifndef SLACKER_FRAMEWORK_CLUSTER_CHANNEL_H_
#define SLACKER_FRAMEWORK_CLUSTER_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/ensemble_provider.h"
#include "framework/call_results.h"

namespace slacker {

class Metrics;  // framework/metrics.h

// Checks that this process can make cluster channels: the `zk` resolver and
// its LB policy are registered with gRPC (they register themselves when
// //framework:cluster_channel is linked), and the running gRPC is the version
// they were built for. FailedPrecondition, saying what to do, otherwise.
// CreateClusterChannel calls it; call it yourself before
// grpc::CreateChannel("zk://..."). Thread-safe; cheap after the first call.
absl::Status InitClusterChannels();

// Gives every channel made by grpc::CreateChannel("zk://...") the cluster
// interceptor of CreateClusterChannel's channels (grouping `all`, grouping
// functions that see the request, unavailable value of CallResults'
// policies, CallResults), through gRPC's global client interceptor factory
// (grpc::experimental::RegisterGlobalClientInterceptorFactory), which it
// registers. gRPC allows one such factory per process and aborts on a second
// registration, so an application with its own global factory passes it
// here as `yours` instead of registering it: calls on every channel that is
// not a zk:// channel made by grpc::CreateChannel (non-cluster channels, and
// CreateClusterChannel's, after their own interceptor) get yours, untouched
// by Slacker; calls on zk:// channels get the cluster interceptor instead
// (one global interceptor per call is all gRPC offers). Without `yours`,
// calls on other channels get an interceptor that only lets them go on.
// `yours` is not owned: keep it alive for the rest of the process.
// Call it once, before the calls it should see; a channel's calls start to
// use the interceptor once the channel has resolved its cluster (its first
// call, or WaitForConnected, resolves it): until then they go to the LB
// policy as one-server calls, where a multi-server grouping fails.
// A zk:// channel's groupings come from its target (?grouping=...); `all`
// works there too. It has no per-channel or per-method policies (use
// CallResults::policies() per call).
// Errors: FailedPrecondition if called before (or as InitClusterChannels).
// Thread-safe.
absl::Status InstallClusterInterceptor(
    grpc::experimental::ClientInterceptorFactoryInterface* yours = nullptr);

// A server's data changed: `old_data` and `new_data` are JSON, "" when the
// server had none (it joined) or has none now (it left).
struct ServerDataChange {
  std::string address;  // "host:port"
  std::string old_data;
  std::string new_data;
};

struct ClusterChannelOptions {
  // Where the cluster lives in ZooKeeper: <root>/<cluster>.
  std::string root = "/slacker/cluster";

  // How the servers at <root>/<cluster> are announced (README.md, "Channels
  // over Curator services and ServerSets"):
  //   kSlacker (the default): the Slacker layout, which our cluster servers
  //     write.
  //   kCurator: the instances of one Curator service (curator-x-discovery),
  //     root = the base path (ServiceDiscoveryBuilder.basePath), cluster =
  //     the service name: <base>/<name>/<id>, each instance's address and
  //     port (sslPort with curator_ssl_port) is a server. JVM services and
  //     our servers with ClusterOptions::curator register so.
  //   kServerSet: the members of a Finagle/Aurora ServerSet, root = the
  //     ServerSet path's parent, cluster = its last node: each member_ node
  //     whose status is ALIVE is a server, at its serviceEndpoint (or at the
  //     additional endpoint serverset_endpoint names).
  // With either foreign format: the groupings, health checks, keepalive,
  // set-aside and retries work as for a Slacker cluster; a server serves the
  // namespaces announced_services lists (all namespaces if it lists none:
  // health-checked as the whole server, service ""); no server leads (the
  // `leader` grouping finds none) and a server's data is its node's JSON;
  // discovery is always kWatches. A node that is not a valid announcement
  // is logged once per version and skipped.
  enum class Announcement { kSlacker = 0, kCurator = 1, kServerSet = 2 };
  Announcement announcement = Announcement::kSlacker;
  // kCurator, kServerSet: the gRPC services (full names, "pkg.Service") the
  // announced servers serve. Empty: every service.
  std::vector<std::string> announced_services;
  // kServerSet: the name of the additional endpoint to call; empty: the
  // serviceEndpoint.
  std::string serverset_endpoint;
  // kCurator: call each instance's sslPort instead of its port (instances
  // without one are skipped).
  bool curator_ssl_port = false;

  // The channel's grouping (see above). Default: "random".
  std::string grouping = "random";
  // Per-method or per-service groupings: "pkg.Service/Method" or
  // "pkg.Service" -> grouping.
  std::map<std::string, std::string> method_groupings;

  // Results, errors and unavailable-value policies of calls whose grouping
  // picks several servers ("all"), per channel and per method or service
  // (see framework/call_results.h).
  CallPolicies policies;
  std::map<std::string, CallPolicies> method_policies;

  // Calls wait for a server (up to their deadline) instead of failing at once
  // when none publishes their namespace or none is reachable.
  bool wait_for_ready = false;

  // The channel's own gRPC service config (JSON), e.g. a retry policy:
  //   {"methodConfig": [{"name": [{}], "retryPolicy": {...}}]}
  // Its loadBalancingConfig, if any, is replaced by the cluster's. Empty (and
  // no GRPC_ARG_SERVICE_CONFIG in channel_arguments): the channel uses
  // kDefaultClusterServiceConfig (see "A server that crashes or hangs"
  // above); set, it replaces that default whole ("{}": no retry policy).
  std::string service_config_json;

  // Outlier handling: after this many consecutive failures (UNAVAILABLE,
  // DEADLINE_EXCEEDED, or slower than `set_aside_slower_than`) a server is
  // set aside for `set_aside_for`. 0 turns it off. Consecutive, not a
  // percentage (see framework/internal/set_aside.h): a hung or dead server
  // fails every call and is set aside after this many, at any call rate.
  int set_aside_after = 5;
  absl::Duration set_aside_for = absl::Seconds(10);
  // A call that takes longer than this, whatever its status, counts as a
  // failure. Default: infinite (latency is not counted; only the
  // application knows what slow is); DEADLINE_EXCEEDED always counts.
  absl::Duration set_aside_slower_than = absl::InfiniteDuration();

  // Hung-server detection: HTTP/2 keepalive on every server connection. A
  // connection that has been silent for `keepalive_time` is pinged; without
  // an answer within `keepalive_timeout` it is closed, its calls fail
  // UNAVAILABLE (and may be retried, see above) and the server is not picked
  // until it connects again. Both together must stay well under the
  // servers' ZooKeeper session timeout (10 s by default, at least 4 s with
  // ZooKeeper's default tick), which is what otherwise ends a hung server's
  // share of calls. Busy connections are never pinged (any byte read restarts
  // the wait), and gRPC sends at most one ping a second. Zero or infinite
  // keepalive_time turns keepalive off. The GRPC_ARG_KEEPALIVE_TIME_MS,
  // GRPC_ARG_KEEPALIVE_TIMEOUT_MS, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS and
  // GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA in channel_arguments, if given, win
  // over these (defaults: 1 s, 1 s, 1 and 0; the same as
  // framework/internal/keepalive.h, which cluster servers are set to accept).
  absl::Duration keepalive_time = absl::Seconds(1);
  absl::Duration keepalive_timeout = absl::Seconds(1);

  // Client-side health checking: each server's standard health service
  // (grpc.health.v1.Health/Watch, one stream per namespace on the server's
  // one connection) must report the namespace SERVING for the server to be
  // picked for it. A server without the health service counts as SERVING.
  bool health_checks = true;

  // The ZooKeeper session the channel watches the cluster with.
  absl::Duration session_timeout = absl::Seconds(10);
  // "user:password", or empty. Needed to read a cluster whose servers use
  // AclPolicy::kCreatorAll (ClusterOptions::zookeeper_acl).
  std::string zookeeper_digest;

  // How the channel finds and follows the ZooKeeper ensemble
  // (discovery/ensemble_provider.h; Curator's EnsembleProvider): the hosts
  // given to CreateClusterChannel, fixed (the default); ZooKeeper's
  // /zookeeper/config (`ensemble.follow_config`); or a provider, asked for
  // the first session too, e.g. an ExhibitorEnsembleProvider's AsProvider().
  // The hosts given to CreateClusterChannel stay the channel's target and
  // are the backup while the provider has no answer. A changed ensemble
  // moves the channel's session without losing it: its picture of the
  // cluster, and the calls using it, are not disturbed. In every discovery
  // mode the provider is asked before each connection attempt of the
  // view's session; follow_config is the C client's, so with it kAuto uses
  // one-shot watches (and kPersistentRecursive does not follow the config).
  discovery::EnsembleOptions ensemble;

  // How the channel follows the cluster in ZooKeeper (README.md, "Discovery
  // at scale"):
  //   kWatches: one-shot watches through the ZooKeeper C client, about one
  //     per server; works with every ZooKeeper.
  //   kPersistentRecursive: one persistent recursive watch on the cluster's
  //     node (ZooKeeper 3.6+), through a second, small session of the
  //     framework's own: one event and at most one read per change whatever
  //     the cluster's size. Against an older ZooKeeper the channel finds no
  //     servers and its calls fail UNAVAILABLE saying so.
  //   kAuto (the default, also of zk:// channels): kPersistentRecursive
  //     where ZooKeeper supports it, else kWatches.
  // The trust rules are the same in every mode, and so are the metrics'
  // ZooKeeper session gauges (they follow whichever session the view uses).
  enum class Discovery { kWatches = 0, kPersistentRecursive = 1, kAuto = 2 };
  Discovery discovery = Discovery::kAuto;

  // Called when a server's data changes (and when servers join or leave
  // with data), on the channel's ZooKeeper thread, one call at a time; it
  // must not block for long (later cluster updates wait for it).
  std::function<void(const ServerDataChange& change)> on_server_data_change;

  // Prometheus metrics (framework/metrics.h): calls by namespace, method,
  // server and code; latency by namespace and method; in flight per server;
  // servers known / ready / set aside per namespace; discovery updates and
  // their latency; the ZooKeeper session; fan-out calls and outcomes.
  // Default (null): off, at no cost (no interceptor or hook is added).
  // Shared with the channel for its lifetime.
  std::shared_ptr<Metrics> metrics;

  // Any other gRPC channel argument.
  grpc::ChannelArguments channel_arguments;
};

// The service config of a cluster channel whose options give none: retry a
// call that failed UNAVAILABLE before any answer, 3 attempts in all, with
// gRPC's retry throttling per cluster (see "A server that crashes or hangs"
// above for what it guarantees and what it cannot).
inline constexpr char kDefaultClusterServiceConfig[] =
    R"({"methodConfig":[{"name":[{}],"retryPolicy":{"maxAttempts":3,)"
    R"("initialBackoff":"0.05s","maxBackoff":"0.2s","backoffMultiplier":2,)"
    R"("retryableStatusCodes":["UNAVAILABLE"]}}],)"
    R"("retryThrottling":{"maxTokens":20,"tokenRatio":0.1}})";

// "zk://<zookeeper>/<cluster>", the target CreateClusterChannel uses (and the
// key of GetDiscoveryStats).
std::string ClusterTarget(absl::string_view zookeeper,
                          absl::string_view cluster);

// Creates a channel to `cluster`, whose servers register in the ZooKeeper
// ensemble `zookeeper` ("host:port[,host:port...]"). It returns at once; the
// channel connects to ZooKeeper and the servers in the background.
// InvalidArgument for an empty or malformed cluster name, ZooKeeper string or
// grouping (the message says which); FailedPrecondition as
// InitClusterChannels. Thread-safe. The channel is shared-owned as any gRPC
// channel; dropping the last reference closes its ZooKeeper session and
// connections.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClusterChannel(
    absl::string_view zookeeper, absl::string_view cluster,
    const ClusterChannelOptions& options = {},
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials());

// Per-call settings, written into the call's metadata: call them before the
// call starts. Not thread-safe for one context (as ClientContext itself).
// The grouping of this call (overrides the method's and the channel's).
void SetGrouping(grpc::ClientContext* context, absl::string_view grouping);
// The key the `hash` grouping hashes: calls with the same key go to the same
// server while it stays in the cluster.
void SetHashKey(grpc::ClientContext* context, absl::string_view key);

// How fast cluster changes reach a channel: from the moment the ZooKeeper
// event reached this process to the moment the channel's picker reflected it.
struct DiscoveryStats {
  int64_t updates = 0;  // Cluster changes applied so far.
  absl::Duration last_propagation = absl::ZeroDuration();
  absl::Duration max_propagation = absl::ZeroDuration();
  absl::Time last_update = absl::InfinitePast();
};
// For every channel of this process to `target` (ClusterTarget; a target's
// query string is not part of it). Thread-safe.
DiscoveryStats GetDiscoveryStats(absl::string_view target);

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_CLUSTER_CHANNEL_H_
