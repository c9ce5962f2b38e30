// gRPC's side of a `slacker_cluster` pick: the SubchannelPicker that asks
// PickForCall (framework/internal/namespace_picker.h, no gRPC type) and hands
// gRPC the chosen server's subchannel, with a call tracker that counts the
// call in flight and feeds its outcome to the server's set-aside counters
// (and, when the channel records metrics, to the server's call counters).

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_PICKER_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_PICKER_H_

#include <atomic>
#include <memory>
#include <vector>

#include "framework/grpc_plugin/cluster_lb_config.h"
#include "framework/internal/client_metrics.h"
#include "framework/internal/namespace_picker.h"
#include "src/core/lib/load_balancing/lb_policy.h"
#include "src/core/lib/load_balancing/subchannel_interface.h"

namespace slacker::internal {

// A namespace's choices with each candidate's subchannel.
struct SubchannelChoices : NamespaceChoices {
  // Parallel to candidates.
  std::vector<grpc_core::RefCountedPtr<grpc_core::SubchannelInterface>>
      subchannels;
  // Parallel to candidates when the channel records metrics, else empty.
  std::vector<std::shared_ptr<ServerCallMetrics>> metrics;
};

// What a picker's call trackers tell: a server was just set aside. The
// policy implements it; a tracker keeps the policy alive.
class SetAsideListener : public grpc_core::LoadBalancingPolicy {
 public:
  using LoadBalancingPolicy::LoadBalancingPolicy;
  // From any thread: re-pick without the server now, and with it again when
  // its time is up.
  virtual void OnSetAside() = 0;
};

class ClusterPicker : public grpc_core::LoadBalancingPolicy::SubchannelPicker {
 public:
  // REQUIRES: every entry of `choices` is a SubchannelChoices prepared with
  // PrepareConfiguredPickers for config->options().
  ClusterPicker(grpc_core::RefCountedPtr<SetAsideListener> policy,
                grpc_core::RefCountedPtr<ClusterLbConfig> config,
                ChoicesByNamespace choices);

  grpc_core::LoadBalancingPolicy::PickResult Pick(
      grpc_core::LoadBalancingPolicy::PickArgs args) override;

 private:
  grpc_core::RefCountedPtr<SetAsideListener> policy_;
  grpc_core::RefCountedPtr<ClusterLbConfig> config_;
  ChoicesByNamespace choices_;
  // gRPC hands a picker (and a tracker) from the thread that made it to the
  // threads that use it through its own (uninstrumented) synchronization;
  // this makes that hand-off visible to ThreadSanitizer.
  std::atomic<bool> published_{false};
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_CLUSTER_PICKER_H_
