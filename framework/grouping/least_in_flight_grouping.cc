// least_in_flight: each call goes to the server with the fewest calls in
// flight from this channel, so slow servers get fewer calls. Up to
// kExactScanLimit servers every load is read; above that two servers are
// drawn at random and the less loaded one wins ("power of two choices"),
// which keeps Pick cheap and avoids herding every call onto one server whose
// load has not been updated yet.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"
#include "framework/grouping/internal/random.h"

namespace slacker::internal {
namespace {

constexpr size_t kExactScanLimit = 16;

class LeastInFlightPicker : public GroupingPicker {
 public:
  explicit LeastInFlightPicker(std::vector<Candidate> candidates)
      : candidates_(std::move(candidates)) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    return candidates_.size() <= kExactScanLimit ? ExactScan() : TwoChoices();
  }

 private:
  // Ties are broken at random so that equally loaded servers share calls.
  size_t ExactScan() const {
    size_t least[kExactScanLimit];
    size_t ties = 0;
    int64_t least_load = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      int64_t load = candidates_[i].in_flight();
      if (ties == 0 || load < least_load) {
        least_load = load;
        ties = 0;
      }
      if (load == least_load) least[ties++] = i;
    }
    return ties == 1 ? least[0] : least[RandomIndex(ties)];
  }

  // `first` is already random, so keeping it on a tie is a fair coin.
  size_t TwoChoices() const {
    size_t first = RandomIndex(candidates_.size());
    size_t second = RandomIndex(candidates_.size() - 1);
    if (second >= first) ++second;  // Two distinct servers, uniformly.
    return candidates_[second].in_flight() < candidates_[first].in_flight()
               ? second
               : first;
  }

  const std::vector<Candidate> candidates_;
};

class LeastInFlightGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "least_in_flight"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    return std::make_unique<LeastInFlightPicker>(std::move(candidates));
  }
};

}  // namespace

std::unique_ptr<Grouping> NewLeastInFlightGrouping() {
  return std::make_unique<LeastInFlightGrouping>();
}

}  // namespace slacker::internal
