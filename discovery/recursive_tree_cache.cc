#include "discovery/recursive_tree_cache.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/serial_executor.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

void Warn(absl::string_view message) {
  slacker::internal::Log(LogLevel::kWarning, message);
}

}  // namespace

absl::string_view TreeChangeTypeName(TreeChangeType type) {
  switch (type) {
    case TreeChangeType::kAdded:
      return "added";
    case TreeChangeType::kUpdated:
      return "updated";
    case TreeChangeType::kRemoved:
      return "removed";
  }
  return "unknown";
}

class RecursiveTreeCache::Impl {
 public:
  explicit Impl(RecursiveTreeCacheOptions options)
      : options_(std::move(options)), listeners_thread_("tree-cache") {}

  ~Impl() { Close(); }

  absl::Status Open() {
    std::lock_guard<std::mutex> start(start_mu_);
    absl::StatusOr<std::unique_ptr<ZooKeeperWireSession>> session =
        ZooKeeperWireSession::Start(
            options_.session,
            [this](WireSessionState state) { OnState(state); },
            [this](WatchEventType type, const std::string& path) {
              OnEvent(type, path);
            });
    if (!session.ok()) return session.status();
    session_ = *std::move(session);
    return absl::OkStatus();
  }

  // Phase, under mu_: kLoading until the first full read, then kReady;
  // kUnsupported (server < 3.6) and kClosed are final.
  enum class Phase { kLoading, kReady, kUnsupported, kClosed };

  absl::Status StatusHoldingMu() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    switch (phase_) {
      case Phase::kReady:
        return absl::OkStatus();
      case Phase::kLoading:
        return absl::UnavailableError(absl::StrCat(
            "the cache of '", options_.root, "' is still loading"));
      case Phase::kUnsupported:
        return absl::UnimplementedError(absl::StrCat(
            "ZooKeeper refused a persistent recursive watch on '",
            options_.root,
            "' (addWatch needs ZooKeeper 3.6 or later): use the one-shot "
            "watch mode"));
      case Phase::kClosed:
        return absl::CancelledError("the cache is closed");
    }
    return absl::InternalError("unknown phase");
  }

  absl::Status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return StatusHoldingMu();
  }

  absl::Status WaitUntilInitialized(absl::Duration timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    if (!changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                           [this] { return phase_ != Phase::kLoading; })) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the cache of '", options_.root,
          "' did not finish its first read in ", absl::FormatDuration(timeout),
          "; is ZooKeeper reachable?"));
    }
    return StatusHoldingMu();
  }

  std::map<std::string, NodeData> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, NodeData> copy;
    for (const auto& [path, entry] : nodes_) copy.emplace(path, entry.node);
    return copy;
  }

  std::optional<NodeData> Get(absl::string_view path) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = nodes_.find(std::string(path));
    if (it == nodes_.end()) return std::nullopt;
    return it->second.node;
  }

  int64_t syncs() const {
    std::lock_guard<std::mutex> lock(mu_);
    return syncs_;
  }

  const ZooKeeperWireSession& session() const { return *session_; }

  int AddListener(Listener listener) {
    int id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = next_listener_id_++;
    }
    listeners_thread_.Post([this, id, listener = std::move(listener)] {
      std::vector<TreeChange> initial;
      std::map<int, std::shared_ptr<Listener>> others;
      std::vector<TreeChange> batch;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (phase_ == Phase::kClosed) return;
        // What the others have not heard yet goes first, so that the map is
        // exactly what every listener (the new one included) has heard.
        batch.swap(pending_);
        flush_posted_ = false;
        others = listeners_;
        for (const auto& [path, entry] : nodes_) {
          initial.push_back({TreeChangeType::kAdded, path, entry.node});
        }
        listeners_[id] = std::make_shared<Listener>(listener);
      }
      if (!batch.empty()) {
        for (auto& [other_id, l] : others) (*l)(batch);
      }
      listener(initial);
    });
    return id;
  }

  void RemoveListener(int id) {
    std::lock_guard<std::mutex> lock(mu_);
    listeners_.erase(id);
  }

  void Close() {
    slacker::internal::CheckRequires(
        !listeners_thread_.IsCurrentThread(),
        "RecursiveTreeCache::Close() called from its own listener; close it "
        "from another thread");
    if (session_ != nullptr) session_->Close();
    {
      std::lock_guard<std::mutex> lock(mu_);
      phase_ = Phase::kClosed;
      pending_.clear();
    }
    changed_.notify_all();
    listeners_thread_.Shutdown();
  }

  ZooKeeperWireSession::Counters counters() const {
    return session_->counters();
  }

 private:
  struct Entry {
    NodeData node;
    uint64_t seen = 0;  // The sync generation in which it was last read.
  };

  // --- The session thread.

  void OnState(WireSessionState state) {
    { std::lock_guard<std::mutex> start(start_mu_); }  // session_ is set.
    if (options_.on_session_state) options_.on_session_state(state);
    if (state == WireSessionState::kDisconnected ||
        state == WireSessionState::kExpired) {
      return;  // Kept as is until the next connection re-syncs.
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (phase_ == Phase::kUnsupported || phase_ == Phase::kClosed) return;
      ++generation_;
      walking_ = 0;
      syncing_ = true;
    }
    const uint64_t generation = CurrentGeneration();
    // The watch first: any change after it is an event, and the reads that
    // follow on the same session see at least what preceded it.
    session_->AddWatch(
        options_.root, AddWatchMode::kPersistentRecursive,
        [this](absl::Status status) {
          if (absl::IsUnimplemented(status)) {
            Warn(absl::StrCat(
                "ZooKeeper does not support persistent recursive watches "
                "(older than 3.6); the cache of '",
                options_.root, "' stops, use one-shot watches"));
            {
              std::lock_guard<std::mutex> lock(mu_);
              phase_ = Phase::kUnsupported;
            }
            changed_.notify_all();
          } else if (!status.ok() && !absl::IsUnavailable(status) &&
                     !absl::IsCancelled(status)) {
            Warn(absl::StrCat("addWatch on '", options_.root,
                              "' failed: ", status.message()));
          }
        });
    Read(options_.root, generation, /*walk=*/true);
  }

  void OnEvent(WatchEventType type, const std::string& path) {
    if (!Covers(path) || Depth(path) > options_.max_depth || !Accepts(path)) {
      return;
    }
    const uint64_t generation = CurrentGeneration();
    switch (type) {
      case WatchEventType::kCreated:
      case WatchEventType::kDataChanged:
        Read(path, generation, /*walk=*/false);
        break;
      case WatchEventType::kDeleted: {
        std::lock_guard<std::mutex> lock(mu_);
        RemoveHoldingMu(path);
        ScheduleFlushHoldingMu();
        break;
      }
      case WatchEventType::kChildrenChanged:
        break;  // Not sent for recursive watches; creations come as events.
    }
  }

  uint64_t CurrentGeneration() const {
    std::lock_guard<std::mutex> lock(mu_);
    return generation_;
  }

  bool Covers(const std::string& path) const {
    return path == options_.root ||
           absl::StartsWith(path, options_.root == "/" ? std::string("/")
                                                       : options_.root + "/");
  }

  bool Accepts(const std::string& path) const {
    return !options_.accept || path == options_.root || options_.accept(path);
  }

  int Depth(const std::string& path) const {
    if (path == options_.root) return 0;
    const size_t from = options_.root == "/" ? 0 : options_.root.size();
    int depth = 0;
    for (size_t i = from; i < path.size(); ++i) depth += path[i] == '/';
    return depth;
  }

  // Reads `path`'s data and, when walking (a re-sync), then its children if
  // the data's stat says it has any. A child made after that read is not
  // missed: the watch was set first, on this session, so its creation comes
  // as an event. Leaves (every member, candidate and server node of a
  // cluster) so cost one read, not two, and a parent's children are read in
  // batches (ReadChildren).
  void Read(const std::string& path, uint64_t generation, bool walk) {
    if (walk) {
      std::lock_guard<std::mutex> lock(mu_);
      ++walking_;
    }
    session_->GetData(
        path, false,
        [this, path, generation, walk](absl::StatusOr<NodeData> node) {
          OnData(path, generation, walk, std::move(node));
        });
  }

  void OnData(const std::string& path, uint64_t generation, bool walk,
              absl::StatusOr<NodeData> node) {
    std::unique_lock<std::mutex> lock(mu_);
    if (generation != generation_ || phase_ == Phase::kClosed) return;
    if (absl::IsUnavailable(node.status()) ||
        absl::IsCancelled(node.status())) {
      return;  // The next connection re-syncs (a walk never completes).
    }
    const bool has_children = TakeReadHoldingMu(path, std::move(node));
    if (!walk) return;
    if (!has_children) {
      --walking_;
      if (walking_ == 0 && syncing_) FinishSyncHoldingMu();
      return;
    }
    lock.unlock();
    List(path, generation);  // walking_ keeps counting `path` until listed.
  }

  // Applies one read's answer; true if the node has children to walk.
  bool TakeReadHoldingMu(const std::string& path, absl::StatusOr<NodeData> node)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const bool has_children = node.ok() && node->stat.num_children > 0 &&
                              Depth(path) < options_.max_depth;
    if (!node.ok()) {
      if (absl::IsResourceExhausted(node.status())) {
        WarnOnceHoldingMu(path,
                          "its answer is bigger than the session takes "
                          "(max_frame_bytes); left out");
      } else if (!absl::IsNotFound(node.status())) {
        WarnOnceHoldingMu(path, node.status().message());
      }
      RemoveHoldingMu(path);
    } else if (node->data.size() > options_.max_node_bytes) {
      WarnOnceHoldingMu(path,
                        absl::StrCat("its data is ", node->data.size(),
                                     " bytes, past the bound of ",
                                     options_.max_node_bytes, "; left out"));
      RemoveHoldingMu(path);
    } else {
      ApplyHoldingMu(path, *std::move(node));
    }
    ScheduleFlushHoldingMu();
    return has_children;
  }

  void List(const std::string& path, uint64_t generation) {
    session_->GetChildren(
        path, false,
        [this, path, generation](absl::StatusOr<NodeChildren> children) {
          OnChildren(path, generation, std::move(children));
        });
  }

  void OnChildren(const std::string& path, uint64_t generation,
                  absl::StatusOr<NodeChildren> children) {
    auto batch = std::make_shared<ChildReads>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (generation != generation_ || phase_ == Phase::kClosed) return;
      if (absl::IsUnavailable(children.status()) ||
          absl::IsCancelled(children.status())) {
        return;  // This walk never completes; the next connection re-syncs.
      }
      --walking_;
      if (children.ok() && Depth(path) < options_.max_depth) {
        for (const std::string& name : children->names) {
          std::string child = path == "/" ? "/" + name : path + "/" + name;
          if (Accepts(child)) batch->paths.push_back(std::move(child));
        }
      }
      // A failure here (no node, no connection) reads nothing below: the
      // node is gone (its deletion removes it) or a re-sync follows.
      if (batch->paths.empty()) {
        if (walking_ == 0 && syncing_) FinishSyncHoldingMu();
        return;
      }
      ++walking_;  // For the batches, until the last is answered.
    }
    ReadChildren(std::move(batch), generation);
  }

  // A parent's children, read in batches (one multiRead each) one after the
  // other. A re-sync of N servers so costs ZooKeeper about 3N / 1,000
  // requests rather than 3N: measured, what made a restart under 100 views of
  // 10,000 servers take minutes was the request count. Batches start small
  // and grow with the node sizes seen, so that an answer stays near
  // kBatchAnswerBytes; one that still comes back too big is read again in
  // halves, down to single nodes (a node too big alone is left out).
  struct ChildReads {
    std::vector<std::string> paths;
    size_t next = 0;             // The first not yet read.
    size_t batch = kFirstBatch;  // How many the next batch reads.
    size_t largest = 0;          // The largest data seen, in bytes.
  };
  static constexpr size_t kFirstBatch = 16;
  static constexpr size_t kBatchAnswerBytes = 512 << 10;

  void ReadChildren(std::shared_ptr<ChildReads> reads, uint64_t generation) {
    const size_t count =
        std::min(reads->batch, reads->paths.size() - reads->next);
    std::vector<std::string> paths(reads->paths.begin() + reads->next,
                                   reads->paths.begin() + reads->next + count);
    if (batches_refused_.load(std::memory_order_relaxed)) {
      // The server refused multiRead once: single reads, each walking on.
      for (const std::string& child : paths) Read(child, generation, true);
      reads->next += count;
      FinishChildReads(std::move(reads), generation);
      return;
    }
    session_->GetDataMany(
        std::move(paths),
        [this, reads, generation,
         count](absl::StatusOr<std::vector<absl::StatusOr<NodeData>>> answers) {
          OnChildReads(std::move(reads), generation, count, std::move(answers));
        });
  }

  void OnChildReads(
      std::shared_ptr<ChildReads> reads, uint64_t generation, size_t count,
      absl::StatusOr<std::vector<absl::StatusOr<NodeData>>> answers) {
    std::vector<std::string> to_list;
    std::vector<std::string> singles;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (generation != generation_ || phase_ == Phase::kClosed) return;
      if (absl::IsUnavailable(answers.status()) ||
          absl::IsCancelled(answers.status())) {
        return;  // This walk never completes; the next connection re-syncs.
      }
      if (absl::IsResourceExhausted(answers.status()) && count > 1) {
        reads->batch = count / 2;  // Too big an answer: again, in halves.
      } else if (absl::IsResourceExhausted(answers.status())) {
        TakeReadHoldingMu(reads->paths[reads->next], answers.status());
        reads->next += 1;
      } else if (!answers.ok()) {
        // Unimplemented (no multiRead) or a malformed answer: these nodes
        // one by one, and every batch after them if multiRead is unknown.
        if (absl::IsUnimplemented(answers.status())) {
          batches_refused_.store(true, std::memory_order_relaxed);
        } else {
          Warn(absl::StrCat("a batch of reads under '", options_.root,
                            "' failed (", answers.status().message(),
                            "); reading those nodes one by one"));
        }
        singles.assign(reads->paths.begin() + reads->next,
                       reads->paths.begin() + reads->next + count);
        reads->next += count;
      } else {
        for (size_t i = 0; i < count; ++i) {
          const std::string& path = reads->paths[reads->next + i];
          absl::StatusOr<NodeData>& answer = (*answers)[i];
          if (answer.ok()) {
            reads->largest = std::max(reads->largest, answer->data.size());
          }
          if (TakeReadHoldingMu(path, std::move(answer))) {
            ++walking_;
            to_list.push_back(path);
          }
        }
        reads->next += count;
        // The next batch: what keeps an answer near kBatchAnswerBytes at
        // the largest size seen (a getData answer is its data and ~90
        // bytes), growing at most fourfold.
        reads->batch = std::clamp<size_t>(
            kBatchAnswerBytes / (reads->largest + 96), 1,
            std::min(ZooKeeperWireSession::kMaxBatchReads, count * 4));
      }
    }
    // Each walks on by itself; this batch's count holds the walk open.
    for (const std::string& path : singles) Read(path, generation, true);
    for (const std::string& path : to_list) List(path, generation);
    FinishChildReads(std::move(reads), generation);
  }

  // Reads the next batch, or ends the batches' share of the walk.
  void FinishChildReads(std::shared_ptr<ChildReads> reads,
                        uint64_t generation) {
    if (reads->next < reads->paths.size()) {
      ReadChildren(std::move(reads), generation);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_ || phase_ == Phase::kClosed) return;
    --walking_;
    if (walking_ == 0 && syncing_) FinishSyncHoldingMu();
  }

  void FinishSyncHoldingMu() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    // Whatever was cached and not seen in this walk (nor created since) is
    // gone.
    std::vector<std::string> gone;
    for (const auto& [path, entry] : nodes_) {
      if (entry.seen != generation_) gone.push_back(path);
    }
    for (const std::string& path : gone) RemoveHoldingMu(path);
    syncing_ = false;
    ++syncs_;
    if (phase_ == Phase::kLoading) phase_ = Phase::kReady;
    changed_.notify_all();
    ScheduleFlushHoldingMu();
  }

  void ApplyHoldingMu(const std::string& path, NodeData node)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = nodes_.find(path);
    if (it == nodes_.end()) {
      if (nodes_.size() >= options_.max_nodes) {
        WarnOnceHoldingMu(path, absl::StrCat("the cache holds max_nodes (",
                                             options_.max_nodes,
                                             ") nodes already; left out"));
        return;
      }
      pending_.push_back({TreeChangeType::kAdded, path, node});
      nodes_.emplace(path, Entry{std::move(node), generation_});
      return;
    }
    Entry& entry = it->second;
    entry.seen = generation_;
    if (entry.node.stat.czxid != node.stat.czxid) {
      pending_.push_back({TreeChangeType::kRemoved, path, entry.node});
      pending_.push_back({TreeChangeType::kAdded, path, node});
    } else if (entry.node.stat.mzxid != node.stat.mzxid ||
               entry.node.data != node.data) {
      pending_.push_back({TreeChangeType::kUpdated, path, node});
    }
    entry.node = std::move(node);
  }

  // Removes `path` and everything cached below it.
  void RemoveHoldingMu(const std::string& path)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = nodes_.find(path);
    if (it != nodes_.end()) {
      pending_.push_back({TreeChangeType::kRemoved, path, it->second.node});
      it = nodes_.erase(it);
    } else {
      it = nodes_.upper_bound(path);
    }
    const std::string prefix = path == "/" ? "/" : path + "/";
    while (it != nodes_.end() && absl::StartsWith(it->first, prefix)) {
      pending_.push_back(
          {TreeChangeType::kRemoved, it->first, it->second.node});
      it = nodes_.erase(it);
    }
  }

  void WarnOnceHoldingMu(const std::string& path, absl::string_view why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!warned_.insert(path).second) return;
    Warn(absl::StrCat("ZooKeeper node '", path, "' is not cached: ", why));
  }

  // Posts a delivery of pending_ unless one is posted or a re-sync is under
  // way (a re-sync is delivered whole, as one batch).
  void ScheduleFlushHoldingMu() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (pending_.empty() || flush_posted_ || syncing_) return;
    flush_posted_ = true;
    listeners_thread_.Post([this] { Flush(); });
  }

  // --- The listener thread.

  void Flush() {
    std::vector<TreeChange> batch;
    std::map<int, std::shared_ptr<Listener>> listeners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(pending_);
      flush_posted_ = false;
      listeners = listeners_;
    }
    if (batch.empty()) return;
    for (auto& [id, listener] : listeners) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (listeners_.count(id) == 0) continue;
      }
      (*listener)(batch);
    }
  }

  const RecursiveTreeCacheOptions options_;
  std::mutex start_mu_;  // Held by Open() until session_ is set.
  std::unique_ptr<ZooKeeperWireSession> session_;

  // std::mutex, not absl::Mutex: see README.md on ThreadSanitizer.
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kLoading;
  std::map<std::string, Entry> nodes_ ABSL_GUARDED_BY(mu_);
  // Changes applied to nodes_ and not yet delivered: nodes_ is always what
  // the listeners heard plus these.
  std::vector<TreeChange> pending_ ABSL_GUARDED_BY(mu_);
  bool flush_posted_ ABSL_GUARDED_BY(mu_) = false;
  // One generation per connection; reads answered for an older one are
  // ignored.
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t walking_ ABSL_GUARDED_BY(mu_) = 0;  // Walked nodes not done.
  std::atomic<bool> batches_refused_{false};  // The server has no multiRead.
  bool syncing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t syncs_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> warned_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::shared_ptr<Listener>> listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;

  slacker::internal::SerialExecutor listeners_thread_;
};

absl::StatusOr<std::unique_ptr<RecursiveTreeCache>> RecursiveTreeCache::Start(
    RecursiveTreeCacheOptions options) {
  if (absl::Status valid = ValidatePath(options.root); !valid.ok()) {
    return valid;
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status opened = impl->Open(); !opened.ok()) return opened;
  return std::unique_ptr<RecursiveTreeCache>(
      new RecursiveTreeCache(std::move(impl)));
}

RecursiveTreeCache::RecursiveTreeCache(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
RecursiveTreeCache::~RecursiveTreeCache() { Close(); }

absl::Status RecursiveTreeCache::WaitUntilInitialized(
    absl::Duration timeout) const {
  return impl_->WaitUntilInitialized(timeout);
}
absl::Status RecursiveTreeCache::status() const { return impl_->status(); }
std::map<std::string, NodeData> RecursiveTreeCache::Snapshot() const {
  return impl_->Snapshot();
}
std::optional<NodeData> RecursiveTreeCache::Get(absl::string_view path) const {
  return impl_->Get(path);
}
int64_t RecursiveTreeCache::syncs() const { return impl_->syncs(); }
ZooKeeperWireSession::Counters RecursiveTreeCache::counters() const {
  return impl_->counters();
}
const ZooKeeperWireSession& RecursiveTreeCache::session() const {
  return impl_->session();
}
int RecursiveTreeCache::AddListener(Listener listener) {
  return impl_->AddListener(std::move(listener));
}
void RecursiveTreeCache::RemoveListener(int id) { impl_->RemoveListener(id); }
void RecursiveTreeCache::Close() { impl_->Close(); }

}  // namespace slacker::discovery
