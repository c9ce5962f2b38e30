#include "discovery/connect_string.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {

absl::StatusOr<ConnectString> ParseConnectString(
    absl::string_view connect_string) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed ZooKeeper connect string \"", connect_string, "\": ", why,
        "; expected host:port[,host:port...][/chroot], e.g. "
        "127.0.0.1:2181,127.0.0.1:2182/app"));
  };
  ConnectString parsed;
  const size_t slash = connect_string.find('/');
  absl::string_view host_part = connect_string.substr(0, slash);
  if (slash != absl::string_view::npos) {
    parsed.chroot = std::string(connect_string.substr(slash));
  }
  if (host_part.empty()) return invalid("no host");
  for (absl::string_view host : absl::StrSplit(host_part, ',')) {
    host = absl::StripAsciiWhitespace(host);
    const size_t colon = host.rfind(':');
    if (host.empty()) return invalid("an empty host");
    if (colon == absl::string_view::npos || colon == 0) {
      return invalid(absl::StrCat("\"", host, "\" has no host:port"));
    }
    int port = 0;
    if (!absl::SimpleAtoi(host.substr(colon + 1), &port) || port < 1 ||
        port > 65535) {
      return invalid(absl::StrCat("\"", host, "\" has no valid port"));
    }
  }
  if (!parsed.chroot.empty() && parsed.chroot != "/") {
    if (absl::Status valid = ValidatePath(parsed.chroot); !valid.ok()) {
      return invalid(absl::StrCat("bad chroot: ", valid.message()));
    }
  }
  if (parsed.chroot == "/") parsed.chroot.clear();
  parsed.hosts = std::string(host_part);
  return parsed;
}

}  // namespace slacker::discovery
