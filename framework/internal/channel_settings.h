// What the cluster channel's convenience function hands to the `zk` resolver
// and load-balancing policy in framework/grpc_plugin/, through channel
// arguments (in-process only: channel arguments are never sent to servers),
// and the process-wide discovery statistics they record.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CHANNEL_SETTINGS_H_
#define SLACKER_FRAMEWORK_INTERNAL_CHANNEL_SETTINGS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace slacker::internal {

// JSON object: {"grouping": "random", "methods": {"pkg.Svc/Method": "leader"},
// "setAsideAfter": 5, "setAsideForMs": 10000, "root": "/slacker/cluster"}.
// Every field is optional; the target's query parameters come after it.
inline constexpr char kClusterConfigArg[] = "slacker.cluster_config";
// The channel's own service config (JSON string). gRPC keeps
// GRPC_ARG_SERVICE_CONFIG from resolvers, so the resolver reads this copy.
inline constexpr char kServiceConfigArg[] = "slacker.service_config";
// ZooKeeper session timeout in milliseconds (int).
inline constexpr char kSessionTimeoutArg[] =
    "slacker.zookeeper_session_timeout_ms";
// ZooKeeper digest credentials "user:password" (string).
inline constexpr char kDigestArg[] = "slacker.zookeeper_digest";

// Callbacks a channel's owner registered. Called on the channel's ZooKeeper
// thread, one at a time.
struct ChannelHooks {
  // A server's data changed (also when it first appears, from "" to its data,
  // and when it leaves, to "").
  std::function<void(const std::string& address, const std::string& old_data,
                     const std::string& new_data)>
      on_server_data_change;
};

// Hooks by channel id (kChannelIdArg), registered by CreateClusterChannel for
// as long as the channel lives, found by the channel's resolver. (Not a
// pointer channel argument: gRPC copies those on its own threads, in ways
// ThreadSanitizer cannot follow.) Thread-safe.
void RegisterChannelHooks(int channel_id, std::shared_ptr<ChannelHooks> hooks);
void ForgetChannelHooks(int channel_id);
std::shared_ptr<ChannelHooks> FindChannelHooks(int channel_id);

// Set by the resolver on each result: when (Unix ns, as text) the ZooKeeper
// event behind it reached this process; the LB policy measures from it.
inline constexpr char kEventTimeArg[] = "slacker.event_time_ns";

// A unique id per channel made by CreateClusterChannel (int), so that the
// fan-out layer finds the view of that very channel.
inline constexpr char kChannelIdArg[] = "slacker.channel_id";

// The servers a channel's picker may use for one namespace (READY, healthy,
// not set aside), sorted by address, as of its last picker.
struct ServerView {
  std::string address;
  std::string server_data;
  double weight = 1;
  bool leader = false;
};
struct NamespaceView {
  std::vector<ServerView> servers;
  int connecting = 0;  // Publishers not READY yet that may become so soon.
};
using NamespaceViews = std::map<std::string, NamespaceView>;
// Keyed by ViewKey(target, channel id). Thread-safe.
std::string ViewKey(const std::string& target, const std::string& channel_id);
void PublishViews(const std::string& key,
                  std::shared_ptr<const NamespaceViews> views);
void ForgetViews(const std::string& key);
// Null if that channel has no picker (yet, or any more).
std::shared_ptr<const NamespaceViews> GetViews(const std::string& key);

// Discovery statistics per target ("zk://hosts/cluster" without a query).
struct DiscoveryStatsRecord {
  int64_t updates = 0;  // Pickers made from a ZooKeeper change.
  absl::Duration last = absl::ZeroDuration();  // Event to picker, last one.
  absl::Duration max = absl::ZeroDuration();   // The longest so far.
  absl::Time last_update = absl::InfinitePast();
};
// Thread-safe.
void RecordDiscoveryUpdate(const std::string& target, absl::Duration latency);
DiscoveryStatsRecord GetDiscoveryStatsRecord(const std::string& target);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CHANNEL_SETTINGS_H_
