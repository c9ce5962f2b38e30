// Hung-server detection: the HTTP/2 keepalive settings of every connection
// between a cluster channel and a cluster server, in one place, because the
// two sides must agree (a server that thinks the client pings too often
// closes the connection with GOAWAY "too_many_pings").
//
// Client (ClusterChannelOptions::keepalive_time / keepalive_timeout, set by
// CreateClusterChannel, and by the LB policy on every subchannel it creates
// when the channel's arguments do not name them): after kKeepaliveTime
// without a byte from the server, the connection is pinged; without an
// answer within kKeepaliveTimeout it is closed. Calls in flight on it then
// fail UNAVAILABLE at once (and the default retry policy may retry them, see
// cluster_channel.h) instead of running into their deadline, and the server
// is not picked until it connects again. A server stopped with SIGSTOP (or
// hung in the kernel, or behind a dead link) is so dropped within
// kKeepaliveTime + kKeepaliveTimeout of its last byte, 2 s, where without
// keepalive it keeps its share of calls until its ZooKeeper session expires
// (10 s by default). A busy connection is never pinged: gRPC restarts the
// wait on every byte read. gRPC 1.51 sends a client ping at most once a
// second whatever the setting.
//
// Server (ClusterServerBuilder): accepts pings every kServerMinPingInterval,
// with or without calls; gRPC's server default (5 min, none without calls)
// would answer the client's pings with GOAWAY after three of them.

#ifndef SLACKER_FRAMEWORK_INTERNAL_KEEPALIVE_H_
#define SLACKER_FRAMEWORK_INTERNAL_KEEPALIVE_H_

#include "absl/time/time.h"

namespace slacker::internal {

// Together well under any session timeout a server gets from a ZooKeeper
// with its default 2 s tick (at least 2 ticks, 4 s; 10 s is the cluster
// server's default), and long against a loaded machine's scheduling delays:
// a false alarm costs one reconnection and the retry of the calls in flight.
inline constexpr absl::Duration kKeepaliveTime = absl::Seconds(1);
inline constexpr absl::Duration kKeepaliveTimeout = absl::Seconds(1);

// Half the fastest client ping rate (one a second), for clock and network
// jitter.
inline constexpr absl::Duration kServerMinPingInterval =
    absl::Milliseconds(500);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_KEEPALIVE_H_
