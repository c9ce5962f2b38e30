#include "discovery/node_cache.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
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
  ListenerEntry(int id, NodeCache::Listener fn) : id(id), fn(std::move(fn)) {}
  const int id;
  const NodeCache::Listener fn;
  std::atomic<bool> removed{false};
};
using ListenerList = std::vector<std::shared_ptr<ListenerEntry>>;

}  // namespace

absl::string_view NodeCacheEventTypeName(NodeCacheEventType type) {
  switch (type) {
    case NodeCacheEventType::kCreated:
      return "created";
    case NodeCacheEventType::kChanged:
      return "changed";
    case NodeCacheEventType::kDeleted:
      return "deleted";
  }
  return "unknown";
}

// The cache's state and machinery. Members marked "event thread" are touched
// only there (which serializes them); the rest is guarded by mu_.
class NodeCache::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(ZooKeeperClient* client, std::string path)
      : client_(client), path_(std::move(path)) {}

  void Start() {
    std::weak_ptr<Impl> weak = weak_from_this();
    subscription_ = client_->Subscribe([weak](ConnectionState state) {
      if (std::shared_ptr<Impl> impl = weak.lock()) {
        impl->OnConnectionState(state);
      }
    });
    client_->RunOnEventThread([weak] {
      if (std::shared_ptr<Impl> impl = weak.lock()) impl->Refresh();
    });
  }

  const std::string& path() const { return path_; }
  ZooKeeperClient* client() const { return client_; }

  std::optional<NodeData> Current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
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
    if (current_.has_value()) {
      PostHoldingMu({NodeCacheEvent{NodeCacheEventType::kCreated, *current_}},
                    {entry});
    }
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
        ResetSession();
        Refresh();
        break;
      case ConnectionState::kConnected:
      case ConnectionState::kReconnected:
        // The watch survived, but a read that failed while disconnected is
        // owed; reading again is cheap and also covers that.
        Refresh();
        break;
      case ConnectionState::kSuspended:
      case ConnectionState::kClosed:
        break;
    }
  }

  void ResetSession() {
    ++epoch_;
    watch_armed_ = false;
    read_in_flight_ = false;
    read_again_ = false;
  }

  // Reads the node, arming the watch first if none is armed. Merged into the
  // read in flight, if any, as one more read after it.
  void Refresh() {
    if (closed_.load()) return;
    if (read_in_flight_) {
      read_again_ = true;
      return;
    }
    read_in_flight_ = true;
    read_again_ = false;
    const uint64_t epoch = epoch_;
    const bool arming = !watch_armed_;
    std::weak_ptr<Impl> weak = weak_from_this();
    WatchCallback watch;
    if (arming) {
      watch = [weak, epoch](WatchEventType, const std::string&) {
        if (std::shared_ptr<Impl> impl = weak.lock()) impl->OnWatch(epoch);
      };
    }
    // Exists, not Get: only an exists watch fires on the creation of a node
    // that is missing now.
    client_->ExistsAsync(
        path_, std::move(watch),
        [weak, epoch, arming](absl::StatusOr<std::optional<NodeStat>> result) {
          if (std::shared_ptr<Impl> impl = weak.lock()) {
            impl->OnExists(epoch, arming, std::move(result));
          }
        });
  }

  void OnWatch(uint64_t epoch) {
    if (closed_.load() || epoch != epoch_) return;
    watch_armed_ = false;
    Refresh();
  }

  void OnExists(uint64_t epoch, bool arming,
                absl::StatusOr<std::optional<NodeStat>> result) {
    if (closed_.load() || epoch != epoch_) return;
    if (!result.ok()) {
      read_in_flight_ = false;
      Fail(result.status());
      return;
    }
    if (arming) watch_armed_ = true;
    if (!result->has_value()) {
      Apply(std::nullopt);
      FinishRead();
      return;
    }
    std::weak_ptr<Impl> weak = weak_from_this();
    // No watch here: the exists watch armed before this read covers the data.
    client_->GetAsync(path_, nullptr,
                      [weak, epoch](absl::StatusOr<NodeData> node) {
                        if (std::shared_ptr<Impl> impl = weak.lock()) {
                          impl->OnGet(epoch, std::move(node));
                        }
                      });
  }

  void OnGet(uint64_t epoch, absl::StatusOr<NodeData> node) {
    if (closed_.load() || epoch != epoch_) return;
    if (node.ok()) {
      Apply(*std::move(node));
    } else if (absl::IsNotFound(node.status())) {
      // Deleted since the exists answer; the armed watch fires for that too.
      Apply(std::nullopt);
    } else {
      read_in_flight_ = false;
      Fail(node.status());
      return;
    }
    FinishRead();
  }

  void FinishRead() {
    read_in_flight_ = false;
    backoff_.Reset();
    if (read_again_) Refresh();
  }

  void Fail(const absl::Status& status) {
    // Cancelled: the client is closing, and nothing more will run.
    if (absl::IsCancelled(status)) return;
    // Unavailable is routine while ZooKeeper is unreachable; kReconnected or
    // kNewSession will trigger a read at once, the backoff is a safety net.
    const std::optional<absl::Duration> delay = ScheduleRetry();
    const LogLevel level =
        absl::IsUnavailable(status) ? LogLevel::kDebug : LogLevel::kWarning;
    if (slacker::internal::ShouldLog(level)) {
      slacker::internal::Log(
          level,
          absl::StrCat("NodeCache ", path_, ": reading failed, will retry ",
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
        impl->Refresh();
      }
    });
    return delay;
  }

  // Replaces the cached state with what was just read, and posts the events
  // that lead from the old state to it.
  void Apply(std::optional<NodeData> node) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<NodeCacheEvent> events;
    if (!current_.has_value() && node.has_value()) {
      events.push_back({NodeCacheEventType::kCreated, *node});
    } else if (current_.has_value() && !node.has_value()) {
      events.push_back({NodeCacheEventType::kDeleted, *current_});
    } else if (current_.has_value() && node.has_value()) {
      if (current_->stat.czxid != node->stat.czxid) {
        // Deleted and created again between two reads.
        events.push_back({NodeCacheEventType::kDeleted, *current_});
        events.push_back({NodeCacheEventType::kCreated, *node});
      } else if (current_->stat.mzxid != node->stat.mzxid ||
                 current_->data != node->data) {
        events.push_back({NodeCacheEventType::kChanged, *node});
      }
    }
    current_ = std::move(node);
    if (!initialized_) {
      initialized_ = true;
      initialized_cv_.notify_all();
    }
    if (!events.empty()) PostHoldingMu(std::move(events), listeners_);
  }

  // Queues `events` for `targets` on the listener thread. Called under mu_,
  // so that deliveries are queued in the order of the changes they report.
  void PostHoldingMu(std::vector<NodeCacheEvent> events, ListenerList targets)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (targets.empty()) return;
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->RunOnListenerThread(
        [weak, events = std::move(events), targets = std::move(targets)] {
          if (std::shared_ptr<Impl> impl = weak.lock()) {
            impl->Deliver(events, targets);
          }
        });
  }

  // Listener thread.
  void Deliver(const std::vector<NodeCacheEvent>& events,
               const ListenerList& targets) {
    std::lock_guard<std::mutex> delivering(delivery_mu_);
    for (const NodeCacheEvent& event : events) {
      for (const std::shared_ptr<ListenerEntry>& target : targets) {
        if (closed_.load()) return;
        if (!target->removed.load()) target->fn(event);
      }
    }
  }

  ZooKeeperClient* const client_;
  const std::string path_;
  int subscription_ = 0;  // Set by Start(), before anyone may Close().
  std::atomic<bool> closed_{false};

  // Event thread. A session's number: answers and watches of an earlier one
  // are ignored (the new session re-reads).
  uint64_t epoch_ = 0;
  bool watch_armed_ = false;     // An exists watch is set in this session.
  bool read_in_flight_ = false;  // At most one read at a time.
  bool read_again_ = false;      // Another read was asked for meanwhile.
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
  std::optional<NodeData> current_ ABSL_GUARDED_BY(mu_);
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  ListenerList listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
};

absl::StatusOr<std::unique_ptr<NodeCache>> NodeCache::Create(
    ZooKeeperClient* client, std::string path) {
  slacker::internal::CheckRequires(
      client != nullptr,
      "NodeCache::Create needs a ZooKeeper client, got null");
  if (absl::Status valid = ValidatePath(path); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("NodeCache of \"", path, "\": ", valid.message()));
  }
  auto impl = std::make_shared<Impl>(client, std::move(path));
  impl->Start();
  return std::unique_ptr<NodeCache>(new NodeCache(std::move(impl)));
}

NodeCache::NodeCache(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

NodeCache::~NodeCache() { Close(); }

const std::string& NodeCache::path() const { return impl_->path(); }

std::optional<NodeData> NodeCache::Current() const { return impl_->Current(); }

bool NodeCache::initialized() const { return impl_->initialized(); }

bool NodeCache::WaitUntilInitialized(absl::Duration timeout) const {
  return impl_->WaitUntilInitialized(timeout);
}

int NodeCache::AddListener(Listener listener) {
  return impl_->AddListener(std::move(listener));
}

void NodeCache::RemoveListener(int id) { impl_->RemoveListener(id); }

void NodeCache::Close() {
  // Checked even when already closed: the destructor calls Close().
  internal::CheckClosedOffEventThread(*impl_->client(),
                                      absl::StrCat("NodeCache ", path()));
  impl_->Close();
}

}  // namespace slacker::discovery
