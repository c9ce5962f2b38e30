// sticky: every call goes to one server, kept until it is no longer among the
// ready servers (it failed or left); then one of the others is chosen at
// random. Suits servers that keep per-client state or warm caches.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"
#include "framework/grouping/internal/random.h"

namespace slacker::internal {
namespace {

constexpr int64_t kNotChosen = -1;

class StickyPicker : public GroupingPicker {
 public:
  StickyPicker(std::vector<Candidate> candidates, int64_t chosen)
      : candidates_(std::move(candidates)), chosen_(chosen) {}

  // The first call chooses, lazily, so that a picker replaced before any call
  // never consumed a choice; concurrent first calls agree through the
  // compare-exchange.
  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    int64_t chosen = chosen_.load(std::memory_order_acquire);
    if (chosen == kNotChosen) {
      int64_t mine = RandomIndex(candidates_.size());
      // On failure `chosen` becomes the other call's choice.
      if (chosen_.compare_exchange_strong(chosen, mine,
                                          std::memory_order_acq_rel)) {
        chosen = mine;
      }
    }
    return static_cast<size_t>(chosen);
  }

  // The chosen server's address, or null before the first call.
  const std::string* chosen_address() const {
    int64_t chosen = chosen_.load(std::memory_order_acquire);
    return chosen == kNotChosen ? nullptr : &candidates_[chosen].address;
  }

 private:
  const std::vector<Candidate> candidates_;
  std::atomic<int64_t> chosen_;  // An index into candidates_, or kNotChosen.
};

class StickyGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "sticky"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    int64_t chosen = kNotChosen;
    const auto* before = dynamic_cast<const StickyPicker*>(previous);
    const std::string* kept =
        before != nullptr ? before->chosen_address() : nullptr;
    for (size_t i = 0; kept != nullptr && i < candidates.size(); ++i) {
      if (candidates[i].address == *kept) chosen = i;
    }
    return std::make_unique<StickyPicker>(std::move(candidates), chosen);
  }
};

}  // namespace

std::unique_ptr<Grouping> NewStickyGrouping() {
  return std::make_unique<StickyGrouping>();
}

}  // namespace slacker::internal
