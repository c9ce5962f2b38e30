// The name a server's TLS certificate carries, as a cluster server publishes
// it in its server node (ServerInfo.tls_name) and cluster channels check that
// server's certificate against (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG on its
// connection): one rule for what such a name may be, used by the server that
// writes it and by every reader of the registry, which must not hand gRPC
// whatever a ZooKeeper node says.

#ifndef SLACKER_FRAMEWORK_INTERNAL_TLS_NAME_H_
#define SLACKER_FRAMEWORK_INTERNAL_TLS_NAME_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker::internal {

// A DNS name's length limit.
inline constexpr size_t kMaxTlsNameLength = 253;

// OK for a name of 1 to kMaxTlsNameLength letters, digits, '.', '-', '_' and
// ':' (DNS names, IPv4 and IPv6 literals without brackets); InvalidArgument,
// naming `what` and the rule, otherwise. Thread-safe.
absl::Status ValidateTlsName(absl::string_view name, absl::string_view what);

// The name a server published at `address` ("host:port" or "[v6]:port") is
// checked against: `tls_name` if not empty, else the address's host (servers
// of builds before ServerInfo.tls_name). Thread-safe.
std::string TlsNameOf(absl::string_view address, absl::string_view tls_name);

// Where the name a connection's certificate was checked against came from.
enum class TlsNameSource {
  kChannel,    // The channel's own GRPC_SSL_TARGET_NAME_OVERRIDE_ARG.
  kPublished,  // The server's ServerInfo.tls_name.
  kHost,       // The server's address (it published no name).
};

// For a failed connection to the server at `address` whose message
// (gRPC's, e.g. "Handshake failed") looks like a TLS failure (it names TLS,
// SSL, a handshake or a certificate): `message` with what was checked and
// what to do ("...: TLS handshake with 127.0.0.2:5000 failed, checking its
// certificate against '127.0.0.2' (the server's host): its certificate must
// be signed by a CA the channel trusts and list that name in its
// subjectAltName ..."). Any other message: returned as it is. Thread-safe.
std::string ExplainConnectionFailure(absl::string_view message,
                                     absl::string_view address,
                                     absl::string_view name,
                                     TlsNameSource source);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_TLS_NAME_H_
