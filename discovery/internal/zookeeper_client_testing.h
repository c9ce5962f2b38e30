// Test hooks of ZooKeeperClient: they force an order of events that happens
// only by chance otherwise, so that a test can provoke it every time. Not for
// production code: nothing outside tests calls them.
//
// Thread-safe; process-wide (every client of the process sees the setting).

#ifndef SLACKER_DISCOVERY_INTERNAL_ZOOKEEPER_CLIENT_TESTING_H_
#define SLACKER_DISCOVERY_INTERNAL_ZOOKEEPER_CLIENT_TESTING_H_

namespace slacker::discovery::internal {

// While on, ZooKeeperClient::Connect makes its ZooKeeper handle, waits until
// that handle's first session event has been handled on the client's event
// thread (at most connect_timeout), and only then makes the handle the
// client's current one. That is the order in which the C client's threads win
// the race with the thread that called Connect: under load it happened by
// chance, and the client then recorded its session as 0.
void SetSessionEventBeforeHandleForTesting(bool on);

}  // namespace slacker::discovery::internal

#endif  // SLACKER_DISCOVERY_INTERNAL_ZOOKEEPER_CLIENT_TESTING_H_
