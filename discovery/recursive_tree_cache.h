// RecursiveTreeCache: a cache of every node under one root (a cluster's
// <root>/<cluster>), kept current by one ZooKeeper persistent recursive watch
// (ZooKeeper 3.6+, as Apache Curator 5's CuratorCache): ZooKeeper traffic per
// change is one event and at most one read, whatever the tree's size, and the
// server holds one watch per cache.
//
//   RecursiveTreeCacheOptions options;
//   options.session.connect_string = "127.0.0.1:2181";
//   options.root = "/slacker/cluster/demo";
//   absl::StatusOr<std::unique_ptr<RecursiveTreeCache>> cache =
//       RecursiveTreeCache::Start(options);
//   absl::Status ready = (*cache)->WaitUntilInitialized(absl::Seconds(10));
//   if (absl::IsUnimplemented(ready)) { /* ZooKeeper < 3.6: use watches */ }
//   (*cache)->AddListener([](const std::vector<TreeChange>& batch) { ... });
//
// How it stays current. The cache owns a ZooKeeperWireSession (its own
// connection: the watch and its reads share one session, so ZooKeeper's
// per-session ordering holds: an event always arrives before any read that
// reflects the change). On every connection (first, reconnected, new
// session) it sets the watch again (ZooKeeper keeps watches per connection)
// and re-reads the whole tree (ZooKeeper does not replay events missed while
// disconnected): every node read then is kept, every cached node not seen is
// removed, and only the differences are reported. A re-sync reads each
// parent's children in batches (multiRead, ZooKeeper 3.6+, up to 1,000 nodes
// and about 512 KB an answer), so that it costs ZooKeeper a request per
// thousand nodes, not one per node. Between re-syncs it follows
// the events alone: NodeCreated and NodeDataChanged read that node (getData),
// NodeDeleted removes it (and anything cached below it) without a read. A
// node whose creation zxid changed (deleted and created again unseen) is
// reported as kRemoved then kAdded.
//
// Bounds (the tree is untrusted): nodes deeper than `max_depth` below the
// root are not read; past `max_nodes` new nodes are not cached; a node whose
// data exceeds `max_node_bytes` is left out (logged once). Frames, names and
// child counts are bounded by the session (see zookeeper_wire_session.h).
//
// Fallback. A server that answers addWatch with "unimplemented" (older than
// 3.6) makes the cache stop: WaitUntilInitialized() and status() return
// Unimplemented, and the caller uses one-shot watches (ChildrenCache) instead.
//
// Listeners get batches: each change set as it is applied (a re-sync is one
// batch), on the cache's own listener thread, one batch at a time, in order.
// Replaying every batch a listener hears (kAdded inserts, kUpdated replaces,
// kRemoved erases) on an empty map yields Snapshot() once deliveries have
// caught up.
//
// Thread-safe: every method may be called from any thread (Close() and the
// destructor: not from a listener of this cache; checked).

#ifndef SLACKER_DISCOVERY_RECURSIVE_TREE_CACHE_H_
#define SLACKER_DISCOVERY_RECURSIVE_TREE_CACHE_H_

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"
#include "discovery/zookeeper_wire_session.h"

namespace slacker::discovery {

struct RecursiveTreeCacheOptions {
  // The session the cache opens (connect string, digest, timeout).
  ZooKeeperWireSessionOptions session;
  // The subtree's root, a valid ZooKeeper path; it need not exist yet.
  std::string root;
  // Levels below the root that are cached: the cluster layout needs 4
  // (namespaces/<ns>/_leader/<candidate>).
  int max_depth = 6;
  size_t max_nodes = 200000;
  size_t max_node_bytes = 1 << 20;
  // If set: which nodes below the root are cached, asked with each node's
  // full path before it is read (the root itself always is). A node refused
  // is neither read nor walked, and its events are ignored: a cluster view
  // leaves out functions/, whose descriptors it does not use. Called on the
  // session's thread: it must be cheap and must not block.
  std::function<bool(absl::string_view path)> accept;
  // If set: told every change of the cache's session (connected,
  // disconnected, reconnected, expired, new session), on the session's
  // thread, before the cache acts on it. It must not block: the session
  // waits for it. For metrics and logs.
  std::function<void(WireSessionState state)> on_session_state;
};

enum class TreeChangeType { kAdded, kUpdated, kRemoved };
absl::string_view TreeChangeTypeName(TreeChangeType type);

struct TreeChange {
  TreeChangeType type = TreeChangeType::kAdded;
  std::string path;  // The node's full path (the root itself included).
  // kAdded, kUpdated: as read. kRemoved: the last data and stat cached.
  NodeData node;
};

class RecursiveTreeCache {
 public:
  // Called on the cache's listener thread, one batch at a time, in order.
  // It may block, delaying later batches (never the cache itself).
  using Listener = std::function<void(const std::vector<TreeChange>& batch)>;

  // Opens the session and starts loading. InvalidArgument for a malformed
  // root or connect string.
  static absl::StatusOr<std::unique_ptr<RecursiveTreeCache>> Start(
      RecursiveTreeCacheOptions options);

  // Close()s.
  ~RecursiveTreeCache();
  RecursiveTreeCache(const RecursiveTreeCache&) = delete;
  RecursiveTreeCache& operator=(const RecursiveTreeCache&) = delete;

  // OK once the first full read is done; Unimplemented if the server does
  // not support persistent recursive watches (older than 3.6: use
  // ChildrenCache); DeadlineExceeded if `timeout` passed first; Cancelled
  // after Close().
  absl::Status WaitUntilInitialized(absl::Duration timeout) const;
  // The same without waiting: Unavailable while loading.
  absl::Status status() const;

  // Full path -> data and stat as last read.
  std::map<std::string, NodeData> Snapshot() const;
  std::optional<NodeData> Get(absl::string_view path) const;

  // Completed re-syncs (the first load included), for tests and metrics.
  int64_t syncs() const;
  // The session's counters (requests, bytes, events).
  ZooKeeperWireSession::Counters counters() const;
  // The session, for its id (tests expire it).
  const ZooKeeperWireSession& session() const;

  // The listener first hears one batch of kAdded for every node cached then
  // (empty if none: a first call to build from), then every later batch.
  // Returns its id.
  int AddListener(Listener listener);
  // It is not called for batches delivered after this returns (a batch being
  // delivered finishes). Unknown ids are ignored.
  void RemoveListener(int id);

  // Closes the session and stops deliveries; the last state stays readable.
  // Idempotent. REQUIRES: not called from this cache's listener (checked).
  void Close();

 private:
  class Impl;
  explicit RecursiveTreeCache(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_RECURSIVE_TREE_CACHE_H_
