// first: every call goes to the first server by address, so that all clients
// agree on one server without talking to each other (e.g. a primary with
// warm standbys).

#include <memory>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"

namespace slacker::internal {
namespace {

class FirstPicker : public GroupingPicker {
 public:
  absl::StatusOr<size_t> Pick(const CallInfo& call) override { return 0; }
};

class FirstGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "first"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    return std::make_unique<FirstPicker>();
  }
};

}  // namespace

std::unique_ptr<Grouping> NewFirstGrouping() {
  return std::make_unique<FirstGrouping>();
}

}  // namespace slacker::internal
