// A user's grouping function as a grouping: each call asks the function, with
// the candidates of the picker, and goes to the first server it returns, or
// to the server the built-in grouping it defers to picks.

#include <map>
#include <memory>
#include <mutex>
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
                 std::shared_ptr<const CallGroupingFunction> function,
                 std::vector<Candidate> candidates)
      : name_(name),
        function_(std::move(function)),
        candidates_(std::move(candidates)) {}

  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    absl::StatusOr<GroupingChoice> choice = (*function_)(call, candidates_);
    if (!choice.ok()) return choice.status();
    // Every index is checked, not only the first, so that a bug in the
    // function shows at once rather than when the list is used in full.
    absl::StatusOr<std::vector<size_t>> chosen = ResolveGroupingChoice(
        name_, *choice, call, candidates_, Deferred(choice->grouping));
    if (!chosen.ok()) return chosen.status();
    if (chosen->empty()) {
      return absl::UnavailableError(
          absl::StrCat("grouping function ", name_, " chose none of the ",
                       candidates_.size(), " ready servers of namespace ",
                       call.name_space, " in cluster ", call.cluster));
    }
    return chosen->front();
  }

 private:
  // The picker of the built-in grouping `grouping` over this picker's
  // candidates, made once (so that round_robin, sticky... keep their state
  // for as long as this picker lives); null for none or "all".
  GroupingPicker* Deferred(const std::string& grouping) {
    if (grouping.empty() || grouping == "all") return nullptr;
    absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(grouping);
    if (!spec.ok()) return nullptr;  // ResolveGroupingChoice says why.
    std::lock_guard<std::mutex> lock(mu_);
    std::unique_ptr<GroupingPicker>& picker = deferred_[spec->grouping];
    if (picker == nullptr)
      picker = spec->grouping->Prepare(candidates_, nullptr);
    return picker.get();
  }

  const std::string name_;
  const std::shared_ptr<const CallGroupingFunction> function_;
  const std::vector<Candidate> candidates_;
  std::mutex mu_;
  // Guarded by mu_; entries never removed (a picker is thread-safe).
  std::map<const Grouping*, std::unique_ptr<GroupingPicker>> deferred_;
};

class FunctionGrouping : public Grouping {
 public:
  FunctionGrouping(std::string name, CallGroupingFunction function)
      : name_(std::move(name)),
        function_(
            std::make_shared<const CallGroupingFunction>(std::move(function))) {
  }

  absl::string_view name() const override { return name_; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    return std::make_unique<FunctionPicker>(name_, function_,
                                            std::move(candidates));
  }

 private:
  const std::string name_;
  const std::shared_ptr<const CallGroupingFunction> function_;
};

}  // namespace

std::unique_ptr<Grouping> NewFunctionGrouping(std::string name,
                                              CallGroupingFunction function) {
  return std::make_unique<FunctionGrouping>(std::move(name),
                                            std::move(function));
}

}  // namespace slacker::internal
