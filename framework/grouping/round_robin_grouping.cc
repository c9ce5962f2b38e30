// round_robin: calls go to each server in turn. A fresh picker starts at a
// random server, so that clients started together do not all begin with the
// same one; a picker replacing another continues its count, so that a
// membership change does not send the next call back to the same server.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"
#include "framework/grouping/internal/random.h"

namespace slacker::internal {
namespace {

class RoundRobinPicker : public GroupingPicker {
 public:
  RoundRobinPicker(size_t size, uint64_t next) : size_(size), next_(next) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    return next_.fetch_add(1, std::memory_order_relaxed) % size_;
  }

  uint64_t next() const { return next_.load(std::memory_order_relaxed); }

 private:
  const size_t size_;
  // The count of calls picked for, from a starting point; only its value
  // modulo size_ matters.
  std::atomic<uint64_t> next_;
};

class RoundRobinGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "round_robin"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    const auto* before = dynamic_cast<const RoundRobinPicker*>(previous);
    uint64_t next =
        before != nullptr ? before->next() : RandomIndex(candidates.size());
    return std::make_unique<RoundRobinPicker>(candidates.size(), next);
  }
};

}  // namespace

std::unique_ptr<Grouping> NewRoundRobinGrouping() {
  return std::make_unique<RoundRobinGrouping>();
}

}  // namespace slacker::internal
