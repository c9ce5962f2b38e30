// The smallest useful ZooKeeper C client wrapper: one handle whose session
// state can be waited on. Tests, tools and the fixture use it to read and write
// znodes and to take over a session; the framework's own ZooKeeper layer lives
// in discovery/ and does far more (re-armed watches, recreated ephemerals).

#ifndef SLACKER_TESTING_ZOOKEEPER_RAW_SESSION_H_
#define SLACKER_TESTING_ZOOKEEPER_RAW_SESSION_H_

#include <zookeeper/zookeeper.h>

#include <condition_variable>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slacker::testing {

// Thread-safe. Owns the handle: the destructor closes it, which ends the
// session (its ephemeral nodes go) unless the session has expired already.
class ZooKeeperRawSession {
 public:
  // Opens a handle to `hosts` ("h1:p1,h2:p2[/chroot]") and waits up to
  // `connect_timeout` for the session to be established. With `resume`, takes
  // over that existing session instead of creating one; NotFound if the server
  // answers that it has expired. InvalidArgument for a malformed `hosts`,
  // DeadlineExceeded if no server answered in time.
  static absl::StatusOr<std::unique_ptr<ZooKeeperRawSession>> Connect(
      const std::string& hosts,
      absl::Duration session_timeout = absl::Seconds(4),
      absl::Duration connect_timeout = absl::Seconds(20),
      const clientid_t* resume = nullptr);

  ~ZooKeeperRawSession();
  ZooKeeperRawSession(const ZooKeeperRawSession&) = delete;
  ZooKeeperRawSession& operator=(const ZooKeeperRawSession&) = delete;

  // The handle, for the C API's synchronous calls. Valid while *this lives.
  zhandle_t* handle() const { return handle_; }
  // The session's id and password, e.g. for ZooKeeperCluster::ExpireSession.
  clientid_t client_id() const;

  // The last session state the handle reported (ZOO_CONNECTED_STATE, ...).
  int state() const;
  // Waits until the last reported state is one of `states`; returns it, or 0
  // if `timeout` passed first.
  int WaitForState(std::initializer_list<int> states, absl::Duration timeout);

 private:
  ZooKeeperRawSession() = default;
  static void OnEvent(zhandle_t*, int type, int state, const char*, void* ctx);

  zhandle_t* handle_ = nullptr;
  mutable std::mutex mu_;  // Not absl::Mutex: see ZooKeeperCluster::mu_.
  std::condition_variable state_changed_;
  int state_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_ZOOKEEPER_RAW_SESSION_H_
