#include "testing/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace slacker::testing {
namespace {

// Bytes held per direction before reading from that side pauses.
constexpr size_t kBufferBytes = 64 * 1024;

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("tcp proxy: ", what, ": ", std::strerror(errno)));
}

}  // namespace

// One forwarded connection: side 0 is the accepted client, side 1 the target.
struct TcpProxy::Connection {
  int fd[2] = {-1, -1};
  bool connecting = true;  // Side 1's non-blocking connect is under way.
  // pending[i]: read from side i, not yet written to side 1 - i.
  std::string pending[2];
  bool eof[2] = {false, false};        // Side i sent FIN.
  bool shut_down[2] = {false, false};  // We sent FIN to side i.

  ~Connection() {
    for (int fd_i : fd) {
      if (fd_i >= 0) close(fd_i);
    }
  }
};

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(
    absl::string_view target) {
  const size_t colon = target.rfind(':');
  int target_port = 0;
  in_addr address{};
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(target.substr(colon + 1), &target_port) ||
      target_port <= 0 || target_port > 65535 ||
      inet_pton(AF_INET, std::string(target.substr(0, colon)).c_str(),
                &address) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tcp proxy: target \"", target,
                     "\" is not \"a.b.c.d:port\" (a numeric IPv4 address)"));
  }
  const int listener =
      socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listener < 0) return Errno("socket");
  sockaddr_in bind_address{};
  bind_address.sin_family = AF_INET;
  bind_address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind_address.sin_port = 0;  // A free port.
  socklen_t length = sizeof(bind_address);
  if (bind(listener, reinterpret_cast<sockaddr*>(&bind_address),
           sizeof(bind_address)) != 0 ||
      listen(listener, 64) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&bind_address),
                  &length) != 0) {
    absl::Status status = Errno("listen on 127.0.0.1");
    close(listener);
    return status;
  }
  int wake[2];
  if (pipe2(wake, O_NONBLOCK | O_CLOEXEC) != 0) {
    absl::Status status = Errno("pipe");
    close(listener);
    return status;
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(listener, ntohs(bind_address.sin_port), address.s_addr,
                   target_port, wake[0], wake[1]));
}

TcpProxy::TcpProxy(int listener, int port, uint32_t target_address,
                   int target_port, int wake_read, int wake_write)
    : listener_(listener),
      port_(port),
      target_address_(target_address),
      target_port_(target_port),
      wake_read_(wake_read),
      wake_write_(wake_write),
      thread_([this] { Loop(); }) {}

TcpProxy::~TcpProxy() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
  close(listener_);
  close(wake_read_);
  close(wake_write_);
}

std::string TcpProxy::address() const {
  return absl::StrCat("127.0.0.1:", port_);
}

void TcpProxy::Cut() {
  std::unique_lock<std::mutex> lock(mu_);
  cut_ = true;
  const uint64_t request = ++requested_cuts_;
  lock.unlock();
  Wake();
  lock.lock();
  cut_done_.wait(lock, [&] { return completed_cuts_ >= request || stopping_; });
}

void TcpProxy::Restore() {
  std::lock_guard<std::mutex> lock(mu_);
  cut_ = false;
}

bool TcpProxy::is_cut() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cut_;
}

int64_t TcpProxy::forwarded_connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return forwarded_;
}

void TcpProxy::Wake() {
  const char byte = 0;
  // A full pipe already holds a wake-up; nothing is lost.
  (void)!write(wake_write_, &byte, 1);
}

void TcpProxy::Loop() {
  std::list<Connection> connections;
  std::vector<pollfd> fds;
  // fds[2 + 2 * k + side] belongs to the k-th connection in `order`.
  std::vector<Connection*> order;
  while (true) {
    fds.clear();
    order.clear();
    fds.push_back({wake_read_, POLLIN, 0});
    fds.push_back({listener_, POLLIN, 0});
    for (Connection& connection : connections) {
      order.push_back(&connection);
      for (int side = 0; side < 2; ++side) {
        short events = 0;
        if (connection.connecting) {
          if (side == 1) events = POLLOUT;
        } else {
          if (!connection.eof[side] &&
              connection.pending[side].size() < kBufferBytes) {
            events |= POLLIN;
          }
          if (!connection.pending[1 - side].empty()) events |= POLLOUT;
        }
        fds.push_back({connection.fd[side], events, 0});
      }
    }
    if (poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return;  // Cannot happen with valid descriptors.
    }

    bool cut;
    uint64_t requested;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        connections.clear();
        completed_cuts_ = requested_cuts_;
        cut_done_.notify_all();
        return;
      }
      cut = cut_;
      requested = requested_cuts_;
    }
    if (fds[0].revents != 0) {
      char drain[64];
      while (read(wake_read_, drain, sizeof(drain)) > 0) {
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (completed_cuts_ < requested) {
        connections.clear();  // Closes both sides of each.
        completed_cuts_ = requested;
        cut_done_.notify_all();
        continue;  // `order` points at what was just freed.
      }
    }

    if (fds[1].revents & POLLIN) {
      while (true) {
        const int client =
            accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) break;
        if (cut) {
          close(client);  // The client sees its connection end at once.
          continue;
        }
        Connection& connection = connections.emplace_back();
        connection.fd[0] = client;
        connection.fd[1] =
            socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        sockaddr_in target{};
        target.sin_family = AF_INET;
        target.sin_addr.s_addr = target_address_;
        target.sin_port = htons(target_port_);
        const int one = 1;
        setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connection.fd[1] < 0 ||
            (connect(connection.fd[1], reinterpret_cast<sockaddr*>(&target),
                     sizeof(target)) != 0 &&
             errno != EINPROGRESS)) {
          connections.pop_back();  // The target refused: so do we.
          continue;
        }
        setsockopt(connection.fd[1], IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof(one));
        std::lock_guard<std::mutex> lock(mu_);
        ++forwarded_;
      }
    }

    for (size_t k = 0; k < order.size(); ++k) {
      Connection& connection = *order[k];
      bool failed = false;
      const short revents[2] = {fds[2 + 2 * k].revents,
                                fds[2 + 2 * k + 1].revents};
      if (connection.connecting) {
        if (revents[1] == 0) continue;
        int error = 0;
        socklen_t length = sizeof(error);
        getsockopt(connection.fd[1], SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          failed = true;  // The target refused: the client sees EOF.
        } else {
          connection.connecting = false;
        }
      } else {
        for (int side = 0; side < 2 && !failed; ++side) {
          if (revents[side] & (POLLERR | POLLNVAL)) {
            failed = true;
            break;
          }
          // Read on POLLHUP too: it reports end-of-file (or the error).
          const size_t room = kBufferBytes - connection.pending[side].size();
          if ((revents[side] & (POLLIN | POLLHUP)) && !connection.eof[side] &&
              room > 0) {
            char buffer[16 * 1024];
            const ssize_t n = recv(connection.fd[side], buffer,
                                   std::min(room, sizeof(buffer)), 0);
            if (n > 0) {
              connection.pending[side].append(buffer, n);
              bytes_read_[side].fetch_add(n, std::memory_order_relaxed);
            } else if (n == 0) {
              connection.eof[side] = true;
            } else if (errno != EAGAIN && errno != EINTR) {
              failed = true;
            }
          } else if ((revents[side] & POLLHUP) && connection.eof[side]) {
            failed = true;  // Both directions of that side are gone.
          }
        }
        for (int side = 0; side < 2 && !failed; ++side) {
          std::string& out = connection.pending[1 - side];
          if (!out.empty() && (revents[side] & POLLOUT)) {
            const ssize_t n =
                send(connection.fd[side], out.data(), out.size(), MSG_NOSIGNAL);
            if (n > 0) {
              out.erase(0, n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
              failed = true;
            }
          }
        }
        // Pass a FIN on once everything before it has been written.
        for (int side = 0; side < 2 && !failed; ++side) {
          if (connection.eof[side] && connection.pending[side].empty() &&
              !connection.shut_down[1 - side]) {
            shutdown(connection.fd[1 - side], SHUT_WR);
            connection.shut_down[1 - side] = true;
          }
        }
      }
      const bool finished = connection.shut_down[0] && connection.shut_down[1];
      if (failed || finished) {
        for (auto it = connections.begin(); it != connections.end(); ++it) {
          if (&*it == &connection) {
            connections.erase(it);
            break;
          }
        }
      }
    }
  }
}

}  // namespace slacker::testing
