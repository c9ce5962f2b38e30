#include "discovery/curator_instance_picker.h"

#include <algorithm>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace slacker::discovery {

absl::string_view CuratorProviderStrategyName(
    CuratorProviderStrategy strategy) {
  switch (strategy) {
    case CuratorProviderStrategy::kRoundRobin:
      return "round_robin";
    case CuratorProviderStrategy::kRandom:
      return "random";
    case CuratorProviderStrategy::kSticky:
      return "sticky";
  }
  return "round_robin";
}

CuratorInstancePicker::CuratorInstancePicker(CuratorProviderStrategy strategy,
                                             CuratorDownInstancePolicy policy)
    : strategy_(strategy),
      policy_{policy.timeout, std::max(policy.error_threshold, 1)} {}

void CuratorInstancePicker::PurgeHoldingMu(absl::Time now) {
  for (auto it = errors_.begin(); it != errors_.end();) {
    if (now - it->second.first >= policy_.timeout) {
      it = errors_.erase(it);
    } else {
      ++it;
    }
  }
}

bool CuratorInstancePicker::IsDownHoldingMu(absl::string_view id,
                                            absl::Time now) {
  PurgeHoldingMu(now);
  auto found = errors_.find(id);
  return found != errors_.end() &&
         found->second.count >= policy_.error_threshold;
}

bool CuratorInstancePicker::IsDown(absl::string_view id, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  return IsDownHoldingMu(id, now);
}

void CuratorInstancePicker::NoteError(absl::string_view id, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  PurgeHoldingMu(now);
  auto [it, added] = errors_.try_emplace(std::string(id));
  if (added) it->second.first = now;
  ++it->second.count;
}

std::optional<CuratorInstance> CuratorInstancePicker::Pick(
    const std::vector<CuratorInstance>& instances, absl::Time now,
    const Filter& filter) {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const CuratorInstance*> candidates;
  candidates.reserve(instances.size());
  for (const CuratorInstance& instance : instances) {
    if ((filter == nullptr || filter(instance)) &&
        !IsDownHoldingMu(instance.id, now)) {
      candidates.push_back(&instance);
    }
  }
  if (candidates.empty()) return std::nullopt;
  switch (strategy_) {
    case CuratorProviderStrategy::kRoundRobin:
      return *candidates[next_++ % candidates.size()];
    case CuratorProviderStrategy::kRandom:
      return *candidates[absl::Uniform<size_t>(random_, 0, candidates.size())];
    case CuratorProviderStrategy::kSticky: {
      for (const CuratorInstance* candidate : candidates) {
        if (candidate->id == sticky_id_) return *candidate;
      }
      const CuratorInstance* chosen =
          candidates[absl::Uniform<size_t>(random_, 0, candidates.size())];
      sticky_id_ = chosen->id;
      return *chosen;
    }
  }
  return std::nullopt;
}

}  // namespace slacker::discovery
