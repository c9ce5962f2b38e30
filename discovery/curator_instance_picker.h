// CuratorInstancePicker: how a Curator ServiceProvider chooses one instance
// of a service, without ZooKeeper: the strategy (Curator's RandomStrategy,
// RoundRobinStrategy, StickyStrategy) applied to the instances that pass the
// filters (the caller's, and not "down" by Curator's DownInstancePolicy).
//
// The down-instance policy is Curator's DownInstanceManager: NoteError(id)
// counts an error against an instance; once it has `error_threshold` errors
// it is skipped until `timeout` after its FIRST error, when its count is
// forgotten (Curator's defaults: 2 errors, 30 s). Instances are told apart by
// id (Curator compares whole ServiceInstance values; an instance whose
// payload changes keeps its errors here).
//
// CuratorServiceProvider (curator_service_discovery.h) is this over a watched
// cache; the picker itself is separate so that the strategies and the policy
// are tested with explicit times.
//
// Thread-safe: every method may be called from any thread.

#ifndef SLACKER_DISCOVERY_CURATOR_INSTANCE_PICKER_H_
#define SLACKER_DISCOVERY_CURATOR_INSTANCE_PICKER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/random/random.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/curator_instance_json.h"

namespace slacker::discovery {

// Curator's ProviderStrategy implementations.
enum class CuratorProviderStrategy {
  // Curator's default (ServiceProviderBuilder): the instances in turn.
  kRoundRobin,
  kRandom,
  // The same instance as long as it is offered and not down; when it goes, a
  // new one at random (Curator's StickyStrategy over RandomStrategy).
  kSticky,
};
absl::string_view CuratorProviderStrategyName(CuratorProviderStrategy strategy);

// Curator's DownInstancePolicy.
struct CuratorDownInstancePolicy {
  absl::Duration timeout = absl::Seconds(30);
  int error_threshold = 2;  // Below 1 counts as 1.
};

class CuratorInstancePicker {
 public:
  explicit CuratorInstancePicker(
      CuratorProviderStrategy strategy = CuratorProviderStrategy::kRoundRobin,
      CuratorDownInstancePolicy policy = {});

  // Curator's InstanceFilter: true keeps the instance.
  using Filter = std::function<bool(const CuratorInstance& instance)>;

  // One of `instances` (in the order the caller lists them: round robin
  // walks that order) that passes `filter` (if set) and is not down at
  // `now`; nullopt if none.
  std::optional<CuratorInstance> Pick(
      const std::vector<CuratorInstance>& instances, absl::Time now,
      const Filter& filter = nullptr);

  // Counts an error against instance `id` at `now` (Curator's noteError).
  void NoteError(absl::string_view id, absl::Time now);

  // Whether `id` is skipped at `now`.
  bool IsDown(absl::string_view id, absl::Time now);

  CuratorProviderStrategy strategy() const { return strategy_; }
  const CuratorDownInstancePolicy& policy() const { return policy_; }

 private:
  struct Errors {
    absl::Time first;
    int count = 0;
  };
  // Forgets the errors of instances whose window has passed at `now`.
  void PurgeHoldingMu(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool IsDownHoldingMu(absl::string_view id, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CuratorProviderStrategy strategy_;
  const CuratorDownInstancePolicy policy_;

  std::mutex mu_;
  std::map<std::string, Errors, std::less<>> errors_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;      // kRoundRobin's turn.
  std::string sticky_id_ ABSL_GUARDED_BY(mu_);  // kSticky's choice.
  absl::BitGen random_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CURATOR_INSTANCE_PICKER_H_
