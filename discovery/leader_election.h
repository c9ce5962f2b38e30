// Leader election among the participants of one election path, the way Apache
// Curator's LeaderLatch does it (and with nodes it understands, so that Java
// and Clojure participants of slacker-cluster can share an election):
//
//   <election_path>/_c_<guid>-latch-<sequence>   ephemeral-sequential; data:
//                                                the participant's id
//
// The owner of the candidate with the lowest sequence leads. Each participant
// watches only the candidate just below its own (and its own, in case someone
// else deletes it), so a change wakes one participant, never all of them (no
// herd effect). Anyone can read the leader and the queue from the candidates
// alone (CurrentLeader, Participants).
//
// Leadership is given up before anyone else can take it:
//   - on a suspended connection the leader hears on_lost at once; the others
//     can only win once its session has expired on the server, which happens
//     after the session timeout, later than the client sees the suspension;
//   - on Leave() and Requeue() the candidate is deleted only after on_lost has
//     returned.
// When the connection comes back within the same session, the participant
// checks again and, still lowest, leads again (on_taken once more). When the
// session expired, the participant joins again at the back of the queue with
// a new candidate.
//
// A candidate whose creation failed with a lost connection may still have been
// made; the <guid> in its name (unique to each LeaderElection, as in Curator's
// protected mode) lets the participant find it instead of leaving it behind.
//
// on_taken and on_lost run on the client's listener thread, which every other
// listener of that client shares: they must hand long work to a thread of
// their own. For leadership held while a function runs (Curator's
// LeaderSelector), see discovery/leader_selector.h.
//
// Example:
//   LeaderElectionOptions options;
//   options.on_taken = [] { StartLeaderWork(); };
//   options.on_lost = [](const LeadershipLoss&) { StopLeaderWork(); };
//   absl::StatusOr<std::unique_ptr<LeaderElection>> election =
//       LeaderElection::Create(client, "/app/_leader", "10.0.0.7:8080",
//                               std::move(options));
//   if (!election.ok()) return election.status();
//   (*election)->Start();

#ifndef SLACKER_DISCOVERY_LEADER_ELECTION_H_
#define SLACKER_DISCOVERY_LEADER_ELECTION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

// Why a participant stopped leading.
enum class LeadershipLossReason {
  kGaveUp,               // Leave() or Requeue().
  kConnectionSuspended,  // The connection dropped; the session may live on.
  kSessionExpired,       // The session ended: its candidate is gone.
  kClientClosed,         // The ZooKeeper client was closed.
  kCandidateDeleted,     // Someone else deleted its candidate.
  kOvertaken,            // A candidate ahead of it appeared (not made by
                         // this recipe, whose sequences only grow).
};
// "gave up", "connection suspended", ...: for logs and messages.
absl::string_view LeadershipLossReasonName(LeadershipLossReason reason);

// What on_lost is told (Curator's stateChanged hands over the same facts).
struct LeadershipLoss {
  LeadershipLossReason reason = LeadershipLossReason::kGaveUp;
  // The client's connection state as the election last saw it.
  ConnectionState state = ConnectionState::kConnected;
  // The participant that lost (the id given to Create).
  std::string participant_id;
};

namespace election_internal {
// How candidates are named: Curator's LeaderLatch ("latch-") or its
// LeaderSelector, whose InterProcessMutex names them "lock-". Not for users.
enum class NodeKind { kLatch, kLock };
}  // namespace election_internal

// One participant of an election, as Participants() lists them (Curator's
// Participant: id and isLeader).
struct Participant {
  std::string id;
  bool is_leader = false;
  bool operator==(const Participant& other) const {
    return id == other.id && is_leader == other.is_leader;
  }
};

struct LeaderElectionOptions {
  // Runs on the client's listener thread when this participant becomes the
  // leader. Empty: nothing runs.
  std::function<void()> on_taken;

  // Runs on the listener thread when this participant stops leading: its
  // connection was suspended, its session expired, its candidate was deleted
  // by someone else, or it gave leadership up (Leave, Requeue); the argument
  // says which, with the connection state and the participant id. Calls of
  // on_taken and on_lost strictly alternate, starting with on_taken.
  std::function<void(const LeadershipLoss&)> on_lost;

  // Whether a new leader also writes its id into the election path's own data
  // (slacker-cluster's `_leader` node), for tools and for compatibility. That
  // data is only a hint: the candidates decide who leads.
  bool write_leader_data = false;

  // How long to wait before retrying an operation that failed while the
  // client was connected (a timeout, a refused ACL, ...).
  absl::Duration retry_delay = absl::Milliseconds(200);
};

// What a participant has done, for tests and for monitoring.
struct LeaderElectionStats {
  int64_t children_reads = 0;      // Times the candidates were listed.
  int64_t predecessor_events = 0;  // Times the watched predecessor changed.
  int64_t own_node_events = 0;     // Times its own candidate changed.
  int64_t candidates_created = 0;  // Creations attempted.
  int64_t times_taken = 0;         // Times it became the leader.
  std::string candidate;           // Its candidate's node name; "" if none.
  std::string predecessor;         // The candidate it watches; "" if none.
  // True while nothing is in flight and the participant waits for a watch,
  // the connection or Start(): the counters above are then at rest.
  bool settled = false;
};

// Thread-safe: every method may be called from any thread, the client's
// listener thread included (on_taken and on_lost may call Requeue or Leave).
class LeaderElection {
 public:
  // Checks the arguments; does not touch ZooKeeper until Start().
  // InvalidArgument if `client` is null, `election_path` is not a valid path
  // or is "/", `participant_id` is empty or larger than
  // ZooKeeperClient::kMaxDataBytes, or options.retry_delay is not positive.
  // REQUIRES: `client` outlives the returned object.
  static absl::StatusOr<std::unique_ptr<LeaderElection>> Create(
      ZooKeeperClient* client, std::string election_path,
      std::string participant_id, LeaderElectionOptions options = {});

  // Leave()s without calling on_lost, and waits for an on_taken or on_lost
  // running on another thread to return: neither runs once the destructor
  // has returned. The candidate is deleted in the background.
  ~LeaderElection();
  LeaderElection(const LeaderElection&) = delete;
  LeaderElection& operator=(const LeaderElection&) = delete;

  // Joins the election: creates this participant's candidate (and the
  // election path, persistent, if missing) in the background, and keeps one
  // for as long as the participant is in the election, across lost
  // connections and expired sessions. FailedPrecondition if already started
  // or left.
  absl::Status Start();

  // Gives leadership up (on_lost, if it led) and joins again at the back of
  // the queue with a new candidate. The old candidate is deleted once on_lost
  // has returned, so the next participant takes over only then.
  // FailedPrecondition if not started, or left.
  absl::Status Requeue();

  // Gives leadership up (on_lost, if it led) and leaves the election for
  // good: the candidate is deleted once on_lost has returned, retrying while
  // the session lives. Idempotent; a participant that left cannot Start()
  // again (create a new LeaderElection).
  void Leave();

  // Whether this participant leads, as the election last decided. on_taken
  // and on_lost follow on the listener thread.
  bool IsLeader() const;

  const std::string& election_path() const;
  const std::string& participant_id() const;
  LeaderElectionStats stats() const;

  // --- Reading an election, for anyone (participant or not). Synchronous:
  // on the client's event thread they return FailedPrecondition (a
  // synchronous call there would deadlock).

  // The leader's participant id (the data of the lowest candidate). NotFound
  // when there is no candidate; InvalidArgument for an invalid path; other
  // errors as ZooKeeperClient's.
  static absl::StatusOr<std::string> CurrentLeader(
      ZooKeeperClient& client, const std::string& election_path);

  // The participants, leader first (the only one with is_leader), then in
  // the order they would lead. Empty when there is no candidate (or no
  // election path).
  static absl::StatusOr<std::vector<Participant>> Participants(
      ZooKeeperClient& client, const std::string& election_path);

 private:
  friend class LeaderSelector;
  class Impl;
  using NodeKind = election_internal::NodeKind;
  static absl::StatusOr<std::unique_ptr<LeaderElection>> CreateOfKind(
      NodeKind kind, ZooKeeperClient* client, std::string election_path,
      std::string participant_id, LeaderElectionOptions options);
  static absl::StatusOr<std::vector<Participant>> ReadParticipantsOfKind(
      NodeKind kind, ZooKeeperClient& client, const std::string& election_path,
      bool first_only);
  explicit LeaderElection(std::shared_ptr<Impl> impl);

  // Shared with the callbacks handed to the client: it lives until the last
  // of them has run, so the candidate can be deleted after this object died.
  std::shared_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_LEADER_ELECTION_H_
