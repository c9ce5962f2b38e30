// The project's ZooKeeper client: what Apache Curator's CuratorFramework is to
// Java. The only code that talks to the ZooKeeper C client; everything above it
// (recipes in this folder, the cluster server and channel) uses this class.
//
// What it adds to the C client:
//   - errors as absl::Status naming the path and ZooKeeper's own error;
//   - connection states with listeners (connected, suspended, reconnected,
//     expired, new session, closed);
//   - session expiry handled here: a new session is made at once, and every
//     subscriber (the recipes) restores what it had;
//   - a session ZooKeeper will not let back in is given up: when it drops
//     three reconnections in a row within 2 s of each handshake (what it
//     does when the C client's one-frame re-registration of every watch
//     is larger than its jute.maxbuffer, 1 MB by default: the C client
//     alone would retry forever), the client logs one error saying so,
//     reports kExpired, and makes a fresh session (kNewSession), on which
//     the recipes re-read everything;
//   - a changing ensemble: the host list can be replaced at run time, from the
//     user or from ZooKeeper's own /zookeeper/config;
//   - its own threads, so that nothing user-supplied runs on the C client's.
//
// Threads. Two threads belong to each client:
//   - the *event thread* runs, one at a time and in order: the `done`
//     callbacks of asynchronous operations, watch callbacks, and subscribers
//     (Subscribe). These are the building blocks of recipes; they must not
//     block (no synchronous operation there: it returns FailedPrecondition).
//   - the *listener thread* runs user-facing callbacks: connection listeners
//     (AddConnectionListener) and whatever a recipe hands to
//     RunOnListenerThread. A listener that blocks delays other listeners, never
//     the event thread: watches are re-armed and sessions restored regardless.
//
// Thread-safety: every public method may be called from any thread, except as
// noted. Lifetime: the client must outlive every recipe built on it; Close()
// (or the destructor) must not be called from the client's own threads (a
// broken rule that ends the process with a message saying so).

#ifndef SLACKER_DISCOVERY_ZOOKEEPER_CLIENT_H_
#define SLACKER_DISCOVERY_ZOOKEEPER_CLIENT_H_

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

namespace slacker::discovery {

// Which ACL the nodes this client creates get.
enum class AclPolicy {
  kOpen,                 // world:anyone, all permissions (the default).
  kCreatorAll,           // only the creator's digest identity; needs `digest`.
  kCreatorAllWorldRead,  // creator may do anything, anyone may read.
};

// ZooKeeper's permission bits of an ACL entry.
inline constexpr int32_t kPermRead = 1;
inline constexpr int32_t kPermWrite = 2;
inline constexpr int32_t kPermCreate = 4;  // Create children.
inline constexpr int32_t kPermDelete = 8;  // Delete children.
inline constexpr int32_t kPermAdmin = 16;  // Change the ACL.
inline constexpr int32_t kPermAll = 31;

// One entry of a node's ACL, as ZooKeeper stores it.
struct AclEntry {
  int32_t permissions = 0;  // kPerm... bits.
  std::string scheme;       // "world", "digest", "auth", "ip", ...
  std::string id;           // "anyone", "user:BASE64(SHA1(user:password))"...
  bool operator==(const AclEntry& other) const {
    return permissions == other.permissions && scheme == other.scheme &&
           id == other.id;
  }
};

// "world:anyone:r, digest:alice:X...=:cdrwa", as zkCli.sh's getAcl spells the
// permissions; "(none)" for an empty list.
std::string AclToString(const std::vector<AclEntry>& acl);

struct ZooKeeperOptions {
  // "host:port[,host:port...][/chroot]". Required.
  std::string connect_string;

  // Requested session timeout; the server clamps it to [2, 20] ticks.
  absl::Duration session_timeout = absl::Seconds(10);

  // How long Connect() waits for the first session, and how long a
  // synchronous operation waits for its answer.
  absl::Duration connect_timeout = absl::Seconds(15);
  absl::Duration operation_timeout = absl::Seconds(15);

  // "user:password" for ZooKeeper's digest scheme; empty for none. Added to
  // every session this client makes.
  std::string digest;
  AclPolicy acl = AclPolicy::kOpen;

  // With an `acl` other than kOpen: a second identity given every permission
  // on each node this client creates, besides the creator (e.g. an
  // operator's, who may then repair or delete them). A digest ACL id,
  // "user:BASE64", BASE64 being base64(sha1("user:password")) as ZooKeeper's
  // DigestAuthenticationProvider makes it:
  //   echo -n user:password | openssl dgst -binary -sha1 | openssl base64
  // so that the client never holds the admin's password. Empty: none.
  std::string admin_id;

  // With an `acl` other than kOpen: each of these paths and each of their
  // ancestors are shared with clients of other identities (and with open
  // clients), so when this client creates one of them (as a missing parent,
  // or itself) it gets the shared ACL, world:anyone read, create and delete
  // children (no write, no ACL change), instead of `acl`: others can still
  // create their own nodes below, and no one can take the path for an
  // identity of its own. Below them, nodes get `acl`. Empty (the default):
  // none shared.
  std::vector<std::string> shared_paths;

  // Follow the ensemble's own membership: read /zookeeper/config (published by
  // ZooKeeper 3.5+ when servers are configured with client addresses,
  // `server.N=host:quorum:election;client_host:client_port`) and keep the host
  // list equal to it. The chroot of `connect_string`, if any, is kept.
  bool follow_ensemble_config = false;

  // Where the host list comes from (Curator's EnsembleProvider; see
  // discovery/ensemble_provider.h for the fixed and Exhibitor-style ones).
  // Asked for the host list ("host:port,...", no chroot): once by Connect,
  // for the first session (a non-empty answer is used instead of the hosts
  // of `connect_string`, whose chroot stays; a malformed one is logged and
  // the hosts of `connect_string` are used), then each time the client loses
  // its connection, each time it makes a new session, and every
  // `ensemble_check_interval`; a different answer replaces the host list (as
  // UpdateEnsemble does). An empty answer keeps the current list. May be
  // empty (the default: the hosts of `connect_string`, fixed). Runs on the
  // event thread (and once on Connect's caller's): it must return quickly,
  // from memory; a provider that does I/O does it on a thread of its own.
  std::function<std::string()> ensemble_provider;
  // How often the provider is asked while the connection is fine, so that a
  // changed ensemble is picked up before the current server goes away.
  absl::Duration ensemble_check_interval = absl::Seconds(1);
};

enum class ConnectionState {
  kConnected,    // The first session is up (reported once).
  kSuspended,    // Connection lost; the session may still be alive.
  kReconnected,  // Connected again within the same session.
  kExpired,      // The session ended: its ephemerals and watches are gone
                 // (or it was given up, see above: its ephemerals go when
                 // ZooKeeper expires it, and recipes take them over).
  kNewSession,   // After kExpired: a new session is up; recipes restored.
  kClosed,       // Close() was called (the last event).
};
absl::string_view ConnectionStateName(ConnectionState state);

enum class CreateMode {
  kPersistent,
  kEphemeral,
  kPersistentSequential,
  kEphemeralSequential,
  kContainer,
};

// ZooKeeper's Stat of a node.
struct NodeStat {
  int64_t czxid = 0;
  int64_t mzxid = 0;
  int64_t ctime_ms = 0;
  int64_t mtime_ms = 0;
  int32_t version = 0;
  int32_t cversion = 0;
  int32_t aversion = 0;
  int64_t ephemeral_owner = 0;  // Session id of the owner; 0 if persistent.
  int32_t data_length = 0;
  int32_t num_children = 0;
  int64_t pzxid = 0;
};

struct NodeData {
  std::string data;
  NodeStat stat;
};

struct NodeChildren {
  std::vector<std::string> names;  // Child names, not paths; unordered.
  NodeStat stat;
};

enum class WatchEventType {
  kCreated,
  kDeleted,
  kDataChanged,
  kChildrenChanged,
};
absl::string_view WatchEventTypeName(WatchEventType type);

// A one-shot watch, called on the event thread at most once: when the watched
// node changes. Not called for watches of a session that expired or of a
// closed client (subscribe to kNewSession and re-read instead). While the
// session survives a disconnection, ZooKeeper keeps the watch.
using WatchCallback =
    std::function<void(WatchEventType type, const std::string& path)>;

// One operation of a Multi: all succeed or none does.
struct Op {
  enum class Type { kCreate, kDelete, kSet, kCheck };
  Type type = Type::kCheck;
  std::string path;
  std::string data;                           // kCreate, kSet.
  CreateMode mode = CreateMode::kPersistent;  // kCreate.
  int32_t version = -1;                       // kDelete, kSet, kCheck; -1: any.

  static Op Create(std::string path, std::string data,
                   CreateMode mode = CreateMode::kPersistent);
  static Op Delete(std::string path, int32_t version = -1);
  static Op Set(std::string path, std::string data, int32_t version = -1);
  static Op Check(std::string path, int32_t version);
};

struct OpResult {
  std::string created_path;  // kCreate: the path made (with its sequence).
  NodeStat stat;             // kSet: the node's new stat.
};

// Errors. Every operation's status names the path and ZooKeeper's error name,
// e.g. `get /a/b: ZNONODE (node does not exist)`. The codes:
//   NotFound            ZNONODE
//   AlreadyExists       ZNODEEXISTS
//   FailedPrecondition  ZBADVERSION, ZNOTEMPTY, ZNOCHILDRENFOREPHEMERALS;
//                       a synchronous call made on the event thread
//   PermissionDenied    ZNOAUTH, ZAUTHFAILED
//   InvalidArgument     an invalid path, data over kMaxDataBytes, ZBADARGUMENTS
//   Unavailable         ZCONNECTIONLOSS, ZSESSIONEXPIRED, ZOPERATIONTIMEOUT:
//                       worth retrying once reconnected
//   DeadlineExceeded    no answer within operation_timeout
//   Cancelled           the client is closing or closed
//   Internal            anything else
class ZooKeeperClient {
 public:
  // ZooKeeper refuses a request over jute.maxbuffer (1 MiB by default); the
  // client refuses data above this before sending it.
  static constexpr size_t kMaxDataBytes = 1024 * 1024 - 1024;

  // Opens a session and waits for it up to options.connect_timeout.
  // InvalidArgument for a malformed connect string or digest; Unavailable,
  // naming the hosts, if no server answered in time.
  static absl::StatusOr<std::unique_ptr<ZooKeeperClient>> Connect(
      ZooKeeperOptions options);

  // Close()s. REQUIRES: as Close().
  ~ZooKeeperClient();
  ZooKeeperClient(const ZooKeeperClient&) = delete;
  ZooKeeperClient& operator=(const ZooKeeperClient&) = delete;

  // Ends the session at once (its ephemeral nodes go now, not after the
  // session timeout), fails pending operations with Cancelled, delivers
  // kClosed, and returns once no callback of this client runs or will run.
  // Idempotent. REQUIRES: not called on the event or listener thread, unless
  // the client is already closed. Checked: the process ends with a message
  // saying so (it would otherwise wait for its own thread to end).
  void Close();

  // --- Synchronous operations. Block until ZooKeeper answers or
  // operation_timeout passes. REQUIRES: not on the event thread.

  // Returns the created path (differs from `path` for sequential modes). With
  // `create_parents`, missing parents are created as persistent nodes.
  absl::StatusOr<std::string> Create(const std::string& path,
                                     absl::string_view data = {},
                                     CreateMode mode = CreateMode::kPersistent,
                                     bool create_parents = false);
  absl::StatusOr<NodeData> Get(const std::string& path,
                               WatchCallback watch = nullptr);
  absl::StatusOr<NodeStat> Set(const std::string& path, absl::string_view data,
                               int32_t version = -1);
  absl::Status Delete(const std::string& path, int32_t version = -1);
  // nullopt when the node does not exist; the watch then fires on creation.
  absl::StatusOr<std::optional<NodeStat>> Exists(const std::string& path,
                                                 WatchCallback watch = nullptr);
  absl::StatusOr<NodeChildren> GetChildren(const std::string& path,
                                           WatchCallback watch = nullptr);
  absl::StatusOr<std::vector<OpResult>> Multi(const std::vector<Op>& ops);
  // The node's ACL and its Stat (aversion: the ACL's version).
  absl::StatusOr<std::pair<std::vector<AclEntry>, NodeStat>> GetAcl(
      const std::string& path);
  // Replaces the node's ACL, if its ACL version is `aversion` (-1: any).
  // PermissionDenied (ZNOAUTH) unless one of this client's identities has
  // kPermAdmin on the node; InvalidArgument for an empty or malformed ACL.
  absl::Status SetAcl(const std::string& path, const std::vector<AclEntry>& acl,
                      int32_t aversion = -1);

  // The ACL this client gives a node it creates at `path` (see
  // ZooKeeperOptions::acl, admin_id and shared_paths). Its creator entry is
  // scheme "auth", id "": ZooKeeper stores it as this session's digest
  // identity.
  std::vector<AclEntry> AclFor(const std::string& path) const;

  // --- Asynchronous operations. `done` runs exactly once, on the event
  // thread, with the same results and errors as the synchronous forms. After
  // Close(), there is no event thread: `done` runs at once on the caller's
  // thread, with Cancelled.
  void CreateAsync(const std::string& path, std::string data, CreateMode mode,
                   bool create_parents,
                   std::function<void(absl::StatusOr<std::string>)> done);
  void GetAsync(const std::string& path, WatchCallback watch,
                std::function<void(absl::StatusOr<NodeData>)> done);
  void SetAsync(const std::string& path, std::string data, int32_t version,
                std::function<void(absl::StatusOr<NodeStat>)> done);
  void DeleteAsync(const std::string& path, int32_t version,
                   std::function<void(absl::Status)> done);
  void ExistsAsync(
      const std::string& path, WatchCallback watch,
      std::function<void(absl::StatusOr<std::optional<NodeStat>>)> done);
  void GetChildrenAsync(const std::string& path, WatchCallback watch,
                        std::function<void(absl::StatusOr<NodeChildren>)> done);
  void MultiAsync(
      std::vector<Op> ops,
      std::function<void(absl::StatusOr<std::vector<OpResult>>)> done);

  // --- Connection state.

  ConnectionState state() const;
  // The current session's id; 0 while none is established.
  int64_t session_id() const;
  // The current session's id and password, for tests that expire it
  // (slacker::testing::ZooKeeperCluster::ExpireSession takes a clientid_t).
  std::pair<int64_t, std::string> session_credentials() const;
  // The session timeout the server granted.
  absl::Duration negotiated_session_timeout() const;
  // The host list in use ("host:port,...", no chroot).
  std::string hosts() const;

  // User-facing: `listener` runs on the listener thread for every state change
  // from now on, in order (it may also hear the change that was being
  // delivered when it was added). Returns an id for RemoveConnectionListener.
  int AddConnectionListener(std::function<void(ConnectionState)> listener);
  // After this returns, the listener is not called again (unless called from
  // the listener itself, which then finishes its current run).
  void RemoveConnectionListener(int id);

  // For recipes: `subscriber` runs on the event thread for every state change,
  // before connection listeners hear of it. On kNewSession, a subscriber
  // restores what its recipe had (ephemeral nodes, watches).
  int Subscribe(std::function<void(ConnectionState)> subscriber);
  void Unsubscribe(int id);

  // Runs `task` on the event / listener thread. Dropped once the client is
  // closed.
  void RunOnEventThread(std::function<void()> task);
  void RunOnEventThreadAfter(absl::Duration delay, std::function<void()> task);
  void RunOnListenerThread(std::function<void()> task);
  bool IsEventThread() const;
  bool IsListenerThread() const;

  // Replaces the host list ("host:port,...", no chroot) without a restart:
  // the session moves to the new hosts if its server is not among them.
  // InvalidArgument if `hosts` is malformed; the old list then stays.
  absl::Status UpdateEnsemble(const std::string& hosts);

  // The ACL policy and chroot the client was made with.
  const ZooKeeperOptions& options() const;

  class Impl;  // Implementation detail, in the .cc file; not part of the API.

 private:
  explicit ZooKeeperClient(std::unique_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_ZOOKEEPER_CLIENT_H_
