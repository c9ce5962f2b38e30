#include "discovery/internal/http_get.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"

namespace slacker::discovery::internal {
namespace {

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes.
absl::Status WaitFor(int fd, short events, absl::Time deadline,
                     absl::string_view where) {
  while (true) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": no complete answer in time"));
    }
    pollfd p{fd, events, 0};
    const int n = poll(&p, 1,
                       static_cast<int>(absl::ToInt64Milliseconds(
                           left + absl::Milliseconds(1))));
    if (n > 0) return absl::OkStatus();
    if (n < 0 && errno != EINTR) {
      return absl::UnavailableError(
          absl::StrCat(where, ": poll: ", std::strerror(errno)));
    }
  }
}

// The Content-Length of `head`, if it names one.
std::optional<size_t> ContentLength(absl::string_view head) {
  for (absl::string_view line : absl::StrSplit(head, "\r\n")) {
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos ||
        !absl::EqualsIgnoreCase(line.substr(0, colon), "content-length")) {
      continue;
    }
    size_t length = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)),
                         &length)) {
      return length;
    }
  }
  return std::nullopt;
}

absl::StatusOr<HttpResponse> ParseResponse(const std::string& head,
                                           std::string body,
                                           absl::string_view where) {
  std::vector<absl::string_view> lines = absl::StrSplit(head, "\r\n");
  std::vector<absl::string_view> status_line =
      absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
  HttpResponse response;
  if (status_line.size() < 2 || !absl::StartsWith(status_line[0], "HTTP/") ||
      !absl::SimpleAtoi(status_line[1], &response.status) ||
      response.status < 100 || response.status > 999) {
    return absl::UnavailableError(
        absl::StrCat(where, ": not an HTTP answer (its first line is \"",
                     absl::CHexEscape(lines[0].substr(0, 80)), "\")"));
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == absl::string_view::npos) continue;
    const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    const absl::string_view value =
        absl::StripAsciiWhitespace(lines[i].substr(colon + 1));
    if (name == "transfer-encoding" &&
        !absl::EqualsIgnoreCase(value, "identity")) {
      return absl::UnavailableError(
          absl::StrCat(where, ": answered with Transfer-Encoding ", value,
                       " to an HTTP/1.0 request, which allows none"));
    }
    if (name == "content-length") {
      size_t length = 0;
      if (!absl::SimpleAtoi(value, &length)) {
        return absl::UnavailableError(
            absl::StrCat(where, ": malformed Content-Length"));
      }
      if (body.size() < length) {
        return absl::UnavailableError(absl::StrCat(where, ": closed after ",
                                                   body.size(), " of ", length,
                                                   " body bytes"));
      }
      body.resize(length);
    }
  }
  response.body = std::move(body);
  return response;
}

}  // namespace

absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port,
                                     const std::string& path,
                                     absl::Duration timeout,
                                     size_t max_body_bytes) {
  const std::string where = absl::StrCat("http://", host, ":", port, path);
  const absl::Time deadline = absl::Now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = absl::StrCat(port);
  if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return absl::UnavailableError(
        absl::StrCat(where, ": cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  absl::Status last =
      absl::UnavailableError(absl::StrCat(where, ": no address for ", host));
  int connected_fd = -1;
  for (addrinfo* a = found; a != nullptr && connected_fd < 0; a = a->ai_next) {
    const int fd =
        socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = absl::UnavailableError(
          absl::StrCat(where, ": connect: ", std::strerror(errno)));
      close(fd);
      continue;
    }
    if (absl::Status ready = WaitFor(fd, POLLOUT, deadline, where);
        !ready.ok()) {
      last = ready;
      close(fd);
      continue;
    }
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      last = absl::UnavailableError(
          absl::StrCat(where, ": connect: ", std::strerror(error)));
      close(fd);
      continue;
    }
    connected_fd = fd;
  }
  freeaddrinfo(found);
  if (connected_fd < 0) return last;
  Socket socket_owner(connected_fd);
  const int fd = connected_fd;

  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, ":", port,
                   "\r\nAccept: application/json\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    if (absl::Status ready = WaitFor(fd, POLLOUT, deadline, where);
        !ready.ok()) {
      return ready;
    }
    const ssize_t n =
        send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(
          absl::StrCat(where, ": send: ", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }

  std::string received;
  std::string head;
  size_t body_start = std::string::npos;
  std::optional<size_t> expected;
  char buffer[4096];
  while (true) {
    if (absl::Status ready = WaitFor(fd, POLLIN, deadline, where);
        !ready.ok()) {
      return ready;
    }
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(
          absl::StrCat(where, ": recv: ", std::strerror(errno)));
    }
    if (n == 0) break;  // The server closed: the answer is complete.
    received.append(buffer, static_cast<size_t>(n));
    if (body_start == std::string::npos) {
      const size_t end = received.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (received.size() > kMaxHttpHeaderBytes) {
          return absl::ResourceExhaustedError(
              absl::StrCat(where, ": headers longer than ", kMaxHttpHeaderBytes,
                           " bytes; not read"));
        }
        continue;
      }
      if (end > kMaxHttpHeaderBytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat(where, ": headers longer than ", kMaxHttpHeaderBytes,
                         " bytes; not read"));
      }
      head = received.substr(0, end);
      body_start = end + 4;
      expected = ContentLength(head);
    }
    // A server that keeps the connection open after a complete answer is
    // not waited for.
    if (expected.has_value() && received.size() - body_start >= *expected) {
      break;
    }
    if (received.size() - body_start > max_body_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          where, ": answer longer than ", max_body_bytes, " bytes; not read"));
    }
  }
  if (body_start == std::string::npos) {
    return absl::UnavailableError(
        absl::StrCat(where, ": closed before the end of the headers (",
                     received.size(), " bytes)"));
  }
  return ParseResponse(head, received.substr(body_start), where);
}

}  // namespace slacker::discovery::internal
