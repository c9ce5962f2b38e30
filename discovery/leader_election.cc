#include "discovery/leader_election.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <random>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "discovery/cluster_rules.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

using slacker::internal::Log;

using NodeKind = election_internal::NodeKind;

// Curator's LeaderLatch names its candidates "_c_<uuid>-latch-<sequence>",
// its LeaderSelector (through InterProcessMutex and
// StandardLockInternalsDriver) "_c_<uuid>-lock-<sequence>" (protected mode
// adds the "_c_<uuid>-"); using the same names lets Curator participants and
// ours share an election.
constexpr absl::string_view kProtectedPrefix = "_c_";
constexpr absl::string_view kLatchName = "latch-";
constexpr absl::string_view kLockName = "lock-";
constexpr size_t kUuidLength = 36;
constexpr size_t kSequenceLength = 10;

absl::string_view NodeName(NodeKind kind) {
  return kind == NodeKind::kLatch ? kLatchName : kLockName;
}

// "_c_<uuid>-lock-<10 digits>": the sequence, or nullopt.
std::optional<int64_t> LockSequence(absl::string_view name) {
  if (name.size() != kProtectedPrefix.size() + kUuidLength + 1 +
                         kLockName.size() + kSequenceLength ||
      !absl::StartsWith(name, kProtectedPrefix)) {
    return std::nullopt;
  }
  name.remove_prefix(kProtectedPrefix.size());
  for (size_t i = 0; i < kUuidLength; ++i) {
    const char c = name[i];
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) {
      return std::nullopt;
    }
  }
  name.remove_prefix(kUuidLength);
  if (!absl::ConsumePrefix(&name, "-") ||
      !absl::ConsumePrefix(&name, kLockName)) {
    return std::nullopt;
  }
  int64_t sequence = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    sequence = sequence * 10 + (c - '0');
  }
  return sequence;
}

struct Candidate {
  int64_t sequence;
  std::string name;
};

// The candidates among `names`, lowest sequence (the leader) first, as
// Curator's StandardLockInternalsDriver sorts them (by the part after
// "latch-" / "lock-": the sequence). Other children are not candidates and
// are skipped: whatever else sits under the election path cannot disturb it
// (Curator would sort them in by their whole name). What a latch
// candidate's name is, is the cluster's rule (discovery/cluster_rules.h),
// shared with every reader.
std::vector<Candidate> SortedCandidates(NodeKind kind,
                                        const std::vector<std::string>& names) {
  std::vector<Candidate> candidates;
  for (const std::string& name : names) {
    std::optional<int64_t> sequence =
        kind == NodeKind::kLatch ? CandidateSequence(name) : LockSequence(name);
    if (!sequence.has_value()) continue;
    candidates.push_back({*sequence, name});
  }
  // By sequence, not by name: the GUIDs in front would scramble name order.
  std::sort(candidates.begin(), candidates.end(),
            [](const Candidate& a, const Candidate& b) {
              if (a.sequence != b.sequence) return a.sequence < b.sequence;
              return a.name < b.name;
            });
  return candidates;
}

// A random (version 4) UUID, as Java's UUID.randomUUID().toString() spells it.
std::string NewGuid() {
  std::random_device device;
  uint8_t bytes[16];
  for (int i = 0; i < 16; i += 4) {
    const uint32_t word = device();
    for (int j = 0; j < 4; ++j) bytes[i + j] = (word >> (8 * j)) & 0xff;
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  std::string guid;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) guid += '-';
    char hex[3];
    std::snprintf(hex, sizeof(hex), "%02x", bytes[i]);
    guid += hex;
  }
  return guid;
}

}  // namespace

absl::string_view LeadershipLossReasonName(LeadershipLossReason reason) {
  switch (reason) {
    case LeadershipLossReason::kGaveUp:
      return "gave up";
    case LeadershipLossReason::kConnectionSuspended:
      return "connection suspended";
    case LeadershipLossReason::kSessionExpired:
      return "session expired";
    case LeadershipLossReason::kClientClosed:
      return "client closed";
    case LeadershipLossReason::kCandidateDeleted:
      return "candidate deleted by someone else";
    case LeadershipLossReason::kOvertaken:
      return "overtaken by a candidate ahead";
  }
  return "unknown";
}

// The participants in order, the first one the leader; only the first if
// `first_only`.
absl::StatusOr<std::vector<Participant>> LeaderElection::ReadParticipantsOfKind(
    NodeKind kind, ZooKeeperClient& client, const std::string& election_path,
    bool first_only) {
  if (absl::Status valid = ValidatePath(election_path); !valid.ok()) {
    return valid;
  }
  absl::StatusOr<NodeChildren> children = client.GetChildren(election_path);
  if (absl::IsNotFound(children.status())) {
    return std::vector<Participant>();
  }
  if (!children.ok()) return children.status();
  std::vector<Participant> participants;
  for (const Candidate& candidate : SortedCandidates(kind, children->names)) {
    absl::StatusOr<NodeData> data =
        client.Get(JoinPath(election_path, candidate.name));
    // Gone since the listing: that participant left; the next one counts
    // (as in Curator's LeaderSelector.getParticipants).
    if (absl::IsNotFound(data.status())) continue;
    if (!data.ok()) return data.status();
    participants.push_back({std::move(data->data), participants.empty()});
    if (first_only) break;
  }
  return participants;
}

// The election's state machine. Everything it does with ZooKeeper happens on
// the client's event thread, one step at a time: at most one "pass" is in
// flight (list the candidates, then create, delete or watch), and what
// arrives meanwhile only marks the state dirty, so that another pass follows.
// Callbacks given to the client hold a shared_ptr (operations: they must run
// to keep the state right) or a weak_ptr (watches and subscriptions: they may
// never fire, and must not keep the Impl alive).
class LeaderElection::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(NodeKind kind, ZooKeeperClient* client, std::string election_path,
       std::string participant_id, LeaderElectionOptions options)
      : election_path(std::move(election_path)),
        participant_id(std::move(participant_id)),
        kind_(kind),
        client_(client),
        options_(std::move(options)),
        guid_prefix_(absl::StrCat(kProtectedPrefix, NewGuid(), "-")) {
    stats_.settled = true;  // Nothing to do before Start().
  }

  absl::Status Start();
  absl::Status Requeue();
  void Leave();
  // For ~LeaderElection: no user callback runs after this returns.
  void Detach();

  bool IsLeader() const {
    std::lock_guard<std::mutex> lock(mu_);
    return leader_;
  }
  LeaderElectionStats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  const std::string election_path;
  const std::string participant_id;

 private:
  // --- Event thread only.
  void OnStart();
  void OnConnectionState(ConnectionState state);
  void OnRequeue();
  void OnLeave();
  void OnHandoffDone();

  // Starts a pass unless one is in flight (then marks the state dirty) or the
  // connection is down (the next connection event starts one).
  void Kick();
  void ReadCandidates();
  void OnCandidates(absl::StatusOr<NodeChildren> children);
  void CreateCandidate();
  void DeleteCandidate(const std::string& name);
  void WatchPredecessor(const std::string& name);
  void WatchOwnNode();
  void OnPredecessorEvent(const std::string& name);
  void OnOwnNodeEvent(const std::string& name);
  // Ends the pass; another follows if `again` or the state became dirty.
  void EndPass(bool again);
  void FailPass(const absl::Status& status, absl::string_view what);
  // Schedules one Kick after options_.retry_delay, jittered (so that many
  // participants that failed together do not retry together); nullopt if one
  // is scheduled already.
  std::optional<absl::Duration> RetryLater();
  // Left the election and no candidate is left behind.
  void Finish();
  void TakeLeadership();
  // kGaveUp (voluntary): the candidate stays (and no pass deletes it) until
  // on_lost has returned, so nobody else can lead while on_lost still runs.
  void LoseLeadership(LeadershipLossReason reason);
  void DeliverToUser(std::optional<LeadershipLoss> loss, bool report_back);
  // Copies what stats() shows from the event thread's state.
  void Publish();
  void Count(int64_t LeaderElectionStats::*counter);
  std::string Describe() const;

  // --- Listener thread. `loss` empty: on_taken.
  void RunUserCallback(const std::optional<LeadershipLoss>& loss);

  const NodeKind kind_;
  ZooKeeperClient* const client_;
  const LeaderElectionOptions options_;
  // "_c_<guid>-": every candidate this participant makes starts with it.
  const std::string guid_prefix_;

  // The participant's state is two phases, one per thread that owns it. The
  // legal transitions:
  //   phase_ (what the caller asked; under mu_):
  //     kCreated -> kStarted   Start();
  //     kCreated -> kLeft      Leave() (or destruction) before Start(): no
  //                            candidate was ever made;
  //     kStarted -> kLeft      Leave() (or destruction).
  //     Never back: a participant that left cannot Start() again.
  //   membership_ (what the machine does; event thread only):
  //     kJoined -> kLeaving    OnLeave(), queued by a Leave() after Start();
  //     kLeaving -> kLeft      Finish(): the candidate is gone.
  //     Never back.
  // The other flags are independent facts: whether the machine runs (started
  // and the client not closed), the connection, a requeue or a voluntary
  // handoff pending, a pass in flight or dirty, a retry queued, leadership.
  enum class Phase { kCreated, kStarted, kLeft };
  enum class Membership { kJoined, kLeaving, kLeft };

  mutable std::mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kCreated;
  bool callbacks_enabled_ ABSL_GUARDED_BY(mu_) = true;
  bool leader_ ABSL_GUARDED_BY(mu_) = false;
  int subscription_ ABSL_GUARDED_BY(mu_) = 0;
  LeaderElectionStats stats_ ABSL_GUARDED_BY(mu_);

  // Held while on_taken or on_lost runs, so that Detach() can wait for it.
  std::mutex callback_mu_;

  // Event thread only (the client's event thread runs one task at a time, and
  // its queue orders these after the constructor).
  bool running_ = false;    // Started, and the client is not closed.
  bool connected_ = false;  // As the last connection state said.
  Membership membership_ = Membership::kJoined;
  bool requeue_pending_ = false;  // Requeue(): delete, then create anew.
  bool handoff_pending_ = false;  // A voluntary on_lost has not returned.
  bool busy_ = false;             // A pass is in flight.
  bool dirty_ = false;            // Something happened during the pass.
  bool retry_pending_ = false;    // A RetryLater() task is queued.
  slacker::internal::Backoff retry_backoff_{[this] {
    slacker::internal::BackoffOptions fixed;
    fixed.initial = fixed.max = options_.retry_delay;
    fixed.multiplier = 1;
    return fixed;
  }()};
  bool leading_ = false;
  ConnectionState last_state_ = ConnectionState::kConnected;
  // Bumped when the session ends: results of the old session's operations
  // describe nodes that are gone, and are dropped.
  uint64_t epoch_ = 0;
  std::string node_;                 // Our candidate, as last listed.
  std::string own_watched_;          // Our candidate whose watch is armed.
  std::string watched_predecessor_;  // The predecessor whose watch is armed.
  // Set while leaving after the LeaderElection died: keeps the Impl alive
  // until its candidate is gone or the client closes.
  std::shared_ptr<Impl> keep_alive_;
};

absl::Status LeaderElection::Impl::Start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::kLeft) {
      return absl::FailedPreconditionError(
          absl::StrCat("leader election ", Describe(),
                       " was left; create a new LeaderElection to join again"));
    }
    if (phase_ == Phase::kStarted) {
      return absl::FailedPreconditionError(
          absl::StrCat("leader election ", Describe(), " is already started"));
    }
    phase_ = Phase::kStarted;
    stats_.settled = false;
  }
  std::weak_ptr<Impl> weak = weak_from_this();
  const int subscription = client_->Subscribe([weak](ConnectionState state) {
    if (std::shared_ptr<Impl> self = weak.lock()) {
      self->OnConnectionState(state);
      self->Publish();
    }
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscription_ = subscription;
  }
  client_->RunOnEventThread([self = shared_from_this()] {
    self->OnStart();
    self->Publish();
  });
  return absl::OkStatus();
}

absl::Status LeaderElection::Impl::Requeue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::kStarted) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot requeue in leader election ", Describe(), ": it ",
          phase_ == Phase::kLeft ? "was left"
                                 : "is not started; call Start() first"));
    }
  }
  client_->RunOnEventThread([self = shared_from_this()] {
    self->OnRequeue();
    self->Publish();
  });
  return absl::OkStatus();
}

void LeaderElection::Impl::Leave() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::kLeft) return;
    const bool was_started = phase_ == Phase::kStarted;
    phase_ = Phase::kLeft;
    if (!was_started) return;
  }
  client_->RunOnEventThread([self = shared_from_this()] {
    self->OnLeave();
    self->Publish();
  });
}

void LeaderElection::Impl::Detach() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks_enabled_ = false;
  }
  // On the listener thread no callback of ours can be running but the caller.
  if (!client_->IsListenerThread()) {
    std::lock_guard<std::mutex> wait_for_callback(callback_mu_);
  }
  Leave();
}

void LeaderElection::Impl::OnStart() {
  const ConnectionState state = client_->state();
  last_state_ = state;
  running_ = state != ConnectionState::kClosed;
  connected_ = state == ConnectionState::kConnected ||
               state == ConnectionState::kReconnected ||
               state == ConnectionState::kNewSession;
  Kick();
}

void LeaderElection::Impl::OnConnectionState(ConnectionState state) {
  // Before OnStart the subscription is ignored: OnStart reads the state.
  if (!running_) return;
  last_state_ = state;
  switch (state) {
    case ConnectionState::kConnected:
    case ConnectionState::kReconnected:
    case ConnectionState::kNewSession:
      // Same session: our candidate and watches are still there, but a
      // predecessor may have gone meanwhile, or we may still be first (then
      // we lead again). New session: the pass finds no candidate and makes
      // one at the back.
      connected_ = true;
      Kick();
      break;
    case ConnectionState::kSuspended:
      // The session may expire any moment, and with it our candidate; the
      // others can win only after that, so giving up now is always in time.
      connected_ = false;
      LoseLeadership(LeadershipLossReason::kConnectionSuspended);
      break;
    case ConnectionState::kExpired:
      connected_ = false;
      ++epoch_;
      busy_ = false;
      dirty_ = false;
      node_.clear();
      own_watched_.clear();
      watched_predecessor_.clear();
      LoseLeadership(LeadershipLossReason::kSessionExpired);
      break;
    case ConnectionState::kClosed:
      running_ = false;
      connected_ = false;
      ++epoch_;
      busy_ = false;
      LoseLeadership(LeadershipLossReason::kClientClosed);
      keep_alive_.reset();  // The caller holds a reference until it returns.
      break;
  }
}

void LeaderElection::Impl::OnRequeue() {
  if (membership_ != Membership::kJoined) return;
  requeue_pending_ = true;
  LoseLeadership(LeadershipLossReason::kGaveUp);
  Kick();
}

void LeaderElection::Impl::OnLeave() {
  membership_ = Membership::kLeaving;
  requeue_pending_ = false;
  if (!running_) return;  // Never ran, or the client is closed.
  keep_alive_ = shared_from_this();
  LoseLeadership(LeadershipLossReason::kGaveUp);
  Kick();
}

void LeaderElection::Impl::OnHandoffDone() {
  handoff_pending_ = false;
  Kick();
}

void LeaderElection::Impl::Kick() {
  if (!running_ || membership_ == Membership::kLeft) return;
  if (busy_ || handoff_pending_) {
    dirty_ = true;
    return;
  }
  if (!connected_) return;
  busy_ = true;
  dirty_ = false;
  ReadCandidates();
}

void LeaderElection::Impl::ReadCandidates() {
  Count(&LeaderElectionStats::children_reads);
  client_->GetChildrenAsync(election_path, nullptr,
                            [self = shared_from_this(), epoch = epoch_](
                                absl::StatusOr<NodeChildren> children) {
                              if (epoch != self->epoch_) return;
                              self->OnCandidates(std::move(children));
                              self->Publish();
                            });
}

void LeaderElection::Impl::OnCandidates(absl::StatusOr<NodeChildren> children) {
  std::vector<Candidate> candidates;
  if (children.ok()) {
    candidates = SortedCandidates(kind_, children->names);
  } else if (!absl::IsNotFound(children.status())) {
    // NotFound: no election path yet; the creation makes it.
    FailPass(children.status(), "list the candidates");
    return;
  }
  std::vector<std::string> mine;
  for (const Candidate& candidate : candidates) {
    if (absl::StartsWith(candidate.name, guid_prefix_)) {
      mine.push_back(candidate.name);
    }
  }

  if (membership_ != Membership::kJoined || requeue_pending_) {
    if (handoff_pending_) {
      // on_lost still runs: the candidate stays until it returns.
      busy_ = false;
      return;
    }
    if (!mine.empty()) {
      DeleteCandidate(mine.front());
      return;
    }
    node_.clear();
    watched_predecessor_.clear();
    if (membership_ != Membership::kJoined) {
      Finish();
      return;
    }
    requeue_pending_ = false;
  }

  if (mine.size() > 1) {
    // Not made by this code (it creates only after seeing none), but should
    // one appear, keep the one that is further ahead.
    DeleteCandidate(mine.back());
    return;
  }
  if (mine.empty()) {
    if (!node_.empty()) {
      Log(LogLevel::kWarning,
          absl::StrCat("leader election ", Describe(), ": candidate ", node_,
                       " was deleted by someone else; joining again"));
      node_.clear();
      watched_predecessor_.clear();
      LoseLeadership(LeadershipLossReason::kCandidateDeleted);
    }
    CreateCandidate();
    return;
  }

  node_ = mine.front();
  if (own_watched_ != node_) WatchOwnNode();
  size_t index = 0;
  while (candidates[index].name != node_) ++index;
  if (index == 0) {
    watched_predecessor_.clear();  // A late event of its watch is ignored.
    TakeLeadership();
    EndPass(/*again=*/false);
    return;
  }
  // Sequences only grow, so nobody gets ahead of a leader; should it happen
  // all the same, that one leads now.
  LoseLeadership(LeadershipLossReason::kOvertaken);
  const std::string& predecessor = candidates[index - 1].name;
  if (predecessor == watched_predecessor_) {
    EndPass(/*again=*/false);  // Its watch is still armed.
    return;
  }
  WatchPredecessor(predecessor);
}

void LeaderElection::Impl::CreateCandidate() {
  Count(&LeaderElectionStats::candidates_created);
  client_->CreateAsync(
      JoinPath(election_path, absl::StrCat(guid_prefix_, NodeName(kind_))),
      participant_id, CreateMode::kEphemeralSequential,
      /*create_parents=*/true,
      [self = shared_from_this(),
       epoch = epoch_](absl::StatusOr<std::string> created) {
        if (epoch != self->epoch_) return;
        if (created.ok()) {
          Log(LogLevel::kDebug,
              absl::StrCat("leader election ", self->Describe(), ": candidate ",
                           *created));
          self->EndPass(/*again=*/true);  // To learn its place.
        } else {
          // The creation may have happened even so (a lost connection): the
          // next pass finds the candidate by its GUID instead of making
          // another.
          self->FailPass(created.status(), "create a candidate");
        }
        self->Publish();
      });
}

void LeaderElection::Impl::DeleteCandidate(const std::string& name) {
  // Our own deletion is no news to us.
  if (own_watched_ == name) own_watched_.clear();
  client_->DeleteAsync(
      JoinPath(election_path, name), -1,
      [self = shared_from_this(), epoch = epoch_, name](absl::Status status) {
        if (epoch != self->epoch_) return;
        if (status.ok() || absl::IsNotFound(status)) {
          if (self->node_ == name) self->node_.clear();
          self->EndPass(/*again=*/true);
        } else {
          self->FailPass(status, absl::StrCat("delete candidate ", name));
        }
        self->Publish();
      });
}

void LeaderElection::Impl::WatchPredecessor(const std::string& name) {
  // Set before the read: the watch callback recognises the current watch by
  // it. getData rather than exists: on a node that is already gone, exists
  // would leave a creation watch behind that never fires.
  watched_predecessor_ = name;
  std::weak_ptr<Impl> weak = weak_from_this();
  client_->GetAsync(
      JoinPath(election_path, name),
      [weak, name](WatchEventType, const std::string&) {
        if (std::shared_ptr<Impl> self = weak.lock()) {
          self->OnPredecessorEvent(name);
          self->Publish();
        }
      },
      [self = shared_from_this(), epoch = epoch_,
       name](absl::StatusOr<NodeData> data) {
        if (epoch != self->epoch_) return;
        if (data.ok()) {
          self->EndPass(/*again=*/false);  // Wait for the watch.
        } else {
          if (self->watched_predecessor_ == name) {
            self->watched_predecessor_.clear();
          }
          if (absl::IsNotFound(data.status())) {
            self->EndPass(/*again=*/true);  // Gone already: look again.
          } else {
            self->FailPass(data.status(),
                           absl::StrCat("watch predecessor ", name));
          }
        }
        self->Publish();
      });
}

void LeaderElection::Impl::WatchOwnNode() {
  // Outside the pass: it only tells us if someone else deletes our candidate
  // (a leader would otherwise lead on without one).
  own_watched_ = node_;
  const std::string name = node_;
  std::weak_ptr<Impl> weak = weak_from_this();
  client_->GetAsync(
      JoinPath(election_path, name),
      [weak, name](WatchEventType, const std::string&) {
        if (std::shared_ptr<Impl> self = weak.lock()) {
          self->OnOwnNodeEvent(name);
          self->Publish();
        }
      },
      [self = shared_from_this(), epoch = epoch_,
       name](absl::StatusOr<NodeData> data) {
        if (epoch != self->epoch_ || data.ok()) return;
        if (self->own_watched_ == name) self->own_watched_.clear();
        if (absl::IsNotFound(data.status())) {
          self->Kick();
        } else if (!absl::IsCancelled(data.status())) {
          self->RetryLater();
        }
        self->Publish();
      });
}

void LeaderElection::Impl::OnPredecessorEvent(const std::string& name) {
  if (name != watched_predecessor_) return;  // An older watch's.
  watched_predecessor_.clear();
  Count(&LeaderElectionStats::predecessor_events);
  Kick();
}

void LeaderElection::Impl::OnOwnNodeEvent(const std::string& name) {
  if (name != own_watched_) return;
  own_watched_.clear();
  Count(&LeaderElectionStats::own_node_events);
  Kick();
}

void LeaderElection::Impl::EndPass(bool again) {
  busy_ = false;
  if (again || dirty_) Kick();
}

void LeaderElection::Impl::FailPass(const absl::Status& status,
                                    absl::string_view what) {
  busy_ = false;
  if (absl::IsCancelled(status)) return;  // The client is closing.
  if (dirty_ && connected_) {
    // Reconnected while the pass failed for the disconnection: go on now.
    Kick();
    return;
  }
  // While disconnected, failures are expected and the reconnection starts
  // the next pass; otherwise the failure is worth a line.
  const std::optional<absl::Duration> delay = RetryLater();
  Log(connected_ ? LogLevel::kWarning : LogLevel::kDebug,
      absl::StrCat("leader election ", Describe(), ": cannot ", what, ": ",
                   status.ToString(), "; retrying ",
                   slacker::internal::RetryDelayText(delay)));
}

std::optional<absl::Duration> LeaderElection::Impl::RetryLater() {
  if (retry_pending_) return std::nullopt;
  retry_pending_ = true;
  const absl::Duration delay = retry_backoff_.Next();
  std::weak_ptr<Impl> weak = weak_from_this();
  client_->RunOnEventThreadAfter(delay, [weak] {
    if (std::shared_ptr<Impl> self = weak.lock()) {
      self->retry_pending_ = false;
      self->Kick();
      self->Publish();
    }
  });
  return delay;
}

void LeaderElection::Impl::Finish() {
  busy_ = false;
  membership_ = Membership::kLeft;
  int subscription;
  {
    std::lock_guard<std::mutex> lock(mu_);
    subscription = subscription_;
  }
  // Allowed on the event thread: it returns at once there.
  client_->Unsubscribe(subscription);
  Log(LogLevel::kDebug, absl::StrCat("leader election ", Describe(), ": left"));
  keep_alive_.reset();  // The caller holds a reference until it returns.
}

void LeaderElection::Impl::TakeLeadership() {
  if (leading_ || !connected_) return;
  leading_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    leader_ = true;
    ++stats_.times_taken;
  }
  Log(LogLevel::kInfo,
      absl::StrCat("leader election ", Describe(), ": leader now"));
  if (options_.write_leader_data) {
    client_->SetAsync(
        election_path, participant_id, -1,
        [self = shared_from_this()](absl::StatusOr<NodeStat> stat) {
          if (stat.ok() || absl::IsCancelled(stat.status())) return;
          Log(LogLevel::kWarning,
              absl::StrCat("leader election ", self->Describe(),
                           ": cannot record the leader in the election "
                           "path's data (only a hint for tools): ",
                           stat.status().ToString()));
        });
  }
  DeliverToUser(std::nullopt, /*report_back=*/false);
}

void LeaderElection::Impl::LoseLeadership(LeadershipLossReason reason) {
  if (!leading_) return;
  const bool voluntary = reason == LeadershipLossReason::kGaveUp;
  leading_ = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    leader_ = false;
  }
  Log(LogLevel::kInfo,
      absl::StrCat("leader election ", Describe(), ": leadership ",
                   voluntary ? "given up" : "lost", " (",
                   LeadershipLossReasonName(reason), ")"));
  if (voluntary) handoff_pending_ = true;
  DeliverToUser(LeadershipLoss{reason, last_state_, participant_id},
                /*report_back=*/voluntary);
}

void LeaderElection::Impl::DeliverToUser(std::optional<LeadershipLoss> loss,
                                         bool report_back) {
  client_->RunOnListenerThread(
      [self = shared_from_this(), loss = std::move(loss), report_back] {
        self->RunUserCallback(loss);
        if (report_back) {
          self->client_->RunOnEventThread([self] {
            self->OnHandoffDone();
            self->Publish();
          });
        }
      });
}

void LeaderElection::Impl::RunUserCallback(
    const std::optional<LeadershipLoss>& loss) {
  std::lock_guard<std::mutex> callback_lock(callback_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!callbacks_enabled_) return;
  }
  if (!loss.has_value()) {
    if (options_.on_taken) options_.on_taken();
  } else if (options_.on_lost) {
    options_.on_lost(*loss);
  }
}

void LeaderElection::Impl::Publish() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.candidate = node_;
  stats_.predecessor = watched_predecessor_;
  stats_.settled = !busy_ && !handoff_pending_ && !retry_pending_;
}

void LeaderElection::Impl::Count(int64_t LeaderElectionStats::*counter) {
  std::lock_guard<std::mutex> lock(mu_);
  ++(stats_.*counter);
}

std::string LeaderElection::Impl::Describe() const {
  return absl::StrCat(election_path, " (participant ", participant_id, ")");
}

// --- LeaderElection.

absl::StatusOr<std::unique_ptr<LeaderElection>> LeaderElection::Create(
    ZooKeeperClient* client, std::string election_path,
    std::string participant_id, LeaderElectionOptions options) {
  return CreateOfKind(NodeKind::kLatch, client, std::move(election_path),
                      std::move(participant_id), std::move(options));
}

absl::StatusOr<std::unique_ptr<LeaderElection>> LeaderElection::CreateOfKind(
    NodeKind kind, ZooKeeperClient* client, std::string election_path,
    std::string participant_id, LeaderElectionOptions options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        "leader election needs a ZooKeeper client; got null");
  }
  if (absl::Status valid = ValidatePath(election_path); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad leader election path: ", valid.message()));
  }
  if (election_path == "/") {
    return absl::InvalidArgumentError(
        "leader election path must not be \"/\": give the election its own "
        "node, e.g. /<app>/_leader");
  }
  if (participant_id.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leader election ", election_path,
        ": participant id is empty; give each participant an id that names "
        "it, e.g. its host:port"));
  }
  if (participant_id.size() > ZooKeeperClient::kMaxDataBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("leader election ", election_path, ": participant id has ",
                     participant_id.size(), " bytes; at most ",
                     ZooKeeperClient::kMaxDataBytes, " fit in a node"));
  }
  if (options.retry_delay <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("leader election ", election_path,
                     ": retry_delay must be positive, "
                     "got ",
                     absl::FormatDuration(options.retry_delay)));
  }
  return std::unique_ptr<LeaderElection>(new LeaderElection(
      std::make_shared<Impl>(kind, client, std::move(election_path),
                             std::move(participant_id), std::move(options))));
}

LeaderElection::LeaderElection(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

LeaderElection::~LeaderElection() { impl_->Detach(); }

absl::Status LeaderElection::Start() { return impl_->Start(); }

absl::Status LeaderElection::Requeue() { return impl_->Requeue(); }

void LeaderElection::Leave() { impl_->Leave(); }

bool LeaderElection::IsLeader() const { return impl_->IsLeader(); }

const std::string& LeaderElection::election_path() const {
  return impl_->election_path;
}

const std::string& LeaderElection::participant_id() const {
  return impl_->participant_id;
}

LeaderElectionStats LeaderElection::stats() const { return impl_->stats(); }

absl::StatusOr<std::string> LeaderElection::CurrentLeader(
    ZooKeeperClient& client, const std::string& election_path) {
  absl::StatusOr<std::vector<Participant>> ids = ReadParticipantsOfKind(
      NodeKind::kLatch, client, election_path, /*first_only=*/true);
  if (!ids.ok()) return ids.status();
  if (ids->empty()) {
    return absl::NotFoundError(absl::StrCat(
        "leader election ", election_path,
        ": no participant, so no leader (has any participant started?)"));
  }
  return std::move(ids->front().id);
}

absl::StatusOr<std::vector<Participant>> LeaderElection::Participants(
    ZooKeeperClient& client, const std::string& election_path) {
  return ReadParticipantsOfKind(NodeKind::kLatch, client, election_path,
                                /*first_only=*/false);
}

}  // namespace slacker::discovery
