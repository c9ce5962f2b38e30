// leader: every call goes to the server leading the namespace's election, for
// services where one server must take the writes.

#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"

namespace slacker::internal {
namespace {

class LeaderPicker : public GroupingPicker {
 public:
  LeaderPicker(std::optional<size_t> leader, size_t size)
      : leader_(leader), size_(size) {}

  // Without a leader the call is UNAVAILABLE rather than sent elsewhere: an
  // election is usually under way, and the channel may queue the call until
  // the new leader is ready.
  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    if (leader_.has_value()) return *leader_;
    return absl::UnavailableError(
        absl::StrCat("no leader of namespace ", call.name_space, " in cluster ",
                     call.cluster, " among the ", size_, " ready servers"));
  }

 private:
  const std::optional<size_t> leader_;
  const size_t size_;
};

class LeaderGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "leader"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    std::optional<size_t> leader;
    for (size_t i = 0; i < candidates.size() && !leader.has_value(); ++i) {
      if (candidates[i].leader) leader = i;
    }
    return std::make_unique<LeaderPicker>(leader, candidates.size());
  }
};

}  // namespace

std::unique_ptr<Grouping> NewLeaderGrouping() {
  return std::make_unique<LeaderGrouping>();
}

}  // namespace slacker::internal
