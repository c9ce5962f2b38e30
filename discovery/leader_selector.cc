#include "discovery/leader_selector.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/logging.h"

namespace slacker::discovery {

using slacker::internal::Log;

// --- LeadershipToken.

bool LeadershipToken::stop_requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_ != LeadershipStopReason::kNone;
}

LeadershipStopReason LeadershipToken::stop_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

bool LeadershipToken::WaitForStop(absl::Duration timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  const auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return reason_ != LeadershipStopReason::kNone;
  };
  if (timeout == absl::InfiniteDuration()) {
    cv_.wait(lock, stopped);
    return true;
  }
  return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), stopped);
}

void LeadershipToken::RequestStop(LeadershipStopReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reason_ != LeadershipStopReason::kNone) return;
  reason_ = reason;
  cv_.notify_all();
}

// --- LeaderSelector.

absl::StatusOr<std::unique_ptr<LeaderSelector>> LeaderSelector::Create(
    ZooKeeperClient* client, std::string election_path,
    std::string participant_id, LeaderSelectorOptions options) {
  // The election's own checks, on an election that is dropped unstarted.
  LeaderElectionOptions checked;
  checked.retry_delay = options.retry_delay;
  absl::StatusOr<std::unique_ptr<LeaderElection>> election =
      LeaderElection::CreateOfKind(LeaderElection::NodeKind::kLock, client,
                                   election_path, participant_id,
                                   std::move(checked));
  if (!election.ok()) return election.status();
  if (!options.take_leadership) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leader selector ", election_path,
        ": take_leadership is empty; give it the function to run while this "
        "participant leads"));
  }
  return std::unique_ptr<LeaderSelector>(
      new LeaderSelector(client, std::move(election_path),
                         std::move(participant_id), std::move(options)));
}

LeaderSelector::LeaderSelector(ZooKeeperClient* client,
                               std::string election_path,
                               std::string participant_id,
                               LeaderSelectorOptions options)
    : client_(client),
      election_path_(std::move(election_path)),
      participant_id_(std::move(participant_id)),
      options_(std::move(options)) {}

LeaderSelector::~LeaderSelector() {
  slacker::internal::CheckRequires(
      !thread_.joinable() || thread_.get_id() != std::this_thread::get_id(),
      absl::StrCat("leader selector ", election_path_, " (participant ",
                   participant_id_,
                   ") destroyed from its own take_leadership, which would "
                   "wait for itself to return; call Close() there and "
                   "destroy the selector from another thread"));
  Close();
  if (thread_.joinable()) thread_.join();
}

absl::Status LeaderSelector::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != Phase::kCreated) {
    return absl::FailedPreconditionError(absl::StrCat(
        "leader selector ", election_path_, " (participant ", participant_id_,
        ") is ",
        phase_ == Phase::kStarted
            ? "already started"
            : "closed; create a new LeaderSelector to join again"));
  }
  phase_ = Phase::kStarted;
  thread_ = std::thread([this] { Run(); });
  return JoinHoldingMu();
}

absl::StatusOr<bool> LeaderSelector::Requeue() {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != Phase::kStarted) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot requeue leader selector ", election_path_, " (participant ",
        participant_id_, "): it ",
        phase_ == Phase::kClosed ? "is closed"
                                 : "is not started; call Start() first"));
  }
  if (election_ != nullptr) return false;
  absl::Status joined = JoinHoldingMu();
  if (!joined.ok()) return joined;
  return true;
}

void LeaderSelector::InterruptLeadership() {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ != nullptr) {
    token_->RequestStop(LeadershipStopReason::kInterrupted);
  }
}

void LeaderSelector::Close() {
  std::unique_ptr<LeaderElection> ended;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    if (token_ != nullptr) token_->RequestStop(LeadershipStopReason::kClosed);
    // While take_leadership runs it leads; Run() ends the stay after it.
    if (!running_) {
      ended = std::move(election_);
      ++stay_;
      taken_ = false;
    }
    cv_.notify_all();
  }
  // Outside mu_: the election waits for its callbacks, which take mu_.
  ended.reset();
}

bool LeaderSelector::HasLeadership() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_ && election_ != nullptr && election_->IsLeader();
}

bool LeaderSelector::IsQueued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return election_ != nullptr;
}

int64_t LeaderSelector::times_led() const {
  std::lock_guard<std::mutex> lock(mu_);
  return times_led_;
}

absl::Status LeaderSelector::JoinHoldingMu() {
  const uint64_t stay = ++stay_;
  LeaderElectionOptions options;
  options.retry_delay = options_.retry_delay;
  // The election dies before this selector (Close, Run, the destructor), and
  // calls nothing once it has died.
  options.on_taken = [this, stay] { OnTaken(stay); };
  options.on_lost = [this, stay](const LeadershipLoss& loss) {
    OnLost(stay, loss);
  };
  absl::StatusOr<std::unique_ptr<LeaderElection>> election =
      LeaderElection::CreateOfKind(LeaderElection::NodeKind::kLock, client_,
                                   election_path_, participant_id_,
                                   std::move(options));
  if (!election.ok()) return election.status();
  if (absl::Status started = (*election)->Start(); !started.ok()) {
    return started;
  }
  election_ = *std::move(election);
  return absl::OkStatus();
}

void LeaderSelector::OnTaken(uint64_t stay) {
  std::lock_guard<std::mutex> lock(mu_);
  if (phase_ != Phase::kStarted || stay != stay_) return;
  taken_ = true;
  cv_.notify_all();
}

void LeaderSelector::OnLost(uint64_t stay, const LeadershipLoss& loss) {
  std::shared_ptr<LeadershipToken> token;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stay != stay_) return;
    taken_ = false;
    if (!running_) return;  // It never ran on this leadership.
    token = token_;
  }
  Log(LogLevel::kInfo,
      absl::StrCat("leader selector ", election_path_, " (participant ",
                   participant_id_, "): leadership lost (",
                   LeadershipLossReasonName(loss.reason),
                   ") while take_leadership runs; stopping it"));
  // As Curator's stateChanged comes before the interrupt: on_lost first,
  // so the function sees the stop after on_lost has returned. Should the
  // function have returned meanwhile, its token is stopped unseen.
  if (options_.on_lost) options_.on_lost(loss);
  token->RequestStop(LeadershipStopReason::kLost);
}

void LeaderSelector::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return phase_ == Phase::kClosed || taken_;
    });
    if (phase_ == Phase::kClosed) return;
    taken_ = false;
    running_ = true;
    ++times_led_;
    std::shared_ptr<LeadershipToken> token =
        std::make_shared<LeadershipToken>();
    token_ = token;
    lock.unlock();
    options_.take_leadership(*token);
    lock.lock();
    running_ = false;
    token_.reset();
    // Returning gives leadership up: this stay's candidate goes, and its
    // late callbacks are dropped.
    std::unique_ptr<LeaderElection> ended = std::move(election_);
    ++stay_;
    taken_ = false;
    if (phase_ == Phase::kStarted && options_.auto_requeue) {
      if (absl::Status joined = JoinHoldingMu(); !joined.ok()) {
        Log(LogLevel::kError,
            absl::StrCat("leader selector ", election_path_, " (participant ",
                         participant_id_, "): cannot join the queue again: ",
                         joined.message(), "; call Requeue() to retry"));
      }
    }
    lock.unlock();
    ended.reset();  // Outside mu_, as in Close().
    lock.lock();
  }
}

absl::StatusOr<std::vector<Participant>> LeaderSelector::Participants(
    ZooKeeperClient& client, const std::string& election_path) {
  return LeaderElection::ReadParticipantsOfKind(LeaderElection::NodeKind::kLock,
                                                client, election_path,
                                                /*first_only=*/false);
}

absl::StatusOr<std::string> LeaderSelector::CurrentLeader(
    ZooKeeperClient& client, const std::string& election_path) {
  absl::StatusOr<std::vector<Participant>> participants =
      LeaderElection::ReadParticipantsOfKind(LeaderElection::NodeKind::kLock,
                                             client, election_path,
                                             /*first_only=*/true);
  if (!participants.ok()) return participants.status();
  if (participants->empty()) {
    return absl::NotFoundError(absl::StrCat(
        "leader selector ", election_path,
        ": no participant, so no leader (has any participant started?)"));
  }
  return std::move(participants->front().id);
}

}  // namespace slacker::discovery
