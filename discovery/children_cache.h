// ChildrenCache: a watched view of a znode's children and of each child's data
// (like Apache Curator's PathChildrenCache). It holds a map from child name to
// data and stat that stays current across every change, reconnection, session
// expiry and ZooKeeper restart, and reports each change of that map as an
// event: kAdded, kUpdated or kRemoved for one child.
//
//   absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
//       ChildrenCache::Create(client, "/slacker/cluster/demo/servers");
//   if (!cache.ok()) return cache.status();
//   (*cache)->AddListener([](const ChildrenCacheEvent& event) { ... });
//   (*cache)->WaitUntilInitialized(absl::Seconds(10));
//   std::map<std::string, NodeData> servers = (*cache)->Snapshot();
//
// How it stays current. Everything below runs on the client's event thread,
// with asynchronous operations only.
//   - The parent: GetChildren with a children watch. If the parent does not
//     exist, Exists with a watch, which fires when it is created; every child
//     the cache held is then removed. A parent created later is picked up; a
//     parent deleted later empties the cache.
//   - Each child, as ChildrenCacheOptions::reads says (the default,
//     kDataWatched, below; kStatOnce and kOnRequest read less, see there):
//     Get with a data watch of its own, armed by the read that fills its
//     entry. A data change fires that watch, which re-reads that child only;
//     a deletion removes the child without reading it (the children watch
//     brings a re-created one back); a changed list reads only new names
//     (and any child whose watch is not armed).
//     A child that vanishes between the listing and its read, or cannot be
//     read at all (e.g. no permission: logged), is treated as removed.
//   - No change can slip: every watch is armed by the very read whose result
//     the cache keeps, and any read made while a watch is armed comes after
//     it. One read per node is in flight at a time; more requests meanwhile
//     merge into one more read. A read that fails while disconnected is
//     retried on kReconnected and with a capped exponential backoff.
//   - On kNewSession (the expired session's watches are gone) the parent is
//     listed and every child re-read, with fresh watches; the entries are kept
//     meanwhile, and only real differences become events.
//   - A child deleted and re-created between two reads of it (its creation
//     zxid changed) is reported as kRemoved then kAdded.
//
// Events. The map is updated on the event thread, then its events are queued
// for the client's listener thread, where listeners run one event at a time,
// in order (never on the ZooKeeper C client's threads nor the event thread).
// So a listener that blocks delays only later deliveries (and the client's
// other listeners; events queue up meanwhile), never the cache: Snapshot()
// stays current, and may be
// ahead of the events a listener has heard so far. Replaying, on an empty map,
// every event a listener hears (kAdded inserts, kUpdated replaces, kRemoved
// erases) yields exactly Snapshot() once deliveries have caught up: there is no
// kAdded of a name present, no kUpdated or kRemoved of a name absent. Changes
// to one child between two reads of it are seen as one kUpdated (ZooKeeper
// watches report that something changed, not each change).

#ifndef SLACKER_DISCOVERY_CHILDREN_CACHE_H_
#define SLACKER_DISCOVERY_CHILDREN_CACHE_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

enum class ChildrenCacheEventType {
  kAdded,    // A child is in the cache that was not.
  kUpdated,  // A child's data changed (a new version).
  kRemoved,  // A child is no longer in the cache.
  // The first full load is complete: every child listed then has been read
  // (and reported as kAdded before this). Delivered once per listener.
  kInitialized,
};
absl::string_view ChildrenCacheEventTypeName(ChildrenCacheEventType type);

struct ChildrenCacheEvent {
  ChildrenCacheEventType type = ChildrenCacheEventType::kAdded;
  std::string name;  // The child's name (not its path); empty for kInitialized.
  // kAdded, kUpdated: the child's data and stat as read. kRemoved: the last
  // data and stat the cache held. Empty for kInitialized.
  NodeData node;
};

// What the cache reads of each child: how much each child costs a watcher
// in requests, bytes and ZooKeeper watches (each watch is also re-sent, with
// every other watch of the session, in one frame on every reconnection).
enum class ChildReads {
  // Data and stat, kept current with one data watch per child.
  kDataWatched,
  // The stat only, read once per child (Exists, no watch) and again after a
  // new session or Refresh(): for children of which only fields fixed at
  // creation matter (czxid, ephemeralOwner), such as membership nodes. The
  // entries' data stay empty and a data change is not seen; a child deleted
  // and created again between two listings keeps its old stat until
  // Refresh(name).
  kStatOnce,
  // Nothing but the names until asked: every listed child is in the map with
  // an empty NodeData (stat.czxid == 0, "not read") and reported as kAdded;
  // Request(name) reads it with a data watch, reported as kUpdated, and keeps
  // it current as kDataWatched does. For lists of which a reader needs a few
  // members only, such as the lowest candidates of an election.
  kOnRequest,
};

struct ChildrenCacheOptions {
  ChildReads reads = ChildReads::kDataWatched;
};

// Thread-safe: every method may be called from any thread, including from a
// listener of this cache (Close() and the destructor: not from the client's
// event thread). Data are bytes, never parsed here.
class ChildrenCache {
 public:
  // Called on the client's listener thread, one event at a time, in order.
  // It may block, at the cost of delaying later events and the client's other
  // listeners; it must not Close() the client.
  using Listener = std::function<void(const ChildrenCacheEvent& event)>;

  // Starts watching the children of `path` (which need not exist yet) on
  // `client`. InvalidArgument if `path` is not a valid ZooKeeper path.
  // REQUIRES: `client` is non-null (checked: the process ends with a
  // message) and outlives the cache.
  static absl::StatusOr<std::unique_ptr<ChildrenCache>> Create(
      ZooKeeperClient* client, std::string path,
      ChildrenCacheOptions options = {});

  // Close()s.
  ~ChildrenCache();
  ChildrenCache(const ChildrenCache&) = delete;
  ChildrenCache& operator=(const ChildrenCache&) = delete;

  const std::string& path() const;

  // A copy of the cache: child name -> data and stat as last read. The
  // stat's children fields (cversion, num_children, pzxid) are as of the last
  // read of that child's data, which a change of its own children does not
  // trigger.
  std::map<std::string, NodeData> Snapshot() const;
  // One child's entry; nullopt if it is not in the cache.
  std::optional<NodeData> Get(absl::string_view name) const;
  // Runs `reader` on the cache itself, without a copy, under the cache's
  // lock: the map cannot change meanwhile, and the client's event thread
  // waits for `reader` before it updates this cache. `reader` must be quick
  // and must not call a method of this cache other than Request and Refresh.
  void Visit(const std::function<void(const std::map<std::string, NodeData>&
                                          children)>& reader) const;

  // kOnRequest: reads `name` (if listed and not read yet) with a data watch,
  // and keeps it current from then on; its entry is reported as kUpdated.
  // Other modes: no effect. Asynchronous; may be called from Visit's reader.
  void Request(absl::string_view name);
  // Reads `name` again (if listed) whatever the mode, e.g. when its
  // kStatOnce stat no longer fits what the caller sees elsewhere. A change
  // is reported as usual. Asynchronous; may be called from Visit's reader.
  void Refresh(absl::string_view name);

  // Whether the first full load has completed (see kInitialized).
  bool initialized() const;
  // Waits until the first full load has completed; false if `timeout` passed
  // first or the cache was closed.
  bool WaitUntilInitialized(absl::Duration timeout) const;

  // Adds a listener and returns its id. The listener first hears kAdded for
  // every child in the cache now (and kInitialized, if that is done), then
  // every later change: replaying what it hears always ends in Snapshot().
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
  explicit ChildrenCache(std::shared_ptr<Impl> impl);

  // Shared with the callbacks the cache hands to its client, which may outlive
  // the ChildrenCache object; after Close() they do nothing.
  std::shared_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CHILDREN_CACHE_H_
