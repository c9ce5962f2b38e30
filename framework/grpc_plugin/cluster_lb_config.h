// The `slacker_cluster` policy's config as gRPC hands it over: JSON (made by
// the `zk` resolver; fields in framework/internal/cluster_lb_options.h),
// parsed into ClusterLbOptions.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_CONFIG_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_CONFIG_H_

#include <atomic>

#include "absl/status/statusor.h"
#include "framework/internal/cluster_lb_options.h"
#include "framework/internal/plugin_names.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/load_balancing/lb_policy.h"

namespace slacker::internal {

// Immutable once parsed; shared by the policy, its pickers and trackers.
// Thread-safe: made on the view's thread, read and released on gRPC's.
class ClusterLbConfig : public grpc_core::LoadBalancingPolicy::Config {
 public:
  explicit ClusterLbConfig(ClusterLbOptions options)
      : options_(std::move(options)) {
    published_.store(true, std::memory_order_release);
  }
  ~ClusterLbConfig() override { published_.load(std::memory_order_acquire); }
  absl::string_view name() const override { return kLbPolicyName; }
  const ClusterLbOptions& options() const {
    published_.load(std::memory_order_acquire);
    return options_;
  }

 private:
  const ClusterLbOptions options_;
  // gRPC hands the config between threads through its reference count,
  // which is compiled without ThreadSanitizer, so the handover is invisible
  // to it (it reported the destructor racing the parse); this pair is not.
  std::atomic<bool> published_{false};
};

// InvalidArgument, naming the field, for a config that is not a JSON object
// or has a field of the wrong type or value (an unknown grouping, a negative
// number). Missing fields take their defaults; unknown ones are ignored.
absl::StatusOr<ClusterLbOptions> ParseClusterLbOptions(
    const grpc_core::Json& json);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_LB_CONFIG_H_
