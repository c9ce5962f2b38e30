#include "framework/cluster_channel.h"

#include <grpcpp/create_channel.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "discovery/zookeeper_paths.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grpc_plugin/cluster_lb_policy.h"
#include "framework/grpc_plugin/plugin.h"
#include "framework/internal/channel_settings.h"

namespace slacker {
namespace {

absl::Status CheckGrouping(absl::string_view spec, absl::string_view where) {
  absl::StatusOr<GroupingSpec> parsed = ParseGroupingSpec(spec);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", parsed.status().message()));
}

}  // namespace

absl::Status InitClusterChannels() { return internal::ClusterPluginStatus(); }

std::string ClusterTarget(absl::string_view zookeeper,
                          absl::string_view cluster) {
  return absl::StrCat("zk://", zookeeper, "/", cluster);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClusterChannel(
    absl::string_view zookeeper, absl::string_view cluster,
    const ClusterChannelOptions& options,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  absl::Status ready = InitClusterChannels();
  if (!ready.ok()) return ready;
  absl::Status valid = discovery::ValidateNodeName(cluster, "cluster name");
  if (valid.ok()) valid = discovery::ValidatePath(options.root);
  if (!valid.ok()) return valid;
  if (zookeeper.empty() ||
      zookeeper.find_first_of("/?#") != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad ZooKeeper connect string '", zookeeper,
        "': expected host:port[,host:port...] (no chroot: use `root`)"));
  }
  if (valid = CheckGrouping(options.grouping, "grouping"); !valid.ok()) {
    return valid;
  }
  std::string methods;
  for (const auto& [method, grouping] : options.method_groupings) {
    valid = CheckGrouping(grouping, absl::StrCat("grouping of ", method));
    if (!valid.ok()) return valid;
    absl::StrAppend(&methods, methods.empty() ? "" : ",",
                    internal::JsonString(method), ":",
                    internal::JsonString(grouping));
  }
  if (!options.service_config_json.empty()) {
    valid = internal::ValidateServiceConfig(options.service_config_json);
    if (!valid.ok()) return valid;
  }
  const std::string config = absl::StrCat(
      "{\"root\":", internal::JsonString(options.root),
      ",\"grouping\":", internal::JsonString(options.grouping),
      ",\"methods\":{", methods,
      "},\"setAsideAfter\":", std::max(0, options.set_aside_after),
      ",\"setAsideForMs\":",
      std::max<int64_t>(0, absl::ToInt64Milliseconds(options.set_aside_for)),
      ",\"waitForReady\":", options.wait_for_ready ? "true" : "false",
      ",\"healthChecks\":", options.health_checks ? "true" : "false", "}");

  grpc::ChannelArguments args = options.channel_arguments;
  static std::atomic<int> next_channel_id{1};
  const int channel_id = next_channel_id.fetch_add(1);
  args.SetInt(internal::kChannelIdArg, channel_id);
  args.SetString(internal::kClusterConfigArg, config);
  args.SetInt(
      internal::kSessionTimeoutArg,
      static_cast<int>(absl::ToInt64Milliseconds(options.session_timeout)));
  if (!options.zookeeper_digest.empty()) {
    args.SetString(internal::kDigestArg, options.zookeeper_digest);
  }
  if (!options.service_config_json.empty()) {
    args.SetString(internal::kServiceConfigArg, options.service_config_json);
  }
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      ClusterTarget(zookeeper, cluster), std::move(credentials), args);
  if (!options.on_server_data_change) return channel;
  auto hooks = std::make_shared<internal::ChannelHooks>();
  hooks->on_server_data_change = [handler = options.on_server_data_change](
                                     const std::string& address,
                                     const std::string& old_data,
                                     const std::string& new_data) {
    handler(ServerDataChange{address, old_data, new_data});
  };
  // Registered before the channel resolves (it resolves on first use), and
  // forgotten when the caller drops the channel: the returned pointer shares
  // ownership with a holder that does so.
  internal::RegisterChannelHooks(channel_id, std::move(hooks));
  struct Holder {
    Holder(std::shared_ptr<grpc::Channel> c, int i)
        : channel(std::move(c)), id(i) {}
    ~Holder() { internal::ForgetChannelHooks(id); }
    std::shared_ptr<grpc::Channel> channel;
    int id;
  };
  auto holder = std::make_shared<Holder>(channel, channel_id);
  return std::shared_ptr<grpc::Channel>(holder, holder->channel.get());
}

void SetGrouping(grpc::ClientContext* context, absl::string_view grouping) {
  context->AddMetadata(internal::kGroupingMetadata, std::string(grouping));
}

void SetHashKey(grpc::ClientContext* context, absl::string_view key) {
  context->AddMetadata(internal::kHashKeyMetadata, std::string(key));
}

DiscoveryStats GetDiscoveryStats(absl::string_view target) {
  internal::DiscoveryStatsRecord record =
      internal::GetDiscoveryStatsRecord(std::string(target));
  DiscoveryStats stats;
  stats.updates = record.updates;
  stats.last_propagation = record.last;
  stats.max_propagation = record.max;
  stats.last_update = record.last_update;
  return stats;
}

}  // namespace slacker
