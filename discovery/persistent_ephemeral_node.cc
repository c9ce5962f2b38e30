#include "discovery/persistent_ephemeral_node.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

// Close() waits for an operation in flight at most this much longer than the
// client's operation timeout, after which the client has answered it anyway.
constexpr absl::Duration kCloseWaitSlack = absl::Seconds(5);

// Longer waits are cut to this: std::condition_variable::wait_until
// overflows on absl::InfiniteFuture().
constexpr absl::Duration kLongestWait = absl::Hours(24 * 365);

// Paths held by live recipes, per client, in this process. It keeps two
// recipes of one client from both believing they hold one node: one of them
// would delete it under the other on Close.
class Claims {
 public:
  static Claims& Instance() {
    // Never destroyed: recipes may be closed during static destruction.
    static Claims* const claims = new Claims;
    return *claims;
  }

  bool Claim(const ZooKeeperClient* client, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return claimed_.emplace(client, path).second;
  }
  void Release(const ZooKeeperClient* client, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    claimed_.erase({client, path});
  }
  bool IsClaimed(const ZooKeeperClient* client, const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return claimed_.count({client, path}) > 0;
  }

 private:
  std::mutex mu_;
  std::set<std::pair<const ZooKeeperClient*, std::string>> claimed_
      ABSL_GUARDED_BY(mu_);
};

std::string SessionName(int64_t session_id) {
  return absl::StrCat("0x", absl::Hex(session_id));
}

std::string OwnerName(int64_t ephemeral_owner) {
  return ephemeral_owner == 0
             ? std::string("nobody (it is a persistent node)")
             : absl::StrCat("session ", SessionName(ephemeral_owner));
}

// Retries after a failure: from min_retry_delay doubling to max_retry_delay,
// jittered (see PersistentEphemeralNodeOptions).
internal::BackoffOptions RetryBackoff(
    const PersistentEphemeralNodeOptions& options) {
  internal::BackoffOptions backoff;
  backoff.initial = options.min_retry_delay;
  backoff.max = options.max_retry_delay;
  return backoff;
}

// A create whose answer did not arrive may or may not have happened.
bool OutcomeUnknown(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

class PersistentEphemeralNode::Impl
    : public std::enable_shared_from_this<PersistentEphemeralNode::Impl> {
 public:
  Impl(ZooKeeperClient* client, std::string path, std::string data,
       PersistentEphemeralNodeOptions options)
      : client_(client),
        path_(std::move(path)),
        options_(std::move(options)),
        data_(std::move(data)),
        retry_backoff_(RetryBackoff(options_)) {}

  // Subscribes to connection states and queues the first attempt. Called once,
  // before the Impl is shared with any other thread.
  void Begin() {
    std::weak_ptr<Impl> weak = weak_from_this();
    subscription_ = client_->Subscribe([weak](ConnectionState state) {
      if (auto self = weak.lock()) self->OnConnectionState(state);
    });
    client_->RunOnEventThread([weak] {
      if (auto self = weak.lock()) self->Reconcile();
    });
  }

  absl::Status Close();
  // For a destructor run on the event thread, where Close() cannot wait:
  // stops the recipe and deletes the node without waiting.
  void Abandon();
  absl::Status SetData(std::string data);
  absl::Status WaitForInitialCreate(absl::Duration timeout);

  bool exists() const {
    std::lock_guard<std::mutex> lock(mu_);
    return node_ == NodeState::kHeld && phase_ == Phase::kRunning;
  }
  std::string actual_path() const {
    std::lock_guard<std::mutex> lock(mu_);
    return actual_path_;
  }
  std::optional<int64_t> foreign_owner() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (node_ == NodeState::kHeld) return std::nullopt;
    return foreign_owner_;
  }
  const std::string& path() const { return path_; }
  ZooKeeperClient* client() const { return client_; }
  std::string data() const {
    std::lock_guard<std::mutex> lock(mu_);
    return data_;
  }

 private:
  // --- The machine. Everything below runs on the client's event thread; one
  // operation at a time is in flight (busy_). Each step takes mu_ to decide
  // and releases it before calling the client, whose call is its last act.

  // Does the next thing needed, if nothing is in flight: create the node,
  // watch it, or write newer data.
  void Reconcile();

  void OnCreated(uint64_t epoch, uint64_t generation, std::string data_sent,
                 absl::StatusOr<std::string> result);
  void OnExistingRead(uint64_t epoch, uint64_t token,
                      absl::StatusOr<NodeData> result);
  void OnTakenOver(uint64_t epoch, uint64_t generation,
                   absl::StatusOr<std::vector<OpResult>> result);
  void OnOrphanCandidates(uint64_t epoch, absl::StatusOr<NodeChildren> result);
  void CheckOrphanCandidate(
      uint64_t epoch, std::shared_ptr<const std::vector<std::string>> paths,
      size_t index);
  void OnOrphanCandidateRead(
      uint64_t epoch, std::shared_ptr<const std::vector<std::string>> paths,
      size_t index, absl::StatusOr<NodeData> result);
  void OnWatchArmed(uint64_t epoch, uint64_t token,
                    absl::StatusOr<std::optional<NodeStat>> result);
  // options_.restore_data: the watch is armed by a read of the data, which
  // is compared with what this recipe wrote.
  void OnDataWatchArmed(uint64_t epoch, uint64_t token,
                        absl::StatusOr<NodeData> result);
  void OnDataWritten(uint64_t epoch, uint64_t generation,
                     absl::StatusOr<NodeStat> result);
  void OnWatch(uint64_t token, WatchEventType type);
  void OnConnectionState(ConnectionState state);
  void OnRetryTimer();

  WatchCallback MakeWatch(uint64_t token) {
    std::weak_ptr<Impl> weak = weak_from_this();
    return [weak, token](WatchEventType type, const std::string&) {
      if (auto self = weak.lock()) self->OnWatch(token, type);
    };
  }

  // The node at `actual_path` is this recipe's, holding the data of
  // `written_generation` at ZooKeeper version `version` (-1: unknown).
  void HoldNodeHoldingMu(const std::string& actual_path,
                         uint64_t written_generation, int32_t version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsClosedHoldingMu() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return phase_ != Phase::kRunning;
  }
  // For a completion handler that finds the recipe closed: ends the
  // operation in flight (busy_), unlocks, wakes Close()'s wait and returns
  // true, and the handler returns. False, still locked, otherwise.
  bool StopIfClosedHoldingMu(std::unique_lock<std::mutex>& lock)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!IsClosedHoldingMu()) return false;
    busy_ = false;
    lock.unlock();
    changed_.notify_all();
    return true;
  }
  // node_: kHeld -> kLost; no change otherwise. Neither logs nor releases
  // the claim (LoseNodeHoldingMu does both).
  void LetGoHoldingMu() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (node_ == NodeState::kHeld) node_ = NodeState::kLost;
  }
  // The node is no longer this recipe's.
  void LoseNodeHoldingMu(absl::string_view why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After HoldNodeHoldingMu: if the recipe was abandoned, lets go of the node
  // and returns true; the caller then deletes it (DeleteAbandoned) unlocked.
  bool LetGoIfAbandonedHoldingMu() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteAbandoned(const std::string& actual_path);
  // The session ended: whatever was in flight or held belonged to it.
  void ExpireHoldingMu() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records and logs a failed step and schedules a retry. Unlocks `lock`.
  void FailHoldingMu(std::unique_lock<std::mutex>& lock, absl::string_view what,
                     const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Queues on_created on the listener thread.
  void NotifyCreated(const std::string& actual_path);
  void RunListener(const std::string& actual_path);

  // --- Close()'s synchronous clean-up.
  absl::Status DeleteIfOursSync(const std::string& path);
  absl::Status DeleteOrphansSync(const std::string& data_sent);

  ZooKeeperClient* const client_;
  const std::string path_;
  const PersistentEphemeralNodeOptions options_;
  int subscription_ = -1;  // Set by Begin(), read by Close().

  // Held while on_created runs, so that Close() can wait for it to finish.
  std::mutex listener_mu_;

  mutable std::mutex mu_;
  // Signalled when node_, phase_, client_closed_ or busy_ change.
  std::condition_variable changed_;

  // What the user set.
  std::string data_ ABSL_GUARDED_BY(mu_);
  uint64_t data_generation_ ABSL_GUARDED_BY(mu_) = 1;  // ++ per SetData.
  // The recipe's phase and what it knows of its node. The legal transitions,
  // all under mu_:
  //   phase_: kRunning -> kClosed      Close();
  //           kClosed -> kAbandoned    Close() gave up waiting for the answer
  //                                    to the operation in flight;
  //           kRunning -> kAbandoned   Abandon() (destroyed on the event
  //                                    thread).
  //           Never back: a closed recipe stays closed.
  //   node_:  kNeverHeld -> kHeld      the node was created or adopted;
  //           kHeld -> kLost           deleted, replaced, session expired,
  //                                    client closed, or the recipe closed;
  //           kLost -> kHeld           made again (while kRunning; when
  //                                    kAbandoned, let go at once).
  //           Never back to kNeverHeld.
  // The flags further down are independent facts about the machine: the
  // client's state (client_closed_), the operation in flight (busy_), the
  // retry timer (retry_pending_), the watch (watch_armed_), a create with a
  // lost answer (ambiguous_) and an expiry already handled (expired_seen_).
  enum class Phase {
    kRunning,
    kClosed,
    // Closed without waiting for the operation in flight: a node it makes is
    // deleted as soon as it is known.
    kAbandoned,
  };
  enum class NodeState {
    kNeverHeld,  // WaitForInitialCreate still waits; leftovers may be taken.
    kHeld,       // exists().
    kLost,       // Held once; being made again.
  };
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kRunning;
  NodeState node_ ABSL_GUARDED_BY(mu_) = NodeState::kNeverHeld;
  bool client_closed_ ABSL_GUARDED_BY(mu_) = false;

  // What the recipe knows.
  std::string actual_path_ ABSL_GUARDED_BY(mu_);
  uint64_t written_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // The held node's version as of this recipe's own last create or write
  // (-1: unknown). Another version, with other data, is someone else's write.
  int32_t written_version_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  // The owner of a node of someone else's found at the path (a session id, 0
  // for persistent); logged once per owner.
  std::optional<int64_t> foreign_owner_ ABSL_GUARDED_BY(mu_);

  // The machine's own state.
  // Bumped when a session expires: answers to operations of an older epoch
  // are ignored.
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 0;
  bool expired_seen_ ABSL_GUARDED_BY(mu_) = false;
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  // A watch is set on the node at the path (ours, or someone else's that we
  // wait out). Only the watch registered with watch_token_ counts.
  bool watch_armed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t watch_token_ ABSL_GUARDED_BY(mu_) = 0;
  bool retry_pending_ ABSL_GUARDED_BY(mu_) = false;
  internal::Backoff retry_backoff_ ABSL_GUARDED_BY(mu_);
  // A create in this session got no answer; what it sent.
  bool ambiguous_ ABSL_GUARDED_BY(mu_) = false;
  std::string ambiguous_data_ ABSL_GUARDED_BY(mu_);
  uint64_t ambiguous_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Sequential mode: the actual path claimed in Claims.
  std::string claimed_path_ ABSL_GUARDED_BY(mu_);
};

// --- Public operations.

absl::Status PersistentEphemeralNode::Impl::SetData(std::string data) {
  if (data.size() > ZooKeeperClient::kMaxDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot set ", data.size(), " bytes of data on the ephemeral node ",
        path_, ": ZooKeeper nodes hold at most ",
        ZooKeeperClient::kMaxDataBytes,
        " bytes (ZooKeeperClient::kMaxDataBytes); the data is unchanged"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (IsClosedHoldingMu()) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot set the data of the ephemeral node ", path_,
                       ": its PersistentEphemeralNode is closed"));
    }
    data_ = std::move(data);
    ++data_generation_;
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  client_->RunOnEventThread([weak] {
    if (auto self = weak.lock()) self->Reconcile();
  });
  return absl::OkStatus();
}

absl::Status PersistentEphemeralNode::Impl::WaitForInitialCreate(
    absl::Duration timeout) {
  if (client_->IsEventThread()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "WaitForInitialCreate(", path_,
        ") was called on the ZooKeeper client's event thread, which creates "
        "the node: it would never return; wait on another thread"));
  }
  const auto deadline =
      absl::ToChronoTime(absl::Now() + std::min(timeout, kLongestWait));
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait_until(lock, deadline, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return node_ != NodeState::kNeverHeld || IsClosedHoldingMu() ||
           client_closed_ || absl::IsPermissionDenied(last_error_);
  });
  if (node_ != NodeState::kNeverHeld) return absl::OkStatus();
  if (absl::IsPermissionDenied(last_error_)) {
    // The parent's ACL refuses this client: waiting longer cannot help until
    // someone changes the ACL or the client's credentials (the recipe keeps
    // trying in the background meanwhile).
    return absl::PermissionDeniedError(
        absl::StrCat("the ephemeral node ", path_,
                     " cannot be created: ", last_error_.message()));
  }
  if (IsClosedHoldingMu()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the ephemeral node ", path_,
        " was not created: its PersistentEphemeralNode was closed"));
  }
  if (client_closed_) {
    return absl::CancelledError(
        absl::StrCat("the ephemeral node ", path_,
                     " was not created: the ZooKeeper client was closed"));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "the ephemeral node ", path_, " was not created within ",
      absl::FormatDuration(timeout),
      last_error_.ok()
          ? std::string("; no error so far (is ZooKeeper slow?)")
          : absl::StrCat("; last error: ", last_error_.message())));
}

absl::Status PersistentEphemeralNode::Impl::Close() {
  if (client_->IsEventThread()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "PersistentEphemeralNode::Close(", path_,
        ") was called on the ZooKeeper client's event thread, where its "
        "synchronous delete would deadlock; close it from another thread"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (IsClosedHoldingMu()) return absl::OkStatus();
    phase_ = Phase::kClosed;
  }
  changed_.notify_all();
  client_->Unsubscribe(subscription_);
  if (!client_->IsListenerThread()) {
    // A listener already running finishes; later ones see the phase.
    std::lock_guard<std::mutex> wait_for_listener(listener_mu_);
  }

  // A create in flight could land after the delete below and leave the node
  // until the session ends: wait for its answer, which records it as held.
  std::unique_lock<std::mutex> lock(mu_);
  const auto deadline = absl::ToChronoTime(
      absl::Now() + client_->options().operation_timeout + kCloseWaitSlack);
  if (!changed_.wait_until(lock, deadline,
                           [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                             return !busy_ || client_closed_;
                           })) {
    phase_ = Phase::kAbandoned;
    internal::Log(LogLevel::kWarning,
                  absl::StrCat("PersistentEphemeralNode ", path_,
                               ": closing without the answer to an operation "
                               "in flight; a node it made will be deleted "
                               "when the answer comes"));
  }
  const bool held = node_ == NodeState::kHeld;
  const std::string held_path = actual_path_;
  const bool ambiguous = ambiguous_;
  const std::string ambiguous_data = ambiguous_data_;
  const bool client_closed = client_closed_;
  LetGoHoldingMu();
  std::string claimed = options_.sequential ? claimed_path_ : path_;
  claimed_path_.clear();
  lock.unlock();

  absl::Status status;
  if (!client_closed) {
    if (held) {
      status = DeleteIfOursSync(held_path);
    } else if (ambiguous) {
      status = options_.sequential ? DeleteOrphansSync(ambiguous_data)
                                   : DeleteIfOursSync(path_);
    }
  }
  if (!claimed.empty()) Claims::Instance().Release(client_, claimed);
  return status;
}

void PersistentEphemeralNode::Impl::Abandon() {
  std::unique_lock<std::mutex> lock(mu_);
  if (IsClosedHoldingMu()) return;
  phase_ = Phase::kAbandoned;
  const bool held = node_ == NodeState::kHeld && !client_closed_;
  const std::string held_path = actual_path_;
  LetGoHoldingMu();
  std::string claimed = options_.sequential ? claimed_path_ : path_;
  claimed_path_.clear();
  lock.unlock();
  changed_.notify_all();
  client_->Unsubscribe(subscription_);
  if (!claimed.empty()) Claims::Instance().Release(client_, claimed);
  if (held) DeleteAbandoned(held_path);
}

void PersistentEphemeralNode::Impl::DeleteAbandoned(
    const std::string& actual_path) {
  client_->DeleteAsync(actual_path, /*version=*/-1, [](absl::Status) {});
}

bool PersistentEphemeralNode::Impl::LetGoIfAbandonedHoldingMu() {
  if (phase_ != Phase::kAbandoned) return false;
  LetGoHoldingMu();
  if (options_.sequential && !claimed_path_.empty()) {
    Claims::Instance().Release(client_, claimed_path_);
    claimed_path_.clear();
  }
  return true;
}

absl::Status PersistentEphemeralNode::Impl::DeleteIfOursSync(
    const std::string& path) {
  const int64_t session = client_->session_id();
  // A write by someone else between the check and the delete changes the
  // version; look again then.
  for (int attempt = 0; attempt < 3; ++attempt) {
    absl::StatusOr<std::optional<NodeStat>> stat = client_->Exists(path);
    if (!stat.ok()) {
      return absl::Status(
          stat.status().code(),
          absl::StrCat("could not delete the ephemeral node ", path,
                       " on close (", stat.status().message(),
                       "); it will go when the session ends"));
    }
    if (!stat->has_value() || (*stat)->ephemeral_owner != session) {
      return absl::OkStatus();  // Gone, or not ours to delete.
    }
    absl::Status deleted = client_->Delete(path, (*stat)->version);
    if (deleted.ok() || absl::IsNotFound(deleted)) return absl::OkStatus();
    if (!absl::IsFailedPrecondition(deleted)) {
      return absl::Status(deleted.code(),
                          absl::StrCat("could not delete the ephemeral node ",
                                       path, " on close (", deleted.message(),
                                       "); it will go when the session ends"));
    }
  }
  return absl::AbortedError(absl::StrCat(
      "could not delete the ephemeral node ", path,
      " on close: its data kept changing under the delete; it will go when "
      "the session ends"));
}

absl::Status PersistentEphemeralNode::Impl::DeleteOrphansSync(
    const std::string& data_sent) {
  const int64_t session = client_->session_id();
  const std::string parent = ParentPath(path_);
  const absl::string_view prefix = NodeName(path_);
  absl::StatusOr<NodeChildren> children = client_->GetChildren(parent);
  if (absl::IsNotFound(children.status())) return absl::OkStatus();
  if (!children.ok()) {
    return absl::Status(
        children.status().code(),
        absl::StrCat("could not look for the node of a create of ", path_,
                     " whose answer was lost (", children.status().message(),
                     "); if it was made, it will go when the session ends"));
  }
  for (const std::string& name : children->names) {
    if (!absl::StartsWith(name, prefix) || name.size() != prefix.size() + 10 ||
        !SequenceNumber(name)) {
      continue;
    }
    const std::string path = JoinPath(parent, name);
    if (Claims::Instance().IsClaimed(client_, path)) continue;
    absl::StatusOr<NodeData> node = client_->Get(path);
    if (!node.ok() || node->stat.ephemeral_owner != session ||
        node->data != data_sent) {
      continue;
    }
    absl::Status deleted = client_->Delete(path, node->stat.version);
    if (!deleted.ok() && !absl::IsNotFound(deleted)) return deleted;
  }
  return absl::OkStatus();
}

// --- The machine.

void PersistentEphemeralNode::Impl::Reconcile() {
  std::weak_ptr<Impl> weak = weak_from_this();
  std::unique_lock<std::mutex> lock(mu_);
  if (IsClosedHoldingMu() || client_closed_ || busy_) return;
  const uint64_t epoch = epoch_;
  if (node_ != NodeState::kHeld) {
    if (watch_armed_) return;  // Waiting for someone else's node to go.
    busy_ = true;
    if (ambiguous_ && options_.sequential) {
      lock.unlock();
      client_->GetChildrenAsync(
          ParentPath(path_), nullptr,
          [weak, epoch](absl::StatusOr<NodeChildren> result) {
            if (auto self = weak.lock()) {
              self->OnOrphanCandidates(epoch, std::move(result));
            }
          });
      return;
    }
    const uint64_t generation = data_generation_;
    std::string data = data_;
    lock.unlock();
    client_->CreateAsync(path_, data,
                         options_.sequential ? CreateMode::kEphemeralSequential
                                             : CreateMode::kEphemeral,
                         /*create_parents=*/true,
                         [weak, epoch, generation,
                          data](absl::StatusOr<std::string> result) mutable {
                           if (auto self = weak.lock()) {
                             self->OnCreated(epoch, generation, std::move(data),
                                             std::move(result));
                           }
                         });
    return;
  }
  if (!watch_armed_) {
    busy_ = true;
    const uint64_t token = ++watch_token_;
    const std::string path = actual_path_;
    lock.unlock();
    if (options_.restore_data) {
      client_->GetAsync(path, MakeWatch(token),
                        [weak, epoch, token](absl::StatusOr<NodeData> result) {
                          if (auto self = weak.lock()) {
                            self->OnDataWatchArmed(epoch, token,
                                                   std::move(result));
                          }
                        });
      return;
    }
    client_->ExistsAsync(
        path, MakeWatch(token),
        [weak, epoch, token](absl::StatusOr<std::optional<NodeStat>> result) {
          if (auto self = weak.lock()) {
            self->OnWatchArmed(epoch, token, std::move(result));
          }
        });
    return;
  }
  if (written_generation_ < data_generation_) {
    busy_ = true;
    const uint64_t generation = data_generation_;
    std::string data = data_;
    const std::string path = actual_path_;
    lock.unlock();
    client_->SetAsync(
        path, std::move(data), /*version=*/-1,
        [weak, epoch, generation](absl::StatusOr<NodeStat> result) {
          if (auto self = weak.lock()) {
            self->OnDataWritten(epoch, generation, std::move(result));
          }
        });
  }
}

void PersistentEphemeralNode::Impl::OnCreated(
    uint64_t epoch, uint64_t generation, std::string data_sent,
    absl::StatusOr<std::string> result) {
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  busy_ = false;
  if (result.ok()) {
    ambiguous_ = false;
    if (options_.sequential && !Claims::Instance().Claim(client_, *result)) {
      // Another recipe of this client adopted this very node as the result of
      // its own lost create (same prefix, same data): it is that recipe's.
      lock.unlock();
      changed_.notify_all();
      Reconcile();
      return;
    }
    HoldNodeHoldingMu(*result, generation, /*version=*/0);
    const bool closed = IsClosedHoldingMu();
    const bool abandoned = LetGoIfAbandonedHoldingMu();
    lock.unlock();
    if (abandoned) DeleteAbandoned(*result);
    if (!closed) {
      NotifyCreated(*result);
      Reconcile();
    }
    return;
  }
  const absl::Status& status = result.status();
  if (OutcomeUnknown(status)) {
    ambiguous_ = true;
    ambiguous_data_ = std::move(data_sent);
    ambiguous_generation_ = generation;
  }
  if (StopIfClosedHoldingMu(lock)) return;
  if (absl::IsAlreadyExists(status) && !options_.sequential) {
    busy_ = true;
    const uint64_t token = ++watch_token_;
    lock.unlock();
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->GetAsync(path_, MakeWatch(token),
                      [weak, epoch, token](absl::StatusOr<NodeData> result) {
                        if (auto self = weak.lock()) {
                          self->OnExistingRead(epoch, token, std::move(result));
                        }
                      });
    return;
  }
  FailHoldingMu(lock, "create", status);
}

void PersistentEphemeralNode::Impl::OnExistingRead(
    uint64_t epoch, uint64_t token, absl::StatusOr<NodeData> result) {
  const int64_t session = client_->session_id();
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  busy_ = false;
  if (StopIfClosedHoldingMu(lock)) return;
  if (!result.ok()) {
    if (absl::IsNotFound(result.status())) {  // Gone meanwhile: create it.
      lock.unlock();
      Reconcile();
      return;
    }
    FailHoldingMu(lock, "read the node already at", result.status());
    return;
  }
  const int64_t owner = result->stat.ephemeral_owner;
  const bool watch_set = token == watch_token_;
  if (owner != 0 && owner == session) {
    // Made by an earlier create of ours whose answer was lost.
    ambiguous_ = false;
    HoldNodeHoldingMu(path_, result->data == data_ ? data_generation_ : 0,
                      result->stat.version);
    watch_armed_ = watch_set;
    lock.unlock();
    NotifyCreated(path_);
    Reconcile();
    return;
  }
  if (node_ == NodeState::kNeverHeld && owner != 0 && result->data == data_) {
    // A leftover of an earlier run of this program: take it over, so that it
    // lives and dies with this session. Delete and create in one transaction:
    // between two steps, a twin that held the node could make it again.
    // Our own delete fires the watch: drop it.
    ++watch_token_;
    busy_ = true;
    const uint64_t generation = data_generation_;
    std::vector<Op> ops = {
        Op::Delete(path_, result->stat.version),
        Op::Create(path_, data_, CreateMode::kEphemeral),
    };
    internal::Log(LogLevel::kInfo,
                  absl::StrCat("PersistentEphemeralNode ", path_,
                               ": taking over the node left with the same "
                               "data by session ",
                               SessionName(owner)));
    lock.unlock();
    std::weak_ptr<Impl> weak = weak_from_this();
    client_->MultiAsync(
        std::move(ops), [weak, epoch, generation](
                            absl::StatusOr<std::vector<OpResult>> result) {
          if (auto self = weak.lock()) {
            self->OnTakenOver(epoch, generation, std::move(result));
          }
        });
    return;
  }
  // Someone else's: wait for it to go.
  ambiguous_ = false;
  watch_armed_ = watch_set;
  last_error_ = absl::FailedPreconditionError(
      absl::StrCat(path_, " exists and belongs to ", OwnerName(owner),
                   ", not to this client's session ", SessionName(session),
                   "; waiting for it to be deleted"));
  if (foreign_owner_ != owner) {
    foreign_owner_ = owner;
    internal::Log(LogLevel::kWarning, absl::StrCat("PersistentEphemeralNode: ",
                                                   last_error_.message()));
  }
  if (!watch_set) {  // It fired already: look again.
    lock.unlock();
    Reconcile();
  }
}

void PersistentEphemeralNode::Impl::OnTakenOver(
    uint64_t epoch, uint64_t generation,
    absl::StatusOr<std::vector<OpResult>> result) {
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  busy_ = false;
  if (result.ok()) {
    HoldNodeHoldingMu(path_, generation, /*version=*/0);
    const bool closed = IsClosedHoldingMu();
    const bool abandoned = LetGoIfAbandonedHoldingMu();
    lock.unlock();
    if (abandoned) DeleteAbandoned(path_);
    if (!closed) {
      NotifyCreated(path_);
      Reconcile();
    }
    return;
  }
  if (OutcomeUnknown(result.status())) ambiguous_ = true;
  if (StopIfClosedHoldingMu(lock)) return;
  // NotFound: gone meanwhile; FailedPrecondition: changed since read. Either
  // way, look again.
  if (absl::IsNotFound(result.status()) ||
      absl::IsFailedPrecondition(result.status())) {
    lock.unlock();
    Reconcile();
    return;
  }
  FailHoldingMu(lock, "take over the leftover node at", result.status());
}

void PersistentEphemeralNode::Impl::OnOrphanCandidates(
    uint64_t epoch, absl::StatusOr<NodeChildren> result) {
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  if (StopIfClosedHoldingMu(lock)) return;
  if (!result.ok()) {
    busy_ = false;
    if (absl::IsNotFound(result.status())) {
      // No parent: the lost create did not happen.
      ambiguous_ = false;
      lock.unlock();
      Reconcile();
      return;
    }
    FailHoldingMu(lock, "look for the node of a lost create under",
                  result.status());
    return;
  }
  lock.unlock();
  const std::string parent = ParentPath(path_);
  const absl::string_view prefix = NodeName(path_);
  auto paths = std::make_shared<std::vector<std::string>>();
  for (const std::string& name : result->names) {
    if (absl::StartsWith(name, prefix) && name.size() == prefix.size() + 10 &&
        SequenceNumber(name)) {
      paths->push_back(JoinPath(parent, name));
    }
  }
  std::sort(paths->begin(), paths->end());  // Fixed width: sequence order.
  CheckOrphanCandidate(epoch, std::move(paths), 0);
}

void PersistentEphemeralNode::Impl::CheckOrphanCandidate(
    uint64_t epoch, std::shared_ptr<const std::vector<std::string>> paths,
    size_t index) {
  if (index == paths->size()) {  // None: the lost create did not happen.
    std::unique_lock<std::mutex> lock(mu_);
    if (epoch != epoch_) return;
    busy_ = false;
    ambiguous_ = false;
    lock.unlock();
    changed_.notify_all();
    Reconcile();
    return;
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  const std::string& path = (*paths)[index];
  client_->GetAsync(
      path, nullptr,
      [weak, epoch, paths, index](absl::StatusOr<NodeData> result) {
        if (auto self = weak.lock()) {
          self->OnOrphanCandidateRead(epoch, paths, index, std::move(result));
        }
      });
}

void PersistentEphemeralNode::Impl::OnOrphanCandidateRead(
    uint64_t epoch, std::shared_ptr<const std::vector<std::string>> paths,
    size_t index, absl::StatusOr<NodeData> result) {
  const int64_t session = client_->session_id();
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  if (StopIfClosedHoldingMu(lock)) return;
  if (!result.ok() && !absl::IsNotFound(result.status())) {
    busy_ = false;
    FailHoldingMu(lock, "read a candidate for the node of a lost create at",
                  result.status());
    return;
  }
  const std::string& path = (*paths)[index];
  if (result.ok() && result->stat.ephemeral_owner == session &&
      result->data == ambiguous_data_ &&
      Claims::Instance().Claim(client_, path)) {
    busy_ = false;
    ambiguous_ = false;
    HoldNodeHoldingMu(path, ambiguous_generation_, result->stat.version);
    lock.unlock();
    internal::Log(
        LogLevel::kInfo,
        absl::StrCat("PersistentEphemeralNode ", path_, ": adopted ", path,
                     ", made by a create whose answer was lost"));
    NotifyCreated(path);
    Reconcile();
    return;
  }
  lock.unlock();
  CheckOrphanCandidate(epoch, std::move(paths), index + 1);
}

void PersistentEphemeralNode::Impl::OnWatchArmed(
    uint64_t epoch, uint64_t token,
    absl::StatusOr<std::optional<NodeStat>> result) {
  const int64_t session = client_->session_id();
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  busy_ = false;
  if (StopIfClosedHoldingMu(lock)) return;
  if (!result.ok()) {
    FailHoldingMu(lock, "watch", result.status());
    return;
  }
  if (node_ == NodeState::kHeld) {
    if (!result->has_value()) {
      LoseNodeHoldingMu("it was deleted");
    } else if ((*result)->ephemeral_owner != session) {
      LoseNodeHoldingMu(absl::StrCat("it was replaced by a node of ",
                                     OwnerName((*result)->ephemeral_owner)));
    } else {
      // Unless the watch fired already, or was superseded.
      watch_armed_ = token == watch_token_;
    }
  }
  lock.unlock();
  Reconcile();
}

void PersistentEphemeralNode::Impl::OnDataWatchArmed(
    uint64_t epoch, uint64_t token, absl::StatusOr<NodeData> result) {
  const int64_t session = client_->session_id();
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  busy_ = false;
  if (StopIfClosedHoldingMu(lock)) return;
  if (!result.ok() && !absl::IsNotFound(result.status())) {
    FailHoldingMu(lock, "watch", result.status());
    return;
  }
  if (node_ == NodeState::kHeld) {
    if (!result.ok()) {
      LoseNodeHoldingMu("it was deleted");
    } else if (result->stat.ephemeral_owner != session) {
      LoseNodeHoldingMu(absl::StrCat("it was replaced by a node of ",
                                     OwnerName(result->stat.ephemeral_owner)));
    } else {
      // Unless the watch fired already, or was superseded.
      watch_armed_ = token == watch_token_;
      const NodeStat& stat = result->stat;
      const bool foreign_write =
          written_version_ >= 0 && stat.version != written_version_;
      if (result->data != data_ && written_generation_ == data_generation_) {
        // Not what this recipe wrote last, nor a write of its own in flight
        // (one operation at a time): someone else's write, or a version this
        // recipe could not know (an adopted node). Write ours back.
        if (foreign_write) {
          internal::Log(
              LogLevel::kWarning,
              absl::StrCat("PersistentEphemeralNode ", actual_path_,
                           ": its data was changed by another ZooKeeper client "
                           "(now version ",
                           stat.version, ", mzxid 0x", absl::Hex(stat.mzxid),
                           ", modified at ", stat.mtime_ms,
                           " ms since the epoch; this recipe wrote version ",
                           written_version_,
                           "; ZooKeeper's transaction log at "
                           "that zxid names the session); restoring its ",
                           data_.size(), " bytes of data"));
        }
        written_generation_ = 0;
      } else if (foreign_write) {
        // Rewritten with the same bytes: nothing to restore.
        written_version_ = stat.version;
      }
    }
  }
  lock.unlock();
  Reconcile();
}

void PersistentEphemeralNode::Impl::OnDataWritten(
    uint64_t epoch, uint64_t generation, absl::StatusOr<NodeStat> result) {
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch != epoch_) return;
  busy_ = false;
  if (StopIfClosedHoldingMu(lock)) return;
  if (result.ok()) {
    written_generation_ = std::max(written_generation_, generation);
    written_version_ = result->version;
    retry_backoff_.Reset();
  } else if (absl::IsNotFound(result.status())) {
    LoseNodeHoldingMu("it was deleted");
  } else {
    FailHoldingMu(lock, "write the data of", result.status());
    return;
  }
  lock.unlock();
  Reconcile();
}

void PersistentEphemeralNode::Impl::OnWatch(uint64_t token,
                                            WatchEventType type) {
  std::unique_lock<std::mutex> lock(mu_);
  if (IsClosedHoldingMu() || token != watch_token_) return;  // Superseded.
  ++watch_token_;
  watch_armed_ = false;
  if (node_ == NodeState::kHeld && type == WatchEventType::kDeleted) {
    LoseNodeHoldingMu("it was deleted");
  }
  lock.unlock();
  Reconcile();
}

void PersistentEphemeralNode::Impl::OnConnectionState(ConnectionState state) {
  std::unique_lock<std::mutex> lock(mu_);
  switch (state) {
    case ConnectionState::kReconnected:
      // The session, its node and our watch survived; retry what failed.
      retry_backoff_.Reset();
      lock.unlock();
      Reconcile();
      return;
    case ConnectionState::kExpired:
      ExpireHoldingMu();
      lock.unlock();
      changed_.notify_all();
      return;
    case ConnectionState::kNewSession:
      if (!expired_seen_) ExpireHoldingMu();
      expired_seen_ = false;
      retry_backoff_.Reset();
      lock.unlock();
      changed_.notify_all();
      Reconcile();
      return;
    case ConnectionState::kClosed:
      client_closed_ = true;
      LetGoHoldingMu();
      busy_ = false;
      lock.unlock();
      changed_.notify_all();
      return;
    case ConnectionState::kConnected:
    case ConnectionState::kSuspended:
      return;
  }
}

void PersistentEphemeralNode::Impl::OnRetryTimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    retry_pending_ = false;
  }
  Reconcile();
}

void PersistentEphemeralNode::Impl::HoldNodeHoldingMu(
    const std::string& actual_path, uint64_t written_generation,
    int32_t version) {
  node_ = NodeState::kHeld;
  actual_path_ = actual_path;
  written_generation_ = written_generation;
  written_version_ = version;
  watch_armed_ = false;
  foreign_owner_.reset();
  last_error_ = absl::OkStatus();
  retry_backoff_.Reset();
  if (options_.sequential) claimed_path_ = actual_path;
  changed_.notify_all();
}

void PersistentEphemeralNode::Impl::LoseNodeHoldingMu(absl::string_view why) {
  if (node_ != NodeState::kHeld) return;
  LetGoHoldingMu();
  watch_armed_ = false;
  ++watch_token_;
  if (options_.sequential && !claimed_path_.empty()) {
    Claims::Instance().Release(client_, claimed_path_);
    claimed_path_.clear();
  }
  internal::Log(LogLevel::kInfo,
                absl::StrCat("PersistentEphemeralNode ", actual_path_,
                             " is gone (", why, "); making it again"));
}

void PersistentEphemeralNode::Impl::ExpireHoldingMu() {
  ++epoch_;
  busy_ = false;
  LoseNodeHoldingMu("the session expired");
  watch_armed_ = false;
  ++watch_token_;
  ambiguous_ = false;  // The old session's nodes went with it.
  foreign_owner_.reset();
  expired_seen_ = true;
}

void PersistentEphemeralNode::Impl::FailHoldingMu(
    std::unique_lock<std::mutex>& lock, absl::string_view what,
    const absl::Status& status) {
  last_error_ = status;
  // The client is closing, or refused by an ACL: WaitForInitialCreate
  // answers now.
  if (absl::IsCancelled(status) || absl::IsPermissionDenied(status)) {
    changed_.notify_all();
  }
  if (absl::IsCancelled(status)) {
    lock.unlock();
    return;
  }
  const bool already_pending = retry_pending_;
  // nullopt: a retry is pending already, and the backoff does not grow.
  const std::optional<absl::Duration> delay =
      already_pending ? std::nullopt
                      : std::optional<absl::Duration>(retry_backoff_.Next());
  const LogLevel level =
      absl::IsUnavailable(status) ? LogLevel::kInfo : LogLevel::kWarning;
  if (internal::ShouldLog(level)) {
    internal::Log(level,
                  absl::StrCat("PersistentEphemeralNode: could not ", what, " ",
                               path_, ": ", status.message(), "; retrying ",
                               internal::RetryDelayText(delay)));
  }
  if (already_pending) {
    lock.unlock();
    changed_.notify_all();
    return;
  }
  retry_pending_ = true;
  lock.unlock();
  changed_.notify_all();
  std::weak_ptr<Impl> weak = weak_from_this();
  client_->RunOnEventThreadAfter(*delay, [weak] {
    if (auto self = weak.lock()) self->OnRetryTimer();
  });
}

void PersistentEphemeralNode::Impl::NotifyCreated(
    const std::string& actual_path) {
  internal::Log(LogLevel::kInfo,
                absl::StrCat("PersistentEphemeralNode: created ", actual_path));
  if (!options_.on_created) return;
  std::weak_ptr<Impl> weak = weak_from_this();
  client_->RunOnListenerThread([weak, actual_path] {
    if (auto self = weak.lock()) self->RunListener(actual_path);
  });
}

void PersistentEphemeralNode::Impl::RunListener(
    const std::string& actual_path) {
  std::lock_guard<std::mutex> running(listener_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (IsClosedHoldingMu()) return;
  }
  options_.on_created(actual_path);
}

// --- PersistentEphemeralNode.

absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>>
PersistentEphemeralNode::Start(ZooKeeperClient* client, std::string path,
                               std::string data,
                               PersistentEphemeralNodeOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        "PersistentEphemeralNode::Start needs a ZooKeeper client, got null");
  }
  if (absl::Status valid = ValidatePath(path); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot keep an ephemeral node: ", valid.message()));
  }
  if (path == "/") {
    return absl::InvalidArgumentError(
        "cannot keep an ephemeral node at \"/\": the root always exists; give "
        "a path below it");
  }
  if (data.size() > ZooKeeperClient::kMaxDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot keep the ephemeral node ", path, " with ", data.size(),
        " bytes of data: ZooKeeper nodes hold at most ",
        ZooKeeperClient::kMaxDataBytes,
        " bytes (ZooKeeperClient::kMaxDataBytes)"));
  }
  if (options.min_retry_delay <= absl::ZeroDuration() ||
      options.max_retry_delay < options.min_retry_delay) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PersistentEphemeralNode ", path,
        ": retry delays must be positive with min <= max; got min ",
        absl::FormatDuration(options.min_retry_delay), ", max ",
        absl::FormatDuration(options.max_retry_delay)));
  }
  if (client->state() == ConnectionState::kClosed) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot keep the ephemeral node ", path,
                     ": the ZooKeeper client is closed"));
  }
  if (!options.sequential && !Claims::Instance().Claim(client, path)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "another PersistentEphemeralNode of this ZooKeeper client already "
        "keeps ",
        path, "; close it first, or use it (SetData) instead"));
  }
  auto impl = std::make_shared<Impl>(client, std::move(path), std::move(data),
                                     std::move(options));
  impl->Begin();
  return std::unique_ptr<PersistentEphemeralNode>(
      new PersistentEphemeralNode(std::move(impl)));
}

PersistentEphemeralNode::PersistentEphemeralNode(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

PersistentEphemeralNode::~PersistentEphemeralNode() {
  if (impl_->client()->IsEventThread()) {
    internal::Log(LogLevel::kWarning,
                  absl::StrCat("PersistentEphemeralNode ", impl_->path(),
                               " destroyed on the ZooKeeper client's event "
                               "thread: deleting its node without waiting"));
    impl_->Abandon();
    return;
  }
  absl::Status closed = impl_->Close();
  if (!closed.ok()) {
    internal::Log(LogLevel::kWarning,
                  absl::StrCat("PersistentEphemeralNode: ", closed.message()));
  }
}

absl::Status PersistentEphemeralNode::Close() { return impl_->Close(); }

absl::Status PersistentEphemeralNode::SetData(std::string data) {
  return impl_->SetData(std::move(data));
}

absl::Status PersistentEphemeralNode::WaitForInitialCreate(
    absl::Duration timeout) {
  return impl_->WaitForInitialCreate(timeout);
}

bool PersistentEphemeralNode::exists() const { return impl_->exists(); }

std::optional<int64_t> PersistentEphemeralNode::foreign_owner() const {
  return impl_->foreign_owner();
}

std::string PersistentEphemeralNode::actual_path() const {
  return impl_->actual_path();
}

const std::string& PersistentEphemeralNode::path() const {
  return impl_->path();
}

std::string PersistentEphemeralNode::data() const { return impl_->data(); }

}  // namespace slacker::discovery
