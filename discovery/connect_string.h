// ZooKeeper connect strings, "host:port[,host:port...][/chroot]": split into
// the host list the C client is given and the chroot every path is under.
//
//   absl::StatusOr<ConnectString> parsed =
//       ParseConnectString("10.0.0.1:2181,10.0.0.2:2181/app");
//   // parsed->hosts == "10.0.0.1:2181,10.0.0.2:2181", parsed->chroot == "/app"
//
// Thread-safe (pure functions).

#ifndef SLACKER_DISCOVERY_CONNECT_STRING_H_
#define SLACKER_DISCOVERY_CONNECT_STRING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slacker::discovery {

struct ConnectString {
  // Everything before the first '/', as given: "host:port,...".
  std::string hosts;
  // From the first '/' on, a valid ZooKeeper path; empty for none (a chroot
  // of "/" is none).
  std::string chroot;
};

// Splits `connect_string` and checks it: at least one host; each host,
// stripped of ASCII whitespace, non-empty with a port of 1 to 65535 after its
// last ':' (so "[::1]:2181" passes, the brackets kept for the C client); the
// chroot a valid path. InvalidArgument naming the string, what is wrong and
// the expected form otherwise.
absl::StatusOr<ConnectString> ParseConnectString(
    absl::string_view connect_string);

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CONNECT_STRING_H_
