// A loopback TCP forwarder that a test can cut and restore: connect one
// ZooKeeper client through it, Cut(), and that client alone is partitioned
// from ZooKeeper while the others stay connected.
//
//   absl::StatusOr<std::unique_ptr<TcpProxy>> proxy =
//       TcpProxy::Start(zookeeper().NodeAddress(0));
//   options.connect_string = (*proxy)->address();
//   ...
//   (*proxy)->Cut();      // the client sees its connection drop at once
//   (*proxy)->Restore();  // it can connect again

#ifndef SLACKER_TESTING_TCP_PROXY_H_
#define SLACKER_TESTING_TCP_PROXY_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slacker::testing {

// Thread-safe: every method may be called from any thread. One thread of its
// own moves the bytes (poll(), non-blocking sockets); the destructor stops it
// and closes every connection.
class TcpProxy {
 public:
  // Listens on 127.0.0.1:<a free port> and forwards each accepted connection
  // to `target`, "a.b.c.d:port" (a numeric IPv4 address: this is for
  // loopback tests). InvalidArgument for a malformed target; Internal if a
  // socket cannot be made.
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(
      absl::string_view target);

  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  // "127.0.0.1:<port>", for a connect string.
  std::string address() const;

  // Closes every forwarded connection, both sides, and from then on accepts
  // new connections only to close them at once, so that clients see the
  // partition fast instead of waiting for a timeout. Returns once the
  // connections are closed. Idempotent.
  void Cut();
  // Forwards new connections again. Idempotent.
  void Restore();
  bool is_cut() const;

  // Connections accepted and forwarded since Start (not those refused while
  // cut).
  int64_t forwarded_connections() const;

  // Bytes read from the clients (forwarded to the target) and from the
  // target (forwarded to the clients) since Start, over every connection:
  // what the clients behind the proxy cost the network, for benchmarks.
  int64_t bytes_from_clients() const {
    return bytes_read_[0].load(std::memory_order_relaxed);
  }
  int64_t bytes_from_target() const {
    return bytes_read_[1].load(std::memory_order_relaxed);
  }

 private:
  struct Connection;

  TcpProxy(int listener, int port, uint32_t target_address, int target_port,
           int wake_read, int wake_write);
  void Loop();
  void Wake();

  const int listener_;
  const int port_;
  const uint32_t target_address_;  // Network byte order.
  const int target_port_;
  const int wake_read_;
  const int wake_write_;

  // std::mutex, not absl::Mutex: see README.md on ThreadSanitizer.
  mutable std::mutex mu_;
  std::condition_variable cut_done_;
  bool cut_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Cut() asks for requested_cuts_ > completed_cuts_; the thread catches up.
  uint64_t requested_cuts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t completed_cuts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t forwarded_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> bytes_read_[2] = {0, 0};  // By side: client, target.

  std::thread thread_;  // Last: starts once the members above exist.
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_TCP_PROXY_H_
