// A user's GroupingFunction as a grouping: each call asks the function, with
// the candidates of the picker, and goes to the first server it returns.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grouping/internal/builtin_groupings.h"

namespace slacker::internal {
namespace {

class FunctionPicker : public GroupingPicker {
 public:
  FunctionPicker(absl::string_view name,
                 std::shared_ptr<const GroupingFunction> function,
                 std::vector<Candidate> candidates)
      : name_(name),
        function_(std::move(function)),
        candidates_(std::move(candidates)) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    absl::StatusOr<std::vector<size_t>> chosen =
        (*function_)(call, candidates_);
    if (!chosen.ok()) return chosen.status();
    if (chosen->empty()) {
      return absl::UnavailableError(
          absl::StrCat("grouping function ", name_, " chose none of the ",
                       candidates_.size(), " ready servers of namespace ",
                       call.name_space, " in cluster ", call.cluster));
    }
    // Every index is checked, not only the first, so that a bug in the
    // function shows at once rather than when the list is used in full.
    for (size_t index : *chosen) {
      if (index >= candidates_.size()) {
        return absl::InternalError(
            absl::StrCat("grouping function ", name_, " returned index ", index,
                         " for a list of ", candidates_.size(), " candidates"));
      }
    }
    return chosen->front();
  }

 private:
  const std::string name_;
  const std::shared_ptr<const GroupingFunction> function_;
  const std::vector<Candidate> candidates_;
};

class FunctionGrouping : public Grouping {
 public:
  FunctionGrouping(std::string name, GroupingFunction function)
      : name_(std::move(name)),
        function_(
            std::make_shared<const GroupingFunction>(std::move(function))) {}

  absl::string_view name() const override { return name_; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    return std::make_unique<FunctionPicker>(name_, function_,
                                            std::move(candidates));
  }

 private:
  const std::string name_;
  const std::shared_ptr<const GroupingFunction> function_;
};

}  // namespace

std::unique_ptr<Grouping> NewFunctionGrouping(std::string name,
                                              GroupingFunction function) {
  return std::make_unique<FunctionGrouping>(std::move(name),
                                            std::move(function));
}

}  // namespace slacker::internal
