#include "framework/internal/cluster_view.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/backoff.h"
#include "common/json_bounds.h"
#include "common/logging.h"
#include "discovery/children_cache.h"
#include "discovery/cluster_rules.h"
#include "discovery/recursive_tree_cache.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "discovery/zookeeper_paths.h"
#include "framework/internal/background.h"
#include "framework/internal/foreign_snapshot.h"
#include "framework/internal/tls_name.h"
#include "protos/slacker/cluster/registry.pb.h"

namespace slacker::internal {
namespace {

using discovery::ChildReads;
using discovery::ChildrenCache;
using discovery::ChildrenCacheEventType;
using discovery::NodeData;
using NodeMap = std::map<std::string, NodeData>;

// Connecting again after a failed connect: every second, jittered.
BackoffOptions ConnectRetry() {
  BackoffOptions options;
  options.initial = absl::Seconds(1);
  options.max = absl::Seconds(1);
  options.multiplier = 1;
  return options;
}

}  // namespace

bool ClusterServer::operator==(const ClusterServer& other) const {
  return address == other.address && namespaces == other.namespaces &&
         leads == other.leads && server_data == other.server_data &&
         weight == other.weight && tls_name == other.tls_name;
}

absl::Status ParseServerInfo(const std::string& json, ClusterServer* server) {
  if (absl::Status bounded = CheckJsonBounds(json, discovery::kServerInfoBounds,
                                             "ServerInfo JSON");
      !bounded.ok()) {
    return bounded;
  }
  cluster::ServerInfo info;
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  const auto parsed =
      google::protobuf::util::JsonStringToMessage(json, &info, lenient);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not ServerInfo JSON: ", std::string(parsed.message())));
  }
  std::string data;
  double weight = 1;
  if (info.has_server_data()) {
    if (!google::protobuf::util::MessageToJsonString(info.server_data(), &data)
             .ok()) {
      return absl::InvalidArgumentError(
          "server data cannot be written as JSON");
    }
    // Read "weight" through a message of its own: protobuf's Struct map
    // accessors are not usable under ThreadSanitizer with Debian's library.
    cluster::ServerWeight probe;
    if (info.server_data().has_struct_value() &&
        google::protobuf::util::JsonStringToMessage(data, &probe, lenient)
            .ok() &&
        probe.weight() > 0 &&
        probe.weight() < std::numeric_limits<double>::infinity()) {
      weight = probe.weight();
    }
  }
  if (!info.tls_name().empty()) {
    if (absl::Status valid = ValidateTlsName(info.tls_name(), "TLS name");
        !valid.ok()) {
      return valid;
    }
  }
  server->server_data = std::move(data);
  server->weight = weight;
  server->tls_name = info.tls_name();
  return absl::OkStatus();
}

class ClusterView::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(ClusterViewOptions options, Listener listener)
      : options_(std::move(options)),
        listener_(std::move(listener)),
        layout_(options_.root, options_.cluster) {}

  void Start() {
    std::shared_ptr<Impl> self = shared_from_this();
    connector_ = std::thread([self] { self->ConnectLoop(); });
  }

  // Stops deliveries; see ~ClusterView. Teardown continues on the reaper.
  void Stop() {
    Log(LogLevel::kDebug,
        absl::StrCat("cluster '", options_.cluster, "': no longer watched"));
    {
      std::unique_lock<std::mutex> lock(mu_);
      stopped_ = true;
      wake_.notify_all();
      if (delivering_ && delivering_thread_ != std::this_thread::get_id()) {
        wake_.wait(lock, [this] { return !delivering_; });
      }
    }
    std::shared_ptr<Impl> self = shared_from_this();
    // Not here: this may be a thread of the view's own ZooKeeper client (via
    // gRPC's work serializer), where the client cannot be closed.
    RunInBackground([self] { self->TearDown(); });
  }

  const ClusterViewOptions& options() const { return options_; }

  std::string NamespacePath(const std::string& ns) const {
    return layout_.NamespacePath(ns);
  }

 private:
  // One namespace's nodes as read: member name -> node (_leader included),
  // candidate name -> node.
  struct NamespaceNodes {
    std::map<std::string, discovery::NodeData> members;
    std::map<std::string, discovery::NodeData> election;
  };

  // What the view reads, and what it costs each view (one watch per node
  // watched, all of them re-sent in one frame on every reconnection):
  //   servers/             the list, and each server's data with a watch
  //                        (ServerInfo changes while a server runs);
  //   namespaces/          the list;
  //   namespaces/<ns>/     the list, and each member's stat once, no watch
  //                        (only its ephemeralOwner matters, fixed at
  //                        creation; re-read when it stops matching the
  //                        servers/ node, e.g. after a server's new session);
  //   <ns>/_leader/        the list, and only the candidates the leader rule
  //                        needs: from the lowest sequence up to the first
  //                        that counts, each read once with a data watch.
  // So N servers cost a view N + 2 + 3 per namespace watches, not 3N + 2.
  // (With ClusterViewOptions::report_ignored every candidate is read, to
  // list those that do not count.)
  struct NamespaceCaches {
    std::unique_ptr<ChildrenCache> members;   // <ns>/<host:port>, _leader
    std::unique_ptr<ChildrenCache> election;  // <ns>/_leader/<candidate>
  };

  bool stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  // Follows the cluster through one persistent recursive watch. Returns
  // false if the server does not support it and the mode lets the view fall
  // back to one-shot watches.
  bool WatchTree() {
    discovery::RecursiveTreeCacheOptions tree_options;
    tree_options.session.connect_string = options_.zookeeper;
    // Asked before every connection attempt, the first included.
    tree_options.session.ensemble_provider = options_.ensemble.provider;
    tree_options.session.session_timeout = options_.session_timeout;
    tree_options.session.digest = options_.digest;
    tree_options.root = layout_.ClusterPath();
    // servers/ and namespaces/ only: functions/ holds method descriptors
    // (up to a megabyte each) that the view does not use.
    tree_options.accept =
        [servers = layout_.ServersPath(),
         namespaces = layout_.NamespacesPath()](absl::string_view path) {
          auto under = [path](const std::string& top) {
            return absl::StartsWith(path, top) &&
                   (path.size() == top.size() || path[top.size()] == '/');
          };
          return under(servers) || under(namespaces);
        };
    if (options_.on_connection_state) {
      // The tree's session is the view's only one in this mode: its states,
      // named as the C client's are, go to the same listener.
      tree_options.on_session_state =
          [listener = options_.on_connection_state](
              discovery::WireSessionState state) {
            switch (state) {
              case discovery::WireSessionState::kConnected:
                listener(discovery::ConnectionState::kConnected);
                break;
              case discovery::WireSessionState::kDisconnected:
                listener(discovery::ConnectionState::kSuspended);
                break;
              case discovery::WireSessionState::kReconnected:
                listener(discovery::ConnectionState::kReconnected);
                break;
              case discovery::WireSessionState::kExpired:
                listener(discovery::ConnectionState::kExpired);
                break;
              case discovery::WireSessionState::kNewSession:
                listener(discovery::ConnectionState::kNewSession);
                break;
            }
          };
    }
    absl::StatusOr<std::unique_ptr<discovery::RecursiveTreeCache>> tree =
        discovery::RecursiveTreeCache::Start(tree_options);
    if (!tree.ok()) {
      Deliver(absl::UnavailableError(absl::StrCat(
          "cluster '", options_.cluster, "': cannot use ZooKeeper at ",
          options_.zookeeper, ": ", tree.status().message())));
      return true;
    }
    discovery::RecursiveTreeCache* cache = tree->get();
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      tree_ = std::move(*tree);
    }
    while (!stopped()) {
      absl::Status ready =
          cache->WaitUntilInitialized(options_.connect_timeout);
      if (ready.ok()) break;
      if (absl::IsUnimplemented(ready)) {
        if (options_.mode == DiscoveryMode::kAuto) {
          Log(LogLevel::kInfo,
              absl::StrCat("cluster '", options_.cluster, "': ZooKeeper at ",
                           options_.zookeeper,
                           " has no persistent recursive watches (older than "
                           "3.6); using one-shot watches"));
          std::unique_ptr<discovery::RecursiveTreeCache> unused;
          {
            std::lock_guard<std::mutex> lock(caches_mu_);
            unused = std::move(tree_);
          }
          return false;
        }
        Deliver(absl::UnavailableError(
            absl::StrCat("cluster '", options_.cluster, "': ", ready.message(),
                         " (ClusterViewOptions::mode kAuto or kWatches)")));
        return true;
      }
      if (absl::IsCancelled(ready)) return true;
      Deliver(absl::UnavailableError(absl::StrCat(
          "cluster '", options_.cluster, "': cannot use ZooKeeper at ",
          options_.zookeeper, ": ", ready.message(), " (still trying)")));
    }
    if (stopped()) return true;
    Log(LogLevel::kInfo,
        absl::StrCat("cluster '", options_.cluster, "': watching ",
                     layout_.ClusterPath(), " on ", options_.zookeeper,
                     " with one persistent recursive watch"));
    cache->AddListener([this](const std::vector<discovery::TreeChange>& batch) {
      ApplyTreeChanges(batch);
      RebuildFromTree();
    });
    return true;
  }

  void ConnectLoop() {
    // Following /zookeeper/config is the C client's (ZooKeeperOptions::
    // follow_ensemble_config): kAuto keeps one-shot watches for it.
    const bool tree = options_.mode == DiscoveryMode::kPersistentRecursive ||
                      (options_.mode == DiscoveryMode::kAuto &&
                       !options_.ensemble.follow_config);
    if (tree && !foreign() && WatchTree()) {
      return;
    }
    discovery::ZooKeeperOptions zk;
    zk.connect_string = options_.zookeeper;
    zk.session_timeout = options_.session_timeout;
    zk.connect_timeout = options_.connect_timeout;
    zk.digest = options_.digest;
    discovery::ApplyEnsembleOptions(options_.ensemble, &zk);
    Backoff retry(ConnectRetry());
    while (!stopped()) {
      absl::StatusOr<std::unique_ptr<discovery::ZooKeeperClient>> client =
          discovery::ZooKeeperClient::Connect(zk);
      if (client.ok()) {
        std::lock_guard<std::mutex> lock(caches_mu_);
        client_ = std::move(*client);
        if (options_.on_connection_state) {
          options_.on_connection_state(discovery::ConnectionState::kConnected);
          client_->AddConnectionListener(options_.on_connection_state);
        }
        break;
      }
      absl::Status error = client.status();
      const bool permanent = absl::IsInvalidArgument(error);
      Deliver(absl::UnavailableError(
          absl::StrCat("cluster '", options_.cluster,
                       "': cannot use ZooKeeper at ", options_.zookeeper, ": ",
                       error.message(), permanent ? "" : " (still trying)")));
      if (permanent) return;
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, absl::ToChronoNanoseconds(retry.Next()),
                     [this] { return stopped_; });
    }
    if (stopped()) return;
    Log(LogLevel::kInfo,
        absl::StrCat("cluster '", options_.cluster, "': watching ",
                     layout_.ClusterPath(), " on ", options_.zookeeper,
                     foreign() ? absl::StrCat(" (", FormatName(), ")") : ""));
    std::lock_guard<std::mutex> lock(caches_mu_);
    if (foreign()) {
      announced_ = Watch(
          layout_.ClusterPath(), ChildReads::kDataWatched,
          [this](const discovery::ChildrenCacheEvent&) { ScheduleRebuild(); });
      return;
    }
    servers_ = Watch(
        layout_.ServersPath(), ChildReads::kDataWatched,
        [this](const discovery::ChildrenCacheEvent&) { ScheduleRebuild(); });
    namespaces_ = Watch(layout_.NamespacesPath(), ChildReads::kOnRequest,
                        [this](const discovery::ChildrenCacheEvent& event) {
                          OnNamespaceEvent(event);
                        });
  }

  // The one place the view makes a cache. Of a cache the view uses only
  // Create (a path and what to read of its children), AddListener,
  // initialized, Visit, Request, Refresh and Close: the seam where a cache
  // kept by one persistent recursive watch per cluster can take the place
  // of these one-shot-watch caches.
  std::unique_ptr<ChildrenCache> Watch(const std::string& path,
                                       ChildReads reads,
                                       ChildrenCache::Listener listener) {
    discovery::ChildrenCacheOptions cache_options;
    cache_options.reads = reads;
    absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
        ChildrenCache::Create(client_.get(), path, cache_options);
    if (!cache.ok()) {
      // Only an invalid path fails here, and the paths were validated.
      Log(LogLevel::kError,
          absl::StrCat("cannot watch ", path, ": ", cache.status().ToString()));
      return nullptr;
    }
    (*cache)->AddListener(std::move(listener));
    return std::move(*cache);
  }

  // On the ZooKeeper client's listener thread, like every cache listener.
  void OnNamespaceEvent(const discovery::ChildrenCacheEvent& event) {
    if (stopped()) return;
    if (event.type == ChildrenCacheEventType::kAdded) {
      const std::string path = NamespacePath(event.name);
      if (!discovery::ValidatePath(path).ok()) {
        LogOnce(path, "a namespace node whose name is not a valid path");
      } else {
        auto rebuild = [this](const discovery::ChildrenCacheEvent&) {
          ScheduleRebuild();
        };
        NamespaceCaches caches;
        caches.members = Watch(path, ChildReads::kStatOnce, rebuild);
        caches.election =
            Watch(layout_.LeaderPath(event.name),
                  options_.report_ignored ? ChildReads::kDataWatched
                                          : ChildReads::kOnRequest,
                  rebuild);
        std::lock_guard<std::mutex> lock(caches_mu_);
        namespace_caches_[event.name] = std::move(caches);
      }
    } else if (event.type == ChildrenCacheEventType::kRemoved) {
      NamespaceCaches gone;
      {
        std::lock_guard<std::mutex> lock(caches_mu_);
        auto it = namespace_caches_.find(event.name);
        if (it != namespace_caches_.end()) {
          gone = std::move(it->second);
          namespace_caches_.erase(it);
        }
      }
      if (gone.members != nullptr) gone.members->Close();
      if (gone.election != nullptr) gone.election->Close();
    }
    ScheduleRebuild();
  }

  // One rebuild per batch of events: the first event of a batch queues a
  // rebuild behind the events already queued on the listener thread; the
  // rest find it queued. The caches are current when it runs (they are
  // ahead of their events), so it sees every change of the batch. Listener
  // thread only.
  void ScheduleRebuild() {
    if (rebuild_queued_) return;
    rebuild_queued_ = true;
    batch_event_time_ = absl::Now();
    std::weak_ptr<Impl> weak = weak_from_this();
    std::lock_guard<std::mutex> lock(caches_mu_);
    if (client_ == nullptr) return;
    client_->RunOnListenerThread([weak] {
      if (std::shared_ptr<Impl> self = weak.lock()) {
        self->rebuild_queued_ = false;
        self->Rebuild();
      }
    });
  }

  // The listener thread is the only one that rebuilds, so reads of the caches
  // and of logged_ need no more than caches_mu_. The caches are read in
  // place (ChildrenCache::Visit), not copied.
  void Rebuild() {
    const absl::Time event_time = batch_event_time_;
    if (stopped()) return;
    if (foreign()) {
      RebuildForeign(event_time);
      return;
    }
    std::map<std::string, ClusterServer> servers;
    std::vector<IgnoredNode> ignored;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      if (servers_ == nullptr || namespaces_ == nullptr ||
          !servers_->initialized() || !namespaces_->initialized()) {
        return;
      }
      // Complete only once every namespace listed has its caches: the list
      // is current before this thread has handled its kAdded events.
      bool complete = true;
      namespaces_->Visit([&](const NodeMap& listed) {
        for (const auto& [ns, node] : listed) {
          if (namespace_caches_.count(ns) == 0 &&
              discovery::ValidatePath(NamespacePath(ns)).ok()) {
            complete = false;  // Its kAdded (which makes them) is to come.
            return;
          }
        }
      });
      if (!complete) return;
      for (const auto& [ns, caches] : namespace_caches_) {
        if (caches.members == nullptr || caches.election == nullptr) continue;
        if (!caches.members->initialized() || !caches.election->initialized()) {
          return;  // Not a complete picture yet; its kInitialized follows.
        }
      }
      servers_->Visit([&](const NodeMap& server_nodes) {
        for (const auto& entry : namespace_caches_) {
          // Named, not bound: C++17 lambdas cannot capture bindings.
          const std::string& ns = entry.first;
          const NamespaceCaches& caches = entry.second;
          if (caches.members == nullptr || caches.election == nullptr) {
            continue;
          }
          caches.members->Visit([&](const NodeMap& members) {
            caches.election->Visit([&](const NodeMap& election) {
              if (!AddNamespace(ns, members, election, &caches, server_nodes,
                                &servers, &ignored)) {
                complete = false;
              }
            });
          });
          if (!complete) return;
        }
        ParseServers(server_nodes, &servers);
      });
      if (!complete) return;  // A candidate the leader rule needs is unread.
    }
    DeliverIfChanged(event_time, std::move(servers), std::move(ignored));
  }

  bool foreign() const {
    return options_.foreign.format != AnnouncementFormat::kSlacker;
  }

  const char* FormatName() const {
    return options_.foreign.format == AnnouncementFormat::kCurator
               ? "Curator service instances"
               : "ServerSet members";
  }

  // The servers announced as children of <root>/<cluster> in a foreign
  // format (foreign_snapshot.h). Listener thread only, as Rebuild.
  void RebuildForeign(absl::Time event_time) {
    std::map<std::string, ClusterServer> servers;
    std::vector<RefusedAnnouncement> refused;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      if (announced_ == nullptr || !announced_->initialized()) return;
      announced_->Visit([&](const NodeMap& children) {
        AddForeignServers(options_.foreign, layout_.ClusterPath(), children,
                          &servers, &refused);
      });
    }
    std::vector<IgnoredNode> ignored;
    for (const RefusedAnnouncement& node : refused) {
      Ignore(node.path, node.mzxid, node.reason, LogLevel::kWarning, &ignored);
    }
    DeliverIfChanged(event_time, std::move(servers), std::move(ignored));
  }

  // The tree cache's batches, replayed into the nodes the trust rules judge
  // (the same maps the one-shot watches' caches hold), found by their depth
  // below the cluster's path: a batch touches only its own nodes, with no
  // copy of the whole tree and no re-splitting of every path. On the tree
  // cache's listener thread (only one mode runs).
  void ApplyTreeChanges(const std::vector<discovery::TreeChange>& batch) {
    const std::string servers_prefix = layout_.ServersPath() + "/";
    const std::string namespaces_prefix = layout_.NamespacesPath() + "/";
    for (const discovery::TreeChange& change : batch) {
      const bool removed = change.type == discovery::TreeChangeType::kRemoved;
      absl::string_view rest = change.path;
      if (absl::ConsumePrefix(&rest, servers_prefix)) {
        if (rest.find('/') != absl::string_view::npos) continue;
        if (removed) {
          tree_servers_.erase(std::string(rest));
        } else {
          tree_servers_[std::string(rest)] = change.node;
        }
        continue;
      }
      if (!absl::ConsumePrefix(&rest, namespaces_prefix)) continue;
      const std::vector<std::string> parts = absl::StrSplit(rest, '/');
      auto it = tree_namespaces_.find(parts[0]);
      if (removed && it == tree_namespaces_.end()) continue;
      if (!removed) it = tree_namespaces_.try_emplace(parts[0]).first;
      TreeNamespace& ns = it->second;
      NodeMap* nodes = nullptr;
      if (parts.size() == 1) {
        ns.exists = !removed;
      } else if (parts.size() == 2) {
        nodes = &ns.nodes.members;
      } else if (parts.size() == 3 &&
                 discovery::RegistryLayout::IsLeaderNode(parts[1])) {
        nodes = &ns.nodes.election;
      }
      if (nodes != nullptr && removed) {
        nodes->erase(parts.back());
      } else if (nodes != nullptr) {
        (*nodes)[parts.back()] = change.node;
      }
      // A namespace's node goes before its children: the entry goes with
      // the last of them.
      if (!ns.exists && ns.nodes.members.empty() && ns.nodes.election.empty()) {
        tree_namespaces_.erase(it);
      }
    }
  }

  // The nodes replayed from the tree judged by the same rules as the one-shot
  // watches' caches. Every node in the tree has been read (stat and data),
  // so no candidate is ever missing. Listener thread only.
  void RebuildFromTree() {
    const absl::Time event_time = absl::Now();
    if (stopped()) return;
    std::map<std::string, ClusterServer> servers;
    std::vector<IgnoredNode> ignored;
    for (const auto& [ns, nodes] : tree_namespaces_) {
      // A namespace counts once its own node is there, members or not.
      if (!nodes.exists) continue;
      AddNamespace(ns, nodes.nodes.members, nodes.nodes.election,
                   /*caches=*/nullptr, tree_servers_, &servers, &ignored);
    }
    ParseServers(tree_servers_, &servers);
    DeliverIfChanged(event_time, std::move(servers), std::move(ignored));
  }

  // The snapshot of `servers` and `ignored`, delivered unless it is the one
  // delivered last.
  void DeliverIfChanged(absl::Time event_time,
                        std::map<std::string, ClusterServer> servers,
                        std::vector<IgnoredNode> ignored) {
    ClusterSnapshot snapshot;
    snapshot.event_time = event_time;
    for (auto& [address, server] : servers) {
      std::sort(server.namespaces.begin(), server.namespaces.end());
      std::sort(server.leads.begin(), server.leads.end());
      snapshot.servers.push_back(std::move(server));
    }
    if (options_.report_ignored) {
      std::sort(ignored.begin(), ignored.end(),
                [](const IgnoredNode& a, const IgnoredNode& b) {
                  return a.path < b.path;
                });
      snapshot.ignored = std::move(ignored);
    }
    if (delivered_any_ && snapshot.servers == last_.servers &&
        snapshot.ignored == last_.ignored) {
      return;
    }
    delivered_any_ = true;
    last_ = snapshot;
    Deliver(std::move(snapshot));
  }

  // Adds namespace `ns`'s counted publishers, and its leader, to `servers`
  // by the trust rules (discovery/cluster_rules.h), from its `members` and
  // its `election` children. `caches`: the one-shot watches' caches these
  // were read from (null for the tree cache, which has read every node).
  // False when a candidate the leader rule needs has not been read yet: it is
  // asked for, and its read brings another rebuild.
  bool AddNamespace(const std::string& ns, const NodeMap& members,
                    const NodeMap& election, const NamespaceCaches* caches,
                    const NodeMap& server_nodes,
                    std::map<std::string, ClusterServer>* servers,
                    std::vector<IgnoredNode>* ignored) {
    std::map<std::string, int64_t> publishers;
    for (const auto& [name, node] : members) {
      if (discovery::RegistryLayout::IsLeaderNode(name)) continue;
      std::optional<int64_t> server_owner;
      int64_t server_czxid = 0;
      auto server_node = server_nodes.find(name);
      if (server_node != server_nodes.end()) {
        server_owner = server_node->second.stat.ephemeral_owner;
        server_czxid = server_node->second.stat.czxid;
      }
      const int64_t owner = node.stat.ephemeral_owner;
      const discovery::PublisherVerdict verdict =
          discovery::JudgePublisher(name, owner, server_owner);
      if (verdict == discovery::PublisherVerdict::kOtherSession &&
          caches != nullptr) {
        // The member's stat is read once: after a server's new session
        // its member may have been re-created under the same name
        // between two listings. Read once more per servers/ node.
        int64_t& checked = member_checked_[layout_.MemberPath(ns, name)];
        if (checked != server_czxid) {
          checked = server_czxid;
          caches->members->Refresh(name);
        }
      }
      if (verdict != discovery::PublisherVerdict::kCounts) {
        // A joining server writes its servers/ node first, but this
        // view may hear of its member node first: usually transient.
        Ignore(layout_.MemberPath(ns, name), node.stat.czxid,
               discovery::PublisherVerdictReason(verdict, owner, server_owner),
               verdict == discovery::PublisherVerdict::kNoServerNode
                   ? LogLevel::kInfo
                   : LogLevel::kWarning,
               ignored);
        continue;
      }
      publishers[name] = owner;
      ClusterServer& server = (*servers)[name];
      server.address = name;
      server.namespaces.push_back(ns);
    }
    // The candidates from the lowest sequence up, read until one counts
    // (all of them with report_ignored): LeadingCandidate's answer, since
    // every lower one was read and does not count.
    std::vector<discovery::CandidateNode> candidates;
    std::vector<std::pair<int64_t, const std::string*>> order;
    for (const auto& [name, node] : election) {
      const std::optional<int64_t> sequence =
          discovery::CandidateSequence(name);
      if (!sequence.has_value()) {
        candidates.push_back({name, node.data, node.stat.ephemeral_owner});
        continue;  // Ignored whatever it holds: no read needed.
      }
      order.emplace_back(*sequence, &name);
    }
    std::sort(order.begin(), order.end());
    for (const auto& [sequence, name] : order) {
      const NodeData& node = election.at(*name);
      if (node.stat.czxid == 0) {  // Listed, not read yet.
        if (caches != nullptr) caches->election->Request(*name);
        return false;
      }
      candidates.push_back({*name, node.data, node.stat.ephemeral_owner});
      if (!options_.report_ignored &&
          discovery::JudgeCandidate(candidates.back(), publishers) ==
              discovery::CandidateVerdict::kCounts) {
        break;
      }
    }
    const std::optional<size_t> leader =
        discovery::LeadingCandidate(candidates, publishers);
    for (size_t i = 0; i < candidates.size(); ++i) {
      const discovery::CandidateVerdict verdict =
          discovery::JudgeCandidate(candidates[i], publishers);
      if (verdict == discovery::CandidateVerdict::kCounts) continue;
      Ignore(absl::StrCat(layout_.LeaderPath(ns), "/", candidates[i].name), 0,
             discovery::CandidateVerdictReason(verdict, candidates[i]),
             LogLevel::kWarning, ignored);
    }
    if (leader.has_value()) {
      auto it = servers->find(candidates[*leader].data);
      if (it != servers->end()) it->second.leads.push_back(ns);
    }
    return true;
  }

  // Fills each counted server's data and weight from its servers/ node.
  // A node's data is parsed once per version: with many servers, parsing
  // all of them on every event would be most of an update.
  void ParseServers(const NodeMap& server_nodes,
                    std::map<std::string, ClusterServer>* servers) {
    std::map<std::string, ParsedInfo> parsed;
    for (auto& [name, server] : *servers) {
      auto node = server_nodes.find(name);
      if (node == server_nodes.end()) continue;  // Cannot be: it counted.
      const discovery::NodeStat& stat = node->second.stat;
      auto known = parsed_.find(name);
      if (known == parsed_.end() || known->second.mzxid != stat.mzxid ||
          known->second.czxid != stat.czxid) {
        ParsedInfo info;
        info.mzxid = stat.mzxid;
        info.czxid = stat.czxid;
        absl::Status status = ParseServerInfo(node->second.data, &info.server);
        if (!status.ok()) {
          LogOnce(absl::StrCat(layout_.ServerPath(name), "@", stat.mzxid),
                  absl::StrCat("server data skipped, ", status.message()));
        }
        known = parsed_.insert_or_assign(name, std::move(info)).first;
      }
      server.server_data = known->second.server.server_data;
      server.weight = known->second.server.weight;
      server.tls_name = known->second.server.tls_name;
      parsed.insert(parsed_.extract(known));
    }
    parsed_.swap(parsed);
  }

  // A node the trust rules do not count: logged once per node (and creation,
  // `czxid`, when known) and reason, listed when the options ask for it.
  void Ignore(const std::string& path, int64_t czxid, const std::string& reason,
              LogLevel level, std::vector<IgnoredNode>* ignored) {
    // Thousands of foreign children must not flood the log: past a few, the
    // rest is told at debug level (slackerctl ls lists them all).
    constexpr int kLoggedIgnored = 10;
    const std::string key =
        absl::StrCat(path, czxid == 0 ? "" : absl::StrCat("@", czxid));
    if (logged_.count(key) == 0 && ++ignored_logged_ > kLoggedIgnored) {
      if (ignored_logged_ == kLoggedIgnored + 1) {
        Log(LogLevel::kWarning,
            absl::StrCat("cluster '", options_.cluster,
                         "': more registry nodes ignored; further ones are "
                         "logged at debug level (slackerctl ls lists them)"));
      }
      level = LogLevel::kDebug;
    }
    LogOnce(key, reason, path, level);
    if (options_.report_ignored) ignored->push_back({path, reason});
  }

  void LogOnce(const std::string& key, absl::string_view what,
               absl::string_view shown = "",
               LogLevel level = LogLevel::kWarning) {
    if (!logged_.insert(key).second) return;
    Log(level, absl::StrCat("cluster '", options_.cluster, "': ignoring ",
                            shown.empty() ? key : shown, ": ", what));
  }

  void Deliver(const absl::StatusOr<ClusterSnapshot>& snapshot) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      delivering_ = true;
      delivering_thread_ = std::this_thread::get_id();
    }
    listener_(snapshot);
    std::lock_guard<std::mutex> lock(mu_);
    delivering_ = false;
    wake_.notify_all();
  }

  void TearDown() {
    if (connector_.joinable()) connector_.join();
    std::unique_ptr<discovery::RecursiveTreeCache> tree;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      tree = std::move(tree_);
    }
    tree.reset();  // Closes its session; its listener has finished.
    std::unique_ptr<ChildrenCache> servers, namespaces, announced;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      announced = std::move(announced_);
      servers = std::move(servers_);
      namespaces = std::move(namespaces_);
    }
    // Closed first, so that no namespace cache is made after the swap below.
    namespaces.reset();  // Closes.
    servers.reset();
    announced.reset();
    std::map<std::string, NamespaceCaches> namespace_caches;
    std::unique_ptr<discovery::ZooKeeperClient> client;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      namespace_caches.swap(namespace_caches_);
      client = std::move(client_);
    }
    namespace_caches.clear();  // Closes; every cache before the client.
    if (client != nullptr) client->Close();
  }

  const ClusterViewOptions options_;
  const Listener listener_;
  const discovery::RegistryLayout layout_;
  std::thread connector_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;
  bool delivering_ = false;
  std::thread::id delivering_thread_;

  // The client and caches: written by the connector and the listener thread,
  // taken apart by TearDown.
  std::mutex caches_mu_;
  std::unique_ptr<discovery::ZooKeeperClient> client_;
  std::unique_ptr<discovery::RecursiveTreeCache> tree_;  // Its mode only.
  std::unique_ptr<ChildrenCache> servers_;
  std::unique_ptr<ChildrenCache> namespaces_;
  // A foreign format's only cache: the children of <root>/<cluster>.
  std::unique_ptr<ChildrenCache> announced_;
  std::map<std::string, NamespaceCaches> namespace_caches_;

  // Listener thread only.
  struct ParsedInfo {
    int64_t czxid = 0;
    int64_t mzxid = 0;
    ClusterServer server;  // Only server_data and weight.
  };
  std::map<std::string, ParsedInfo> parsed_;  // By servers/ node name.
  // The recursive watch's mode: the tree's servers/ nodes by name, and each
  // namespace's nodes (ApplyTreeChanges).
  struct TreeNamespace {
    bool exists = false;   // Its own node is in the tree.
    NamespaceNodes nodes;  // Its members (_leader included), candidates.
  };
  NodeMap tree_servers_;
  std::map<std::string, TreeNamespace> tree_namespaces_;
  // Member path -> czxid of the servers/ node its stat was last re-read for.
  std::map<std::string, int64_t> member_checked_;
  bool rebuild_queued_ = false;
  absl::Time batch_event_time_;  // When the queued rebuild's batch began.
  bool delivered_any_ = false;
  ClusterSnapshot last_;
  std::set<std::string> logged_;
  int ignored_logged_ = 0;  // Ignored nodes logged so far.
};

absl::StatusOr<std::unique_ptr<ClusterView>> ClusterView::Start(
    ClusterViewOptions options, Listener listener) {
  absl::Status valid =
      discovery::RegistryLayout(options.root, options.cluster).Validate();
  if (!valid.ok()) return valid;
  if (options.zookeeper.empty()) {
    return absl::InvalidArgumentError(
        "no ZooKeeper connect string (host:port[,host:port...])");
  }
  std::vector<std::string>& namespaces = options.foreign.namespaces;
  for (const std::string& ns : namespaces) {
    if (ns.empty() || ns.find_first_of(",/ ") != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad announced service '", ns,
                       "': a gRPC service's full name, e.g. pkg.Service"));
    }
  }
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()),
                   namespaces.end());
  auto impl = std::make_shared<Impl>(std::move(options), std::move(listener));
  impl->Start();
  return std::unique_ptr<ClusterView>(new ClusterView(std::move(impl)));
}

ClusterView::ClusterView(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ClusterView::~ClusterView() { impl_->Stop(); }

const ClusterViewOptions& ClusterView::options() const {
  return impl_->options();
}

std::string ClusterView::NamespacePath(const std::string& ns) const {
  return impl_->NamespacePath(ns);
}

}  // namespace slacker::internal
