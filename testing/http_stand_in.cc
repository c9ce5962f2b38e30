#include "testing/http_stand_in.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace slacker::testing {

absl::StatusOr<std::unique_ptr<HttpStandIn>> HttpStandIn::Start(Handler handler,
                                                                int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 16) != 0) {
    const std::string error = std::strerror(errno);
    close(fd);
    return absl::InternalError(
        absl::StrCat("cannot listen on 127.0.0.1:", port, ": ", error));
  }
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  int wake[2];
  if (pipe2(wake, O_CLOEXEC) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  }
  std::unique_ptr<HttpStandIn> server(new HttpStandIn(
      std::move(handler), fd, ntohs(address.sin_port), wake[0], wake[1]));
  server->thread_ = std::thread([raw = server.get()] { raw->Serve(); });
  return server;
}

HttpStandIn::HttpStandIn(Handler handler, int listen_fd, int port,
                         int wake_read, int wake_write)
    : handler_(std::move(handler)),
      listen_fd_(listen_fd),
      port_(port),
      wake_read_(wake_read),
      wake_write_(wake_write) {}

HttpStandIn::~HttpStandIn() {
  stopping_.store(true);
  const char byte = 0;
  (void)!write(wake_write_, &byte, 1);
  if (thread_.joinable()) thread_.join();
  close(listen_fd_);
  close(wake_read_);
  close(wake_write_);
}

bool HttpStandIn::Wait(int fd, short events, absl::Duration timeout) {
  pollfd fds[2] = {{fd, events, 0}, {wake_read_, POLLIN, 0}};
  const int ms = timeout == absl::InfiniteDuration()
                     ? -1
                     : static_cast<int>(absl::ToInt64Milliseconds(timeout));
  while (!stopping_.load()) {
    const int n = poll(fds, 2, ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (fds[1].revents != 0) return false;
    return true;
  }
  return false;
}

void HttpStandIn::Serve() {
  while (Wait(listen_fd_, POLLIN, absl::InfiniteDuration())) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    Answer(fd);
    close(fd);
  }
}

void HttpStandIn::Answer(int fd) {
  std::string request;
  char buffer[1024];
  while (request.find("\r\n\r\n") == std::string::npos &&
         request.size() < 64 * 1024) {
    if (!Wait(fd, POLLIN, absl::Seconds(10))) return;
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }
  requests_.fetch_add(1);
  std::vector<std::string> first =
      absl::StrSplit(request.substr(0, request.find("\r\n")), ' ');
  const Reply reply = handler_(first.size() >= 2 ? first[1] : "");
  if (reply.hang) {
    // Until the client closes (readable at EOF) or the server stops.
    while (Wait(fd, POLLIN, absl::InfiniteDuration())) {
      if (recv(fd, buffer, sizeof(buffer), 0) <= 0) return;
    }
    return;
  }
  const std::string answer =
      absl::StrCat("HTTP/1.0 ", reply.status,
                   " Stand-in\r\nContent-Type: application/json"
                   "\r\nContent-Length: ",
                   reply.body.size(), "\r\n\r\n", reply.body);
  if (reply.byte_delay > absl::ZeroDuration()) {
    for (char c : answer) {
      if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) return;  // The client left.
      absl::SleepFor(reply.byte_delay);
      if (stopping_.load()) return;
    }
    return;
  }
  size_t sent = 0;
  while (sent < answer.size()) {
    const ssize_t n =
        send(fd, answer.data() + sent, answer.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace slacker::testing
