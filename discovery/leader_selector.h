// Leadership held while a function runs, the way Apache Curator's
// LeaderSelector does it (and with nodes it understands, so that JVM and C++
// participants can share one election path):
//
//   <election_path>/_c_<guid>-lock-<sequence>   ephemeral-sequential; data:
//                                               the participant's id
//
// Curator's LeaderSelector queues on an InterProcessMutex, which names its
// nodes "lock-" and orders them by the sequence after that name; the owner of
// the lowest leads. Underneath, this is the LeaderElection recipe of
// discovery/leader_election.h (no herd effect, a cut-off leader told before
// anyone else can win, a candidate that comes back after an expired session)
// with those node names; what differs is how leadership is used:
//
//   - When this participant becomes the leader, `take_leadership` runs on the
//     selector's own thread (never on the ZooKeeper client's listener thread,
//     which other recipes and listeners share). The participant leads while
//     it runs; when it returns, the candidate is deleted and the next one
//     leads. With auto_requeue the participant then joins again at the back
//     of the queue; without, it stays out until Requeue().
//   - The function gets a LeadershipToken. A stop is requested on the token
//     when leadership is lost under it (connection suspended, session
//     expired, client closed, candidate deleted: on_lost is called first), on
//     InterruptLeadership() and on Close(). The function should return soon
//     after: it no longer leads (or will not for long), and nothing can force
//     it to return. Curator interrupts its thread instead; C++ has no
//     interruption, hence the token.
//
// What is not as in Curator: children of the election path that are not
// named "_c_<uuid>-lock-<10 digits>" are not participants here (Curator would
// sort them in by their whole name, and one sorted first would block every
// Curator participant); participant ids must not be empty (Curator's default
// id is "").
//
// Example:
//   LeaderSelectorOptions options;
//   options.take_leadership = [](LeadershipToken& token) {
//     while (!token.WaitForStop(absl::Seconds(1))) DoLeaderWork();
//   };
//   options.auto_requeue = true;
//   absl::StatusOr<std::unique_ptr<LeaderSelector>> selector =
//       LeaderSelector::Create(client, "/app/leader", "10.0.0.7:8080",
//                              std::move(options));
//   if (!selector.ok()) return selector.status();
//   (*selector)->Start();

#ifndef SLACKER_DISCOVERY_LEADER_SELECTOR_H_
#define SLACKER_DISCOVERY_LEADER_SELECTOR_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/leader_election.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

// Why a leadership function was asked to stop.
enum class LeadershipStopReason {
  kNone,         // Not asked.
  kLost,         // Leadership was lost (on_lost says how).
  kInterrupted,  // InterruptLeadership().
  kClosed,       // Close() or the selector's destruction.
};

// Handed to take_leadership: tells it when to give leadership up.
// Thread-safe. Owned by the selector; valid while take_leadership runs.
class LeadershipToken {
 public:
  LeadershipToken() = default;
  LeadershipToken(const LeadershipToken&) = delete;
  LeadershipToken& operator=(const LeadershipToken&) = delete;

  bool stop_requested() const;
  LeadershipStopReason stop_reason() const;
  // Waits until a stop is requested or `timeout` has passed; returns
  // stop_requested().
  bool WaitForStop(absl::Duration timeout) const;

  // For the selector: the first reason given sticks.
  void RequestStop(LeadershipStopReason reason);

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  LeadershipStopReason reason_ ABSL_GUARDED_BY(mu_) =
      LeadershipStopReason::kNone;
};

struct LeaderSelectorOptions {
  // Required. Runs on the selector's thread each time this participant
  // becomes the leader; the participant leads until it returns. It must
  // return soon after token.stop_requested() turns true.
  std::function<void(LeadershipToken& token)> take_leadership;

  // Runs on the client's listener thread when leadership is lost while
  // take_leadership runs, other than by its return: the connection was
  // suspended (before anyone else can win: see leader_election.h), the
  // session expired, the client closed, or someone deleted the candidate.
  // The token's stop is requested once on_lost has returned (as Curator's
  // stateChanged precedes its interrupt). It must not block (it shares the
  // listener thread with the client's other listeners).
  // Empty: nothing runs (the token is stopped all the same).
  std::function<void(const LeadershipLoss& loss)> on_lost;

  // Join the queue again, at the back, each time take_leadership returns
  // (Curator's autoRequeue()). False: stay out until Requeue().
  bool auto_requeue = false;

  // As LeaderElectionOptions::retry_delay.
  absl::Duration retry_delay = absl::Milliseconds(200);
};

// Thread-safe: every method may be called from any thread, take_leadership
// and on_lost included, except the destructor (see there).
class LeaderSelector {
 public:
  // Checks the arguments; does not touch ZooKeeper until Start().
  // InvalidArgument as LeaderElection::Create, and if take_leadership is
  // empty. REQUIRES: `client` outlives the returned object.
  static absl::StatusOr<std::unique_ptr<LeaderSelector>> Create(
      ZooKeeperClient* client, std::string election_path,
      std::string participant_id, LeaderSelectorOptions options);

  // Close()s, then waits for take_leadership to return. REQUIRES: not called
  // from take_leadership (the selector's own thread would wait for itself):
  // that is a fatal error with a message; call Close() there instead.
  ~LeaderSelector();
  LeaderSelector(const LeaderSelector&) = delete;
  LeaderSelector& operator=(const LeaderSelector&) = delete;

  // Joins the queue (creates the candidate in the background) and starts the
  // selector's thread. FailedPrecondition if already started or closed.
  absl::Status Start();

  // Joins the queue again after take_leadership returned without
  // auto_requeue. Returns true if it joined, false if it was queued or
  // leading already (as Curator's requeue()). FailedPrecondition if not
  // started, or closed.
  absl::StatusOr<bool> Requeue();

  // Requests a stop on the running take_leadership's token (Curator's
  // interruptLeadership). Nothing if it does not run. Leadership passes on
  // when the function returns.
  void InterruptLeadership();

  // Leaves for good: stops the running take_leadership's token; the
  // candidate is deleted at once, or, while take_leadership runs, when it
  // returns (it leads until then). Returns at once. Idempotent.
  void Close();

  // True while take_leadership runs and the election still says this
  // participant leads (Curator's hasLeadership).
  bool HasLeadership() const;
  // True while a candidate of this participant is queued or leading.
  bool IsQueued() const;

  const std::string& election_path() const { return election_path_; }
  const std::string& participant_id() const { return participant_id_; }
  // How many times take_leadership was called.
  int64_t times_led() const;

  // --- Reading an election, for anyone (participant or not; a Curator
  // LeaderSelector on the same path reads the same). Synchronous:
  // FailedPrecondition on the client's event thread.

  // The participants, leader first (the only one with is_leader), then in
  // the order they would lead; empty if none. As Curator's getParticipants.
  static absl::StatusOr<std::vector<Participant>> Participants(
      ZooKeeperClient& client, const std::string& election_path);
  // The leader's id. NotFound when there is no participant.
  static absl::StatusOr<std::string> CurrentLeader(
      ZooKeeperClient& client, const std::string& election_path);

 private:
  // One stay in the queue: an election made for it, and its number, so that
  // callbacks of an older stay are recognised and dropped.
  LeaderSelector(ZooKeeperClient* client, std::string election_path,
                 std::string participant_id, LeaderSelectorOptions options);

  // Makes and starts the election of a new stay. REQUIRES: mu_ held.
  absl::Status JoinHoldingMu() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void OnTaken(uint64_t stay);
  void OnLost(uint64_t stay, const LeadershipLoss& loss);
  // The selector's thread: runs take_leadership each time leadership comes.
  void Run();

  ZooKeeperClient* const client_;
  const std::string election_path_;
  const std::string participant_id_;
  const LeaderSelectorOptions options_;

  // The selector is LATENT (created), STARTED, then CLOSED, as Curator's:
  //   kCreated -> kStarted  Start();
  //   kCreated -> kClosed   Close() before Start();
  //   kStarted -> kClosed   Close().
  // Never back. While kStarted, election_ is set exactly while queued or
  // leading; the thread's running_ while take_leadership runs.
  enum class Phase { kCreated, kStarted, kClosed };

  mutable std::mutex mu_;
  std::condition_variable cv_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kCreated;
  std::unique_ptr<LeaderElection> election_ ABSL_GUARDED_BY(mu_);
  uint64_t stay_ ABSL_GUARDED_BY(mu_) = 0;   // Of election_.
  bool taken_ ABSL_GUARDED_BY(mu_) = false;  // Led, not yet run.
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  int64_t times_led_ ABSL_GUARDED_BY(mu_) = 0;
  std::shared_ptr<LeadershipToken> token_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // Set by Start(), joined by the destructor.
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_LEADER_SELECTOR_H_
