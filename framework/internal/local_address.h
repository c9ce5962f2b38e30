// The address a server publishes when none is given: the local IP address the
// machine uses to reach ZooKeeper, as slacker's auto-detect-ip does. That is
// the address of the interface facing the network the clients share with
// ZooKeeper, not whatever the host name resolves to.

#ifndef SLACKER_FRAMEWORK_INTERNAL_LOCAL_ADDRESS_H_
#define SLACKER_FRAMEWORK_INTERNAL_LOCAL_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace slacker::internal {

// The local IP address (IPv4 dotted, or IPv6 without brackets) of the route to
// the first host of `connect_string` ("host:port[,host:port...][/chroot]").
// Sends nothing: it connects a UDP socket and reads its local address.
// InvalidArgument for a malformed connect string; Unavailable if the host does
// not resolve or no route leads there. Thread-safe.
absl::StatusOr<std::string> LocalAddressToward(
    absl::string_view connect_string);

// "host:port", with IPv6 literals in brackets ("[::1]:80").
std::string HostPort(absl::string_view host, int port);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_LOCAL_ADDRESS_H_
