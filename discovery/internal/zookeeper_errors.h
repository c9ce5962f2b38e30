// The ZooKeeper C client's return codes as absl::Status: the one table behind
// the "Errors" of discovery/zookeeper_client.h. Pure functions, no network.

#ifndef SLACKER_DISCOVERY_INTERNAL_ZOOKEEPER_ERRORS_H_
#define SLACKER_DISCOVERY_INTERNAL_ZOOKEEPER_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker::discovery::internal {

// The C client's name for `rc` ("ZNONODE" for ZNONODE, ...); "ZUNKNOWN" for a
// code the C client 3.8 does not define.
const char* ZooKeeperErrorName(int rc);

// What the client knew when the call failed; it changes which status a
// connection error becomes, and what a permission error says.
struct ZooKeeperErrorContext {
  // Close() had begun: connection errors are Cancelled.
  bool client_closed = false;
  // The call was issued on a session the client has since replaced.
  bool session_replaced = false;
  // ZooKeeperOptions::digest ("user:password", or empty); only the user is
  // ever written into a message.
  absl::string_view digest;
};

// The status of `operation` ("get", "create", ...) on `path` failing with
// `rc`, which is not ZOK. The message is "<operation> <path>: <name>
// (<zerror text>)", plus what to do where there is something to do. The codes
// are those listed in discovery/zookeeper_client.h. Thread-safe.
absl::Status ZooKeeperError(int rc, absl::string_view operation,
                            absl::string_view path,
                            const ZooKeeperErrorContext& context);

}  // namespace slacker::discovery::internal

#endif  // SLACKER_DISCOVERY_INTERNAL_ZOOKEEPER_ERRORS_H_
