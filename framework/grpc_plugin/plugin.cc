#include "framework/grpc_plugin/plugin.h"

#include "absl/strings/str_cat.h"
#include "framework/grpc_plugin/cluster_lb_policy.h"
#include "framework/grpc_plugin/server_attribute.h"
#include "framework/grpc_plugin/version_check.h"
#include "framework/grpc_plugin/zk_resolver.h"
#include "framework/internal/plugin_names.h"
#include "src/core/lib/config/core_configuration.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/service_config/service_config_impl.h"

namespace slacker::internal {
namespace {

const bool kRegistered = [] {
  if (!CheckInstalledGrpcVersion().ok()) return false;
  grpc_core::CoreConfiguration::RegisterBuilder(
      [](grpc_core::CoreConfiguration::Builder* builder) {
        builder->resolver_registry()->RegisterResolverFactory(
            MakeZkResolverFactory());
        builder->resolver_registry()->RegisterResolverFactory(
            MakeZkResolverFactory(AnnouncementFormat::kCurator));
        builder->resolver_registry()->RegisterResolverFactory(
            MakeZkResolverFactory(AnnouncementFormat::kServerSet));
        builder->lb_policy_registry()->RegisterLoadBalancingPolicyFactory(
            MakeClusterLbPolicyFactory());
      });
  return true;
}();

}  // namespace

absl::Status ClusterPluginStatus() {
  absl::Status version = CheckInstalledGrpcVersion();
  if (!version.ok()) return version;
  const grpc_core::CoreConfiguration& config =
      grpc_core::CoreConfiguration::Get();
  if (!kRegistered ||
      config.resolver_registry().LookupResolverFactory(kResolverScheme) ==
          nullptr ||
      config.lb_policy_registry().LoadBalancingPolicyExists(kLbPolicyName,
                                                            nullptr) == false) {
    return absl::FailedPreconditionError(
        "gRPC was initialized without Slacker's `zk` resolver: link "
        "//framework:cluster_channel into the binary (it registers itself "
        "at start-up)");
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceConfig(const std::string& json) {
  grpc_core::ExecCtx exec_ctx;
  absl::StatusOr<grpc_core::RefCountedPtr<grpc_core::ServiceConfig>> config =
      grpc_core::ServiceConfigImpl::Create(grpc_core::ChannelArgs(), json);
  if (config.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("the channel's service config is not valid: ",
                   config.status().message()));
}

}  // namespace slacker::internal
