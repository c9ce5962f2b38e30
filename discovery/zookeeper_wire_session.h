// ZooKeeperWireSession: a ZooKeeper session of the project's own, speaking
// ZooKeeper's wire protocol (3.6+) directly, for what persistent recursive
// watches need: connect, digest auth, ping, getChildren2, getData, exists,
// multiRead (batches of getData), addWatch and close, with watch events,
// reconnection across the connect string's hosts keeping the session, and a
// new session after expiry.
//
// Why it exists: Debian's ZooKeeper C client (libzookeeper-mt 3.8) has no
// addWatch API (no zoo_add_watch), and a persistent recursive watch must be
// set, and its reads made, on the same session for ZooKeeper's per-session
// ordering to hold (an event is seen before any read that reflects it). The
// rest of the project keeps using ZooKeeperClient (the C client); only
// RecursiveTreeCache uses this class.
//
//   ZooKeeperWireSessionOptions options;
//   options.connect_string = "127.0.0.1:2181/app";
//   absl::StatusOr<std::unique_ptr<ZooKeeperWireSession>> session =
//       ZooKeeperWireSession::Start(options, on_state, on_event);
//   (*session)->GetData("/a", [](absl::StatusOr<NodeData> data) { ... });
//
// Threads. Each session owns one thread, which does all socket I/O and runs
// every callback: request callbacks, the state handler and the event handler,
// one at a time, in the order ZooKeeper sent what they report (responses are
// matched to requests by xid, in order; an out-of-order reply drops the
// connection). Callbacks must not block and must not call Close().
// Every public method may be called from any thread, including callbacks
// (except Close() and the destructor: not from callbacks; checked).
//
// Untrusted server. Every length read from the socket is bounded before
// anything is allocated: a frame is at most `max_frame_bytes`, a child list at
// most `max_children` names, each string within its frame. A frame past a
// bound, garbage, or a reply to no request drops the connection with one log
// line; the session then reconnects (to the next host) with a backoff. (One
// exception: a GetDataMany answer past max_frame_bytes fails that batch with
// ResourceExhausted and is read past without being kept, so that a tree of
// big nodes cannot make a batched re-sync reconnect forever.) A reply whose
// record is malformed fails its request (InvalidArgument). No server can make
// it allocate past the bounds, loop, or crash.
//
// Errors given to request callbacks: NotFound (no such node), PermissionDenied
// (the ACL refuses this session's identity: check `digest`), Unimplemented
// (the server does not know the operation: ZooKeeper older than 3.6 for
// addWatch), Unavailable (not connected, or the connection was lost before
// the answer: retry after the next kConnected/kReconnected/kNewSession),
// Cancelled (Close() was called), InvalidArgument (a malformed reply),
// Internal (any other ZooKeeper error code,
// named in the message).

#ifndef SLACKER_DISCOVERY_ZOOKEEPER_WIRE_SESSION_H_
#define SLACKER_DISCOVERY_ZOOKEEPER_WIRE_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

struct ZooKeeperWireSessionOptions {
  // "host:port[,host:port...][/chroot]". Required. Hosts are tried in order,
  // then round again; paths given to and reported by the session are
  // relative to the chroot.
  std::string connect_string;
  // Requested session timeout; the server clamps it to [2, 20] ticks. Pings
  // go every third of the negotiated timeout; a connection silent for two
  // thirds of it is dropped and another host tried.
  absl::Duration session_timeout = absl::Seconds(10);
  // "user:password" for ZooKeeper's digest scheme, sent on every connection;
  // empty for none.
  std::string digest;
  // Bounds on what the server may send (see the file comment).
  size_t max_frame_bytes = 4 << 20;
  size_t max_children = 200000;
  // If set: asked for the ensemble's hosts ("host:port,..." without a
  // chroot; "" for no opinion) before every connection attempt, on the
  // session's thread, so that the session follows an ensemble whose servers
  // move (see discovery/ensemble_provider.h; it must answer at once, from
  // memory). A different, well-formed answer replaces the host list (the
  // connect string's chroot stays); a malformed one is ignored.
  std::function<std::string()> ensemble_provider;
};

enum class WireSessionState {
  kConnected,     // The first session is up (reported once).
  kDisconnected,  // The connection is lost; the session may still be alive.
  kReconnected,   // Connected again within the same session. Watches set
                  // on the old connection are gone (set them again).
  kExpired,       // The session ended (ZooKeeper said so on reconnection).
  kNewSession,    // After kExpired: a new session is up.
};
absl::string_view WireSessionStateName(WireSessionState state);

// addWatch's mode (ZooDefs.AddWatchModes).
enum class AddWatchMode { kPersistent = 0, kPersistentRecursive = 1 };

// Thread-safe; see the file comment for threads. The destructor Close()s.
class ZooKeeperWireSession {
 public:
  using StateHandler = std::function<void(WireSessionState state)>;
  // A watch event: what happened and to which node (relative to the chroot).
  using EventHandler =
      std::function<void(WatchEventType type, const std::string& path)>;

  // Starts the session's thread, which connects in the background (see
  // WaitUntilConnected). InvalidArgument for a malformed connect string or
  // digest. Handlers may be empty.
  static absl::StatusOr<std::unique_ptr<ZooKeeperWireSession>> Start(
      ZooKeeperWireSessionOptions options, StateHandler on_state,
      EventHandler on_event);

  ~ZooKeeperWireSession();
  ZooKeeperWireSession(const ZooKeeperWireSession&) = delete;
  ZooKeeperWireSession& operator=(const ZooKeeperWireSession&) = delete;

  // Each sends one request (`watch`: a one-shot watch as in ZooKeeper's API)
  // and calls `done` on the session thread with the answer.
  void GetData(const std::string& path, bool watch,
               std::function<void(absl::StatusOr<NodeData>)> done);
  void GetChildren(const std::string& path, bool watch,
                   std::function<void(absl::StatusOr<NodeChildren>)> done);
  // Reads up to kMaxBatchReads nodes in one request (ZooKeeper 3.6+'s
  // multiRead), no watches: `done` gets one answer per path, in order, each
  // as GetData's would be (NotFound, PermissionDenied, ...), all read at one
  // point of the session's order. The batch as a whole fails as GetData does
  // (Unavailable, Cancelled), with Unimplemented from a server older than
  // 3.6, with InvalidArgument for no paths or too many, and with
  // ResourceExhausted when the answer is bigger than max_frame_bytes: then
  // the answer is dropped as it arrives and the connection kept (read fewer
  // at a time).
  static constexpr size_t kMaxBatchReads = 1000;
  void GetDataMany(
      std::vector<std::string> paths,
      std::function<void(absl::StatusOr<std::vector<absl::StatusOr<NodeData>>>)>
          done);
  // nullopt: no such node (a watch, if asked, then waits for its creation).
  void Exists(
      const std::string& path, bool watch,
      std::function<void(absl::StatusOr<std::optional<NodeStat>>)> done);
  // Sets a persistent watch on `path` (which need not exist) for this
  // connection: after a kReconnected or kNewSession it must be set again.
  void AddWatch(const std::string& path, AddWatchMode mode,
                std::function<void(absl::Status)> done);

  // Whether a session is up and connected now.
  bool connected() const;
  // Waits until connected; false if `timeout` passed first.
  bool WaitUntilConnected(absl::Duration timeout) const;
  // The current session's id and password (0 and "" before the first).
  int64_t session_id() const;
  std::string session_password() const;
  // "host:port" of the server connected to, "" if none.
  std::string server() const;

  // Counters since Start, for cost measurements.
  struct Counters {
    int64_t requests = 0;  // Requests sent, pings and auth included.
    int64_t bytes_sent = 0;
    int64_t bytes_received = 0;
    int64_t events = 0;  // Watch events received.
  };
  Counters counters() const;

  // Ends the session (closeSession, answered or not within 1 s), fails every
  // request still waiting with Cancelled and joins the thread; no callback
  // runs after it returns. Idempotent.
  // REQUIRES: not called from a callback of this session (checked).
  void Close();

 private:
  class Impl;
  explicit ZooKeeperWireSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_ZOOKEEPER_WIRE_SESSION_H_
