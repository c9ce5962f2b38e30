#include "testing/zookeeper_raw_session.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace slacker::testing {

void ZooKeeperRawSession::OnEvent(zhandle_t*, int type, int state, const char*,
                                  void* ctx) {
  if (type != ZOO_SESSION_EVENT) return;
  auto* self = static_cast<ZooKeeperRawSession*>(ctx);
  std::lock_guard<std::mutex> lock(self->mu_);
  self->state_ = state;
  self->state_changed_.notify_all();
}

absl::StatusOr<std::unique_ptr<ZooKeeperRawSession>>
ZooKeeperRawSession::Connect(const std::string& hosts,
                             absl::Duration session_timeout,
                             absl::Duration connect_timeout,
                             const clientid_t* resume) {
  std::unique_ptr<ZooKeeperRawSession> session(new ZooKeeperRawSession);
  session->handle_ = zookeeper_init(
      hosts.c_str(), &ZooKeeperRawSession::OnEvent,
      static_cast<int>(absl::ToInt64Milliseconds(session_timeout)), resume,
      session.get(), 0);
  if (session->handle_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open a ZooKeeper handle for '", hosts,
                     "': expected host:port[,host:port...][/chroot]"));
  }
  const int state = session->WaitForState(
      {ZOO_CONNECTED_STATE, ZOO_EXPIRED_SESSION_STATE, ZOO_AUTH_FAILED_STATE},
      connect_timeout);
  if (state == ZOO_CONNECTED_STATE) return session;
  if (state == ZOO_EXPIRED_SESSION_STATE) {
    return absl::NotFoundError(absl::StrCat(
        "ZooKeeper session 0x", absl::Hex(resume->client_id), " has expired"));
  }
  if (state == ZOO_AUTH_FAILED_STATE) {
    return absl::PermissionDeniedError(
        absl::StrCat("ZooKeeper at ", hosts, " refused authentication"));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no ZooKeeper server at ", hosts, " answered within ",
                   absl::FormatDuration(connect_timeout)));
}

ZooKeeperRawSession::~ZooKeeperRawSession() {
  // zookeeper_close waits for the client's threads: no callback runs after.
  if (handle_ != nullptr) zookeeper_close(handle_);
}

clientid_t ZooKeeperRawSession::client_id() const {
  return *zoo_client_id(handle_);
}

int ZooKeeperRawSession::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

int ZooKeeperRawSession::WaitForState(std::initializer_list<int> states,
                                      absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  const bool reached =
      state_changed_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
        return std::find(states.begin(), states.end(), state_) != states.end();
      });
  return reached ? state_ : 0;
}

}  // namespace slacker::testing
