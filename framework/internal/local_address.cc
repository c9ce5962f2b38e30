#include "framework/internal/local_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace slacker::internal {

absl::StatusOr<std::string> LocalAddressToward(
    absl::string_view connect_string) {
  const absl::string_view hosts =
      connect_string.substr(0, connect_string.find('/'));
  const absl::string_view first = hosts.substr(0, hosts.find(','));
  std::string host;
  std::string port;
  if (!first.empty() && first.front() == '[') {
    const size_t close = first.find(']');
    if (close != absl::string_view::npos && close + 1 < first.size() &&
        first[close + 1] == ':') {
      host = std::string(first.substr(1, close - 1));
      port = std::string(first.substr(close + 2));
    }
  } else {
    const size_t colon = first.rfind(':');
    if (colon != absl::string_view::npos) {
      host = std::string(first.substr(0, colon));
      port = std::string(first.substr(colon + 1));
    }
  }
  if (host.empty() || port.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot detect the local address: the ZooKeeper connect string \"",
        connect_string, "\" does not start with host:port; give the address"));
  }
  addrinfo hints = {};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  const int resolved = getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
  if (resolved != 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot detect the local address: ZooKeeper host ", host,
        " does not resolve (", gai_strerror(resolved), "); give the address"));
  }
  std::string error = "no address";
  for (addrinfo* candidate = found; candidate != nullptr;
       candidate = candidate->ai_next) {
    const int fd = socket(candidate->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = std::strerror(errno);
      continue;
    }
    sockaddr_storage local = {};
    socklen_t length = sizeof(local);
    if (connect(fd, candidate->ai_addr, candidate->ai_addrlen) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
      error = std::strerror(errno);
      close(fd);
      continue;
    }
    close(fd);
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        local.ss_family == AF_INET6
            ? static_cast<const void*>(
                  &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr)
            : static_cast<const void*>(
                  &reinterpret_cast<sockaddr_in*>(&local)->sin_addr);
    if (inet_ntop(local.ss_family, raw, text, sizeof(text)) == nullptr) {
      error = std::strerror(errno);
      continue;
    }
    freeaddrinfo(found);
    return std::string(text);
  }
  freeaddrinfo(found);
  return absl::UnavailableError(
      absl::StrCat("cannot detect the local address: no route to ZooKeeper "
                   "host ",
                   host, " (", error, "); give the address"));
}

std::string HostPort(absl::string_view host, int port) {
  if (host.find(':') != absl::string_view::npos) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

}  // namespace slacker::internal
