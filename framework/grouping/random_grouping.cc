// random: each call goes to a server chosen uniformly at random, which spreads
// load evenly without any shared state between calls.

#include <memory>
#include <utility>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"
#include "framework/grouping/internal/random.h"

namespace slacker::internal {
namespace {

class RandomPicker : public GroupingPicker {
 public:
  explicit RandomPicker(size_t size) : size_(size) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    return RandomIndex(size_);
  }

 private:
  const size_t size_;
};

class RandomGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "random"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    return std::make_unique<RandomPicker>(candidates.size());
  }
};

}  // namespace

std::unique_ptr<Grouping> NewRandomGrouping() {
  return std::make_unique<RandomGrouping>();
}

}  // namespace slacker::internal
