// A real ZooKeeper server, or a three-node ensemble, run as child Java
// processes on loopback ports: for tests, examples, benchmarks and the
// `//tools:zookeeper` launcher. Not for production: it trades durability for
// speed (no fsync, a 200 ms tick).
//
// Each node is Debian's ZooKeeper 3.8 (`zookeeper` package) started with
// `java ... ZooKeeperServerMain` (one node) or `QuorumPeerMain` (an ensemble),
// with its configuration, data and log under `<data_dir>/node-<i>/`.
//
// Child processes never outlive the process that started them: each runs in
// its own process group and gets SIGKILL when its parent dies, however it dies
// (kill -9 included), because it is started under the fork rule of
// testing/child_process.h.
//
// Example:
//   ZooKeeperClusterOptions options;
//   options.nodes = 3;
//   absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> zookeeper =
//       ZooKeeperCluster::Start(options);
//   if (!zookeeper.ok()) return zookeeper.status();
//   Connect((*zookeeper)->ConnectString());  // "127.0.0.1:p0,127.0.0.1:p1,..."
//   (*zookeeper)->KillNode(*(*zookeeper)->LeaderIndex());

#ifndef SLACKER_TESTING_ZOOKEEPER_CLUSTER_H_
#define SLACKER_TESTING_ZOOKEEPER_CLUSTER_H_

#include <sys/types.h>
#include <zookeeper/zookeeper.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slacker::testing {

struct ZooKeeperClusterOptions {
  // 1 runs a standalone server; an odd number of 3 or more runs an ensemble
  // with a quorum of nodes / 2 + 1.
  int nodes = 1;

  // Client port of node 0; node i listens on 127.0.0.1:first_client_port + i.
  // 0 picks free ports (and picks again if one is taken before the server
  // binds it). Quorum and election ports of an ensemble are always free ports.
  int first_client_port = 0;

  // Folder for each node's zoo.cfg, data and log (node-<i>/), created if
  // missing and kept. Empty: a fresh folder under $TEST_TMPDIR, else $TMPDIR,
  // else /tmp, removed with the cluster.
  std::string data_dir;

  // ZooKeeper's tick. Session timeouts are negotiated between 2 and 20 ticks:
  // 0.4 s to 4 s with the default, which keeps expiry tests fast.
  absl::Duration tick_time = absl::Milliseconds(200);

  // How long Start() and StartNode() wait for a node to serve requests.
  absl::Duration start_timeout = absl::Seconds(60);
};

// Thread-safe: every method may be called from any thread. Owns its child
// processes; the destructor kills those still running (SIGKILL) and removes
// the data folder if it created it.
class ZooKeeperCluster {
 public:
  // Writes each node's configuration, starts every node and returns once each
  // answers `ruok` with `imok` and serves requests (`srvr` reports a mode). On
  // failure nothing is left running, and the status carries the tail of the
  // failing node's log. FailedPrecondition when java or ZooKeeper's jars are
  // missing (tools/setup.sh installs them) or a requested port is taken.
  static absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> Start(
      const ZooKeeperClusterOptions& options);

  ~ZooKeeperCluster();
  ZooKeeperCluster(const ZooKeeperCluster&) = delete;
  ZooKeeperCluster& operator=(const ZooKeeperCluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }

  // "127.0.0.1:p0,127.0.0.1:p1,...", for zookeeper_init and zk:// targets.
  std::string ConnectString() const;
  // "127.0.0.1:p<node>".
  std::string NodeAddress(int node) const;
  int ClientPort(int node) const;
  const std::string& data_dir() const { return data_dir_; }
  // The node's log file (its stdout and stderr, warnings and errors only).
  std::string LogPath(int node) const;
  // The last lines of that log, "(empty)" if there are none.
  std::string LogTail(int node) const;

  // Whether the node's process is alive (reaps it if it has exited).
  bool IsRunning(int node);
  // The node's process id (also its process group id); 0 when not running.
  pid_t Pid(int node);

  // Stops the node cleanly (SIGTERM; SIGKILL if it is still alive after 10 s)
  // and waits until it has exited. OK if it was not running.
  absl::Status StopNode(int node);
  // Kills the node's process group with SIGKILL, as a crash would, and waits
  // until it has exited. OK if it was not running.
  absl::Status KillNode(int node);
  // Starts a stopped or killed node again, with the same ports and data, and
  // waits until it serves requests. For an ensemble, that needs a quorum.
  // FailedPrecondition if it is running.
  absl::Status StartNode(int node);
  // StopNode, then StartNode.
  absl::Status RestartNode(int node);
  // Moves the node to a new free client port, as when a ZooKeeper server is
  // replaced by one elsewhere: stops it cleanly, rewrites the configuration
  // (its own and the others' files; running nodes are not restarted), and
  // starts it on the new port with its data, waiting until it serves.
  // Clients that knew only the old address cannot reach it there: they need
  // the new ensemble (UpdateEnsemble, an ensemble provider).
  absl::Status MoveNode(int node);

  // Index of the node whose `srvr` reports "Mode: leader" (or "standalone").
  // NotFound when no running node leads, e.g. while a quorum is lost.
  absl::StatusOr<int> LeaderIndex();

  // Sends a four-letter command ("ruok", "srvr", "stat", "cons", ...) to the
  // node and returns its whole answer. Unavailable if it cannot connect.
  absl::StatusOr<std::string> FourLetterWord(int node,
                                             absl::string_view word) const;

  // Ends the client session `session` on the server side, as a session timeout
  // would: its ephemeral nodes are deleted and its handle, at its next contact,
  // sees ZOO_EXPIRED_SESSION_STATE. Returns once a fresh attempt to resume the
  // session is refused as expired. NotFound if the session had already ended.
  absl::Status ExpireSession(const clientid_t& session) const;
  // The same, from a session's id and password (up to 16 bytes), as
  // slacker::discovery::ZooKeeperClient::session_credentials() gives them.
  absl::Status ExpireSession(int64_t session_id,
                             absl::string_view password) const;

 private:
  struct Node {
    int client_port ABSL_GUARDED_BY(ZooKeeperCluster::mu_) = 0;
    int quorum_port = 0;
    int election_port = 0;
    std::string dir;
    pid_t pid ABSL_GUARDED_BY(ZooKeeperCluster::mu_) = 0;
  };

  ZooKeeperCluster(const ZooKeeperClusterOptions& options, std::string data_dir,
                   std::vector<Node> nodes);

  absl::Status WriteConfig(int node) const;
  absl::Status Launch(int node) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status WaitUntilServing(int node) ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Signal(int node, int signal, absl::Duration grace)
      ABSL_LOCKS_EXCLUDED(mu_);
  bool ReapLocked(int node) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ZooKeeperClusterOptions options_;
  const std::string data_dir_;
  bool owns_data_dir_ = false;  // Set once by Start(), before it returns.
  // std::mutex, not absl::Mutex: Debian's libabsl is not built for
  // ThreadSanitizer, which would not see its locking (see README.md).
  mutable std::mutex mu_;
  std::vector<Node> nodes_;  // The vector itself never changes size.
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_ZOOKEEPER_CLUSTER_H_
