// The `slacker_cluster` policy's config as gRPC hands it over: JSON (made by
// the `zk` resolver; fields in framework/internal/cluster_lb_options.h),
// parsed into ClusterLbOptions.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_CONFIG_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_CONFIG_H_

#include "absl/status/statusor.h"
#include "framework/internal/cluster_lb_options.h"
#include "framework/internal/plugin_names.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/load_balancing/lb_policy.h"

namespace slacker::internal {

// Immutable once parsed; shared by the policy, its pickers and trackers.
class ClusterLbConfig : public grpc_core::LoadBalancingPolicy::Config {
 public:
  explicit ClusterLbConfig(ClusterLbOptions options)
      : options_(std::move(options)) {}
  absl::string_view name() const override { return kLbPolicyName; }
  const ClusterLbOptions& options() const { return options_; }

 private:
  const ClusterLbOptions options_;
};

// InvalidArgument, naming the field, for a config that is not a JSON object
// or has a field of the wrong type or value (an unknown grouping, a negative
// number). Missing fields take their defaults; unknown ones are ignored.
absl::StatusOr<ClusterLbOptions> ParseClusterLbOptions(
    const grpc_core::Json& json);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_CONFIG_H_
