// What the cluster channel's convenience function hands to the `zk` resolver
// and load-balancing policy in framework/grpc_plugin/, through channel
// arguments (in-process only: channel arguments are never sent to servers),
// and the process-wide discovery statistics they record.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CHANNEL_SETTINGS_H_
#define SLACKER_FRAMEWORK_INTERNAL_CHANNEL_SETTINGS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

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
// A ChannelHooks (pointer argument, see ChannelHooksVtable).
inline constexpr char kHooksArg[] = "slacker.channel_hooks";

// Callbacks a channel's owner registered. Called on the channel's ZooKeeper
// thread, one at a time.
struct ChannelHooks {
  // A server's data changed (also when it first appears, from "" to its data,
  // and when it leaves, to "").
  std::function<void(const std::string& address, const std::string& old_data,
                     const std::string& new_data)>
      on_server_data_change;

  // Shared by every copy of the channel argument (gRPC copies channel
  // arguments on its own threads). Atomic, so that each copy also orders the
  // hooks' creation before its use for ThreadSanitizer.
  std::atomic<int> refs{0};
};

// Makes `hooks` the value of a kHooksArg pointer argument: call, pass it to
// SetPointerWithVtable with ChannelHooksVtable(), then ReleaseHooks(hooks).
void* NewHooksArg(ChannelHooks* hooks);
// Drops one reference; the last deletes the hooks.
void ReleaseHooks(void* hooks);
// The argument's vtable (copy adds a reference, destroy drops one); returns a
// `const grpc_arg_pointer_vtable*` as void*, so that this header needs no
// gRPC include.
const void* ChannelHooksVtable();
// A reference to the hooks behind a kHooksArg value, or null.
std::shared_ptr<ChannelHooks> HooksFromArg(void* value);

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
