// weighted: each call goes to a server drawn at random with probability
// weight / (sum of weights), for clusters of unequal machines.

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"
#include "framework/grouping/internal/random.h"

namespace slacker::internal {
namespace {

class WeightedPicker : public GroupingPicker {
 public:
  // REQUIRES: cumulative is not empty, non-decreasing, and its last value is
  // positive.
  explicit WeightedPicker(std::vector<double> cumulative)
      : cumulative_(std::move(cumulative)) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    double point = RandomFraction() * cumulative_.back();
    size_t index =
        std::upper_bound(cumulative_.begin(), cumulative_.end(), point) -
        cumulative_.begin();
    // Rounding may land the point on the total itself.
    return std::min(index, cumulative_.size() - 1);
  }

 private:
  // cumulative_[i]: the sum of the weights of servers 0..i.
  const std::vector<double> cumulative_;
};

class WeightedGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "weighted"; }

  // Weights are promised positive; any other weight counts as 0, and if none
  // is positive the choice is uniform rather than a failure.
  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    std::vector<double> cumulative;
    double total = 0;
    for (const Candidate& candidate : candidates) {
      double weight = candidate.weight;
      if (std::isfinite(weight) && weight > 0) total += weight;
      cumulative.push_back(total);
    }
    if (!(total > 0 && std::isfinite(total))) {
      for (size_t i = 0; i < cumulative.size(); ++i) cumulative[i] = i + 1;
    }
    return std::make_unique<WeightedPicker>(std::move(cumulative));
  }
};

}  // namespace

std::unique_ptr<Grouping> NewWeightedGrouping() {
  return std::make_unique<WeightedGrouping>();
}

}  // namespace slacker::internal
