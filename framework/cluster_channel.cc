#include "framework/cluster_channel.h"

#include <grpcpp/create_channel.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_logging.h"
#include "common/json_string.h"
#include "discovery/zookeeper_paths.h"
#include "framework/cluster_interceptor.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grpc_plugin/plugin.h"
#include "framework/internal/channel_args.h"
#include "framework/internal/channel_registry.h"
#include "framework/internal/client_metrics.h"
#include "framework/internal/discovery_stats.h"
#include "framework/internal/plugin_names.h"
#include "framework/metrics_interceptors.h"
#include "framework/zk_channels.h"

namespace slacker {
namespace {

// Whether `args` holds the argument `name`.
bool HasArgument(const grpc::ChannelArguments& args, const char* name) {
  const grpc_channel_args c_args = args.c_channel_args();
  for (size_t i = 0; i < c_args.num_args; ++i) {
    if (std::strcmp(c_args.args[i].key, name) == 0) return true;
  }
  return false;
}

absl::Status CheckGrouping(absl::string_view spec, absl::string_view where) {
  if (internal::IsMultiServerGrouping(std::string(spec))) {
    return absl::OkStatus();  // The interceptor's; the LB never sees it.
  }
  absl::StatusOr<GroupingSpec> parsed = ParseGroupingSpec(spec);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": ", parsed.status().message()));
}

// Whether the user's channel arguments name `key`.
int Milliseconds(absl::Duration duration) {
  if (duration == absl::InfiniteDuration()) return INT_MAX;
  return static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(duration), 0, INT_MAX));
}

// Hung-server detection (framework/internal/keepalive.h), unless the user's
// own channel arguments say otherwise.
void SetKeepalive(const ClusterChannelOptions& options,
                  grpc::ChannelArguments* args) {
  const grpc::ChannelArguments& user = options.channel_arguments;
  const bool off = options.keepalive_time <= absl::ZeroDuration() ||
                   options.keepalive_time == absl::InfiniteDuration();
  if (!HasArgument(user, GRPC_ARG_KEEPALIVE_TIME_MS)) {
    args->SetInt(GRPC_ARG_KEEPALIVE_TIME_MS,
                 off ? INT_MAX : Milliseconds(options.keepalive_time));
  }
  if (!HasArgument(user, GRPC_ARG_KEEPALIVE_TIMEOUT_MS)) {
    args->SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                 Milliseconds(options.keepalive_timeout));
  }
  if (!HasArgument(user, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS)) {
    args->SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  }
  if (!HasArgument(user, GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA)) {
    args->SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }
}

}  // namespace

absl::Status InitClusterChannels() {
  // Readers that have only a grpc::Channel find grpc::CreateChannel's zk://
  // channels through it (channel_registry.h).
  static std::once_flag reader;
  std::call_once(reader,
                 [] { internal::SetChannelIdReader(internal::ReadChannelId); });
  return internal::ClusterPluginStatus();
}

absl::Status InstallClusterInterceptor(
    grpc::experimental::ClientInterceptorFactoryInterface* yours) {
  absl::Status ready = InitClusterChannels();
  if (!ready.ok()) return ready;
  static std::atomic<bool> installed{false};
  if (installed.exchange(true)) {
    return absl::FailedPreconditionError(
        "InstallClusterInterceptor was already called: gRPC allows one global "
        "interceptor factory per process; call it once (give your own "
        "factory to that one call)");
  }
  grpc::experimental::RegisterGlobalClientInterceptorFactory(
      internal::MakeGlobalClusterInterceptorFactory(yours).release());
  return absl::OkStatus();
}

std::string ClusterTarget(absl::string_view zookeeper,
                          absl::string_view cluster) {
  return absl::StrCat("zk://", zookeeper, "/", cluster);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateClusterChannel(
    absl::string_view zookeeper, absl::string_view cluster,
    const ClusterChannelOptions& options,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  RouteGrpcLogs();  // gRPC's own lines into slacker's log (common/logging.h).
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
    if (internal::IsMultiServerGrouping(grouping)) continue;
    absl::StrAppend(&methods, methods.empty() ? "" : ",",
                    internal::JsonString(method), ":",
                    internal::JsonString(grouping));
  }
  if (!options.service_config_json.empty()) {
    valid = internal::ValidateServiceConfig(options.service_config_json);
    if (!valid.ok()) return valid;
  }
  const std::string config = absl::StrCat(
      "{\"root\":", internal::JsonString(options.root), ",\"grouping\":",
      internal::JsonString(internal::IsMultiServerGrouping(options.grouping)
                               ? "random"  // Calls of "all" never reach it.
                               : options.grouping),
      ",\"methods\":{", methods,
      "},\"setAsideAfter\":", std::max(0, options.set_aside_after),
      ",\"setAsideForMs\":",
      std::max<int64_t>(0, absl::ToInt64Milliseconds(options.set_aside_for)),
      ",\"setAsideSlowerThanMs\":",
      options.set_aside_slower_than == absl::InfiniteDuration()
          ? int64_t{0}
          : std::max<int64_t>(
                1, absl::ToInt64Milliseconds(options.set_aside_slower_than)),
      ",\"waitForReady\":", options.wait_for_ready ? "true" : "false",
      ",\"healthChecks\":", options.health_checks ? "true" : "false", "}");

  grpc::ChannelArguments args = options.channel_arguments;
  const internal::ChannelId channel_id = internal::NewChannelId();
  args.SetInt(internal::kChannelIdArg, channel_id);
  args.SetString(internal::kClusterConfigArg, config);
  args.SetInt(
      internal::kSessionTimeoutArg,
      static_cast<int>(absl::ToInt64Milliseconds(options.session_timeout)));
  if (!options.zookeeper_digest.empty()) {
    args.SetString(internal::kDigestArg, options.zookeeper_digest);
  }
  if (options.announcement != ClusterChannelOptions::Announcement::kSlacker) {
    args.SetInt(internal::kAnnouncementArg,
                static_cast<int>(options.announcement));
    std::string services;
    for (const std::string& service : options.announced_services) {
      if (service.empty() ||
          service.find_first_of(",/ ") != std::string::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad announced service '", service,
                         "': a gRPC service's full name, e.g. pkg.Service"));
      }
      absl::StrAppend(&services, services.empty() ? "" : ",", service);
    }
    if (!services.empty()) {
      args.SetString(internal::kAnnouncedServicesArg, services);
    }
    if (!options.serverset_endpoint.empty()) {
      args.SetString(internal::kServerSetEndpointArg,
                     options.serverset_endpoint);
    }
    if (options.curator_ssl_port) {
      args.SetInt(internal::kCuratorSslPortArg, 1);
    }
  }
  args.SetInt(internal::kDiscoveryModeArg,
              static_cast<int>(options.discovery));
  SetKeepalive(options, &args);
  if (!options.service_config_json.empty()) {
    args.SetString(internal::kServiceConfigArg, options.service_config_json);
  } else if (!HasArgument(options.channel_arguments, GRPC_ARG_SERVICE_CONFIG)) {
    args.SetString(internal::kServiceConfigArg, kDefaultClusterServiceConfig);
  }
  const std::string target = ClusterTarget(zookeeper, cluster);
  std::shared_ptr<internal::ClientMetrics> metrics;
  if (options.metrics != nullptr) {
    metrics =
        internal::ClientMetrics::Create(options.metrics, std::string(cluster));
  }
  auto interceptor_settings = std::make_shared<internal::InterceptorSettings>();
  interceptor_settings->cluster = std::string(cluster);
  interceptor_settings->grouping = options.grouping;
  interceptor_settings->method_groupings = options.method_groupings;
  interceptor_settings->policies = options.policies;
  interceptor_settings->method_policies = options.method_policies;
  interceptor_settings->channel_id = channel_id;
  interceptor_settings->metrics = metrics;
  internal::FindGroupingFunctions(interceptor_settings.get());
  std::vector<
      std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>>
      interceptors;
  if (metrics != nullptr) {
    // First: it sees each call as the stub does (fan-out and retries in).
    interceptors.push_back(
        internal::MakeClientMetricsInterceptorFactory(metrics));
  }
  if (!HasArgument(args, internal::kWithoutInterceptorArg)) {
    interceptors.push_back(internal::MakeClusterInterceptorFactory(
        std::move(interceptor_settings)));
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::experimental::CreateCustomChannelWithInterceptors(
          target, std::move(credentials), args, std::move(interceptors));
  auto settings = std::make_shared<internal::ChannelSettings>();
  settings->cluster = std::string(cluster);
  settings->target = target;
  settings->metrics = metrics;
  settings->ensemble = options.ensemble;
  if (options.on_server_data_change) {
    settings->on_server_data_change = [handler = options.on_server_data_change](
                                          const std::string& address,
                                          const std::string& old_data,
                                          const std::string& new_data) {
      handler(ServerDataChange{address, old_data, new_data});
    };
  }
  // Registered before the channel resolves (it resolves on first use), and
  // forgotten when the caller drops the channel: the returned pointer shares
  // ownership with a holder that does so.
  internal::RegisterChannel(channel_id, channel.get(), std::move(settings));
  struct Holder {
    Holder(std::shared_ptr<grpc::Channel> c, internal::ChannelId i)
        : channel(std::move(c)), id(i) {}
    ~Holder() { internal::ForgetChannel(id); }
    std::shared_ptr<grpc::Channel> channel;
    internal::ChannelId id;
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
