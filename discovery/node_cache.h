// NodeCache: a watched view of one znode (like Apache Curator's NodeCache).
// It holds the node's current data and stat, or "absent", and stays current
// across every change, reconnection, session expiry and ZooKeeper restart: the
// C client's watches fire once, so the cache re-arms them and re-reads.
//
//   absl::StatusOr<std::unique_ptr<NodeCache>> cache =
//       NodeCache::Create(client, "/slacker/cluster/demo/config");
//   if (!cache.ok()) return cache.status();
//   (*cache)->AddListener([](const NodeCacheEvent& event) { ... });
//   std::optional<NodeData> now = (*cache)->Current();
//
// How it stays current. On its client's event thread, the cache asks
// ExistsAsync with a watch (which, unlike a data watch, also fires when a
// missing node is created), then reads the data. Every read follows the arming
// of a watch, so a change made after the read fires the watch, which triggers
// the next read: no change can slip between two reads. One read is in flight
// at a time; requests made meanwhile are merged into one more read. On
// kNewSession (the old session's watches are gone) the cache arms a fresh
// watch and re-reads; on kReconnected it re-reads too, and a failed read is
// retried with a capped exponential backoff.
//
// Events. Each change of the cached state is one event, delivered on the
// client's listener thread (never on the ZooKeeper C client's own threads, nor
// on the event thread), in order. The cache's state is updated on the event
// thread first, so a listener that blocks delays only later deliveries (and the
// client's other listeners; events queue up meanwhile), never the cache:
// Current() stays current.
// Consecutive changes that happen between two reads are seen as one (ZooKeeper
// watches report that something changed, not each change); a node deleted and
// re-created between two reads is reported as kDeleted then kCreated (its
// creation zxid changed).

#ifndef SLACKER_DISCOVERY_NODE_CACHE_H_
#define SLACKER_DISCOVERY_NODE_CACHE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

enum class NodeCacheEventType {
  kCreated,  // The node exists: first seen, or created again.
  kChanged,  // Its data changed (a new version).
  kDeleted,  // It no longer exists.
};
absl::string_view NodeCacheEventTypeName(NodeCacheEventType type);

struct NodeCacheEvent {
  NodeCacheEventType type = NodeCacheEventType::kCreated;
  // kCreated, kChanged: the node's data and stat as read. kDeleted: the last
  // data and stat the cache held.
  NodeData node;
};

// Thread-safe: every method may be called from any thread, including from a
// listener of this cache (Close() and the destructor: not from the client's
// event thread). Data are bytes, never parsed here.
class NodeCache {
 public:
  // Called on the client's listener thread, one event at a time, in order.
  // It may block, at the cost of delaying later events and the client's other
  // listeners; it must not Close() the client.
  using Listener = std::function<void(const NodeCacheEvent& event)>;

  // Starts watching `path` (which need not exist yet) on `client`.
  // InvalidArgument if `path` is not a valid ZooKeeper path.
  // REQUIRES: `client` is non-null (checked: the process ends with a
  // message) and outlives the cache.
  static absl::StatusOr<std::unique_ptr<NodeCache>> Create(
      ZooKeeperClient* client, std::string path);

  // Close()s.
  ~NodeCache();
  NodeCache(const NodeCache&) = delete;
  NodeCache& operator=(const NodeCache&) = delete;

  const std::string& path() const;

  // The node's data and stat as last read; nullopt while it does not exist
  // (or before the first read: see initialized()). The stat's children fields
  // (cversion, num_children, pzxid) are as of the last read of the data, which
  // a change of the node's children does not trigger.
  std::optional<NodeData> Current() const;

  // Whether the first read has completed.
  bool initialized() const;
  // Waits until the first read has completed; false if `timeout` passed first
  // or the cache was closed.
  bool WaitUntilInitialized(absl::Duration timeout) const;

  // Adds a listener and returns its id. If the node is in the cache now, the
  // listener first hears kCreated with its current data, so that replaying
  // the events a listener hears always ends in Current().
  int AddListener(Listener listener);
  // After this returns the listener is not called again (if called from that
  // listener itself, its current run finishes first). Unknown ids are ignored.
  void RemoveListener(int id);

  // Stops watching and delivering: when it returns, no listener of this cache
  // runs or will run (except the caller, if called from a listener). Events
  // still queued are dropped. The last state stays readable. Idempotent.
  // It may wait for a listener of this cache that is running, and for the
  // client's event thread to finish its current task.
  // REQUIRES: not called (nor the destructor run) on the client's event
  // thread; checked: the process ends with a message.
  void Close();

 private:
  class Impl;
  explicit NodeCache(std::shared_ptr<Impl> impl);

  // Shared with the callbacks the cache hands to its client, which may outlive
  // the NodeCache object; after Close() they do nothing.
  std::shared_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_NODE_CACHE_H_
