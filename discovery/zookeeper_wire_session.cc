#include "discovery/zookeeper_wire_session.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/backoff.h"
#include "common/check.h"
#include "common/logging.h"
#include "discovery/connect_string.h"
#include "discovery/internal/jute.h"

namespace slacker::discovery {
namespace {

using internal::JuteReader;
using internal::JuteWriter;

// Operation codes and special xids (ZooDefs.OpCode, ClientCnxn).
constexpr int32_t kOpExists = 3;
constexpr int32_t kOpGetData = 4;
constexpr int32_t kOpPing = 11;
constexpr int32_t kOpGetChildren2 = 12;
constexpr int32_t kOpMultiRead = 22;
constexpr int32_t kOpAuth = 100;
constexpr int32_t kOpAddWatch = 106;
constexpr int32_t kOpCloseSession = -11;
constexpr int32_t kNotificationXid = -1;
constexpr int32_t kPingXid = -2;
constexpr int32_t kAuthXid = -4;
// ZooKeeper error codes (KeeperException.Code).
constexpr int32_t kErrUnimplemented = -6;
constexpr int32_t kErrNoNode = -101;
constexpr int32_t kErrNoAuth = -102;
constexpr int32_t kErrAuthFailed = -115;
// ReplyHeader: xid, zxid, err.
constexpr size_t kReplyHeaderBytes = 16;
constexpr size_t kMaxPasswordBytes = 64;
// An oversize reply to a batch of reads is dropped as it arrives, up to this
// size; a bigger frame drops the connection (no ZooKeeper answer is that big:
// a node holds at most jute.maxbuffer, 1 MB by default, and a batch at most
// kMaxBatchReads of them).
constexpr size_t kMaxSkippedFrameBytes = size_t{1} << 30;

void Warn(absl::string_view message) {
  slacker::internal::Log(LogLevel::kWarning, message);
}

absl::Status ErrorStatus(int32_t err, absl::string_view op,
                         absl::string_view path) {
  const std::string where = absl::StrCat(op, " of '", path, "'");
  switch (err) {
    case kErrNoNode:
      return absl::NotFoundError(absl::StrCat(where, ": no such node"));
    case kErrNoAuth:
      return absl::PermissionDeniedError(
          absl::StrCat(where,
                       ": the node's ACL refuses this session; give the digest "
                       "that may read it"));
    case kErrUnimplemented:
      return absl::UnimplementedError(absl::StrCat(
          where,
          ": the ZooKeeper server does not know this operation (it is "
          "older than 3.6)"));
    default:
      return absl::InternalError(
          absl::StrCat(where, ": ZooKeeper error ", err));
  }
}

struct Host {
  std::string name;
  std::string port;
};

// "host:port,..." (already validated by ParseConnectString) as hosts.
std::vector<Host> ParseHosts(absl::string_view list) {
  std::vector<Host> hosts;
  for (absl::string_view h : absl::StrSplit(list, ',')) {
    h = absl::StripAsciiWhitespace(h);
    const size_t colon = h.rfind(':');
    absl::string_view name = h.substr(0, colon);
    if (absl::ConsumePrefix(&name, "[")) absl::ConsumeSuffix(&name, "]");
    hosts.push_back(Host{std::string(name), std::string(h.substr(colon + 1))});
  }
  return hosts;
}

// GetDataResponse: the data, then the stat.
absl::StatusOr<NodeData> ReadGetDataResponse(JuteReader* reader) {
  absl::StatusOr<std::string> data =
      reader->Bytes("GetDataResponse.data", SIZE_MAX);
  if (!data.ok()) return data.status();
  absl::StatusOr<NodeStat> stat = reader->Stat();
  if (!stat.ok()) return stat.status();
  return NodeData{*std::move(data), *stat};
}

// A multi's MultiHeader: the operation's type and whether it is the end
// (its err field is read past: a failed operation says why in its record).
struct MultiHeader {
  int32_t type = 0;
  bool done = false;
};
absl::StatusOr<MultiHeader> ReadMultiHeader(JuteReader* reader) {
  absl::StatusOr<int32_t> type = reader->Int("MultiHeader.type");
  if (!type.ok()) return type.status();
  absl::StatusOr<bool> done = reader->Bool("MultiHeader.done");
  if (!done.ok()) return done.status();
  absl::StatusOr<int32_t> err = reader->Int("MultiHeader.err");
  if (!err.ok()) return err.status();
  return MultiHeader{*type, *done};
}

}  // namespace

absl::string_view WireSessionStateName(WireSessionState state) {
  switch (state) {
    case WireSessionState::kConnected:
      return "connected";
    case WireSessionState::kDisconnected:
      return "disconnected";
    case WireSessionState::kReconnected:
      return "reconnected";
    case WireSessionState::kExpired:
      return "expired";
    case WireSessionState::kNewSession:
      return "new session";
  }
  return "unknown";
}

class ZooKeeperWireSession::Impl {
 public:
  Impl(ZooKeeperWireSessionOptions options, std::vector<Host> hosts,
       std::string chroot, StateHandler on_state, EventHandler on_event)
      : options_(std::move(options)),
        hosts_(std::move(hosts)),
        chroot_(std::move(chroot)),
        on_state_(std::move(on_state)),
        on_event_(std::move(on_event)),
        backoff_(slacker::internal::BackoffOptions{absl::Milliseconds(50),
                                                   absl::Seconds(2)}) {
    int pipe_fds[2];
    slacker::internal::CheckRequires(pipe(pipe_fds) == 0,
                                     "ZooKeeperWireSession: pipe() failed");
    wake_read_ = pipe_fds[0];
    wake_write_ = pipe_fds[1];
    fcntl(wake_read_, F_SETFL, O_NONBLOCK);
    fcntl(wake_write_, F_SETFL, O_NONBLOCK);
    requested_timeout_ms_ = static_cast<int32_t>(
        absl::ToInt64Milliseconds(options_.session_timeout));
    thread_ = std::thread([this] { Loop(); });
  }

  ~Impl() {
    Close();
    close(wake_read_);
    close(wake_write_);
  }

  // A request waiting to be sent (built on the caller's thread) or answered.
  struct Request {
    int32_t op = 0;
    std::string path;  // Relative to the chroot, for messages.
    std::string body;  // The record after the RequestHeader.
    // Called with the reply's error code and a reader at the record, or with
    // a non-OK status (connection lost, closed).
    std::function<void(absl::Status, JuteReader*)> done;
    int32_t xid = 0;
    // An answer past max_frame_bytes fails this request (ResourceExhausted)
    // instead of dropping the connection (see TakeFrame).
    bool may_skip = false;
  };

  void Submit(int32_t op, std::string path, std::string body,
              std::function<void(absl::Status, JuteReader*)> done,
              bool may_skip = false) {
    Request request{op, std::move(path), std::move(body), std::move(done)};
    request.may_skip = may_skip;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closing_) {
        submitted_.push_back(std::move(request));
        Wake();
        return;
      }
    }
    request.done(absl::CancelledError("the ZooKeeper session is closed"),
                 nullptr);
  }

  std::string ServerPath(const std::string& path) const {
    if (chroot_.empty()) return path;
    return path == "/" ? chroot_ : chroot_ + path;
  }

  bool connected() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connected_;
  }
  bool WaitUntilConnected(absl::Duration timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return state_changed_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
                                   [this] { return connected_ || closing_; }) &&
           connected_;
  }
  int64_t session_id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return session_id_;
  }
  std::string session_password() const {
    std::lock_guard<std::mutex> lock(mu_);
    return password_;
  }
  std::string server() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connected_ ? server_ : "";
  }
  Counters counters() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counters_;
  }

  size_t max_children() const { return options_.max_children; }

  bool IsSessionThread() const {
    return std::this_thread::get_id() == thread_.get_id();
  }

  void Close() {
    slacker::internal::CheckRequires(
        !IsSessionThread(),
        "ZooKeeperWireSession::Close() called from one of its own callbacks; "
        "close it from another thread");
    {
      std::lock_guard<std::mutex> lock(mu_);
      closing_ = true;
      Wake();
    }
    state_changed_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Wake() {
    const char byte = 1;
    (void)!write(wake_write_, &byte, 1);
  }

  void Report(WireSessionState state) {
    if (on_state_) on_state_(state);
  }

  // --- The session thread.

  void Loop() {
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (closing_) break;
      }
      if (fd_ < 0) {
        if (!ConnectOnce()) {
          FailSubmitted(absl::UnavailableError(
              "not connected to ZooKeeper; retry once the session is "
              "connected again"));
          WaitWoken(backoff_.Next());
          continue;
        }
        backoff_.Reset();
      }
      Step();
    }
    SendCloseSession();
    Drop(absl::CancelledError("the ZooKeeper session is closed"),
         /*report=*/false);
    FailSubmitted(absl::CancelledError("the ZooKeeper session is closed"));
  }

  void WaitWoken(absl::Duration delay) {
    pollfd p{wake_read_, POLLIN, 0};
    poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(delay)));
    DrainWake();
  }

  void DrainWake() {
    char buffer[64];
    while (read(wake_read_, buffer, sizeof buffer) > 0) {
    }
  }

  void FailSubmitted(const absl::Status& status) {
    std::deque<Request> failed;
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed.swap(submitted_);
    }
    for (Request& r : failed) r.done(status, nullptr);
  }

  // Opens a TCP connection to the next host, within `deadline`; -1 on failure.
  int Dial(const Host& host, absl::Time deadline) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.name.c_str(), host.port.c_str(), &hints, &found) !=
        0) {
      return -1;
    }
    int fd = -1;
    for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
      fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      fcntl(fd, F_SETFL, O_NONBLOCK);
      if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
        close(fd);
        fd = -1;
        continue;
      }
      pollfd p{fd, POLLOUT, 0};
      const int wait_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      int error = 0;
      socklen_t length = sizeof error;
      if (poll(&p, 1, wait_ms) != 1 ||
          getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 ||
          error != 0) {
        close(fd);
        fd = -1;
      }
    }
    freeaddrinfo(found);
    return fd;
  }

  // Reads exactly one frame within `deadline` (blocking on poll); for the
  // connect response only.
  absl::StatusOr<std::string> ReadFrameBlocking(absl::Time deadline) {
    while (true) {
      absl::StatusOr<std::optional<std::string>> frame = TakeFrame();
      if (!frame.ok()) return frame.status();
      if (frame->has_value()) return **frame;
      pollfd p{fd_, POLLIN, 0};
      const int wait_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      if (poll(&p, 1, wait_ms) != 1) {
        return absl::DeadlineExceededError("no connect response in time");
      }
      if (absl::Status s = ReadSome(); !s.ok()) return s;
    }
  }

  // The provider's answer, if it names another well-formed host list.
  void AskEnsembleProvider() {
    if (!options_.ensemble_provider) return;
    const std::string answer = options_.ensemble_provider();
    if (answer.empty() || answer == provided_hosts_) return;
    absl::StatusOr<ConnectString> parsed = ParseConnectString(answer);
    if (!parsed.ok() || !parsed->chroot.empty()) {
      if (answer != refused_hosts_) {
        refused_hosts_ = answer;
        Warn(absl::StrCat(
            "ZooKeeper session: the ensemble provider's answer '", answer,
            "' is not a host list (host:port,...); keeping ", HostList()));
      }
      return;
    }
    provided_hosts_ = answer;
    hosts_ = ParseHosts(parsed->hosts);
    next_host_ = 0;
  }

  std::string HostList() const {
    std::string list;
    for (const Host& h : hosts_) {
      absl::StrAppend(&list, list.empty() ? "" : ",", h.name, ":", h.port);
    }
    return list;
  }

  // One connection attempt to the next host: dial, ConnectRequest, the
  // response, auth. On success fd_ is the connection.
  bool ConnectOnce() {
    AskEnsembleProvider();
    const Host& host = hosts_[next_host_++ % hosts_.size()];
    const std::string address = absl::StrCat(host.name, ":", host.port);
    const absl::Duration timeout =
        std::max(absl::Seconds(1), options_.session_timeout / hosts_.size());
    fd_ = Dial(host, absl::Now() + timeout);
    if (fd_ < 0) return false;
    in_.clear();
    out_.clear();
    server_address_ = address;
    in_start_ = 0;
    skip_ = 0;

    JuteWriter request;  // ConnectRequest.
    request.Int(0);      // protocolVersion
    request.Long(last_zxid_);
    request.Int(requested_timeout_ms_);
    request.Long(session_id_copy_);
    request.Bytes(password_copy_);
    request.Bool(false);  // readOnly: a read-only server would show a
                          // partitioned minority's stale tree.
    Send(request.Frame(), /*is_request=*/false);
    // A serving ZooKeeper answers at once; one that is still starting (a
    // restart) can take the connection and never answer it. Measured: with
    // the whole per-host timeout (a 30 s session) as the wait, views stalled
    // that long after a ZooKeeper restart; so the answer is awaited a tenth
    // of the session (at least 2 s), then the next try.
    const absl::Time deadline =
        absl::Now() +
        std::min(timeout,
                 std::max(absl::Seconds(2), options_.session_timeout / 10));
    absl::Status flushed = FlushBlocking(deadline);
    absl::StatusOr<std::string> frame =
        flushed.ok() ? ReadFrameBlocking(deadline) : flushed;
    if (!frame.ok()) {
      Warn(absl::StrCat("ZooKeeper session: connecting to ", address,
                        " failed: ", frame.status().message(),
                        "; trying the next host"));
      CloseSocket();
      return false;
    }
    JuteReader reader(*frame);
    absl::StatusOr<int32_t> version = reader.Int("protocolVersion");
    absl::StatusOr<int32_t> timeout_ms =
        version.ok() ? reader.Int("timeOut") : version.status();
    absl::StatusOr<int64_t> id =
        timeout_ms.ok() ? reader.Long("sessionId") : timeout_ms.status();
    absl::StatusOr<std::string> password =
        id.ok() ? reader.Bytes("passwd", kMaxPasswordBytes) : id.status();
    if (!password.ok()) {
      Warn(absl::StrCat("ZooKeeper session: ", address,
                        " sent a malformed connect response (",
                        password.status().message(),
                        "); is it a ZooKeeper server? Trying the next host"));
      CloseSocket();
      return false;
    }
    if (*timeout_ms <= 0) {
      // The server refused to resume the session: it has expired.
      CloseSocket();
      const bool had_session = session_id_copy_ != 0;
      SetSession(0, "", false);
      if (had_session) {
        slacker::internal::Log(
            LogLevel::kInfo, absl::StrCat("ZooKeeper session expired (said ",
                                          address, "); making a new session"));
        Report(WireSessionState::kExpired);
        had_expired_ = true;
      }
      return false;  // Loop() tries again at once with a new session.
    }
    // A server may not stretch the session past what was asked (it clamps
    // to its ticks, 40 s at most by default): pings keep to that.
    negotiated_timeout_ =
        std::min(absl::Milliseconds(*timeout_ms),
                 std::max(options_.session_timeout, absl::Seconds(40)));
    const bool resumed = session_id_copy_ != 0 && *id == session_id_copy_;
    // Connected only once the handler has heard it, so that whoever waits
    // for the connection finds the state reported.
    SetSession(*id, *password, false);
    last_received_ = last_sent_ = absl::Now();
    if (!options_.digest.empty()) {
      JuteWriter auth;
      auth.Int(kAuthXid);
      auth.Int(kOpAuth);
      auth.Int(0);  // AuthPacket.type
      auth.Bytes("digest");
      auth.Bytes(options_.digest);
      Send(auth.Frame(), true);
    }
    WireSessionState state = WireSessionState::kReconnected;
    if (!resumed) {
      state = (had_session_ || had_expired_) ? WireSessionState::kNewSession
                                             : WireSessionState::kConnected;
    }
    had_session_ = true;
    had_expired_ = false;
    Report(state);
    {
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = true;
    }
    state_changed_.notify_all();
    return true;
  }

  void SetSession(int64_t id, std::string password, bool connected) {
    session_id_copy_ = id;
    password_copy_ = password;
    {
      std::lock_guard<std::mutex> lock(mu_);
      session_id_ = id;
      password_ = std::move(password);
      connected_ = connected;
      server_ = server_address_;
    }
    state_changed_.notify_all();
  }

  void Send(std::string frame, bool is_request) {
    std::lock_guard<std::mutex> lock(mu_);
    counters_.bytes_sent += frame.size();
    if (is_request) ++counters_.requests;
    out_.append(frame);
    last_sent_ = absl::Now();
  }

  absl::Status FlushBlocking(absl::Time deadline) {
    while (!out_.empty()) {
      pollfd p{fd_, POLLOUT, 0};
      const int wait_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      if (poll(&p, 1, wait_ms) != 1) {
        return absl::DeadlineExceededError("could not send in time");
      }
      if (absl::Status s = WriteSome(); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status WriteSome() {
    const ssize_t n = send(fd_, out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return absl::OkStatus();
      return absl::UnavailableError(absl::StrCat("send: ", strerror(errno)));
    }
    out_.erase(0, n);
    return absl::OkStatus();
  }

  absl::Status ReadSome() {
    char buffer[65536];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n == 0)
      return absl::UnavailableError("the server closed the connection");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return absl::OkStatus();
      return absl::UnavailableError(absl::StrCat("recv: ", strerror(errno)));
    }
    last_received_ = absl::Now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      counters_.bytes_received += n;
    }
    size_t skipped = std::min<size_t>(skip_, n);
    skip_ -= skipped;
    // Frames already taken leave in_ once per read, not once per frame: a
    // re-sync's thousands of small replies would otherwise move the rest of
    // the buffer once each.
    in_.erase(0, in_start_);
    in_start_ = 0;
    in_.append(buffer + skipped, n - skipped);
    return absl::OkStatus();
  }

  // The next whole frame from in_, nullopt if it has not all arrived. A frame
  // past max_frame_bytes is an error (before any of it is buffered beyond
  // what one recv brought), except a reply to the request waiting first that
  // asked for it (Request::may_skip: a batch of reads whose answer is too
  // big): that request fails with ResourceExhausted and the frame's bytes are
  // read and dropped as they come, keeping the connection.
  absl::StatusOr<std::optional<std::string>> TakeFrame() {
    while (true) {
      const absl::string_view in = absl::string_view(in_).substr(in_start_);
      if (in.size() < 4) return std::optional<std::string>();
      JuteReader header(in.substr(0, 4));
      const int32_t length = *header.Int("frame length");
      if (length < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("a frame of ", length, " bytes"));
      }
      if (static_cast<size_t>(length) > options_.max_frame_bytes) {
        const bool may_skip =
            static_cast<size_t>(length) <= kMaxSkippedFrameBytes &&
            !pending_.empty() && pending_.front().may_skip;
        if (may_skip && in.size() < 4 + kReplyHeaderBytes) {
          return std::optional<std::string>();  // Whose reply is it?
        }
        if (!may_skip ||
            *JuteReader(in.substr(4, 4)).Int("xid") != pending_.front().xid) {
          return absl::InvalidArgumentError(
              absl::StrCat("a frame of ", length, " bytes, past the bound of ",
                           options_.max_frame_bytes, " (max_frame_bytes)"));
        }
        Request request = std::move(pending_.front());
        pending_.pop_front();
        const size_t here =
            std::min(in.size(), 4 + static_cast<size_t>(length));
        skip_ = 4 + static_cast<size_t>(length) - here;
        in_start_ += here;
        request.done(
            absl::ResourceExhaustedError(absl::StrCat(
                OpName(request.op), " of '", request.path, "': the answer is ",
                length, " bytes, past the session's bound of ",
                options_.max_frame_bytes,
                " (max_frame_bytes); it was dropped, the connection kept")),
            nullptr);
        continue;
      }
      if (in.size() < 4 + static_cast<size_t>(length)) {
        return std::optional<std::string>();
      }
      std::string frame(in.substr(4, length));
      in_start_ += 4 + length;
      return std::optional<std::string>(std::move(frame));
    }
  }

  void CloseSocket() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    in_.clear();
    in_start_ = 0;
    skip_ = 0;
    out_.clear();
  }

  // Drops the connection: every request waiting fails with `status`.
  void Drop(const absl::Status& status, bool report) {
    const bool was_connected = fd_ >= 0;
    CloseSocket();
    {
      std::lock_guard<std::mutex> lock(mu_);
      connected_ = false;
    }
    state_changed_.notify_all();
    std::deque<Request> waiting;
    waiting.swap(pending_);
    for (Request& r : waiting) r.done(status, nullptr);
    if (was_connected && report) Report(WireSessionState::kDisconnected);
  }

  void Fail(absl::string_view why) {
    Warn(absl::StrCat("ZooKeeper session: dropping the connection to ",
                      server_address_, ": ", why,
                      "; reconnecting (to the next host)"));
    Drop(absl::UnavailableError(
             absl::StrCat("the connection to ZooKeeper at ", server_address_,
                          " was lost before the answer (", why,
                          "); retry once the session is connected again")),
         /*report=*/true);
  }

  // One turn of the connected loop: send what was submitted, wait for I/O or
  // the next ping, handle what arrived.
  void Step() {
    std::deque<Request> submitted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      submitted.swap(submitted_);
    }
    for (Request& r : submitted) {
      r.xid = next_xid_;
      next_xid_ = next_xid_ == INT32_MAX ? 1 : next_xid_ + 1;
      JuteWriter frame;
      frame.Int(r.xid);
      frame.Int(r.op);
      std::string bytes = frame.bytes() + r.body;
      JuteWriter framed;
      framed.Int(static_cast<int32_t>(bytes.size()));
      Send(framed.bytes() + bytes, true);
      pending_.push_back(std::move(r));
    }
    const absl::Time now = absl::Now();
    if (now - last_received_ > negotiated_timeout_ * 2 / 3) {
      Fail(absl::StrCat("no answer for ",
                        absl::FormatDuration(now - last_received_)));
      return;
    }
    if (now - last_sent_ >= negotiated_timeout_ / 3) {
      JuteWriter ping;
      ping.Int(kPingXid);
      ping.Int(kOpPing);
      Send(ping.Frame(), true);
    }
    const absl::Time wake_at =
        std::min(last_sent_ + negotiated_timeout_ / 3,
                 last_received_ + negotiated_timeout_ * 2 / 3);
    pollfd p[2] = {
        {fd_, static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0},
        {wake_read_, POLLIN, 0}};
    const int wait_ms = static_cast<int>(std::clamp<int64_t>(
        absl::ToInt64Milliseconds(wake_at - absl::Now()) + 1, 0, 60000));
    if (poll(p, 2, wait_ms) < 0 && errno != EINTR) {
      Fail(absl::StrCat("poll: ", strerror(errno)));
      return;
    }
    if (p[1].revents != 0) DrainWake();
    if (p[0].revents & POLLOUT) {
      if (absl::Status s = WriteSome(); !s.ok()) {
        Fail(s.message());
        return;
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      if (absl::Status s = ReadSome(); !s.ok()) {
        Fail(s.message());
        return;
      }
      while (fd_ >= 0) {
        absl::StatusOr<std::optional<std::string>> frame = TakeFrame();
        if (!frame.ok()) {
          Fail(absl::StrCat("the server sent ", frame.status().message()));
          return;
        }
        if (!frame->has_value()) break;
        if (absl::Status s = HandleFrame(**frame); !s.ok()) {
          Fail(
              absl::StrCat("the server sent a malformed reply: ", s.message()));
          return;
        }
      }
    }
  }

  absl::Status HandleFrame(const std::string& frame) {
    JuteReader reader(frame);
    if (frame.size() < kReplyHeaderBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", frame.size(),
                       "-byte frame, shorter than a reply "
                       "header"));
    }
    const int32_t xid = *reader.Int("xid");
    const int64_t zxid = *reader.Long("zxid");
    const int32_t err = *reader.Int("err");
    if (zxid > 0 && zxid > last_zxid_) last_zxid_ = zxid;
    switch (xid) {
      case kPingXid:
        return absl::OkStatus();
      case kAuthXid:
        if (err != 0) {
          Warn(absl::StrCat("ZooKeeper refused the digest credentials (error ",
                            err, err == kErrAuthFailed ? ", auth failed" : "",
                            "); check ZooKeeperWireSessionOptions::digest"));
        }
        return absl::OkStatus();
      case kNotificationXid:
        return HandleEvent(&reader);
      default:
        break;
    }
    if (pending_.empty() || pending_.front().xid != xid) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a reply with xid ", xid, " while ",
          pending_.empty()
              ? std::string("no request waits")
              : absl::StrCat("xid ", pending_.front().xid, " waits first")));
    }
    Request request = std::move(pending_.front());
    pending_.pop_front();
    if (err != 0) {
      request.done(ErrorStatus(err, OpName(request.op), request.path), nullptr);
    } else {
      request.done(absl::OkStatus(), &reader);
    }
    return absl::OkStatus();
  }

  static absl::string_view OpName(int32_t op) {
    switch (op) {
      case kOpExists:
        return "exists";
      case kOpGetData:
        return "getData";
      case kOpGetChildren2:
        return "getChildren2";
      case kOpAddWatch:
        return "addWatch";
      case kOpMultiRead:
        return "multiRead";
      default:
        return "request";
    }
  }

  absl::Status HandleEvent(JuteReader* reader) {
    absl::StatusOr<int32_t> type = reader->Int("WatcherEvent.type");
    if (!type.ok()) return type.status();
    absl::StatusOr<int32_t> state = reader->Int("WatcherEvent.state");
    if (!state.ok()) return state.status();
    absl::StatusOr<std::string> path =
        reader->Bytes("WatcherEvent.path", options_.max_frame_bytes);
    if (!path.ok()) return path.status();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++counters_.events;
    }
    WatchEventType event;
    switch (*type) {
      case 1:
        event = WatchEventType::kCreated;
        break;
      case 2:
        event = WatchEventType::kDeleted;
        break;
      case 3:
        event = WatchEventType::kDataChanged;
        break;
      case 4:
        event = WatchEventType::kChildrenChanged;
        break;
      default:
        return absl::OkStatus();  // None, or a watch removed: nothing to do.
    }
    std::string relative = *path;
    if (!chroot_.empty()) {
      if (relative == chroot_) {
        relative = "/";
      } else if (absl::StartsWith(relative, chroot_ + "/")) {
        relative = relative.substr(chroot_.size());
      } else {
        return absl::OkStatus();  // Outside the chroot: not ours.
      }
    }
    if (on_event_) on_event_(event, relative);
    return absl::OkStatus();
  }

  void SendCloseSession() {
    if (fd_ < 0) return;
    JuteWriter close_request;
    close_request.Int(next_xid_);
    close_request.Int(kOpCloseSession);
    Send(close_request.Frame(), true);
    const absl::Time deadline = absl::Now() + absl::Seconds(1);
    if (!FlushBlocking(deadline).ok()) return;
    // Wait for the reply (or the server closing) so that the session, and
    // its ephemerals, are gone when Close() returns.
    while (absl::Now() < deadline) {
      absl::StatusOr<std::string> frame = ReadFrameBlocking(deadline);
      if (!frame.ok()) return;
      JuteReader reader(*frame);
      absl::StatusOr<int32_t> xid = reader.Int("xid");
      if (xid.ok() && *xid == next_xid_) return;
    }
  }

  const ZooKeeperWireSessionOptions options_;
  // The session thread's alone once it runs (AskEnsembleProvider).
  std::vector<Host> hosts_;
  std::string provided_hosts_;  // The provider's last answer taken.
  std::string refused_hosts_;   // Its last malformed answer, warned of.
  const std::string chroot_;
  const StateHandler on_state_;
  const EventHandler on_event_;
  int wake_read_ = -1;
  int wake_write_ = -1;
  int32_t requested_timeout_ms_ = 0;

  // Session thread only.
  int fd_ = -1;
  std::string in_;
  size_t in_start_ = 0;  // in_'s bytes before this are taken.
  size_t skip_ = 0;      // Bytes of a dropped oversize reply still to come.
  std::string out_;
  std::string server_address_;
  size_t next_host_ = 0;
  int32_t next_xid_ = 1;
  int64_t last_zxid_ = 0;
  int64_t session_id_copy_ = 0;
  std::string password_copy_;
  bool had_session_ = false;
  bool had_expired_ = false;
  absl::Duration negotiated_timeout_ = absl::Seconds(10);
  absl::Time last_received_;
  absl::Time last_sent_;
  std::deque<Request> pending_;
  slacker::internal::Backoff backoff_;

  // std::mutex, not absl::Mutex: see README.md on ThreadSanitizer.
  mutable std::mutex mu_;
  mutable std::condition_variable state_changed_;
  std::deque<Request> submitted_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  int64_t session_id_ ABSL_GUARDED_BY(mu_) = 0;
  std::string password_ ABSL_GUARDED_BY(mu_);
  std::string server_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);

  std::thread thread_;  // Last: starts once the members above exist.
};

absl::StatusOr<std::unique_ptr<ZooKeeperWireSession>>
ZooKeeperWireSession::Start(ZooKeeperWireSessionOptions options,
                            StateHandler on_state, EventHandler on_event) {
  absl::StatusOr<ConnectString> parsed =
      ParseConnectString(options.connect_string);
  if (!parsed.ok()) return parsed.status();
  if (!options.digest.empty() &&
      options.digest.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        "ZooKeeperWireSessionOptions::digest must be \"user:password\"");
  }
  std::vector<Host> hosts = ParseHosts(parsed->hosts);
  std::string chroot = parsed->chroot;
  return std::unique_ptr<ZooKeeperWireSession>(
      new ZooKeeperWireSession(std::make_unique<Impl>(
          std::move(options), std::move(hosts), std::move(chroot),
          std::move(on_state), std::move(on_event))));
}

ZooKeeperWireSession::ZooKeeperWireSession(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
ZooKeeperWireSession::~ZooKeeperWireSession() { Close(); }
void ZooKeeperWireSession::Close() { impl_->Close(); }

void ZooKeeperWireSession::GetData(
    const std::string& path, bool watch,
    std::function<void(absl::StatusOr<NodeData>)> done) {
  JuteWriter body;
  body.Bytes(impl_->ServerPath(path));
  body.Bool(watch);
  impl_->Submit(
      kOpGetData, path, body.bytes(),
      [done = std::move(done)](absl::Status status, JuteReader* reader) {
        if (!status.ok()) return done(status);
        done(ReadGetDataResponse(reader));
      });
}

void ZooKeeperWireSession::GetDataMany(
    std::vector<std::string> paths,
    std::function<void(absl::StatusOr<std::vector<absl::StatusOr<NodeData>>>)>
        done) {
  if (paths.empty() || paths.size() > kMaxBatchReads) {
    done(absl::InvalidArgumentError(absl::StrCat("GetDataMany takes 1 to ",
                                                 kMaxBatchReads, " paths, not ",
                                                 paths.size())));
    return;
  }
  // MultiOperationRecord: each op a MultiHeader (type, done, err) and its
  // request, then a MultiHeader marking the end.
  JuteWriter body;
  for (const std::string& path : paths) {
    body.Int(kOpGetData);
    body.Bool(false);
    body.Int(-1);
    body.Bytes(impl_->ServerPath(path));
    body.Bool(false);
  }
  body.Int(-1);
  body.Bool(true);
  body.Int(-1);
  std::string first = paths.front();  // Messages name the first.
  impl_->Submit(
      kOpMultiRead, std::move(first), body.bytes(),
      [done = std::move(done), paths = std::move(paths)](absl::Status status,
                                                         JuteReader* reader) {
        if (!status.ok()) return done(status);
        // MultiResponse: per op a MultiHeader, then GetDataResponse (type
        // getData) or ErrorResponse (type -1); then the end header.
        std::vector<absl::StatusOr<NodeData>> results;
        results.reserve(paths.size());
        for (const std::string& path : paths) {
          absl::StatusOr<MultiHeader> header = ReadMultiHeader(reader);
          if (!header.ok()) return done(header.status());
          if (header->done) {
            return done(absl::InvalidArgumentError(
                absl::StrCat("multiRead answered ", results.size(), " of ",
                             paths.size(), " reads")));
          }
          if (header->type == -1) {
            absl::StatusOr<int32_t> code = reader->Int("ErrorResponse.err");
            if (!code.ok()) return done(code.status());
            results.push_back(ErrorStatus(*code, "getData", path));
            continue;
          }
          if (header->type != kOpGetData) {
            return done(absl::InvalidArgumentError(absl::StrCat(
                "multiRead answered a getData with an operation of type ",
                header->type)));
          }
          absl::StatusOr<NodeData> node = ReadGetDataResponse(reader);
          if (!node.ok()) return done(node.status());
          results.push_back(*std::move(node));
        }
        absl::StatusOr<MultiHeader> end = ReadMultiHeader(reader);
        if (!end.ok()) return done(end.status());
        if (!end->done) {
          return done(absl::InvalidArgumentError(
              absl::StrCat("multiRead answered more than the ", paths.size(),
                           " reads asked")));
        }
        done(std::move(results));
      },
      /*may_skip=*/true);
}

void ZooKeeperWireSession::GetChildren(
    const std::string& path, bool watch,
    std::function<void(absl::StatusOr<NodeChildren>)> done) {
  JuteWriter body;
  body.Bytes(impl_->ServerPath(path));
  body.Bool(watch);
  // The frame bound already bounds each name; the count has its own.
  const size_t max_children = impl_->max_children();
  impl_->Submit(kOpGetChildren2, path, body.bytes(),
                [done = std::move(done), max_children](absl::Status status,
                                                       JuteReader* reader) {
                  if (!status.ok()) return done(status);
                  NodeChildren children;
                  absl::StatusOr<std::vector<std::string>> names =
                      reader->Strings("GetChildren2Response.children",
                                      max_children, SIZE_MAX);
                  if (!names.ok()) return done(names.status());
                  absl::StatusOr<NodeStat> stat = reader->Stat();
                  if (!stat.ok()) return done(stat.status());
                  children.names = *std::move(names);
                  children.stat = *stat;
                  done(std::move(children));
                });
}

void ZooKeeperWireSession::Exists(
    const std::string& path, bool watch,
    std::function<void(absl::StatusOr<std::optional<NodeStat>>)> done) {
  JuteWriter body;
  body.Bytes(impl_->ServerPath(path));
  body.Bool(watch);
  impl_->Submit(
      kOpExists, path, body.bytes(),
      [done = std::move(done)](absl::Status status, JuteReader* reader) {
        if (absl::IsNotFound(status)) {
          return done(std::optional<NodeStat>());
        }
        if (!status.ok()) return done(status);
        absl::StatusOr<NodeStat> stat = reader->Stat();
        if (!stat.ok()) return done(stat.status());
        done(std::optional<NodeStat>(*stat));
      });
}

void ZooKeeperWireSession::AddWatch(const std::string& path, AddWatchMode mode,
                                    std::function<void(absl::Status)> done) {
  JuteWriter body;
  body.Bytes(impl_->ServerPath(path));
  body.Int(static_cast<int32_t>(mode));
  impl_->Submit(kOpAddWatch, path, body.bytes(),
                [done = std::move(done)](absl::Status status, JuteReader*) {
                  done(status);
                });
}

bool ZooKeeperWireSession::connected() const { return impl_->connected(); }
bool ZooKeeperWireSession::WaitUntilConnected(absl::Duration timeout) const {
  return impl_->WaitUntilConnected(timeout);
}
int64_t ZooKeeperWireSession::session_id() const { return impl_->session_id(); }
std::string ZooKeeperWireSession::session_password() const {
  return impl_->session_password();
}
std::string ZooKeeperWireSession::server() const { return impl_->server(); }
ZooKeeperWireSession::Counters ZooKeeperWireSession::counters() const {
  return impl_->counters();
}

}  // namespace slacker::discovery
