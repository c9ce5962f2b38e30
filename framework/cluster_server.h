// The cluster server: an ordinary gRPC server that also registers itself and
// each of its services (namespaces) in ZooKeeper under a cluster name, so that
// cluster channels find it. Built like grpc::ServerBuilder:
//
//   slacker::ClusterOptions options;
//   options.cluster = "orders";
//   options.zookeeper = "zk1:2181,zk2:2181,zk3:2181";
//   options.server_data = R"({"zone":"eu-1","weight":10})";
//   slacker::ClusterServerBuilder builder(options);
//   builder.AddListeningPort("0.0.0.0:0", grpc::InsecureServerCredentials());
//   builder.RegisterService(&my_service);
//   absl::StatusOr<std::unique_ptr<slacker::ClusterServer>> server =
//       builder.BuildAndStart();
//   if (!server.ok()) { /* message says what failed */ }
//   (*server)->Wait();  // Until Shutdown() (see shutdown.h for SIGTERM).
//
// What it publishes, with <address> the node address and the real bound port
// ("10.0.0.7:36521"): its server node, a member node and an election
// candidate per namespace, and each method's metadata, at the paths of
// discovery/registry_layout.h (see README.md, "The cluster's ZooKeeper
// layout").
// The gRPC server starts before anything is published, so no client is sent
// to a server that is not listening yet. The ephemeral nodes and election
// candidates come back by themselves after a ZooKeeper session expires.
//
// The server repairs what it owns, logging each repair as a warning with the
// foreign change's version and mzxid: its server and member nodes come back
// when deleted, and their data when another ZooKeeper client changes it; a
// method metadata record is written again when deleted or overwritten with
// something that is not a MethodInfo of that method (another build's
// MethodInfo stays: the newest writer wins). A node of someone else's at one
// of its paths when it starts is waited out (see squatter_wait).
//
// Reflection: on by default (ClusterOptions::enable_reflection), so that
// `grpcurl -plaintext HOST:PORT list` works against any cluster server.
//
// Health: the builder turns on gRPC's standard health service
// (grpc.health.v1.Health); each namespace reports SERVING while published,
// NOT_SERVING while unpublished, and everything is NOT_SERVING from the
// start of Shutdown().

#ifndef SLACKER_FRAMEWORK_CLUSTER_SERVER_H_
#define SLACKER_FRAMEWORK_CLUSTER_SERVER_H_

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/curator_service_instance.h"
#include "discovery/ensemble_provider.h"
#include "discovery/zookeeper_client.h"

namespace slacker {

class ClusterManagerService;
class Metrics;
namespace internal {
class Registration;
class ServerMetrics;
enum class ServerPhase;
}  // namespace internal

struct ClusterOptions {
  // The cluster's name: one node name under `root` (no '/'). Required.
  std::string cluster;

  // ZooKeeper connect string, "host:port[,host:port...][/chroot]". Required.
  // With an `ensemble` provider, its hosts are the backup (used while the
  // provider has no answer) and its chroot is kept.
  std::string zookeeper;

  // How the ZooKeeper ensemble is found and followed while the server runs
  // (discovery/ensemble_provider.h; Curator's EnsembleProvider): the hosts of
  // `zookeeper`, fixed (the default); ZooKeeper's /zookeeper/config
  // (`ensemble.follow_config`); or a provider, asked for the first session
  // too, e.g. an ExhibitorEnsembleProvider's AsProvider(). A changed answer
  // moves the session to the new hosts without losing it, so registrations
  // and leadership stay. The address detected for this server (`address`
  // empty) is the one toward the first host of the first ensemble.
  discovery::EnsembleOptions ensemble;

  // Where clusters live in ZooKeeper. Default "/slacker/cluster", as
  // slacker-cluster's.
  std::string root = "/slacker/cluster";

  // The host (name or IP) clients connect to; the published address is this
  // host with the real bound port. Empty (the default): the local IP address
  // used to reach the first ZooKeeper host, as slacker's auto-detect-ip.
  std::string address;

  // The name this server's TLS certificate carries (a DNS name, or an IP
  // literal, that its subjectAltName lists), published in its server node:
  // cluster channels with TLS credentials check this server's certificate
  // against it (see "TLS" in cluster_channel.h). Empty (the default): the
  // published address's host, so a certificate whose subjectAltName is that
  // host works as it is. Set it when the certificate names the server
  // differently (a DNS name while an IP address is published, or one name
  // shared by every server of the cluster). At most 253 characters of
  // letters, digits, '.', '-', '_' and ':' (InvalidArgument otherwise).
  // Ignored by clients without TLS.
  std::string tls_name;

  // The server's own data: JSON (any JSON value), at most kMaxServerDataBytes,
  // with objects and arrays nested at most 31 deep and at most 1,536 values
  // and members (discovery/cluster_rules.h, kServerDataBounds: clients skip
  // larger registry JSON unparsed, so that no node costs them more than about
  // 10 ms). Clients read it (weights, zones...). Empty (the default): none.
  std::string server_data;
  static constexpr size_t kMaxServerDataBytes = 64 * 1024;

  // ZooKeeper session. Its timeout is also how long, at most, clients may keep
  // sending calls to a server that died, and the default drain time.
  absl::Duration session_timeout = absl::Seconds(10);
  // How long BuildAndStart waits for ZooKeeper before it gives up.
  absl::Duration connect_timeout = absl::Seconds(15);
  // A node of another ZooKeeper session already at one of this server's own
  // paths (servers/<address>, namespaces/<ns>/<address>) when it starts: most
  // likely a second server with the same address, or a copy of this one still
  // running. BuildAndStart logs the owning session and what to do (every
  // connect_timeout), keeps trying, and publishes as soon as that node is
  // gone; after squatter_wait it gives up with FailedPrecondition saying the
  // same. Default: absl::InfiniteDuration(), keep trying.
  absl::Duration squatter_wait = absl::InfiniteDuration();
  // Protected registrations. "user:password" for ZooKeeper's digest scheme;
  // empty for none.
  std::string zookeeper_digest;
  // ACL of the nodes the server creates. Default: open, and then any
  // ZooKeeper client can delete or overwrite this server's nodes, add fake
  // publishers and election candidates (README.md, "Security").
  // kCreatorAllWorldRead (needs zookeeper_digest): everyone can read the
  // cluster, only this digest identity (and zookeeper_admin_id) can create,
  // change or delete its nodes: servers/, namespaces/ and their members,
  // election candidates, functions/ records. kCreatorAll: the same, and
  // reading needs the digest too (channels: ClusterChannelOptions::
  // zookeeper_digest; slackerctl: --digest). A protected cluster belongs to
  // one identity: every protected server of it uses the same digest. The
  // root and its ancestors stay shared (anyone may create clusters below
  // them); cluster nodes made earlier with another ACL are repaired, with a
  // warning, or, when another identity owns them, BuildAndStart fails with
  // PermissionDenied (framework/internal/registry_protection.h).
  discovery::AclPolicy zookeeper_acl = discovery::AclPolicy::kOpen;
  // With a protected zookeeper_acl: an admin identity also given every
  // permission on the server's nodes, as a digest ACL id
  // "user:BASE64(SHA1(user:password))" (see ZooKeeperOptions::admin_id for
  // how to make one), so that the server never holds its password. Empty:
  // none.
  std::string zookeeper_admin_id;

  // Graceful shutdown: how long to wait after unpublishing, so that clients
  // see the server leave before it stops. Default (nullopt): the session
  // timeout ZooKeeper granted.
  std::optional<absl::Duration> drain_time;
  // Then how long calls in flight may run before they are cancelled.
  absl::Duration shutdown_deadline = absl::Seconds(30);

  // Serve the ClusterManager service (protos/slacker/cluster/manager.proto):
  // remote offline/online, server data and shutdown. Default: off.
  bool enable_manager = false;
  // Who may call the manager; a caller passes if it meets either rule (see
  // framework/manager_service.h). With neither set, the manager answers only
  // callers on loopback (127.0.0.0/8, ::1, unix sockets) and refuses every
  // other with PERMISSION_DENIED.
  //   manager_token: a shared secret, sent by callers as the call metadata
  //     "authorization: Bearer <manager_token>" (slackerctl --token).
  //   manager_identities: client-certificate identities (mTLS: a port with
  //     grpc::SslServerCredentials that requires and verifies client
  //     certificates), each matched exactly against the certificate's subject
  //     alternative names and its common name.
  std::string manager_token;
  std::vector<std::string> manager_identities;
  // Serve gRPC's server reflection (grpc.reflection.v1alpha.ServerReflection,
  // the version this gRPC provides), so that grpcurl and other reflection
  // clients can list and describe this server's services. Default: on. Off also
  // keeps out a reflection plugin the program registered for every server
  // (grpc::reflection::InitProtoReflectionServerBuilderPlugin).
  bool enable_reflection = true;

  // Also publish the manager service as a namespace. Default: off (it is
  // served, but clients of the cluster do not route to it).
  bool publish_manager = false;

  // Also register in Apache Curator's service-discovery format, so that JVM
  // services using curator-x-discovery find this server: a ServiceInstance
  // node <base_path>/<service_name>/<host:port> (see
  // discovery/curator_service_instance.h), present while at least one
  // namespace is published. Set `service_name` (required), and optionally
  // `base_path` (default "/services"), `id`, `payload_json` (any JSON value)
  // and `uri_spec`; address and port are the server's own. Default (nullopt):
  // no Curator registration.
  std::optional<discovery::CuratorServiceInstanceOptions> curator;

  // Prometheus metrics (framework/metrics.h): calls by namespace, method and
  // code, latency, in flight; published namespaces; leadership; ZooKeeper
  // session state, expiries and re-registrations; the shutdown phase.
  // Default (null): off, at no cost. With metrics on, BuildAndStart installs
  // the server's interceptors with grpc::ServerBuilder's
  // experimental().SetInterceptorCreators, which replaces any set through
  // grpc_builder(). Shared with the server for its lifetime.
  std::shared_ptr<Metrics> metrics;

  // --- Leadership of namespaces (issue 22). Each published namespace has a
  // leader election (LeaderLatch semantics: discovery/leader_election.h).
  //
  // Told when this server becomes (leader = true) or stops being (false) the
  // leader of namespace `ns`: connection suspended or session expired (it
  // steps down before another server can win), Unpublish, Offline,
  // ResignLeadership, Shutdown. Calls for one namespace alternate, starting
  // with true. Runs on the ZooKeeper client's listener thread, shared with
  // the server's other ZooKeeper listeners: it must not block (hand long
  // leader work to a thread of yours, or use discovery::LeaderSelector
  // directly). It may call IsLeader, ResignLeadership and JoinLeaderElection.
  // Default (empty): nothing is called; IsLeader still answers.
  std::function<void(const std::string& ns, bool leader)> on_leadership;
};

class ClusterServer;

// Not thread-safe: use from one thread, like grpc::ServerBuilder.
class ClusterServerBuilder {
 public:
  explicit ClusterServerBuilder(ClusterOptions options);
  ~ClusterServerBuilder();
  ClusterServerBuilder(const ClusterServerBuilder&) = delete;
  ClusterServerBuilder& operator=(const ClusterServerBuilder&) = delete;

  // As grpc::ServerBuilder's. The first port added is the one published
  // (port 0 works: the bound port is published). `selected_port`, if given,
  // receives the bound port once BuildAndStart has run.
  ClusterServerBuilder& AddListeningPort(
      const std::string& address,
      std::shared_ptr<grpc::ServerCredentials> credentials,
      int* selected_port = nullptr);
  // Every service registered becomes a namespace, named by its full protobuf
  // name, except the manager (unless publish_manager) and every service whose
  // name starts with "grpc." (gRPC's own: health, reflection, channelz, and
  // any it adds later), which are served but never published.
  // `service` is not owned and must outlive the server.
  ClusterServerBuilder& RegisterService(grpc::Service* service);
  ClusterServerBuilder& SetOption(
      std::unique_ptr<grpc::ServerBuilderOption> option);
  template <typename T>
  ClusterServerBuilder& AddChannelArgument(const std::string& name,
                                           const T& value) {
    builder_.AddChannelArgument(name, value);
    return *this;
  }
  // Anything else grpc::ServerBuilder offers (message sizes, completion
  // queues, resource quota...). Do not call its BuildAndStart.
  grpc::ServerBuilder& grpc_builder() { return builder_; }

  // Checks the options, connects to ZooKeeper, starts the gRPC server, then
  // publishes. Errors, each naming what to fix:
  //   InvalidArgument: a bad cluster name, root, address, TLS name,
  //     namespace, server data (not JSON, over kMaxServerDataBytes, or nested
  //     too deep), no listening port;
  //   Unavailable: ZooKeeper not reachable within connect_timeout, or the
  //     port could not be bound (in use: SO_REUSEPORT is off by default);
  //   FailedPrecondition: another session's node still held one of the
  //     server's paths after squatter_wait (the message names the session
  //     and what to do);
  //   others from ZooKeeper while publishing.
  // On error nothing stays running: the port is closed and ZooKeeper is left
  // as it was (persistent method metadata aside). Call once.
  absl::StatusOr<std::unique_ptr<ClusterServer>> BuildAndStart();

 private:
  ClusterOptions options_;
  grpc::ServerBuilder builder_;
  std::vector<grpc::Service*> services_;
  bool has_port_ = false;
  int published_port_ = 0;
  int* user_selected_port_ = nullptr;
};

// A running cluster server. Thread-safe: every method may be called from any
// thread, gRPC handlers included (but Shutdown from a handler deadlocks; see
// ShutdownInBackground).
class ClusterServer {
 public:
  // Shuts down at once (no drain) if Shutdown was not called, and waits for a
  // shutdown in progress.
  ~ClusterServer();
  ClusterServer(const ClusterServer&) = delete;
  ClusterServer& operator=(const ClusterServer&) = delete;

  // The published "host:port".
  const std::string& address() const { return address_; }
  // The bound port.
  int port() const { return port_; }
  // The namespaces this server serves (published or not).
  const std::vector<std::string>& namespaces() const { return namespaces_; }

  // Unpublishes one namespace: its ephemeral node is deleted before this
  // returns, and it leaves the namespace's election (a leader gives leadership
  // up at once; its candidate node is deleted in the background right after);
  // health reports it NOT_SERVING. Calls keep being served. OK if already
  // unpublished.
  // NotFound for a namespace this server does not serve; FailedPrecondition
  // once shutting down.
  absl::Status Unpublish(const std::string& ns);
  // Publishes it again (node, election candidate at the back of the queue);
  // returns once the node exists. Same errors, and ZooKeeper's.
  absl::Status Publish(const std::string& ns);
  // Every namespace; the server node stays (with no namespaces listed).
  absl::Status Offline();
  absl::Status Online();
  bool IsPublished(const std::string& ns) const;
  // Whether this server leads the namespace's election.
  bool IsLeader(const std::string& ns) const;

  // --- Leadership while published (ClusterOptions::on_leadership).
  // Gives up the leadership of `ns` and leaves its election while staying
  // published: calls keep coming (groupings other than `leader` still pick
  // this server), the next candidate leads (on_leadership(ns, false) here
  // first, if it led). The server stays out of that election, across
  // Unpublish/Publish and Offline/Online, until JoinLeaderElection. OK if
  // already out. NotFound for a namespace this server does not serve;
  // Unavailable while starting.
  absl::Status ResignLeadership(const std::string& ns);
  // Takes part in the election of `ns` again, at the back of the queue (at
  // once if published, else when published). OK if already in it. Same
  // errors, and FailedPrecondition once shutting down.
  absl::Status JoinLeaderElection(const std::string& ns);
  // Published and taking part in the election of `ns` (leading or queued).
  bool InLeaderElection(const std::string& ns) const;

  // Replaces the server data (JSON, at most kMaxServerDataBytes): written into
  // the server node, which clients watch. InvalidArgument if not JSON, too
  // large or nested too deep (the data is then unchanged).
  absl::Status SetServerData(const std::string& json);
  // The server data as JSON ("" if none).
  std::string server_data() const;

  // Graceful shutdown: unpublishes everything and reports NOT_SERVING, waits
  // `drain` (default: options.drain_time, else the negotiated session
  // timeout) so that clients see the server leave, then stops the gRPC
  // server, letting calls in flight finish up to options.shutdown_deadline,
  // and closes the ZooKeeper session. The first call does it; later and
  // concurrent calls wait for it to finish. REQUIRES: not called from a gRPC
  // handler of this server (it waits for the handlers).
  void Shutdown(std::optional<absl::Duration> drain = std::nullopt);
  // Starts Shutdown on a thread of this server and returns at once; for
  // gRPC handlers (the manager's Shutdown) and signal handlers.
  void ShutdownInBackground(std::optional<absl::Duration> drain = std::nullopt);
  // Blocks until a shutdown has finished.
  void Wait();

  // The gRPC server underneath, for what this class does not wrap (e.g. its
  // health service's SetServingStatus, for a server that wants to report a
  // namespace NOT_SERVING while staying published). Owned by this object.
  grpc::Server* grpc_server() const { return server_.get(); }

  // The server's ZooKeeper session (id, password), so that tests can expire
  // it. Not for production use.
  std::pair<int64_t, std::string> zookeeper_session_for_testing() const;

 private:
  friend class ClusterServerBuilder;
  explicit ClusterServer(ClusterOptions options);

  // The registration once the server is published; nullptr while starting.
  internal::Registration* registration() const;
  void SetHealth(const std::string& ns, bool serving);
  // Records the phase in the metrics, if on.
  void SetPhase(internal::ServerPhase phase);

  const ClusterOptions options_;
  // Set by the builder before the server is handed out.
  std::vector<std::string> namespaces_;
  std::string address_;
  int port_ = 0;
  std::unique_ptr<discovery::ZooKeeperClient> zookeeper_;
  std::unique_ptr<ClusterManagerService> manager_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<internal::Registration> registration_;
  std::shared_ptr<internal::ServerMetrics> metrics_;  // Null: off.

  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool published_ = false;          // ABSL_GUARDED_BY(mu_)
  bool shutdown_started_ = false;   // ABSL_GUARDED_BY(mu_)
  bool shutdown_finished_ = false;  // ABSL_GUARDED_BY(mu_)
  std::thread background_;          // ABSL_GUARDED_BY(mu_)
};

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_CLUSTER_SERVER_H_
