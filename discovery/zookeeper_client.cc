#include "discovery/zookeeper_client.h"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/backoff.h"
#include "common/check.h"
#include "common/logging.h"
#include "common/serial_executor.h"
#include "discovery/connect_string.h"
#include "discovery/internal/client_log.h"
#include "discovery/internal/zookeeper_client_testing.h"
#include "discovery/internal/zookeeper_errors.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

using slacker::internal::Log;
using slacker::internal::SerialExecutor;

// See SetSessionEventBeforeHandleForTesting.
std::atomic<bool> session_event_before_handle{false};

NodeStat ToNodeStat(const Stat* stat) {
  NodeStat out;
  if (stat == nullptr) return out;
  out.czxid = stat->czxid;
  out.mzxid = stat->mzxid;
  out.ctime_ms = stat->ctime;
  out.mtime_ms = stat->mtime;
  out.version = stat->version;
  out.cversion = stat->cversion;
  out.aversion = stat->aversion;
  out.ephemeral_owner = stat->ephemeralOwner;
  out.data_length = stat->dataLength;
  out.num_children = stat->numChildren;
  out.pzxid = stat->pzxid;
  return out;
}

int CreateFlags(CreateMode mode) {
  switch (mode) {
    case CreateMode::kPersistent:
      return ZOO_PERSISTENT;
    case CreateMode::kEphemeral:
      return ZOO_EPHEMERAL;
    case CreateMode::kPersistentSequential:
      return ZOO_PERSISTENT_SEQUENTIAL;
    case CreateMode::kEphemeralSequential:
      return ZOO_EPHEMERAL_SEQUENTIAL;
    case CreateMode::kContainer:
      return ZOO_CONTAINER;
  }
  return ZOO_PERSISTENT;
}

// Whether `path` is one of `shared_paths` or an ancestor of one.
bool IsSharedPath(const std::vector<std::string>& shared_paths,
                  const std::string& path) {
  for (const std::string& shared : shared_paths) {
    if (path == shared || path == "/" ||
        absl::StartsWith(shared, absl::StrCat(path, "/"))) {
      return true;
    }
  }
  return false;
}

// The ACL of a node this client creates; `shared`: at or above a shared path.
std::vector<AclEntry> AclEntriesFor(const ZooKeeperOptions& options,
                                    bool shared) {
  if (options.acl == AclPolicy::kOpen) {
    return {AclEntry{kPermAll, "world", "anyone"}};
  }
  if (shared) {
    return {AclEntry{kPermRead | kPermCreate | kPermDelete, "world", "anyone"}};
  }
  std::vector<AclEntry> acl = {AclEntry{kPermAll, "auth", ""}};
  if (!options.admin_id.empty()) {
    acl.push_back(AclEntry{kPermAll, "digest", options.admin_id});
  }
  if (options.acl == AclPolicy::kCreatorAllWorldRead) {
    acl.push_back(AclEntry{kPermRead, "world", "anyone"});
  }
  return acl;
}

// An ACL in the C client's form, pointing into its own copy of the strings.
// Not copyable: the pointers are into this object.
class CAcl {
 public:
  explicit CAcl(std::vector<AclEntry> entries) : entries_(std::move(entries)) {
    c_entries_.reserve(entries_.size());
    for (AclEntry& entry : entries_) {
      c_entries_.push_back(
          ACL{entry.permissions, {entry.scheme.data(), entry.id.data()}});
    }
    vector_.count = static_cast<int32_t>(c_entries_.size());
    vector_.data = c_entries_.data();
  }
  CAcl(const CAcl&) = delete;
  CAcl& operator=(const CAcl&) = delete;

  ACL_vector* get() { return &vector_; }

 private:
  std::vector<AclEntry> entries_;
  std::vector<ACL> c_entries_;
  ACL_vector vector_{};
};

std::vector<AclEntry> FromCAcl(const ACL_vector* acl) {
  std::vector<AclEntry> entries;
  for (int i = 0; acl != nullptr && i < acl->count; ++i) {
    const ACL& entry = acl->data[i];
    entries.push_back(
        AclEntry{entry.perms, entry.id.scheme != nullptr ? entry.id.scheme : "",
                 entry.id.id != nullptr ? entry.id.id : ""});
  }
  return entries;
}

ZooLogLevel ClientLogLevel() {
  switch (GetLogLevel()) {
    case LogLevel::kDebug:
      return ZOO_LOG_LEVEL_DEBUG;
    case LogLevel::kInfo:
      return ZOO_LOG_LEVEL_WARN;
    default:
      return ZOO_LOG_LEVEL_ERROR;
  }
}

absl::Status CheckData(absl::string_view path, size_t size) {
  if (size <= ZooKeeperClient::kMaxDataBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "data for ", path, " is ", size, " bytes; ZooKeeper accepts at most ",
      ZooKeeperClient::kMaxDataBytes,
      " per node (its jute.maxbuffer is 1 MiB): store less, or a reference"));
}

// Whether the host lists "h:p,h:p" name the same hosts, as many times each,
// whatever their ports.
bool SameHostsIgnoringPorts(absl::string_view a, absl::string_view b) {
  auto hosts = [](absl::string_view list) {
    std::vector<std::string> names;
    for (absl::string_view entry : absl::StrSplit(list, ',')) {
      names.emplace_back(entry.substr(0, entry.rfind(':')));
    }
    std::sort(names.begin(), names.end());
    return names;
  };
  return hosts(a) == hosts(b);
}

// "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181" lines -> the
// client addresses, sorted and joined; "" if there are none.
std::string HostsFromEnsembleConfig(absl::string_view config) {
  std::vector<std::string> hosts;
  for (absl::string_view line : absl::StrSplit(config, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!absl::StartsWith(line, "server.")) continue;
    const size_t semicolon = line.find(';');
    if (semicolon == absl::string_view::npos) continue;
    std::string client(absl::StripAsciiWhitespace(line.substr(semicolon + 1)));
    const size_t colon = client.rfind(':');
    if (colon == std::string::npos) continue;
    std::string host = client.substr(0, colon);
    if (host.empty() || host == "0.0.0.0") {
      // A wildcard client address: the server's own (quorum) host.
      absl::string_view server = line.substr(line.find('=') + 1);
      host = std::string(server.substr(0, server.find(':')));
    }
    hosts.push_back(absl::StrCat(host, client.substr(colon)));
  }
  std::sort(hosts.begin(), hosts.end());
  return absl::StrJoin(hosts, ",");
}

}  // namespace

absl::string_view ConnectionStateName(ConnectionState state) {
  switch (state) {
    case ConnectionState::kConnected:
      return "CONNECTED";
    case ConnectionState::kSuspended:
      return "SUSPENDED";
    case ConnectionState::kReconnected:
      return "RECONNECTED";
    case ConnectionState::kExpired:
      return "EXPIRED";
    case ConnectionState::kNewSession:
      return "NEW_SESSION";
    case ConnectionState::kClosed:
      return "CLOSED";
  }
  return "?";
}

absl::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kCreated:
      return "CREATED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kDataChanged:
      return "DATA_CHANGED";
    case WatchEventType::kChildrenChanged:
      return "CHILDREN_CHANGED";
  }
  return "?";
}

Op Op::Create(std::string path, std::string data, CreateMode mode) {
  Op op;
  op.type = Type::kCreate;
  op.path = std::move(path);
  op.data = std::move(data);
  op.mode = mode;
  return op;
}

Op Op::Delete(std::string path, int32_t version) {
  Op op;
  op.type = Type::kDelete;
  op.path = std::move(path);
  op.version = version;
  return op;
}

Op Op::Set(std::string path, std::string data, int32_t version) {
  Op op;
  op.type = Type::kSet;
  op.path = std::move(path);
  op.data = std::move(data);
  op.version = version;
  return op;
}

Op Op::Check(std::string path, int32_t version) {
  Op op;
  op.type = Type::kCheck;
  op.path = std::move(path);
  op.version = version;
  return op;
}

// ---------------------------------------------------------------------------

// The context of one C client call, from the moment it is issued until its
// completion takes it back.
struct PendingCall {
  virtual ~PendingCall() = default;
  // Completes the call with `rc` (an error) instead of the C client, and
  // frees it.
  virtual void Abort(int rc) = 0;
};

// A session whose reconnections ZooKeeper drops this many times in a row,
// each within kShortLivedReconnection of its handshake, is given up for a
// fresh one (Impl::AbandonRefusedSession). The C client retries about every
// 0.3 s, so this takes a second or two.
constexpr int kRefusedReconnections = 3;
constexpr absl::Duration kShortLivedReconnection = absl::Seconds(2);

class ZooKeeperClient::Impl {
 public:
  // What the C client's callbacks of one handle need: the handle's
  // generation, the watches registered through it (the C client gets only
  // their ids), and the calls issued through it that have not completed.
  // Owned by Impl; freed by CloseHandle.
  struct Handle {
    Impl* impl = nullptr;
    uint64_t generation = 0;
    zhandle_t* zh = nullptr;
    std::mutex mu;
    struct Watch {
      WatchCallback callback;
      // What it adds to the one frame in which the C client re-sends every
      // watch on reconnection (SetWatches): the path and its length.
      size_t frame_bytes = 0;
    };
    std::map<uint64_t, Watch> watches ABSL_GUARDED_BY(mu);
    size_t watch_frame_bytes ABSL_GUARDED_BY(mu) = 0;  // Sum over watches.
    uint64_t next_watch ABSL_GUARDED_BY(mu) = 1;
    std::set<PendingCall*> pending ABSL_GUARDED_BY(mu);
  };

  explicit Impl(ZooKeeperOptions options)
      : options_(std::move(options)),
        events_("zk-events"),
        listeners_("zk-listeners") {}

  absl::Status Start(const std::string& hosts, const std::string& chroot);
  // `caller` names the public entry point, for the message that ends the
  // process when it is called on the client's own threads.
  void Close(absl::string_view caller);

  // Issues an asynchronous call on the current handle. `issue` gets the
  // handle and returns the C client's return code; if that is not ZOK the
  // call was not queued, and `failed` runs on the event thread with it.
  // REQUIRES: the completion `issue` registers runs `failed` or its own
  // completion exactly once otherwise.
  void Issue(const std::function<int(Handle*)>& issue,
             std::function<void(int rc, uint64_t generation)> failed);

  // The status for a C client return code of an operation.
  absl::Status Error(int rc, absl::string_view operation,
                     absl::string_view path, uint64_t generation) const;

  // A watch id for `callback` on the current handle: the C client's watcher
  // context. 0 (no watch) when `callback` is empty.
  // `path` is the watched node's, for the size of the watch re-registration.
  void* RegisterWatch(Handle* handle, WatchCallback callback,
                      absl::string_view path);
  static void EraseWatchHoldingMu(
      Handle* handle, std::map<uint64_t, Handle::Watch>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(handle->mu) {
    handle->watch_frame_bytes -= it->second.frame_bytes;
    handle->watches.erase(it);
  }
  static void OnWatch(zhandle_t* zh, int type, int state, const char* path,
                      void* context);
  static void OnSessionEvent(zhandle_t* zh, int type, int state,
                             const char* path, void* context);

  // What a ZOO_CONNECTED_STATE event says about its session, read on the C
  // client's thread from the handle that delivered it.
  struct SessionFacts {
    int64_t id = 0;
    std::string password;
    absl::Duration negotiated_timeout;
  };
  void HandleSessionEvent(uint64_t generation, int state,
                          std::optional<SessionFacts> facts);
  void SetState(ConnectionState state);
  void ReplaceHandle();
  // Gives up a session whose reconnections ZooKeeper keeps dropping: says
  // so in one log line, reports kExpired, and makes a fresh session (which
  // has no watch to re-send; the recipes re-read everything on
  // kNewSession). Event thread.
  void AbandonRefusedSession();
  // zookeeper_close, then completes (with ZCLOSING) every call of `handle`
  // the C client dropped. Not on a C client thread.
  void CloseHandle(std::unique_ptr<Handle> handle);
  void FollowEnsembleConfig();
  void AskEnsembleProvider();
  // Asks the provider now and again every ensemble_check_interval, until the
  // client closes (its event thread then drops the next check). Event thread.
  void CheckEnsemblePeriodically();
  absl::Status SetHosts(const std::string& hosts);
  std::unique_ptr<Handle> NewHandle(const std::string& hosts, int* error);

  // Runs `task` on the event thread; once the client is closed (the event
  // thread is gone, and so are the C client's threads), on the caller's.
  // That is how an operation issued after Close() still completes, with
  // Cancelled.
  void PostEvent(std::function<void()> task) {
    auto shared = std::make_shared<std::function<void()>>(std::move(task));
    if (!events_.Post([shared] { (*shared)(); })) (*shared)();
  }

  const ZooKeeperOptions options_;
  // The ACLs nodes are created with (AclEntriesFor): below the shared paths,
  // at or above it.
  CAcl own_acl_{AclEntriesFor(options_, /*shared=*/false)};
  CAcl shared_acl_{AclEntriesFor(options_, /*shared=*/true)};
  ACL_vector* CAclFor(const std::string& path) {
    return IsSharedPath(options_.shared_paths, path) ? shared_acl_.get()
                                                     : own_acl_.get();
  }
  SerialExecutor events_;
  SerialExecutor listeners_;
  // Event thread only: after a failed attempt at a new session, about a
  // second, jittered, until the next.
  slacker::internal::Backoff new_handle_backoff_{[] {
    slacker::internal::BackoffOptions every_second;
    every_second.initial = every_second.max = absl::Seconds(1);
    every_second.multiplier = 1;
    return every_second;
  }()};

  // Held shared while a C client call uses the handle, exclusively while the
  // handle is replaced or closed. Never held by the C client's callbacks.
  mutable std::shared_mutex handle_mu_;
  std::unique_ptr<Handle> handle_ ABSL_GUARDED_BY(handle_mu_);

  mutable std::mutex mu_;
  std::condition_variable state_changed_;
  std::string hosts_ ABSL_GUARDED_BY(mu_);
  std::string chroot_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool have_state_ ABSL_GUARDED_BY(mu_) = false;
  ConnectionState state_ ABSL_GUARDED_BY(mu_) = ConnectionState::kSuspended;
  bool handle_connected_ ABSL_GUARDED_BY(mu_) = false;
  bool ever_connected_ ABSL_GUARDED_BY(mu_) = false;
  bool suspended_ ABSL_GUARDED_BY(mu_) = false;
  // When the current connection resumed the session after a loss; nullopt
  // for a session's first connection. And how many reconnections in a row
  // lasted less than kShortLivedReconnection.
  std::optional<absl::Time> reconnected_at_ ABSL_GUARDED_BY(mu_);
  int short_reconnections_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t session_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::string session_password_ ABSL_GUARDED_BY(mu_);
  absl::Duration negotiated_timeout_ ABSL_GUARDED_BY(mu_);
  int next_listener_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<int, std::shared_ptr<std::function<void(ConnectionState)>>>
      subscribers_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::shared_ptr<std::function<void(ConnectionState)>>>
      connection_listeners_ ABSL_GUARDED_BY(mu_);
};

std::unique_ptr<ZooKeeperClient::Impl::Handle> ZooKeeperClient::Impl::NewHandle(
    const std::string& hosts, int* error) {
  auto handle = std::make_unique<Handle>();
  handle->impl = this;
  std::string chroot;
  {
    std::lock_guard<std::mutex> lock(mu_);
    handle->generation = ++generation_;
    handle_connected_ = false;
    chroot = chroot_;
  }
  const std::string connect = hosts + chroot;
  errno = 0;
  handle->zh = zookeeper_init2(
      connect.c_str(), &Impl::OnSessionEvent,
      static_cast<int>(absl::ToInt64Milliseconds(options_.session_timeout)),
      nullptr, handle.get(), 0, &internal::RouteClientLogLine);
  if (handle->zh == nullptr) {
    *error = errno;
    return nullptr;
  }
  if (!options_.digest.empty()) {
    // Queued now, sent as soon as the session is up, and re-sent by the C
    // client on every reconnection.
    zoo_add_auth(handle->zh, "digest", options_.digest.data(),
                 static_cast<int>(options_.digest.size()), nullptr, nullptr);
  }
  return handle;
}

absl::Status ZooKeeperClient::Impl::Start(const std::string& hosts,
                                          const std::string& chroot) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosts_ = hosts;
    chroot_ = chroot;
  }
  zoo_set_debug_level(ClientLogLevel());
  // The C client's lines that belong to no handle go the same way as the
  // handles' (their log callback), instead of straight to stderr.
  static std::once_flag route_stream;
  std::call_once(route_stream, [] {
    if (FILE* stream = internal::ClientLogStream(); stream != nullptr) {
      zoo_set_log_stream(stream);
    }
  });
  int error = 0;
  std::unique_ptr<Handle> handle = NewHandle(hosts, &error);
  if (handle == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot use ZooKeeper connect string \"", options_.connect_string,
        "\": ", error != 0 ? std::strerror(error) : "refused by the client",
        " (is every host name resolvable?)"));
  }
  if (session_event_before_handle.load()) {
    std::unique_lock<std::mutex> lock(mu_);
    state_changed_.wait_for(lock,
                            absl::ToChronoNanoseconds(options_.connect_timeout),
                            [&] { return have_state_; });
  }
  {
    std::unique_lock<std::shared_mutex> lock(handle_mu_);
    handle_ = std::move(handle);
  }
  if (options_.ensemble_provider) {
    events_.PostAfter(options_.ensemble_check_interval,
                      [this] { CheckEnsemblePeriodically(); });
  }
  std::unique_lock<std::mutex> lock(mu_);
  const bool connected = state_changed_.wait_for(
      lock, absl::ToChronoNanoseconds(options_.connect_timeout),
      [&] { return have_state_; });
  if (connected) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("no ZooKeeper server answered at ", hosts_, " within ",
                   absl::FormatDuration(options_.connect_timeout),
                   "; check the address and that ZooKeeper is running"));
}

void ZooKeeperClient::Impl::Close(absl::string_view caller) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    // Closing joins both threads: on one of them it would wait for itself.
    const bool on_events = events_.IsCurrentThread();
    if (on_events || listeners_.IsCurrentThread()) {
      slacker::internal::FailWithMessage(absl::StrCat(
          caller, " on the client's own ", on_events ? "event" : "listener",
          " thread (in a watch, a `done` callback, a subscriber or a "
          "connection listener): it would wait for that thread to finish, "
          "i.e. for itself. Close or destroy the ZooKeeperClient from a "
          "thread of your own (see the REQUIRES: of ZooKeeperClient::Close "
          "in discovery/zookeeper_client.h)"));
    }
    closed_ = true;
  }
  // Closing sends closeSession (ephemerals go now) and completes every
  // pending operation (with ZCLOSING) before it returns.
  std::unique_ptr<Handle> handle;
  {
    std::unique_lock<std::shared_mutex> lock(handle_mu_);
    handle = std::move(handle_);
  }
  if (handle != nullptr) CloseHandle(std::move(handle));
  PostEvent([this] { SetState(ConnectionState::kClosed); });
  events_.Shutdown();  // Runs what is queued, kClosed included.
  listeners_.Shutdown();
}

absl::Status ZooKeeperClient::Impl::Error(int rc, absl::string_view operation,
                                          absl::string_view path,
                                          uint64_t generation) const {
  internal::ZooKeeperErrorContext context;
  context.digest = options_.digest;
  {
    std::lock_guard<std::mutex> lock(mu_);
    context.client_closed = closed_;
    context.session_replaced = generation != generation_;
  }
  return internal::ZooKeeperError(rc, operation, path, context);
}

void ZooKeeperClient::Impl::Issue(
    const std::function<int(Handle*)>& issue,
    std::function<void(int rc, uint64_t generation)> failed) {
  int rc = ZCLOSING;
  uint64_t generation = 0;
  {
    std::shared_lock<std::shared_mutex> lock(handle_mu_);
    if (handle_ != nullptr) {
      generation = handle_->generation;
      rc = issue(handle_.get());
    }
  }
  if (rc == ZOK) return;
  PostEvent(
      [failed = std::move(failed), rc, generation] { failed(rc, generation); });
}

void* ZooKeeperClient::Impl::RegisterWatch(Handle* handle,
                                           WatchCallback callback,
                                           absl::string_view path) {
  if (!callback) return nullptr;
  size_t chroot = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    chroot = chroot_.size();
  }
  std::lock_guard<std::mutex> lock(handle->mu);
  const uint64_t id = handle->next_watch++;
  // Jute writes a string as a 4-byte length and its bytes.
  const size_t bytes = 4 + chroot + path.size();
  handle->watches.emplace(id, Handle::Watch{std::move(callback), bytes});
  handle->watch_frame_bytes += bytes;
  return reinterpret_cast<void*>(static_cast<uintptr_t>(id));
}

void ZooKeeperClient::Impl::OnWatch(zhandle_t* zh, int type, int state,
                                    const char* path, void* context) {
  // Runs on the C client's completion thread. Session events reach every
  // watcher; only node events fire (and end) a watch.
  if (type == ZOO_SESSION_EVENT || type == ZOO_NOTWATCHING_EVENT) return;
  auto* handle = static_cast<Handle*>(const_cast<void*>(zoo_get_context(zh)));
  const uint64_t id = reinterpret_cast<uintptr_t>(context);
  WatchCallback callback;
  {
    std::lock_guard<std::mutex> lock(handle->mu);
    auto it = handle->watches.find(id);
    if (it == handle->watches.end()) return;
    callback = std::move(it->second.callback);
    EraseWatchHoldingMu(handle, it);
  }
  WatchEventType event;
  if (type == ZOO_CREATED_EVENT) {
    event = WatchEventType::kCreated;
  } else if (type == ZOO_DELETED_EVENT) {
    event = WatchEventType::kDeleted;
  } else if (type == ZOO_CHANGED_EVENT) {
    event = WatchEventType::kDataChanged;
  } else if (type == ZOO_CHILD_EVENT) {
    event = WatchEventType::kChildrenChanged;
  } else {
    return;
  }
  Impl* impl = handle->impl;
  const uint64_t generation = handle->generation;
  impl->PostEvent([impl, generation, event,
                   path = std::string(path ? path : ""),
                   callback = std::move(callback)] {
    {
      std::lock_guard<std::mutex> lock(impl->mu_);
      if (impl->generation_ != generation || impl->closed_) return;
    }
    callback(event, path);
  });
}

void ZooKeeperClient::Impl::OnSessionEvent(zhandle_t* zh, int type, int state,
                                           const char*, void* context) {
  if (type != ZOO_SESSION_EVENT) return;
  // Ends a run of repeated C-client lines (connection refused...) with its
  // count; see internal/client_log.h.
  if (state == ZOO_CONNECTED_STATE) {
    internal::ClientStateChanged("connected");
  } else if (state == ZOO_EXPIRED_SESSION_STATE) {
    internal::ClientStateChanged("the session expired");
  } else if (state == ZOO_AUTH_FAILED_STATE) {
    internal::ClientStateChanged("authentication failed");
  }
  auto* handle = static_cast<Handle*>(context);
  Impl* impl = handle->impl;
  const uint64_t generation = handle->generation;
  // The session's id, password and timeout are read here, from the handle
  // that reports the event (the C client sets them before it queues the
  // event), not later from handle_: Start and ReplaceHandle publish handle_
  // only once zookeeper_init2 has returned, and by then the C client's
  // threads may have delivered this event already. Reading handle_ recorded
  // the first session as 0 whenever they did.
  std::optional<SessionFacts> facts;
  if (state == ZOO_CONNECTED_STATE) {
    const clientid_t* id = zoo_client_id(zh);
    facts.emplace();
    facts->id = id->client_id;
    facts->password.assign(id->passwd, sizeof(id->passwd));
    facts->negotiated_timeout = absl::Milliseconds(zoo_recv_timeout(zh));
  }
  impl->PostEvent([impl, generation, state, facts = std::move(facts)] {
    impl->HandleSessionEvent(generation, state, facts);
  });
}

void ZooKeeperClient::Impl::HandleSessionEvent(
    uint64_t generation, int state, std::optional<SessionFacts> facts) {
  std::optional<ConnectionState> next;
  bool replace = false;
  bool ask_provider = false;
  bool refused = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation != generation_ || closed_) return;  // An old handle's.
    if (facts.has_value()) {
      // Before SetState: whoever hears of the session can ask for its id.
      session_id_ = facts->id;
      session_password_ = std::move(facts->password);
      negotiated_timeout_ = facts->negotiated_timeout;
    }
    if (state == ZOO_CONNECTED_STATE) {
      if (!handle_connected_) {
        handle_connected_ = true;
        next = ever_connected_ ? ConnectionState::kNewSession
                               : ConnectionState::kConnected;
        ever_connected_ = true;
        reconnected_at_.reset();
        short_reconnections_ = 0;
      } else if (suspended_) {
        next = ConnectionState::kReconnected;
        reconnected_at_ = absl::Now();
      }
      suspended_ = false;
    } else if (state == ZOO_CONNECTING_STATE ||
               state == ZOO_ASSOCIATING_STATE) {
      if (handle_connected_ && !suspended_) {
        suspended_ = true;
        next = ConnectionState::kSuspended;
        ask_provider = true;
        // A reconnection the server drops at once, again and again: on
        // each, the C client re-sends every watch of the session in one
        // frame, and ZooKeeper closes a connection whose frame is larger
        // than its jute.maxbuffer. The C client would retry forever,
        // renewing the session each time (it never expires), and the
        // watches would never be back.
        if (reconnected_at_.has_value() &&
            absl::Now() - *reconnected_at_ < kShortLivedReconnection) {
          ++short_reconnections_;
        } else {
          short_reconnections_ = 0;
        }
        reconnected_at_.reset();
        if (short_reconnections_ >= kRefusedReconnections) {
          short_reconnections_ = 0;
          refused = true;
        }
      }
    } else if (state == ZOO_EXPIRED_SESSION_STATE) {
      next = ConnectionState::kExpired;
      replace = true;
    } else if (state == ZOO_AUTH_FAILED_STATE) {
      Log(LogLevel::kError,
          "ZooKeeper refused this client's authentication; check "
          "ZooKeeperOptions::digest");
    }
  }
  if (next.has_value()) SetState(*next);
  if (ask_provider) AskEnsembleProvider();
  if (refused) AbandonRefusedSession();
  if (replace) ReplaceHandle();
  if ((next == ConnectionState::kConnected ||
       next == ConnectionState::kNewSession) &&
      options_.follow_ensemble_config) {
    FollowEnsembleConfig();
  }
}

void ZooKeeperClient::Impl::AbandonRefusedSession() {
  size_t watches = 0;
  size_t frame_bytes = 0;
  {
    std::shared_lock<std::shared_mutex> lock(handle_mu_);
    if (handle_ != nullptr) {
      std::lock_guard<std::mutex> handle_lock(handle_->mu);
      watches = handle_->watches.size();
      frame_bytes = handle_->watch_frame_bytes;
    }
  }
  int64_t session = 0;
  std::string hosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    session = session_id_;
    hosts = hosts_;
  }
  Log(LogLevel::kError,
      absl::StrCat(
          "ZooKeeper at ", hosts, " dropped each of the last ",
          kRefusedReconnections, " reconnections of session 0x",
          absl::Hex(session), " within ",
          absl::FormatDuration(kShortLivedReconnection),
          ": it refuses the re-registration of this client's ", watches,
          " watches (about ", frame_bytes,
          " bytes, which the C client sends in one frame), most likely "
          "because that frame is larger than ZooKeeper's jute.maxbuffer "
          "(1 MB by default); giving up this session for a fresh one and "
          "re-reading everything watched (watch fewer nodes per session, or "
          "raise jute.maxbuffer on the ZooKeeper servers, to avoid this)"));
  SetState(ConnectionState::kExpired);
  ReplaceHandle();
}

void ZooKeeperClient::Impl::SetState(ConnectionState state) {
  std::vector<std::shared_ptr<std::function<void(ConnectionState)>>>
      subscribers;
  int last_id = 0;  // Listeners added after this change do not hear of it.
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_ = state;
    have_state_ = true;
    if (state == ConnectionState::kExpired) session_id_ = 0;
    state_changed_.notify_all();
    last_id = next_listener_id_ - 1;
    for (auto& [id, subscriber] : subscribers_)
      subscribers.push_back(subscriber);
  }
  Log(state == ConnectionState::kConnected || state == ConnectionState::kClosed
          ? LogLevel::kDebug
          : LogLevel::kInfo,
      absl::StrCat("ZooKeeper connection: ", ConnectionStateName(state)));
  for (const auto& subscriber : subscribers) {
    {
      // Unsubscribed by an earlier subscriber of this round: skip it.
      std::lock_guard<std::mutex> lock(mu_);
      bool present = false;
      for (const auto& [id, current] : subscribers_)
        present |= current == subscriber;
      if (!present) continue;
    }
    (*subscriber)(state);
  }
  listeners_.Post([this, state, last_id] {
    std::vector<
        std::pair<int, std::shared_ptr<std::function<void(ConnectionState)>>>>
        listeners;
    {
      std::lock_guard<std::mutex> lock(mu_);
      listeners.assign(connection_listeners_.begin(),
                       connection_listeners_.upper_bound(last_id));
    }
    for (const auto& [id, listener] : listeners) {
      {
        // Removed since the copy: skip it.
        std::lock_guard<std::mutex> lock(mu_);
        if (connection_listeners_.count(id) == 0) continue;
      }
      (*listener)(state);
    }
  });
}

void ZooKeeperClient::Impl::ReplaceHandle() {
  std::string hosts;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
  }
  AskEnsembleProvider();
  {
    std::lock_guard<std::mutex> lock(mu_);
    hosts = hosts_;
  }
  std::unique_ptr<Handle> old;
  {
    std::unique_lock<std::shared_mutex> lock(handle_mu_);
    old = std::move(handle_);
  }
  // Outside handle_mu_: the C client's completion thread may be running a
  // callback of the old handle, which takes mu_ but never handle_mu_.
  if (old != nullptr) CloseHandle(std::move(old));
  int error = 0;
  std::unique_ptr<Handle> fresh = NewHandle(hosts, &error);
  if (fresh == nullptr) {
    const absl::Duration delay = new_handle_backoff_.Next();
    Log(LogLevel::kError,
        absl::StrCat("cannot make a new ZooKeeper session with hosts ", hosts,
                     ": ", std::strerror(error), "; retrying ",
                     slacker::internal::RetryDelayText(delay)));
    events_.PostAfter(delay, [this] { ReplaceHandle(); });
    return;
  }
  std::unique_lock<std::shared_mutex> lock(handle_mu_);
  handle_ = std::move(fresh);
}

void ZooKeeperClient::Impl::CloseHandle(std::unique_ptr<Handle> handle) {
  // When zookeeper_close returns, the C client's threads have ended. It fails
  // the calls still waiting for an answer with ZCLOSING, but its completion
  // thread may stop before it has run all of them (ZOOKEEPER-3868, seen in
  // 3.8.0): those never run. Each call registered itself in `pending` and
  // left it when its completion ran; what is left was dropped.
  zookeeper_close(handle->zh);
  internal::ClientStateChanged("the client closed");
  std::set<PendingCall*> dropped;
  {
    std::lock_guard<std::mutex> lock(handle->mu);
    dropped.swap(handle->pending);
  }
  if (!dropped.empty()) {
    Log(LogLevel::kDebug,
        absl::StrCat("completing ", dropped.size(),
                     " call(s) the ZooKeeper C client dropped while closing"));
  }
  for (PendingCall* call : dropped) call->Abort(ZCLOSING);
}

absl::Status ZooKeeperClient::Impl::SetHosts(const std::string& hosts) {
  absl::StatusOr<ConnectString> connect = ParseConnectString(hosts);
  if (!connect.ok()) return connect.status();
  const std::string& parsed = connect->hosts;
  bool only_ports_changed = false;
  if (!connect->chroot.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the ensemble \"", hosts, "\" must not carry a chroot; the chroot of ",
        options_.connect_string, " stays"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (hosts_ == parsed) return absl::OkStatus();
    only_ports_changed = SameHostsIgnoringPorts(hosts_, parsed);
    hosts_ = parsed;
  }
  int rc = ZOK;
  {
    std::shared_lock<std::shared_mutex> lock(handle_mu_);
    if (handle_ != nullptr) {
      if (only_ports_changed) {
        // The C client (3.8.0, addrvec_eq) compares address lists by IP
        // only, not port: a list whose servers moved to other ports on the
        // same hosts looks unchanged to it, and zoo_set_servers would keep
        // the old ports. A list one longer (the first server twice) in
        // between makes it take both (connected, the longer list makes it
        // move to another server with probability 1/(n+1), as any grown
        // list does). Host names are compared as written: two names of one
        // IP count as different hosts here, and such a change is not seen.
        const std::string longer =
            absl::StrCat(parsed.substr(0, parsed.find(',')), ",", parsed);
        rc = zoo_set_servers(handle_->zh, longer.c_str());
      }
      if (rc == ZOK) rc = zoo_set_servers(handle_->zh, parsed.c_str());
    }
  }
  if (rc != ZOK) {
    return absl::InvalidArgumentError(
        absl::StrCat("ZooKeeper client refused the ensemble \"", hosts,
                     "\": ", internal::ZooKeeperErrorName(rc)));
  }
  Log(LogLevel::kInfo, absl::StrCat("ZooKeeper ensemble is now ", parsed));
  return absl::OkStatus();
}

void ZooKeeperClient::Impl::AskEnsembleProvider() {
  if (!options_.ensemble_provider) return;
  const std::string hosts = options_.ensemble_provider();
  if (hosts.empty()) return;
  if (absl::Status s = SetHosts(hosts); !s.ok()) {
    Log(LogLevel::kWarning,
        absl::StrCat("ignoring the ensemble provider's answer: ", s.message()));
  }
}

void ZooKeeperClient::Impl::CheckEnsemblePeriodically() {
  AskEnsembleProvider();
  events_.PostAfter(options_.ensemble_check_interval,
                    [this] { CheckEnsemblePeriodically(); });
}

void ZooKeeperClient::Impl::FollowEnsembleConfig() {
  struct Context {
    Impl* impl;
    uint64_t generation;
  };
  Issue(
      [this](Handle* handle) {
        void* watch = RegisterWatch(
            handle,
            [this](WatchEventType, const std::string&) {
              FollowEnsembleConfig();
            },
            "/zookeeper/config");
        auto* context = new Context{this, handle->generation};
        const int rc = zoo_awgetconfig(
            handle->zh, watch != nullptr ? &Impl::OnWatch : nullptr, watch,
            [](int rc, const char* value, int length, const Stat*,
               const void* data) {
              std::unique_ptr<Context> context(
                  static_cast<Context*>(const_cast<void*>(data)));
              if (rc != ZOK)
                return;  // No config published, or a lost connection.
              std::string config(value, length > 0 ? length : 0);
              Impl* impl = context->impl;
              impl->PostEvent([impl, config = std::move(config)] {
                const std::string hosts = HostsFromEnsembleConfig(config);
                if (hosts.empty()) {
                  Log(LogLevel::kDebug,
                      "/zookeeper/config names no client addresses; keeping "
                      "the configured hosts");
                  return;
                }
                if (absl::Status s = impl->SetHosts(hosts); !s.ok()) {
                  Log(LogLevel::kWarning,
                      absl::StrCat("ignoring /zookeeper/config: ",
                                   s.message()));
                }
              });
            },
            context);
        if (rc != ZOK) delete context;
        return rc;
      },
      [](int, uint64_t) {});
}

// ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<ZooKeeperClient>> ZooKeeperClient::Connect(
    ZooKeeperOptions options) {
  absl::StatusOr<ConnectString> connect =
      ParseConnectString(options.connect_string);
  if (!connect.ok()) return connect.status();
  if (!options.digest.empty() &&
      options.digest.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "ZooKeeperOptions::digest must be \"user:password\"");
  }
  if (!options.admin_id.empty() &&
      (options.acl == AclPolicy::kOpen ||
       options.admin_id.find(':') == std::string::npos)) {
    return absl::InvalidArgumentError(
        "ZooKeeperOptions::admin_id must be a digest ACL id "
        "\"user:BASE64(SHA1(user:password))\" and needs an ACL policy other "
        "than kOpen (open nodes already let everyone do everything)");
  }
  if (options.acl != AclPolicy::kOpen && options.digest.empty()) {
    return absl::InvalidArgumentError(
        "an ACL policy other than kOpen needs ZooKeeperOptions::digest: the "
        "creator is identified by its digest credentials");
  }
  if (options.session_timeout <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration() ||
      options.operation_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ZooKeeperOptions timeouts must be positive");
  }
  if (options.ensemble_provider &&
      options.ensemble_check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "ZooKeeperOptions::ensemble_check_interval must be positive");
  }
  std::string hosts = connect->hosts;
  if (options.ensemble_provider) {
    // The provider names the first ensemble too (Curator asks its
    // EnsembleProvider before the first connection).
    const std::string provided = options.ensemble_provider();
    absl::StatusOr<ConnectString> parsed = ParseConnectString(provided);
    if (provided.empty()) {
      Log(LogLevel::kDebug,
          absl::StrCat("the ensemble provider has no hosts yet; starting with ",
                       connect->hosts));
    } else if (!parsed.ok() || !parsed->chroot.empty()) {
      Log(LogLevel::kWarning,
          absl::StrCat(
              "ignoring the ensemble provider's first answer \"", provided,
              "\" (",
              parsed.ok() ? "it carries a chroot" : parsed.status().message(),
              "); starting with ", connect->hosts));
    } else {
      hosts = parsed->hosts;
    }
  }
  auto impl = std::make_unique<Impl>(std::move(options));
  if (absl::Status s = impl->Start(hosts, connect->chroot); !s.ok()) {
    impl->Close("ZooKeeperClient::Connect");
    return s;
  }
  return std::unique_ptr<ZooKeeperClient>(new ZooKeeperClient(std::move(impl)));
}

ZooKeeperClient::ZooKeeperClient(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

ZooKeeperClient::~ZooKeeperClient() {
  impl_->Close("ZooKeeperClient destroyed");
}

void ZooKeeperClient::Close() {
  impl_->Close("ZooKeeperClient::Close() called");
}

const ZooKeeperOptions& ZooKeeperClient::options() const {
  return impl_->options_;
}

// --- Asynchronous operations ------------------------------------------------

namespace {

// Runs `done(result)` on the event thread.
template <typename Result>
void Deliver(ZooKeeperClient::Impl* impl, std::function<void(Result)> done,
             Result result) {
  impl->PostEvent(
      [done = std::move(done), result = std::move(result)] { done(result); });
}

// Heap state of one C client call, freed by its completion, which the C client
// runs at most once; CloseHandle completes the calls it dropped.
template <typename Result>
struct Call : PendingCall {
  Call(ZooKeeperClient::Impl* impl, std::string operation, std::string path,
       std::function<void(Result)> done)
      : impl(impl),
        operation(std::move(operation)),
        path(std::move(path)),
        done(std::move(done)) {}

  ZooKeeperClient::Impl* impl;
  uint64_t generation = 0;
  std::string operation;
  std::string path;
  std::function<void(Result)> done;
  // The handle the call was issued on, whose `pending` holds it until it
  // completes. The handle outlives the call: CloseHandle completes every call
  // before the handle is freed. A watch registered with a get or
  // get-children that failed: the C client drops it, and so must the
  // handle's table.
  ZooKeeperClient::Impl::Handle* handle = nullptr;
  void* watch_id = nullptr;

  // The call behind a completion's context, no longer pending.
  static std::unique_ptr<Call> Take(const void* context) {
    std::unique_ptr<Call> call(static_cast<Call*>(const_cast<void*>(context)));
    std::lock_guard<std::mutex> lock(call->handle->mu);
    call->handle->pending.erase(call.get());
    return call;
  }

  // Drops the call's watch, if any, from the handle's table: the C client
  // drops it with a call that failed. REQUIRES: handle->mu held.
  void ForgetWatchHoldingMu() {
    if (watch_id == nullptr) return;
    auto it = handle->watches.find(reinterpret_cast<uintptr_t>(watch_id));
    if (it != handle->watches.end()) {
      ZooKeeperClient::Impl::EraseWatchHoldingMu(handle, it);
    }
  }

  void Abort(int rc) override {
    std::unique_ptr<Call> self(this);
    Finish(rc, []() -> Result { return absl::UnknownError("not reached"); });
  }

  // Delivers `ok()` if rc is ZOK, else the error for rc.
  template <typename Ok>
  void Finish(int rc, Ok ok) {
    if (rc != ZOK && watch_id != nullptr) {
      std::lock_guard<std::mutex> lock(handle->mu);
      ForgetWatchHoldingMu();
    }
    Result result = rc == ZOK
                        ? Result(ok())
                        : Result(impl->Error(rc, operation, path, generation));
    Deliver(impl, std::move(done), std::move(result));
  }
};

// Validation failed: `done` hears it on the event thread. Returns whether it
// did.
template <typename Result>
bool Refused(ZooKeeperClient::Impl* impl, const absl::Status& valid,
             std::function<void(Result)>& done) {
  if (valid.ok()) return false;
  impl->PostEvent([done = std::move(done), valid] { done(valid); });
  return true;
}

// Issues `call` on the current handle: `issue` calls the C client with
// `call` as the completion's context, registering `watch` first if any.
template <typename Result>
void IssueCall(ZooKeeperClient::Impl* impl, Call<Result>* call,
               WatchCallback watch,
               const std::function<int(ZooKeeperClient::Impl::Handle*,
                                       void* watch_id)>& issue) {
  impl->Issue(
      [&](ZooKeeperClient::Impl::Handle* handle) {
        call->generation = handle->generation;
        call->handle = handle;
        call->watch_id =
            impl->RegisterWatch(handle, std::move(watch), call->path);
        {
          // Before the C client has it: its completion may run at once.
          std::lock_guard<std::mutex> lock(handle->mu);
          handle->pending.insert(call);
        }
        const int rc = issue(handle, call->watch_id);
        if (rc != ZOK) {
          // Not queued: `failed` completes it.
          std::lock_guard<std::mutex> lock(handle->mu);
          handle->pending.erase(call);
          call->ForgetWatchHoldingMu();
        }
        return rc;
      },
      [call](int rc, uint64_t generation) {
        std::unique_ptr<Call<Result>> owned(call);
        owned->done(
            owned->impl->Error(rc, owned->operation, owned->path, generation));
      });
}

watcher_fn WatcherFor(void* watch_id) {
  return watch_id != nullptr ? &ZooKeeperClient::Impl::OnWatch : nullptr;
}

// One zoo_acreate, no parents made.
void CreateOnce(ZooKeeperClient::Impl* impl, const std::string& path,
                const std::string& data, CreateMode mode,
                std::function<void(absl::StatusOr<std::string>)> done) {
  using Result = absl::StatusOr<std::string>;
  auto* call = new Call<Result>(impl, "create", path, std::move(done));
  IssueCall<Result>(impl, call, nullptr,
                    [&](ZooKeeperClient::Impl::Handle* handle, void*) {
                      return zoo_acreate(
                          handle->zh, path.c_str(), data.data(),
                          static_cast<int>(data.size()), impl->CAclFor(path),
                          CreateFlags(mode),
                          [](int rc, const char* created, const void* context) {
                            Call<Result>::Take(context)->Finish(
                                rc, [&] { return std::string(created); });
                          },
                          call);
                    });
}

}  // namespace

void ZooKeeperClient::CreateAsync(
    const std::string& path, std::string data, CreateMode mode,
    bool create_parents,
    std::function<void(absl::StatusOr<std::string>)> done) {
  Impl* impl = impl_.get();
  absl::Status valid = ValidatePath(path);
  if (valid.ok()) valid = CheckData(path, data.size());
  if (Refused(impl, valid, done)) return;
  if (!create_parents || ParentPath(path) == "/") {
    CreateOnce(impl, path, data, mode, std::move(done));
    return;
  }
  // Try first: parents usually exist. On ZNONODE, make them (each with its own
  // parents), then try once more.
  CreateOnce(
      impl, path, data, mode,
      [this, impl, path, data, mode, done](absl::StatusOr<std::string> result) {
        if (!absl::IsNotFound(result.status())) {
          done(std::move(result));
          return;
        }
        CreateAsync(
            ParentPath(path), "", CreateMode::kPersistent, true,
            [impl, path, data, mode, done](absl::StatusOr<std::string> parent) {
              if (!parent.ok() && !absl::IsAlreadyExists(parent.status())) {
                done(parent.status());
                return;
              }
              CreateOnce(impl, path, data, mode, done);
            });
      });
}

void ZooKeeperClient::GetAsync(
    const std::string& path, WatchCallback watch,
    std::function<void(absl::StatusOr<NodeData>)> done) {
  using Result = absl::StatusOr<NodeData>;
  Impl* impl = impl_.get();
  if (Refused(impl, ValidatePath(path), done)) return;
  auto* call = new Call<Result>(impl, "get", path, std::move(done));
  IssueCall<Result>(
      impl, call, std::move(watch), [&](Impl::Handle* handle, void* watch_id) {
        return zoo_awget(
            handle->zh, path.c_str(), WatcherFor(watch_id), watch_id,
            [](int rc, const char* value, int length, const Stat* stat,
               const void* context) {
              Call<Result>::Take(context)->Finish(rc, [&] {
                return NodeData{std::string(value != nullptr ? value : "",
                                            length > 0 ? length : 0),
                                ToNodeStat(stat)};
              });
            },
            call);
      });
}

void ZooKeeperClient::SetAsync(
    const std::string& path, std::string data, int32_t version,
    std::function<void(absl::StatusOr<NodeStat>)> done) {
  using Result = absl::StatusOr<NodeStat>;
  Impl* impl = impl_.get();
  absl::Status valid = ValidatePath(path);
  if (valid.ok()) valid = CheckData(path, data.size());
  if (Refused(impl, valid, done)) return;
  auto* call = new Call<Result>(impl, "set", path, std::move(done));
  IssueCall<Result>(impl, call, nullptr, [&](Impl::Handle* handle, void*) {
    return zoo_aset(
        handle->zh, path.c_str(), data.data(), static_cast<int>(data.size()),
        version,
        [](int rc, const Stat* stat, const void* context) {
          Call<Result>::Take(context)->Finish(rc,
                                              [&] { return ToNodeStat(stat); });
        },
        call);
  });
}

void ZooKeeperClient::DeleteAsync(const std::string& path, int32_t version,
                                  std::function<void(absl::Status)> done) {
  using Result = absl::Status;
  Impl* impl = impl_.get();
  if (Refused(impl, ValidatePath(path), done)) return;
  auto* call = new Call<Result>(impl, "delete", path, std::move(done));
  IssueCall<Result>(impl, call, nullptr, [&](Impl::Handle* handle, void*) {
    return zoo_adelete(
        handle->zh, path.c_str(), version,
        [](int rc, const void* context) {
          Call<Result>::Take(context)->Finish(rc,
                                              [] { return absl::OkStatus(); });
        },
        call);
  });
}

void ZooKeeperClient::ExistsAsync(
    const std::string& path, WatchCallback watch,
    std::function<void(absl::StatusOr<std::optional<NodeStat>>)> done) {
  using Result = absl::StatusOr<std::optional<NodeStat>>;
  Impl* impl = impl_.get();
  if (Refused(impl, ValidatePath(path), done)) return;
  auto* call = new Call<Result>(impl, "exists", path, std::move(done));
  IssueCall<Result>(
      impl, call, std::move(watch), [&](Impl::Handle* handle, void* watch_id) {
        return zoo_awexists(
            handle->zh, path.c_str(), WatcherFor(watch_id), watch_id,
            [](int rc, const Stat* stat, const void* context) {
              std::unique_ptr<Call<Result>> call = Call<Result>::Take(context);
              // A missing node is an answer, and its watch stays armed: it
              // fires when the node is created.
              if (rc == ZNONODE) {
                call->watch_id = nullptr;
                call->Finish(ZOK, [] { return std::optional<NodeStat>(); });
                return;
              }
              call->Finish(rc, [&] {
                return std::optional<NodeStat>(ToNodeStat(stat));
              });
            },
            call);
      });
}

void ZooKeeperClient::GetChildrenAsync(
    const std::string& path, WatchCallback watch,
    std::function<void(absl::StatusOr<NodeChildren>)> done) {
  using Result = absl::StatusOr<NodeChildren>;
  Impl* impl = impl_.get();
  if (Refused(impl, ValidatePath(path), done)) return;
  auto* call = new Call<Result>(impl, "get children of", path, std::move(done));
  IssueCall<Result>(
      impl, call, std::move(watch), [&](Impl::Handle* handle, void* watch_id) {
        return zoo_awget_children2(
            handle->zh, path.c_str(), WatcherFor(watch_id), watch_id,
            [](int rc, const String_vector* strings, const Stat* stat,
               const void* context) {
              Call<Result>::Take(context)->Finish(rc, [&] {
                NodeChildren children;
                children.stat = ToNodeStat(stat);
                for (int i = 0; strings != nullptr && i < strings->count; ++i) {
                  children.names.emplace_back(strings->data[i]);
                }
                return children;
              });
            },
            call);
      });
}

void ZooKeeperClient::MultiAsync(
    std::vector<Op> ops,
    std::function<void(absl::StatusOr<std::vector<OpResult>>)> done) {
  using Result = absl::StatusOr<std::vector<OpResult>>;
  Impl* impl = impl_.get();
  for (const Op& op : ops) {
    absl::Status valid = ValidatePath(op.path);
    if (valid.ok()) valid = CheckData(op.path, op.data.size());
    if (Refused(impl, valid, done)) return;
  }
  if (ops.empty()) {
    impl->PostEvent(
        [done = std::move(done)] { done(std::vector<OpResult>()); });
    return;
  }
  // What the C client reads and writes until the completion runs.
  struct MultiCall : Call<Result> {
    using Call<Result>::Call;
    std::vector<Op> ops;
    std::vector<zoo_op_t> c_ops;
    std::vector<zoo_op_result_t> results;
    std::vector<std::string> created;  // Buffers for created paths.
    std::vector<Stat> stats;
  };
  auto* call = new MultiCall(impl, "multi",
                             absl::StrJoin(ops, ", ",
                                           [](std::string* out, const Op& op) {
                                             absl::StrAppend(out, op.path);
                                           }),
                             std::move(done));
  call->ops = std::move(ops);
  const size_t n = call->ops.size();
  call->c_ops.resize(n);
  call->results.resize(n);
  call->created.resize(n);
  call->stats.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const Op& op = call->ops[i];
    switch (op.type) {
      case Op::Type::kCreate:
        call->created[i].resize(op.path.size() + 32);
        zoo_create_op_init(&call->c_ops[i], op.path.c_str(), op.data.data(),
                           static_cast<int>(op.data.size()),
                           impl->CAclFor(op.path), CreateFlags(op.mode),
                           call->created[i].data(),
                           static_cast<int>(call->created[i].size()));
        break;
      case Op::Type::kDelete:
        zoo_delete_op_init(&call->c_ops[i], op.path.c_str(), op.version);
        break;
      case Op::Type::kSet:
        zoo_set_op_init(&call->c_ops[i], op.path.c_str(), op.data.data(),
                        static_cast<int>(op.data.size()), op.version,
                        &call->stats[i]);
        break;
      case Op::Type::kCheck:
        zoo_check_op_init(&call->c_ops[i], op.path.c_str(), op.version);
        break;
    }
  }
  IssueCall<Result>(impl, call, nullptr, [&](Impl::Handle* handle, void*) {
    return zoo_amulti(
        handle->zh, static_cast<int>(n), call->c_ops.data(),
        call->results.data(),
        [](int rc, const void* context) {
          std::unique_ptr<MultiCall> call(
              static_cast<MultiCall*>(Call<Result>::Take(context).release()));
          Result result = absl::UnknownError("");
          if (rc == ZOK) {
            std::vector<OpResult> results(call->ops.size());
            for (size_t i = 0; i < call->ops.size(); ++i) {
              if (call->ops[i].type == Op::Type::kCreate) {
                results[i].created_path = call->created[i].c_str();
              } else if (call->ops[i].type == Op::Type::kSet) {
                results[i].stat = ToNodeStat(&call->stats[i]);
              }
            }
            result = std::move(results);
          } else {
            // Name the operation that failed, not just the multi.
            std::string failed = call->path;
            for (size_t i = 0; i < call->ops.size(); ++i) {
              if (call->results[i].err != ZOK &&
                  call->results[i].err != ZRUNTIMEINCONSISTENCY) {
                failed = absl::StrCat(call->ops[i].path, " (operation ", i + 1,
                                      " of ", call->ops.size(), ")");
                break;
              }
            }
            result = call->impl->Error(rc, call->operation, failed,
                                       call->generation);
          }
          Deliver(call->impl, std::move(call->done), std::move(result));
        },
        call);
  });
}

// --- Synchronous operations --------------------------------------------------

namespace {

// Waits for an asynchronous operation's result. The state is shared with the
// `done` callback, which may run after the waiter gave up.
template <typename Result>
class Waiter {
 public:
  std::function<void(Result)> Callback() {
    return [state = state_](Result result) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->result = std::move(result);
      state->cv.notify_all();
    };
  }

  Result Wait(absl::Duration timeout, absl::string_view operation,
              absl::string_view path) {
    std::unique_lock<std::mutex> lock(state_->mu);
    if (!state_->cv.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                             [&] { return state_->result.has_value(); })) {
      return Result(absl::DeadlineExceededError(absl::StrCat(
          operation, " ", path, ": no answer from ZooKeeper within ",
          absl::FormatDuration(timeout),
          "; the operation may still be applied")));
    }
    return std::move(*state_->result);
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result> result;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

absl::Status NotOnEventThread(absl::string_view operation,
                              absl::string_view path) {
  return absl::FailedPreconditionError(absl::StrCat(
      operation, " ", path,
      ": a synchronous ZooKeeper call on the client's event thread would "
      "deadlock; use the asynchronous form there"));
}

}  // namespace

absl::StatusOr<std::string> ZooKeeperClient::Create(const std::string& path,
                                                    absl::string_view data,
                                                    CreateMode mode,
                                                    bool create_parents) {
  if (IsEventThread()) return NotOnEventThread("create", path);
  Waiter<absl::StatusOr<std::string>> waiter;
  CreateAsync(path, std::string(data), mode, create_parents, waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "create", path);
}

absl::StatusOr<NodeData> ZooKeeperClient::Get(const std::string& path,
                                              WatchCallback watch) {
  if (IsEventThread()) return NotOnEventThread("get", path);
  Waiter<absl::StatusOr<NodeData>> waiter;
  GetAsync(path, std::move(watch), waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "get", path);
}

absl::StatusOr<NodeStat> ZooKeeperClient::Set(const std::string& path,
                                              absl::string_view data,
                                              int32_t version) {
  if (IsEventThread()) return NotOnEventThread("set", path);
  Waiter<absl::StatusOr<NodeStat>> waiter;
  SetAsync(path, std::string(data), version, waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "set", path);
}

absl::Status ZooKeeperClient::Delete(const std::string& path, int32_t version) {
  if (IsEventThread()) return NotOnEventThread("delete", path);
  Waiter<absl::Status> waiter;
  DeleteAsync(path, version, waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "delete", path);
}

absl::StatusOr<std::optional<NodeStat>> ZooKeeperClient::Exists(
    const std::string& path, WatchCallback watch) {
  if (IsEventThread()) return NotOnEventThread("exists", path);
  Waiter<absl::StatusOr<std::optional<NodeStat>>> waiter;
  ExistsAsync(path, std::move(watch), waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "exists", path);
}

absl::StatusOr<std::pair<std::vector<AclEntry>, NodeStat>>
ZooKeeperClient::GetAcl(const std::string& path) {
  using Result = absl::StatusOr<std::pair<std::vector<AclEntry>, NodeStat>>;
  if (IsEventThread()) return NotOnEventThread("get ACL of", path);
  Impl* impl = impl_.get();
  Waiter<Result> waiter;
  std::function<void(Result)> done = waiter.Callback();
  if (!Refused(impl, ValidatePath(path), done)) {
    auto* call = new Call<Result>(impl, "get ACL of", path, std::move(done));
    IssueCall<Result>(impl, call, nullptr, [&](Impl::Handle* handle, void*) {
      return zoo_aget_acl(
          handle->zh, path.c_str(),
          [](int rc, ACL_vector* acl, Stat* stat, const void* context) {
            Call<Result>::Take(context)->Finish(rc, [&] {
              return std::make_pair(FromCAcl(acl), ToNodeStat(stat));
            });
          },
          call);
    });
  }
  return waiter.Wait(impl->options_.operation_timeout, "get ACL of", path);
}

absl::Status ZooKeeperClient::SetAcl(const std::string& path,
                                     const std::vector<AclEntry>& acl,
                                     int32_t aversion) {
  using Result = absl::Status;
  if (IsEventThread()) return NotOnEventThread("set ACL of", path);
  Impl* impl = impl_.get();
  absl::Status valid = ValidatePath(path);
  if (valid.ok() && acl.empty()) {
    valid = absl::InvalidArgumentError(
        absl::StrCat("set ACL of ", path,
                     ": an empty ACL; give at least one "
                     "entry (an empty one would lock everyone out)"));
  }
  Waiter<Result> waiter;
  std::function<void(Result)> done = waiter.Callback();
  if (!Refused(impl, valid, done)) {
    auto* call = new Call<Result>(impl, "set ACL of", path, std::move(done));
    CAcl c_acl(acl);  // Serialized by zoo_aset_acl before it returns.
    IssueCall<Result>(impl, call, nullptr, [&](Impl::Handle* handle, void*) {
      return zoo_aset_acl(
          handle->zh, path.c_str(), aversion, c_acl.get(),
          [](int rc, const void* context) {
            Call<Result>::Take(context)->Finish(
                rc, [] { return absl::OkStatus(); });
          },
          call);
    });
  }
  return waiter.Wait(impl->options_.operation_timeout, "set ACL of", path);
}

std::vector<AclEntry> ZooKeeperClient::AclFor(const std::string& path) const {
  return AclEntriesFor(impl_->options_,
                       IsSharedPath(impl_->options_.shared_paths, path));
}

std::string AclToString(const std::vector<AclEntry>& acl) {
  if (acl.empty()) return "(none)";
  return absl::StrJoin(acl, ", ", [](std::string* out, const AclEntry& entry) {
    std::string permissions;
    // zkCli.sh's order and letters.
    if (entry.permissions & kPermCreate) permissions += 'c';
    if (entry.permissions & kPermDelete) permissions += 'd';
    if (entry.permissions & kPermRead) permissions += 'r';
    if (entry.permissions & kPermWrite) permissions += 'w';
    if (entry.permissions & kPermAdmin) permissions += 'a';
    absl::StrAppend(out, entry.scheme, ":", entry.id, ":", permissions);
  });
}

absl::StatusOr<NodeChildren> ZooKeeperClient::GetChildren(
    const std::string& path, WatchCallback watch) {
  if (IsEventThread()) return NotOnEventThread("get children of", path);
  Waiter<absl::StatusOr<NodeChildren>> waiter;
  GetChildrenAsync(path, std::move(watch), waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "get children of",
                     path);
}

absl::StatusOr<std::vector<OpResult>> ZooKeeperClient::Multi(
    const std::vector<Op>& ops) {
  if (IsEventThread()) return NotOnEventThread("multi", "");
  Waiter<absl::StatusOr<std::vector<OpResult>>> waiter;
  MultiAsync(ops, waiter.Callback());
  return waiter.Wait(impl_->options_.operation_timeout, "multi", "");
}

// --- State, listeners, threads
// ------------------------------------------------

ConnectionState ZooKeeperClient::state() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->state_;
}

int64_t ZooKeeperClient::session_id() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->session_id_;
}

std::pair<int64_t, std::string> ZooKeeperClient::session_credentials() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return {impl_->session_id_, impl_->session_password_};
}

absl::Duration ZooKeeperClient::negotiated_session_timeout() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->negotiated_timeout_;
}

std::string ZooKeeperClient::hosts() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->hosts_;
}

int ZooKeeperClient::AddConnectionListener(
    std::function<void(ConnectionState)> listener) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  const int id = impl_->next_listener_id_++;
  impl_->connection_listeners_.emplace(
      id, std::make_shared<std::function<void(ConnectionState)>>(
              std::move(listener)));
  return id;
}

void ZooKeeperClient::RemoveConnectionListener(int id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    impl_->connection_listeners_.erase(id);
  }
  impl_->listeners_.Barrier();  // A run in progress finishes first.
}

int ZooKeeperClient::Subscribe(
    std::function<void(ConnectionState)> subscriber) {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  const int id = impl_->next_listener_id_++;
  impl_->subscribers_.emplace(
      id, std::make_shared<std::function<void(ConnectionState)>>(
              std::move(subscriber)));
  return id;
}

void ZooKeeperClient::Unsubscribe(int id) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu_);
    impl_->subscribers_.erase(id);
  }
  impl_->events_.Barrier();
}

void ZooKeeperClient::RunOnEventThread(std::function<void()> task) {
  impl_->events_.Post(std::move(task));
}

void ZooKeeperClient::RunOnEventThreadAfter(absl::Duration delay,
                                            std::function<void()> task) {
  impl_->events_.PostAfter(delay, std::move(task));
}

void ZooKeeperClient::RunOnListenerThread(std::function<void()> task) {
  impl_->listeners_.Post(std::move(task));
}

bool ZooKeeperClient::IsEventThread() const {
  return impl_->events_.IsCurrentThread();
}

bool ZooKeeperClient::IsListenerThread() const {
  return impl_->listeners_.IsCurrentThread();
}

absl::Status ZooKeeperClient::UpdateEnsemble(const std::string& hosts) {
  return impl_->SetHosts(hosts);
}

namespace internal {

void SetSessionEventBeforeHandleForTesting(bool on) {
  session_event_before_handle.store(on);
}

}  // namespace internal

}  // namespace slacker::discovery
