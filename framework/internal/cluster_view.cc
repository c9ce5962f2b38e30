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
#include "protos/slacker/cluster/registry.pb.h"

namespace slacker::internal {
namespace {

using discovery::ChildrenCache;
using discovery::ChildrenCacheEventType;

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
         weight == other.weight;
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
  server->server_data = std::move(data);
  server->weight = weight;
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
    tree_options.session.session_timeout = options_.session_timeout;
    tree_options.session.digest = options_.digest;
    tree_options.root = layout_.ClusterPath();
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
    cache->AddListener(
        [this, cache](const std::vector<discovery::TreeChange>&) {
          RebuildFromTree(cache->Snapshot());
        });
    return true;
  }

  void ConnectLoop() {
    if (options_.mode != DiscoveryMode::kWatches && WatchTree()) return;
    discovery::ZooKeeperOptions zk;
    zk.connect_string = options_.zookeeper;
    zk.session_timeout = options_.session_timeout;
    zk.connect_timeout = options_.connect_timeout;
    zk.digest = options_.digest;
    Backoff retry(ConnectRetry());
    while (!stopped()) {
      absl::StatusOr<std::unique_ptr<discovery::ZooKeeperClient>> client =
          discovery::ZooKeeperClient::Connect(zk);
      if (client.ok()) {
        std::lock_guard<std::mutex> lock(caches_mu_);
        client_ = std::move(*client);
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
                     layout_.ClusterPath(), " on ", options_.zookeeper));
    std::lock_guard<std::mutex> lock(caches_mu_);
    servers_ =
        Watch(layout_.ServersPath(),
              [this](const discovery::ChildrenCacheEvent&) { Rebuild(); });
    namespaces_ = Watch(layout_.NamespacesPath(),
                        [this](const discovery::ChildrenCacheEvent& event) {
                          OnNamespaceEvent(event);
                        });
  }

  std::unique_ptr<ChildrenCache> Watch(const std::string& path,
                                       ChildrenCache::Listener listener) {
    absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
        ChildrenCache::Create(client_.get(), path);
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
          Rebuild();
        };
        NamespaceCaches caches;
        caches.members = Watch(path, rebuild);
        caches.election = Watch(layout_.LeaderPath(event.name), rebuild);
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
    Rebuild();
  }

  // The listener thread is the only one that rebuilds, so reads of the caches
  // and of logged_ need no more than caches_mu_.
  void Rebuild() {
    const absl::Time event_time = absl::Now();
    if (stopped()) return;
    std::map<std::string, discovery::NodeData> server_nodes;
    std::map<std::string, NamespaceNodes> namespaces;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      if (servers_ == nullptr || namespaces_ == nullptr ||
          !servers_->initialized() || !namespaces_->initialized()) {
        return;
      }
      // Complete only once every namespace listed has its caches: the list
      // is current before this thread has handled its kAdded events.
      for (const auto& [ns, node] : namespaces_->Snapshot()) {
        if (namespace_caches_.count(ns) == 0 &&
            discovery::ValidatePath(NamespacePath(ns)).ok()) {
          return;  // Its kAdded (which makes them) is still to come.
        }
      }
      server_nodes = servers_->Snapshot();
      for (const auto& [ns, caches] : namespace_caches_) {
        if (caches.members == nullptr || caches.election == nullptr) continue;
        if (!caches.members->initialized() || !caches.election->initialized()) {
          return;  // Not a complete picture yet; its kInitialized follows.
        }
        namespaces[ns] = {caches.members->Snapshot(),
                          caches.election->Snapshot()};
      }
    }
    Judge(event_time, server_nodes, namespaces);
  }

  // The tree cache's snapshot (full paths) in the form Judge() takes: the
  // same nodes the one-shot watches read, found by their depth below the
  // cluster's path.
  void RebuildFromTree(const std::map<std::string, discovery::NodeData>& tree) {
    const absl::Time event_time = absl::Now();
    if (stopped()) return;
    const std::string servers_prefix = layout_.ServersPath() + "/";
    const std::string namespaces_prefix = layout_.NamespacesPath() + "/";
    std::map<std::string, discovery::NodeData> server_nodes;
    std::map<std::string, NamespaceNodes> namespaces;
    for (const auto& [path, node] : tree) {
      absl::string_view rest = path;
      if (absl::ConsumePrefix(&rest, servers_prefix)) {
        if (rest.find('/') == absl::string_view::npos) {
          server_nodes[std::string(rest)] = node;
        }
        continue;
      }
      if (!absl::ConsumePrefix(&rest, namespaces_prefix)) continue;
      const std::vector<std::string> parts = absl::StrSplit(rest, '/');
      if (parts.size() == 1) {
        namespaces[parts[0]];  // The namespace exists, members or not.
      } else if (parts.size() == 2 && namespaces.count(parts[0]) != 0) {
        namespaces[parts[0]].members[parts[1]] = node;
      } else if (parts.size() == 3 &&
                 discovery::RegistryLayout::IsLeaderNode(parts[1]) &&
                 namespaces.count(parts[0]) != 0) {
        namespaces[parts[0]].election[parts[2]] = node;
      }
    }
    Judge(event_time, server_nodes, namespaces);
  }

  // The trust rules over one complete picture, then a snapshot delivered if
  // it changed. On whichever thread rebuilds (only one mode runs).
  void Judge(absl::Time event_time,
             const std::map<std::string, discovery::NodeData>& server_nodes,
             const std::map<std::string, NamespaceNodes>& namespaces) {
    std::map<std::string, ClusterServer> servers;
    std::vector<IgnoredNode> ignored;
    {
      for (const auto& [ns, nodes] : namespaces) {
        // The trust rules (discovery/cluster_rules.h): who publishes, then
        // who of them leads.
        std::map<std::string, int64_t> publishers;
        for (const auto& [name, node] : nodes.members) {
          if (discovery::RegistryLayout::IsLeaderNode(name)) continue;
          std::optional<int64_t> server_owner;
          auto server_node = server_nodes.find(name);
          if (server_node != server_nodes.end()) {
            server_owner = server_node->second.stat.ephemeral_owner;
          }
          const int64_t owner = node.stat.ephemeral_owner;
          const discovery::PublisherVerdict verdict =
              discovery::JudgePublisher(name, owner, server_owner);
          if (verdict != discovery::PublisherVerdict::kCounts) {
            // A joining server writes its servers/ node first, but this
            // view may hear of its member node first: usually transient.
            Ignore(
                layout_.MemberPath(ns, name), node.stat.czxid,
                discovery::PublisherVerdictReason(verdict, owner, server_owner),
                verdict == discovery::PublisherVerdict::kNoServerNode
                    ? LogLevel::kInfo
                    : LogLevel::kWarning,
                &ignored);
            continue;
          }
          publishers[name] = owner;
          ClusterServer& server = servers[name];
          server.address = name;
          server.namespaces.push_back(ns);
        }
        std::vector<discovery::CandidateNode> candidates;
        for (const auto& [name, node] : nodes.election) {
          candidates.push_back({name, node.data, node.stat.ephemeral_owner});
        }
        const std::optional<size_t> leader =
            discovery::LeadingCandidate(candidates, publishers);
        for (size_t i = 0; i < candidates.size(); ++i) {
          const discovery::CandidateVerdict verdict =
              discovery::JudgeCandidate(candidates[i], publishers);
          if (verdict == discovery::CandidateVerdict::kCounts) continue;
          Ignore(absl::StrCat(layout_.LeaderPath(ns), "/", candidates[i].name),
                 0, discovery::CandidateVerdictReason(verdict, candidates[i]),
                 LogLevel::kWarning, &ignored);
        }
        if (leader.has_value()) {
          auto it = servers.find(candidates[*leader].data);
          if (it != servers.end()) it->second.leads.push_back(ns);
        }
      }
      // A node's data is parsed once per version: with many servers,
      // parsing all of them on every event would be most of an update.
      std::map<std::string, ParsedInfo> parsed;
      for (const auto& [name, node] : server_nodes) {
        auto it = servers.find(name);
        if (it == servers.end()) continue;  // Publishes nothing now.
        auto known = parsed_.find(name);
        if (known == parsed_.end() || known->second.mzxid != node.stat.mzxid ||
            known->second.czxid != node.stat.czxid) {
          ParsedInfo info;
          info.mzxid = node.stat.mzxid;
          info.czxid = node.stat.czxid;
          absl::Status status = ParseServerInfo(node.data, &info.server);
          if (!status.ok()) {
            LogOnce(
                absl::StrCat(layout_.ServerPath(name), "@", node.stat.mzxid),
                absl::StrCat("server data skipped, ", status.message()));
          }
          known = parsed_.insert_or_assign(name, std::move(info)).first;
        }
        it->second.server_data = known->second.server.server_data;
        it->second.weight = known->second.server.weight;
        parsed.insert(parsed_.extract(known));
      }
      parsed_.swap(parsed);
    }
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
    std::unique_ptr<ChildrenCache> servers, namespaces;
    {
      std::lock_guard<std::mutex> lock(caches_mu_);
      servers = std::move(servers_);
      namespaces = std::move(namespaces_);
    }
    // Closed first, so that no namespace cache is made after the swap below.
    namespaces.reset();  // Closes.
    servers.reset();
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
  std::map<std::string, NamespaceCaches> namespace_caches_;

  // Listener thread only.
  struct ParsedInfo {
    int64_t czxid = 0;
    int64_t mzxid = 0;
    ClusterServer server;  // Only server_data and weight.
  };
  std::map<std::string, ParsedInfo> parsed_;  // By servers/ node name.
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
