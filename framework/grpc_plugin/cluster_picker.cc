#include "framework/grpc_plugin/cluster_picker.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/check.h"
#include "framework/internal/plugin_names.h"

namespace slacker::internal {
namespace {

using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;

// Counts calls in flight and failure streaks (set_aside.h) for one server.
class CallTracker : public LoadBalancingPolicy::SubchannelCallTrackerInterface {
 public:
  // `metrics` and `counters` are null when the channel records no metrics.
  CallTracker(std::shared_ptr<ServerStats> stats,
              RefCountedPtr<SetAsideListener> policy,
              RefCountedPtr<ClusterLbConfig> config,
              std::shared_ptr<ServerCallMetrics> metrics,
              CountersByCode* counters)
      : stats_(std::move(stats)),
        policy_(std::move(policy)),
        config_(std::move(config)),
        metrics_(std::move(metrics)),
        counters_(counters) {
    published_.store(true, std::memory_order_release);
  }
  void Start() override {
    published_.load(std::memory_order_acquire);
    started_ = absl::Now();
    stats_->CallStarted();
    if (metrics_ != nullptr) metrics_->Started();
  }
  void Finish(FinishArgs args) override {
    published_.load(std::memory_order_acquire);
    const absl::Time now = absl::Now();
    if (metrics_ != nullptr) {
      metrics_->Finished(counters_, static_cast<int>(args.status.code()));
    }
    if (stats_->CallFinished(args.status.code(), now - started_,
                             config_->options().set_aside, now)) {
      if (metrics_ != nullptr) metrics_->SetAside();
      policy_->OnSetAside();
    }
  }

 private:
  std::shared_ptr<ServerStats> stats_;
  RefCountedPtr<SetAsideListener> policy_;
  RefCountedPtr<ClusterLbConfig> config_;
  std::shared_ptr<ServerCallMetrics> metrics_;
  CountersByCode* counters_;  // Owned by metrics_.
  absl::Time started_;  // Set by Start, read by Finish, on the call's thread.
  std::atomic<bool> published_{false};  // See ClusterPicker.
};

}  // namespace

ClusterPicker::ClusterPicker(RefCountedPtr<SetAsideListener> policy,
                             RefCountedPtr<ClusterLbConfig> config,
                             ChoicesByNamespace choices)
    : policy_(std::move(policy)),
      config_(std::move(config)),
      choices_(std::move(choices)) {
  for (const auto& [ns, entry] : choices_) {
    if (dynamic_cast<const SubchannelChoices*>(entry.get()) == nullptr) {
      slacker::internal::FailWithMessage(absl::StrCat(
          "ClusterPicker: the choices for namespace ", ns,
          " are not SubchannelChoices (no subchannel to hand to gRPC)"));
    }
  }
  published_.store(true, std::memory_order_release);
}

LoadBalancingPolicy::PickResult ClusterPicker::Pick(
    LoadBalancingPolicy::PickArgs args) {
  using PickResult = LoadBalancingPolicy::PickResult;
  published_.load(std::memory_order_acquire);
  std::string grouping_buffer;
  std::string hash_buffer;
  absl::optional<absl::string_view> per_call =
      args.initial_metadata->Lookup(kGroupingMetadata, &grouping_buffer);
  absl::optional<absl::string_view> hash_key =
      args.initial_metadata->Lookup(kHashKeyMetadata, &hash_buffer);
  auto optional = [](const absl::optional<absl::string_view>& value) {
    return value.has_value() ? std::optional<absl::string_view>(*value)
                             : std::nullopt;
  };
  PickDecision decision = PickForCall(config_->options(), choices_, args.path,
                                      optional(per_call), optional(hash_key));
  switch (decision.kind) {
    case PickDecision::Kind::kComplete: {
      auto& choices = static_cast<SubchannelChoices&>(*decision.choices);
      std::shared_ptr<ServerCallMetrics> metrics;
      CountersByCode* counters = nullptr;
      if (!choices.metrics.empty()) {
        metrics = choices.metrics[decision.index];
        counters = metrics->ForPath(args.path);
      }
      return PickResult::Complete(
          choices.subchannels[decision.index],
          std::make_unique<CallTracker>(choices.stats[decision.index], policy_,
                                        config_, std::move(metrics), counters));
    }
    case PickDecision::Kind::kQueue:
      return PickResult::Queue();
    case PickDecision::Kind::kFail:
      return PickResult::Fail(std::move(decision.status));
    case PickDecision::Kind::kDrop:
      break;
  }
  return PickResult::Drop(std::move(decision.status));
}

}  // namespace slacker::internal
