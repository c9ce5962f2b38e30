#include "discovery/children_cache.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/check.h"
#include "common/logging.h"
#include "discovery/internal/close_check.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

struct ListenerEntry {
  ListenerEntry(int id, ChildrenCache::Listener fn)
      : id(id), fn(std::move(fn)) {}
  const int id;
  const ChildrenCache::Listener fn;
  std::atomic<bool> removed{false};
};
using ListenerList = std::vector<std::shared_ptr<ListenerEntry>>;

// Errors worth the same read again later: the connection or the answer was
// lost, not refused.
bool IsTransient(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

absl::string_view ChildrenCacheEventTypeName(ChildrenCacheEventType type) {
  switch (type) {
    case ChildrenCacheEventType::kAdded:
      return "added";
    case ChildrenCacheEventType::kUpdated:
      return "updated";
    case ChildrenCacheEventType::kRemoved:
      return "removed";
    case ChildrenCacheEventType::kInitialized:
      return "initialized";
  }
  return "unknown";
}

// The cache's state and machinery. Members marked "event thread" are touched
// only there (which serializes them); the rest is guarded by mu_.
class ChildrenCache::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(ZooKeeperClient* client, std::string path, ChildrenCacheOptions options)
      : client_(client), path_(std::move(path)), reads_(options.reads) {}

  void Start() {
    std::weak_ptr<Impl> weak = weak_from_this();
    subscription_ = client_->Subscribe([weak](ConnectionState state) {
      if (std::shared_ptr<Impl> impl = weak.lock()) {
        impl->OnConnectionState(state);
      }
    });
    client_->RunOnEventThread([weak] {
      if (std::shared_ptr<Impl> impl = weak.lock()) impl->RefreshList();
    });
  }

  const std::string& path() const { return path_; }
  ZooKeeperClient* client() const { return client_; }

  std::map<std::string, NodeData> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return children_;
  }

  std::optional<NodeData> Get(absl::string_view name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(std::string(name));
    if (it == children_.end()) return std::nullopt;
    return it->second;
  }

  void Visit(const std::function<void(const std::map<std::string, NodeData>&
                                          children)>& reader) const {
    std::lock_guard<std::mutex> lock(mu_);
    reader(children_);
  }

  void Request(absl::string_view name) {
    if (reads_ != ChildReads::kOnRequest) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->RunOnEventThread([weak, name = std::string(name)] {
      std::shared_ptr<Impl> impl = weak.lock();
      if (impl == nullptr || impl->closed_.load()) return;
      if (!impl->requested_.insert(name).second) return;  // Asked already.
      if (impl->listed_.count(name) == 0) return;  // The listing reads it.
      ChildTrack& track = impl->tracks_[name];
      if (!track.read_in_flight && !track.watch_armed) impl->ReadChild(name);
    });
  }

  void Refresh(absl::string_view name) {
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->RunOnEventThread([weak, name = std::string(name)] {
      std::shared_ptr<Impl> impl = weak.lock();
      if (impl == nullptr || impl->closed_.load()) return;
      if (impl->listed_.count(name) == 0) return;
      if (impl->reads_ == ChildReads::kOnRequest &&
          impl->requested_.count(name) == 0) {
        return;  // Nothing read to refresh.
      }
      ChildTrack& track = impl->tracks_[name];
      // kStatOnce has no watch: "armed" means "read in this session".
      if (impl->reads_ == ChildReads::kStatOnce) track.watch_armed = false;
      impl->ReadChild(name);
    });
  }

  bool initialized() const {
    std::lock_guard<std::mutex> lock(mu_);
    return initialized_;
  }

  bool WaitUntilInitialized(absl::Duration timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    initialized_cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return initialized_ || closed_.load(); });
    return initialized_;
  }

  int AddListener(Listener listener) {
    std::lock_guard<std::mutex> lock(mu_);
    auto entry = std::make_shared<ListenerEntry>(next_listener_id_++,
                                                 std::move(listener));
    std::vector<ChildrenCacheEvent> replay;
    for (const auto& [name, node] : children_) {
      replay.push_back({ChildrenCacheEventType::kAdded, name, node});
    }
    if (initialized_) {
      replay.push_back({ChildrenCacheEventType::kInitialized, "", NodeData()});
    }
    PostHoldingMu(std::move(replay), {entry});
    listeners_.push_back(entry);
    return entry->id;
  }

  void RemoveListener(int id) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = std::find_if(listeners_.begin(), listeners_.end(),
                             [id](const std::shared_ptr<ListenerEntry>& e) {
                               return e->id == id;
                             });
      if (it == listeners_.end()) return;
      (*it)->removed.store(true);
      listeners_.erase(it);
    }
    WaitForDelivery();
  }

  void Close() {
    if (!closed_.exchange(true)) {
      client_->Unsubscribe(subscription_);
      // Wakes WaitUntilInitialized; taking mu_ orders this after its check.
      { std::lock_guard<std::mutex> lock(mu_); }
      initialized_cv_.notify_all();
    }
    WaitForDelivery();
  }

 private:
  // What the event thread knows of one child's reads and watch, in the
  // current session.
  struct ChildTrack {
    // Its data watch is set; for kStatOnce (no watch): its stat was read in
    // this session.
    bool watch_armed = false;
    bool read_in_flight = false;  // At most one read at a time.
    bool read_again = false;      // Another read was asked for meanwhile.
  };

  // Returns once no delivery of this cache is running, unless called on the
  // listener thread (from a listener, which is that delivery).
  void WaitForDelivery() {
    if (client_->IsListenerThread()) return;
    std::lock_guard<std::mutex> wait(delivery_mu_);
  }

  // --- Event thread.

  void OnConnectionState(ConnectionState state) {
    if (closed_.load()) return;
    switch (state) {
      case ConnectionState::kExpired:
        // The session's watches are gone and its pending answers are moot.
        ResetSession();
        break;
      case ConnectionState::kNewSession:
        // Lists again and, no watch being armed, re-reads every child.
        ResetSession();
        RefreshList();
        break;
      case ConnectionState::kConnected:
      case ConnectionState::kReconnected:
        // Watches survived, but reads that failed while disconnected are
        // owed: the listing re-reads every child without an armed watch.
        RefreshList();
        break;
      case ConnectionState::kSuspended:
      case ConnectionState::kClosed:
        break;
    }
  }

  void ResetSession() {
    ++epoch_;
    list_in_flight_ = false;
    list_again_ = false;
    children_watch_armed_ = false;
    exists_watch_armed_ = false;
    tracks_.clear();
  }

  WatchCallback ParentWatch(bool* armed_flag) {
    std::weak_ptr<Impl> weak = weak_from_this();
    const uint64_t epoch = epoch_;
    // `armed_flag` points into this Impl, which `weak` keeps checking.
    return [weak, epoch, armed_flag](WatchEventType, const std::string&) {
      std::shared_ptr<Impl> impl = weak.lock();
      if (impl == nullptr || impl->closed_.load() || epoch != impl->epoch_) {
        return;
      }
      *armed_flag = false;
      impl->RefreshList();
    };
  }

  // Lists the children, arming the children watch first if none is armed.
  // Merged into the listing in flight, if any, as one more listing after it.
  void RefreshList() {
    if (closed_.load()) return;
    if (list_in_flight_) {
      list_again_ = true;
      return;
    }
    list_in_flight_ = true;
    list_again_ = false;
    const uint64_t epoch = epoch_;
    const bool arming = !children_watch_armed_;
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->GetChildrenAsync(
        path_, arming ? ParentWatch(&children_watch_armed_) : nullptr,
        [weak, epoch, arming](absl::StatusOr<NodeChildren> children) {
          if (std::shared_ptr<Impl> impl = weak.lock()) {
            impl->OnList(epoch, arming, std::move(children));
          }
        });
  }

  void OnList(uint64_t epoch, bool arming,
              absl::StatusOr<NodeChildren> children) {
    if (closed_.load() || epoch != epoch_) return;
    if (absl::IsNotFound(children.status())) {
      OnParentMissing(epoch);
      return;
    }
    if (!children.ok()) {
      list_in_flight_ = false;
      Fail("listing the children", children.status());
      return;
    }
    if (arming) children_watch_armed_ = true;
    listed_ =
        std::set<std::string>(children->names.begin(), children->names.end());
    std::set<std::string> cached;
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<ChildrenCacheEvent> events;
      for (auto it = children_.begin(); it != children_.end();) {
        if (listed_.count(it->first) == 0) {
          events.push_back(
              {ChildrenCacheEventType::kRemoved, it->first, it->second});
          it = children_.erase(it);
        } else {
          cached.insert(it->first);
          ++it;
        }
      }
      if (reads_ == ChildReads::kOnRequest) {
        // Every listed child is in the map, read or not (czxid 0).
        for (const std::string& name : listed_) {
          if (cached.count(name) != 0 || unreadable_.count(name) != 0) {
            continue;
          }
          children_.emplace(name, NodeData());
          events.push_back({ChildrenCacheEventType::kAdded, name, NodeData()});
          cached.insert(name);
        }
      }
      PostHoldingMu(std::move(events), listeners_);
    }
    if (reads_ == ChildReads::kOnRequest) {
      for (auto it = requested_.begin(); it != requested_.end();) {
        it = listed_.count(*it) == 0 ? requested_.erase(it) : std::next(it);
      }
      for (auto it = unreadable_.begin(); it != unreadable_.end();) {
        it = listed_.count(*it) == 0 ? unreadable_.erase(it) : std::next(it);
      }
    }
    // A cached child with an armed watch is current: the read that armed the
    // watch filled its entry, and any later change fires the watch.
    for (const std::string& name : listed_) {
      if (reads_ == ChildReads::kOnRequest &&
          (requested_.count(name) == 0 || unreadable_.count(name) != 0)) {
        continue;  // Not asked for: the name is all there is.
      }
      ChildTrack& track = tracks_[name];
      if (!track.read_in_flight &&
          (cached.count(name) == 0 || !track.watch_armed ||
           (reads_ == ChildReads::kOnRequest && !IsRead(name)))) {
        ReadChild(name);
      }
    }
    PruneTracks();
    if (!first_list_done_) {
      first_list_done_ = true;
      for (const std::string& name : listed_) {
        if (tracks_[name].read_in_flight) init_pending_.insert(name);
      }
    } else {
      for (auto it = init_pending_.begin(); it != init_pending_.end();) {
        it = listed_.count(*it) == 0 ? init_pending_.erase(it) : std::next(it);
      }
    }
    MaybeInitialized();
    FinishList();
  }

  // The parent does not exist (now): the cache empties, and an exists watch
  // waits for the parent's creation.
  void OnParentMissing(uint64_t epoch) {
    listed_.clear();
    init_pending_.clear();
    {
      std::lock_guard<std::mutex> lock(mu_);
      std::vector<ChildrenCacheEvent> events;
      for (const auto& [name, node] : children_) {
        events.push_back({ChildrenCacheEventType::kRemoved, name, node});
      }
      children_.clear();
      PostHoldingMu(std::move(events), listeners_);
    }
    PruneTracks();
    const bool arming = !exists_watch_armed_;
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->ExistsAsync(
        path_, arming ? ParentWatch(&exists_watch_armed_) : nullptr,
        [weak, epoch, arming](absl::StatusOr<std::optional<NodeStat>> stat) {
          if (std::shared_ptr<Impl> impl = weak.lock()) {
            impl->OnParentExists(epoch, arming, std::move(stat));
          }
        });
  }

  void OnParentExists(uint64_t epoch, bool arming,
                      absl::StatusOr<std::optional<NodeStat>> stat) {
    if (closed_.load() || epoch != epoch_) return;
    if (!stat.ok()) {
      list_in_flight_ = false;
      Fail("checking that the parent exists", stat.status());
      return;
    }
    if (arming) exists_watch_armed_ = true;
    if (stat->has_value()) {
      // Created since the listing: list again.
      list_in_flight_ = false;
      RefreshList();
      return;
    }
    first_list_done_ = true;
    MaybeInitialized();
    FinishList();
  }

  void FinishList() {
    list_in_flight_ = false;
    backoff_.Reset();
    if (list_again_) RefreshList();
  }

  // Forgets `name`'s track if nothing about it is pending: after one
  // child's event, only its own track can have become prunable (a full pass
  // per child would make reading 1,000 children quadratic).
  void PruneTrack(const std::string& name) {
    auto it = tracks_.find(name);
    if (it != tracks_.end() && listed_.count(name) == 0 &&
        !it->second.watch_armed && !it->second.read_in_flight) {
      tracks_.erase(it);
    }
  }

  // Drops what is known of children that are neither listed nor awaited.
  void PruneTracks() {
    for (auto it = tracks_.begin(); it != tracks_.end();) {
      const ChildTrack& track = it->second;
      if (listed_.count(it->first) == 0 && !track.watch_armed &&
          !track.read_in_flight) {
        it = tracks_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Reads one child, arming its data watch if none is armed.
  void ReadChild(const std::string& name) {
    ChildTrack& track = tracks_[name];
    if (track.read_in_flight) {
      track.read_again = true;
      return;
    }
    track.read_in_flight = true;
    track.read_again = false;
    const uint64_t epoch = epoch_;
    const bool arming = !track.watch_armed;
    std::weak_ptr<Impl> weak = weak_from_this();
    if (reads_ == ChildReads::kStatOnce) {
      client_->ExistsAsync(
          JoinPath(path_, name), nullptr,
          [weak, epoch, name](absl::StatusOr<std::optional<NodeStat>> stat) {
            std::shared_ptr<Impl> impl = weak.lock();
            if (impl == nullptr) return;
            absl::StatusOr<NodeData> node;
            if (!stat.ok()) {
              node = stat.status();
            } else if (!stat->has_value()) {
              node = absl::NotFoundError("gone");
            } else {
              node = NodeData{std::string(), **stat};
            }
            impl->OnChild(epoch, name, /*arming=*/true, std::move(node));
          });
      return;
    }
    WatchCallback watch;
    if (arming) {
      watch = [weak, epoch, name](WatchEventType type, const std::string&) {
        if (std::shared_ptr<Impl> impl = weak.lock()) {
          impl->OnChildWatch(epoch, name, type);
        }
      };
    }
    client_->GetAsync(
        JoinPath(path_, name), std::move(watch),
        [weak, epoch, name, arming](absl::StatusOr<NodeData> node) {
          if (std::shared_ptr<Impl> impl = weak.lock()) {
            impl->OnChild(epoch, name, arming, std::move(node));
          }
        });
  }

  void OnChildWatch(uint64_t epoch, const std::string& name,
                    WatchEventType type) {
    if (closed_.load() || epoch != epoch_) return;
    auto it = tracks_.find(name);
    if (it != tracks_.end()) it->second.watch_armed = false;
    if (type == WatchEventType::kDeleted) {
      // Gone: reading it would only say so. The children watch fires too,
      // and the listing it brings reads a child created again meanwhile.
      listed_.erase(name);
      RemoveChild(name);
      if (init_pending_.erase(name) != 0) MaybeInitialized();
      PruneTrack(name);
      return;
    }
    if (listed_.count(name) != 0) {
      ReadChild(name);
    } else {
      PruneTrack(name);
    }
  }

  void OnChild(uint64_t epoch, const std::string& name, bool arming,
               absl::StatusOr<NodeData> node) {
    if (closed_.load() || epoch != epoch_) return;
    ChildTrack& track = tracks_[name];
    track.read_in_flight = false;
    if (node.ok()) {
      if (arming) track.watch_armed = true;
      // A child no longer listed waits for the next listing, which the
      // children watch (armed by the last listing) brings.
      if (listed_.count(name) != 0) ApplyChild(name, *std::move(node));
      init_pending_.erase(name);
    } else if (absl::IsCancelled(node.status())) {
      return;  // The client is closing.
    } else if (IsTransient(node.status())) {
      // The next listing (on kReconnected, or the retry) reads it again.
      Fail(absl::StrCat("reading child ", name), node.status());
    } else {
      // Gone between the listing and this read (NotFound), or unreadable: not
      // in the cache either way.
      if (!absl::IsNotFound(node.status())) {
        slacker::internal::Log(
            LogLevel::kWarning,
            absl::StrCat("ChildrenCache ", path_, ": leaving out child ", name,
                         ", which cannot be read: ", node.status().ToString()));
      }
      // kOnRequest lists it again only once it has left the list: a
      // placeholder that can never be read would hold up its readers.
      if (reads_ == ChildReads::kOnRequest) unreadable_.insert(name);
      RemoveChild(name);
      init_pending_.erase(name);
    }
    MaybeInitialized();
    if (track.read_again) {
      ReadChild(name);
    } else {
      PruneTrack(name);
    }
  }

  void ApplyChild(const std::string& name, NodeData node) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ChildrenCacheEvent> events;
    auto it = children_.find(name);
    if (it == children_.end()) {
      events.push_back({ChildrenCacheEventType::kAdded, name, node});
      children_.emplace(name, std::move(node));
    } else if (it->second.stat.czxid == 0) {
      // kOnRequest: the first read of a listed child.
      events.push_back({ChildrenCacheEventType::kUpdated, name, node});
      it->second = std::move(node);
    } else if (it->second.stat.czxid != node.stat.czxid) {
      // Deleted and created again between two reads.
      events.push_back({ChildrenCacheEventType::kRemoved, name, it->second});
      events.push_back({ChildrenCacheEventType::kAdded, name, node});
      it->second = std::move(node);
    } else if (it->second.stat.mzxid != node.stat.mzxid ||
               it->second.data != node.data) {
      events.push_back({ChildrenCacheEventType::kUpdated, name, node});
      it->second = std::move(node);
    } else {
      it->second = std::move(node);
    }
    PostHoldingMu(std::move(events), listeners_);
  }

  // Whether `name`'s entry holds a read (not a kOnRequest placeholder).
  bool IsRead(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(name);
    return it != children_.end() && it->second.stat.czxid != 0;
  }

  void RemoveChild(const std::string& name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(name);
    if (it == children_.end()) return;
    PostHoldingMu({{ChildrenCacheEventType::kRemoved, name, it->second}},
                  listeners_);
    children_.erase(it);
  }

  void MaybeInitialized() {
    if (!first_list_done_ || !init_pending_.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (initialized_) return;
    initialized_ = true;
    initialized_cv_.notify_all();
    PostHoldingMu({{ChildrenCacheEventType::kInitialized, "", NodeData()}},
                  listeners_);
  }

  void Fail(absl::string_view what, const absl::Status& status) {
    // Cancelled: the client is closing, and nothing more will run.
    if (absl::IsCancelled(status)) return;
    // Unavailable is routine while ZooKeeper is unreachable; kReconnected or
    // kNewSession will trigger a listing at once, the backoff is a safety net.
    const std::optional<absl::Duration> delay = ScheduleRetry();
    const LogLevel level =
        IsTransient(status) ? LogLevel::kDebug : LogLevel::kWarning;
    if (slacker::internal::ShouldLog(level)) {
      slacker::internal::Log(
          level, absl::StrCat("ChildrenCache ", path_, ": ", what,
                              " failed, will retry ",
                              slacker::internal::RetryDelayText(delay), ": ",
                              status.ToString()));
    }
  }

  // Schedules a retry after the next backoff delay, unless one is scheduled
  // already. Returns the delay, or nullopt if one was scheduled already.
  std::optional<absl::Duration> ScheduleRetry() {
    if (retry_scheduled_) return std::nullopt;
    retry_scheduled_ = true;
    const absl::Duration delay = backoff_.Next();
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->RunOnEventThreadAfter(delay, [weak] {
      if (std::shared_ptr<Impl> impl = weak.lock()) {
        impl->retry_scheduled_ = false;
        impl->RefreshList();
      }
    });
    return delay;
  }

  // Queues `events` for `targets` on the listener thread. Called under mu_,
  // so that deliveries are queued in the order of the changes they report.
  void PostHoldingMu(std::vector<ChildrenCacheEvent> events,
                     ListenerList targets) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (events.empty() || targets.empty()) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->RunOnListenerThread(
        [weak, events = std::move(events), targets = std::move(targets)] {
          if (std::shared_ptr<Impl> impl = weak.lock()) {
            impl->Deliver(events, targets);
          }
        });
  }

  // Listener thread.
  void Deliver(const std::vector<ChildrenCacheEvent>& events,
               const ListenerList& targets) {
    std::lock_guard<std::mutex> delivering(delivery_mu_);
    for (const ChildrenCacheEvent& event : events) {
      for (const std::shared_ptr<ListenerEntry>& target : targets) {
        if (closed_.load()) return;
        if (!target->removed.load()) target->fn(event);
      }
    }
  }

  ZooKeeperClient* const client_;
  const std::string path_;
  const ChildReads reads_;
  int subscription_ = 0;  // Set by Start(), before anyone may Close().
  std::atomic<bool> closed_{false};

  // Event thread. A session's number: answers and watches of an earlier one
  // are ignored (the new session re-reads).
  uint64_t epoch_ = 0;
  bool list_in_flight_ = false;  // At most one listing at a time.
  bool list_again_ = false;      // Another listing was asked for meanwhile.
  bool children_watch_armed_ = false;
  bool exists_watch_armed_ = false;  // Set while the parent was missing.
  std::map<std::string, ChildTrack> tracks_;
  std::set<std::string> listed_;  // Names in the last listing.
  bool first_list_done_ = false;
  std::set<std::string> init_pending_;  // First listing's unread children.
  // kOnRequest: the listed children asked for, and those that could not be
  // read (left out until they leave the list). Kept across sessions.
  std::set<std::string> requested_;
  std::set<std::string> unreadable_;
  bool retry_scheduled_ = false;
  // Retries after a failure: BackoffOptions' defaults, 50 ms doubling to 2 s,
  // jittered; reset by a success. kReconnected and kNewSession retry at once
  // regardless.
  slacker::internal::Backoff backoff_{slacker::internal::BackoffOptions()};

  // Held while listeners run, so that Close() and RemoveListener() can wait
  // for a delivery in progress.
  std::mutex delivery_mu_;

  mutable std::mutex mu_;
  mutable std::condition_variable initialized_cv_;
  std::map<std::string, NodeData> children_ ABSL_GUARDED_BY(mu_);
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  ListenerList listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
};

absl::StatusOr<std::unique_ptr<ChildrenCache>> ChildrenCache::Create(
    ZooKeeperClient* client, std::string path, ChildrenCacheOptions options) {
  slacker::internal::CheckRequires(
      client != nullptr,
      "ChildrenCache::Create needs a ZooKeeper client, got null");
  if (absl::Status valid = ValidatePath(path); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ChildrenCache of \"", path, "\": ", valid.message()));
  }
  auto impl = std::make_shared<Impl>(client, std::move(path), options);
  impl->Start();
  return std::unique_ptr<ChildrenCache>(new ChildrenCache(std::move(impl)));
}

ChildrenCache::ChildrenCache(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

ChildrenCache::~ChildrenCache() { Close(); }

const std::string& ChildrenCache::path() const { return impl_->path(); }

std::map<std::string, NodeData> ChildrenCache::Snapshot() const {
  return impl_->Snapshot();
}

std::optional<NodeData> ChildrenCache::Get(absl::string_view name) const {
  return impl_->Get(name);
}

void ChildrenCache::Visit(
    const std::function<void(const std::map<std::string, NodeData>& children)>&
        reader) const {
  impl_->Visit(reader);
}

void ChildrenCache::Request(absl::string_view name) { impl_->Request(name); }

void ChildrenCache::Refresh(absl::string_view name) { impl_->Refresh(name); }

bool ChildrenCache::initialized() const { return impl_->initialized(); }

bool ChildrenCache::WaitUntilInitialized(absl::Duration timeout) const {
  return impl_->WaitUntilInitialized(timeout);
}

int ChildrenCache::AddListener(Listener listener) {
  return impl_->AddListener(std::move(listener));
}

void ChildrenCache::RemoveListener(int id) { impl_->RemoveListener(id); }

void ChildrenCache::Close() {
  // Checked even when already closed: the destructor calls Close().
  internal::CheckClosedOffEventThread(*impl_->client(),
                                      absl::StrCat("ChildrenCache ", path()));
  impl_->Close();
}

}  // namespace slacker::discovery
