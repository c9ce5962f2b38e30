// The announcement format other than Slacker's and Curator's that JVM shops
// run on ZooKeeper, read as endpoints: what a cluster channel needs to call
// the servers it announces (framework/cluster_channel.h,
// ClusterChannelOptions::announcement). Pure functions over one node's data;
// no ZooKeeper type. (Curator's ServiceInstance nodes are read by
// curator_instance_json.h.)
//
// Finagle/Aurora ServerSets (com.twitter.common.zookeeper.ServerSet, Finagle's
// serverset2): one ephemeral-sequential node per member, <path>/member_<seq>,
// holding JSON such as
//   {"serviceEndpoint":{"host":"10.0.0.7","port":31337},
//    "additionalEndpoints":{"grpc":{"host":"10.0.0.7","port":31338}},
//    "status":"ALIVE","shard":0}
// Read here: serviceEndpoint, additionalEndpoints, status, shard.
//
// Everything read is untrusted: each node's data is bounded in size and
// depth (kForeignAnnouncementBounds) before it is parsed, and anything that
// does not describe a usable endpoint is refused with InvalidArgument saying
// why. Thread-safe (pure functions).

#ifndef SLACKER_DISCOVERY_FOREIGN_ANNOUNCEMENTS_H_
#define SLACKER_DISCOVERY_FOREIGN_ANNOUNCEMENTS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/json_bounds.h"

namespace slacker::discovery {

// One member node; larger or deeper data is refused unparsed.
inline constexpr internal::JsonBounds kForeignAnnouncementBounds{
    /*max_bytes=*/128 * 1024, /*max_depth=*/32, /*max_items=*/4096};

// A host and port as announced: host is printable ASCII without spaces or
// '/', 1..255 bytes; port 1..65535.
struct AnnouncedEndpoint {
  std::string host;
  int port = 0;

  // "host:port", "[host]:port" for an IPv6 literal.
  std::string HostPort() const;
};

// OK for a host a channel can dial as announced: printable ASCII without
// spaces or '/', 1..255 bytes; else InvalidArgument naming `what`.
absl::Status ValidateAnnouncedHost(const std::string& host,
                                   absl::string_view what);

struct ServerSetMember {
  AnnouncedEndpoint service_endpoint;
  std::map<std::string, AnnouncedEndpoint> additional_endpoints;
  // "ALIVE", "DEAD", "STARTING", "STOPPING", "STOPPED", "WARNING"; "ALIVE"
  // when the node has none.
  std::string status;
  std::optional<int> shard;
};

// Whether a child of a ServerSet's path is a member node by its name
// ("member_" followed by a sequence number, as ServerSetImpl creates them).
bool IsServerSetMemberName(absl::string_view name);

// Parses a ServerSet member node. InvalidArgument if the data passes the
// bounds, is not a JSON object, or its serviceEndpoint (or an additional
// endpoint) is not a valid {host, port}; status must be a string and shard an
// integer when present.
absl::StatusOr<ServerSetMember> ParseServerSetMember(absl::string_view json);

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_FOREIGN_ANNOUNCEMENTS_H_
