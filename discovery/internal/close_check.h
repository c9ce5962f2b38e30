// The check both watched views (NodeCache, ChildrenCache) make when they are
// closed: closing waits for the client's event thread, so it must not run on
// that thread.

#ifndef SLACKER_DISCOVERY_INTERNAL_CLOSE_CHECK_H_
#define SLACKER_DISCOVERY_INTERNAL_CLOSE_CHECK_H_

#include "absl/strings/string_view.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery::internal {

// Ends the process with a message naming `recipe` ("NodeCache /a") when
// called on `client`'s event thread; returns otherwise. Thread-safe.
void CheckClosedOffEventThread(const ZooKeeperClient& client,
                               absl::string_view recipe);

}  // namespace slacker::discovery::internal

#endif  // SLACKER_DISCOVERY_INTERNAL_CLOSE_CHECK_H_
