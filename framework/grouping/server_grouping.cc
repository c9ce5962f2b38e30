// server: every call goes to one explicit server, named by its "host:port"
// (the channel's grouping argument, passed as CallInfo::server). For
// debugging, or for addressing one replica on purpose.

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/internal/builtin_groupings.h"

namespace slacker::internal {
namespace {

class ServerPicker : public GroupingPicker {
 public:
  explicit ServerPicker(std::vector<Candidate> candidates) {
    for (size_t i = 0; i < candidates.size(); ++i) {
      by_address_.emplace_back(std::move(candidates[i].address), i);
    }
    std::sort(by_address_.begin(), by_address_.end());
  }

  // A server that is not ready is UNAVAILABLE, not an error of the call: it
  // may be starting, and the channel may queue the call until it is ready.
  absl::StatusOr<size_t> Pick(const CallInfo& call) override {
    auto it =
        std::lower_bound(by_address_.begin(), by_address_.end(), call.server,
                         [](const std::pair<std::string, size_t>& entry,
                            absl::string_view s) { return entry.first < s; });
    if (it != by_address_.end() && it->first == call.server) return it->second;
    return absl::UnavailableError(absl::StrCat(
        "server ", call.server, " is not a ready publisher of namespace ",
        call.name_space, " in cluster ", call.cluster));
  }

 private:
  // (address, index into the candidates), sorted by address.
  std::vector<std::pair<std::string, size_t>> by_address_;
};

class ServerGrouping : public Grouping {
 public:
  absl::string_view name() const override { return "server"; }

  std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const override {
    return std::make_unique<ServerPicker>(std::move(candidates));
  }
};

}  // namespace

std::unique_ptr<Grouping> NewServerGrouping() {
  return std::make_unique<ServerGrouping>();
}

}  // namespace slacker::internal
