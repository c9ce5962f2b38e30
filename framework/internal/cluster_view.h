// ClusterView: the client side's live picture of one cluster in ZooKeeper:
// who publishes each namespace, who leads it, and each server's data, read at
// the paths of discovery/registry_layout.h (README.md, "The cluster's
// ZooKeeper layout").
//
// It watches those nodes through the ZooKeeper layer (no polling), with
// one-shot watches or one persistent recursive watch (DiscoveryMode), and
// hands its listener a full snapshot after every batch of changes (one
// rebuild per batch of ZooKeeper events, not one per event). With one-shot
// watches it reads no more than the trust rules need: each server's data
// (watched), each member's stat once (its ephemeralOwner; no watch, no data),
// and of each election only the lowest candidates, up to the first that
// counts (watched): N servers cost it about N + 2 + 3 per namespace ZooKeeper
// watches, all re-sent in one frame on every reconnection (see
// cluster_view.cc, "What the view reads"). With the persistent recursive
// watch it holds one watch whatever N, and reads a node only when it is
// created or changed. It connects in the background and keeps trying while
// ZooKeeper cannot be reached; once it has a picture it keeps it through
// disconnections and session expiry (the watched views keep their contents)
// and converges to the truth when ZooKeeper is back. Only what the trust
// rules of discovery/cluster_rules.h count is used: a publisher needs its own
// session's servers/ node, the leader is the lowest candidate owning such a
// publisher. Anything malformed or untrusted read from ZooKeeper is logged
// (once per node and version) and skipped; registry JSON is bounded in size
// and depth before it is parsed, so no node's content can stall the view for
// the others.
//
// No gRPC type here: the resolver in framework/grpc_plugin/ turns snapshots
// into gRPC addresses.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CLUSTER_VIEW_H_
#define SLACKER_FRAMEWORK_INTERNAL_CLUSTER_VIEW_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/ensemble_provider.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/plugin_names.h"

namespace slacker::internal {

// One server as the cluster's nodes describe it.
struct ClusterServer {
  std::string address;                  // "host:port", as registered.
  std::vector<std::string> namespaces;  // Published now; sorted.
  std::vector<std::string> leads;       // Namespaces it leads; sorted.
  std::string server_data;              // JSON; "" if none or unreadable.
  double weight = 1;  // server_data's "weight" when a positive number.
  // ServerInfo.tls_name, checked by ValidateTlsName (tls_name.h); "" if the
  // server published none (or its ServerInfo was skipped).
  std::string tls_name;

  bool operator==(const ClusterServer& other) const;
};

// A registry node the view does not use, and why (the trust rules of
// discovery/cluster_rules.h).
struct IgnoredNode {
  std::string path;
  std::string reason;

  bool operator==(const IgnoredNode& other) const {
    return path == other.path && reason == other.reason;
  }
};

struct ClusterSnapshot {
  std::vector<ClusterServer> servers;  // Sorted by address.
  // Publishers and candidates that do not count, sorted by path; filled only
  // with ClusterViewOptions::report_ignored.
  std::vector<IgnoredNode> ignored;
  // When the ZooKeeper event that led to this snapshot reached this process.
  absl::Time event_time;
};

// How the view follows the cluster's nodes in ZooKeeper.
enum class DiscoveryMode {
  // One-shot watches through the C client (discovery/children_cache.h):
  // works with every ZooKeeper; each change re-reads child lists.
  kWatches = 0,
  // One persistent recursive watch on <root>/<cluster>
  // (discovery/recursive_tree_cache.h): one event and at most one read per
  // change, one watch on the server per view. Needs ZooKeeper 3.6+; against
  // an older one the listener gets UNAVAILABLE saying so.
  kPersistentRecursive = 1,
  // kPersistentRecursive when the server supports it, else kWatches.
  kAuto = 2,
};

// Where the servers are announced (README.md, "Channels over Curator services
// and ServerSets").
enum class AnnouncementFormat {
  kSlacker = 0,    // <root>/<cluster>: the layout of registry_layout.h.
  kCurator = 1,    // <root>/<cluster> = <base path>/<service name>.
  kServerSet = 2,  // <root>/<cluster> = the ServerSet's path.
};

struct ForeignSource {
  AnnouncementFormat format = AnnouncementFormat::kSlacker;
  // The namespaces every announced server publishes; empty: kAnyNamespace
  // (plugin_names.h). Sorted, no duplicates (ClusterView::Start sorts).
  std::vector<std::string> namespaces;
  // ServerSets: the additional endpoint to call ("" = serviceEndpoint).
  std::string endpoint;
  // Curator: call each instance's sslPort instead of its port.
  bool use_ssl_port = false;
};

struct ClusterViewOptions {
  std::string zookeeper;  // Connect string: "host:port[,host:port...]".
  std::string root = "/slacker/cluster";
  std::string cluster;
  absl::Duration session_timeout = absl::Seconds(10);
  // How long one connection attempt waits; attempts repeat until Stop.
  absl::Duration connect_timeout = absl::Seconds(5);
  std::string digest;  // "user:password" or empty.
  // Also list the ignored publishers and candidates in every snapshot, and
  // deliver one when only they changed (for tools; a channel needs neither).
  bool report_ignored = false;
  // If set: told kConnected once the first session is up, then every change
  // of the view's ZooKeeper connection (on that session's thread: the C
  // client's listener thread, or with the recursive watch the tree's own
  // session thread, whose states are named as the C client's are: a lost
  // connection is kSuspended; one call at a time; it must not block). For
  // the channel's metrics.
  std::function<void(discovery::ConnectionState)> on_connection_state;
  DiscoveryMode mode = DiscoveryMode::kWatches;
  // Not kSlacker: the servers are the children of <root>/<cluster>, read as
  // that format (foreign_snapshot.h) with one-shot watches whatever `mode`
  // says; there are no leaders, and report_ignored lists the refused nodes.
  ForeignSource foreign;

  // How the view's session finds and follows the ensemble. The provider is
  // followed in every mode (the recursive watch's session asks it before
  // each connection attempt); follow_config only by the C client: kAuto
  // then uses one-shot watches, and kPersistentRecursive does not follow
  // /zookeeper/config.
  discovery::EnsembleOptions ensemble;
};

// Thread-safe. Owned by its creator.
class ClusterView {
 public:
  // Called with the first complete snapshot and after every change; with an
  // UNAVAILABLE status (naming ZooKeeper's address and the cluster) while no
  // session has ever been made. One call at a time, on a thread of the view's
  // own: it may block briefly, not for long (later updates wait for it).
  using Listener =
      std::function<void(const absl::StatusOr<ClusterSnapshot>& snapshot)>;

  // Starts watching. InvalidArgument for an invalid cluster name or root
  // path; ZooKeeper being unreachable is not an error here (see Listener).
  static absl::StatusOr<std::unique_ptr<ClusterView>> Start(
      ClusterViewOptions options, Listener listener);

  // When it returns, the listener is not running (unless this is called from
  // the listener itself) and will not be called again. It does not wait for
  // ZooKeeper: the session is closed on a background thread. May be called
  // from any thread, including from the listener.
  ~ClusterView();
  ClusterView(const ClusterView&) = delete;
  ClusterView& operator=(const ClusterView&) = delete;

  const ClusterViewOptions& options() const;

  // Paths of the cluster's nodes, for messages.
  std::string NamespacePath(const std::string& ns) const;

 private:
  class Impl;
  explicit ClusterView(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// Parses a server node's data (ServerInfo JSON) into `server`'s server_data,
// weight and tls_name. InvalidArgument, saying why, for data that is not
// ServerInfo JSON, passes discovery::kServerInfoBounds (checked before any
// parsing) or has a tls_name ValidateTlsName refuses; the server's fields are
// then left as they were.
absl::Status ParseServerInfo(const std::string& json, ClusterServer* server);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CLUSTER_VIEW_H_
