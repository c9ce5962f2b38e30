#include "framework/grouping/grouping_registry.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "framework/grouping/internal/builtin_groupings.h"

namespace slacker {
namespace {

// Chosen by giving a "host:port", never by its name.
constexpr absl::string_view kServerGrouping = "server";
// Reserved for the fan-out API, which calls every server.
constexpr absl::string_view kFanOut = "all";

class Registry {
 public:
  // Never destroyed, so that groupings outlive every channel, even those
  // destroyed by static destructors.
  static Registry& Get() {
    static Registry* const registry = new Registry;
    return *registry;
  }

  const Grouping* Find(absl::string_view name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = groupings_.find(name);
    return it == groupings_.end() ? nullptr : it->second.get();
  }

  // AlreadyExists if the name is taken.
  absl::Status Add(std::unique_ptr<const Grouping> grouping) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string name(grouping->name());
    if (!groupings_.emplace(name, std::move(grouping)).second) {
      return absl::AlreadyExistsError(
          absl::StrCat("grouping \"", name, "\" already exists"));
    }
    return absl::OkStatus();
  }

  void AddFunction(const std::string& name, CallGroupingFunction function) {
    std::lock_guard<std::mutex> lock(mu_);
    functions_[name] = std::move(function);
  }

  std::optional<CallGroupingFunction> FindFunction(
      absl::string_view name) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = functions_.find(name);
    if (it == functions_.end()) return std::nullopt;
    return it->second;
  }

  std::vector<std::string> Names() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, grouping] : groupings_) names.push_back(name);
    return names;
  }

 private:
  // The built-in groupings, one line each.
  Registry() {
    AddBuiltin(internal::NewFirstGrouping());
    AddBuiltin(internal::NewHashGrouping());
    AddBuiltin(internal::NewLeaderGrouping());
    AddBuiltin(internal::NewLeastInFlightGrouping());
    AddBuiltin(internal::NewRandomGrouping());
    AddBuiltin(internal::NewRoundRobinGrouping());
    AddBuiltin(internal::NewServerGrouping());
    AddBuiltin(internal::NewStickyGrouping());
    AddBuiltin(internal::NewWeightedGrouping());
  }

  // Runs before the registry is shared, so needs no lock.
  void AddBuiltin(std::unique_ptr<const Grouping> grouping) {
    groupings_.emplace(std::string(grouping->name()), std::move(grouping));
  }

  mutable std::mutex mu_;
  // Guarded by mu_. Entries are never removed.
  std::map<std::string, std::unique_ptr<const Grouping>, std::less<>>
      groupings_;
  std::map<std::string, CallGroupingFunction, std::less<>> functions_;
};

bool IsPort(absl::string_view port) {
  int value = 0;
  return !port.empty() && port.size() <= 5 &&
         std::all_of(port.begin(), port.end(), absl::ascii_isdigit) &&
         absl::SimpleAtoi(port, &value) && value >= 1 && value <= 65535;
}

// Checks an explicit server's "host:port" or "[v6address]:port"; the spec is
// known to hold a ':'.
absl::Status CheckServerAddress(absl::string_view address) {
  auto invalid = [address](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grouping \"", address, "\" is not a server's host:port: ", why));
  };
  absl::string_view host;
  absl::string_view port;
  if (absl::StartsWith(address, "[")) {
    size_t close = address.find("]:");
    if (close == absl::string_view::npos) {
      return invalid("expected [v6address]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (absl::StrContains(host, ':')) {
      return invalid("an IPv6 address goes in brackets, e.g. [::1]:8080");
    }
  }
  if (host.empty()) return invalid("the host is empty");
  for (char c : host) {
    if (absl::ascii_isspace(c) || c == '/' || c == '[' || c == ']') {
      return invalid(absl::StrCat("the host holds '", std::string(1, c), "'"));
    }
  }
  if (!IsPort(port)) return invalid("the port is not a number in 1..65535");
  return absl::OkStatus();
}

std::string KnownGroupings() {
  std::vector<std::string> names;
  for (std::string& name : GroupingNames()) {
    if (name != kServerGrouping) names.push_back(std::move(name));
  }
  return absl::StrCat(absl::StrJoin(names, ", "),
                      ", or a server's host:port (e.g. 10.0.0.5:8080)");
}

}  // namespace

absl::StatusOr<GroupingSpec> ParseGroupingSpec(absl::string_view spec) {
  if (spec.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the grouping is empty; give one of ", KnownGroupings()));
  }
  if (spec == kFanOut) {
    return absl::InvalidArgumentError(
        "grouping \"all\" sends one call to every server and is used through "
        "the fan-out API, not as a channel's grouping");
  }
  if (absl::StrContains(spec, ':')) {
    if (absl::Status status = CheckServerAddress(spec); !status.ok()) {
      return status;
    }
    return GroupingSpec{Registry::Get().Find(kServerGrouping),
                        std::string(spec)};
  }
  if (spec == kServerGrouping) {
    return absl::InvalidArgumentError(
        "grouping \"server\" is chosen by giving the server's host:port "
        "itself, e.g. 10.0.0.5:8080");
  }
  const Grouping* grouping = Registry::Get().Find(spec);
  if (grouping == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown grouping \"", spec, "\"; known: ", KnownGroupings()));
  }
  return GroupingSpec{grouping, ""};
}

absl::Status RegisterGroupingFunction(std::string name,
                                      GroupingFunction function) {
  if (!function) {
    return absl::InvalidArgumentError(
        absl::StrCat("grouping function \"", name, "\" is empty"));
  }
  return RegisterCallGroupingFunction(
      std::move(name),
      [function = std::move(function)](const CallInfo& call,
                                       const std::vector<Candidate>& candidates)
          -> absl::StatusOr<GroupingChoice> {
        absl::StatusOr<std::vector<size_t>> servers =
            function(call, candidates);
        if (!servers.ok()) return servers.status();
        return GroupingChoice::Servers(*std::move(servers));
      });
}

absl::Status RegisterCallGroupingFunction(std::string name,
                                          CallGroupingFunction function) {
  if (name.empty()) {
    return absl::InvalidArgumentError("a grouping function needs a name");
  }
  for (char c : name) {
    if (c == ':' || c == '/' || absl::ascii_isspace(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "grouping function name \"", name,
          "\" holds ':', '/' or whitespace; it would not read as a name"));
    }
  }
  if (!function) {
    return absl::InvalidArgumentError(
        absl::StrCat("grouping function \"", name, "\" is empty"));
  }
  if (name == kFanOut) {
    return absl::AlreadyExistsError(
        "grouping name \"all\" is reserved for fan-out calls");
  }
  absl::Status added =
      Registry::Get().Add(internal::NewFunctionGrouping(name, function));
  if (added.ok()) Registry::Get().AddFunction(name, std::move(function));
  return added;
}

absl::StatusOr<CallGroupingFunction> FindCallGroupingFunction(
    absl::string_view name) {
  std::optional<CallGroupingFunction> function =
      Registry::Get().FindFunction(name);
  if (!function.has_value()) {
    return absl::NotFoundError(absl::StrCat(
        "no grouping function \"", name,
        "\" (register it with slacker::RegisterGroupingFunction)"));
  }
  return *std::move(function);
}

absl::StatusOr<GroupingFunction> FindGroupingFunction(absl::string_view name) {
  absl::StatusOr<CallGroupingFunction> function =
      FindCallGroupingFunction(name);
  if (!function.ok()) return function.status();
  return GroupingFunction(
      [name = std::string(name), function = *std::move(function)](
          const CallInfo& call, const std::vector<Candidate>& candidates)
          -> absl::StatusOr<std::vector<size_t>> {
        absl::StatusOr<GroupingChoice> choice = function(call, candidates);
        if (!choice.ok()) return choice.status();
        if (choice->grouping.empty()) return std::move(choice->servers);
        return ResolveGroupingChoice(name, *choice, call, candidates);
      });
}

absl::Status CheckDeferredGrouping(absl::string_view name,
                                   absl::string_view grouping) {
  if (grouping == kFanOut) return absl::OkStatus();
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(grouping);
  if (!spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("grouping function \"", name, "\" deferred to \"",
                     grouping, "\": ", spec.status().message()));
  }
  if (Registry::Get().FindFunction(grouping).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "grouping function \"", name, "\" deferred to \"", grouping,
        "\", another function; a function defers to a built-in grouping only "
        "(call the other function from yours instead)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<size_t>> ResolveGroupingChoice(
    absl::string_view name, const GroupingChoice& choice, const CallInfo& call,
    const std::vector<Candidate>& candidates, GroupingPicker* picker) {
  if (choice.grouping.empty()) {
    for (size_t index : choice.servers) {
      if (index >= candidates.size()) {
        return absl::InternalError(
            absl::StrCat("grouping function ", name, " returned index ", index,
                         " for a list of ", candidates.size(), " candidates"));
      }
    }
    return choice.servers;
  }
  if (absl::Status valid = CheckDeferredGrouping(name, choice.grouping);
      !valid.ok()) {
    return valid;
  }
  std::vector<size_t> servers;
  if (choice.grouping == kFanOut) {
    for (size_t i = 0; i < candidates.size(); ++i) servers.push_back(i);
    return servers;
  }
  if (candidates.empty()) return servers;
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(choice.grouping);
  if (!spec.ok()) return spec.status();  // Checked above; kept for safety.
  std::unique_ptr<GroupingPicker> own;
  if (picker == nullptr) {
    own = spec->grouping->Prepare(candidates, nullptr);
    picker = own.get();
  }
  CallInfo deferred = call;
  deferred.server = spec->argument;
  absl::StatusOr<size_t> picked = picker->Pick(deferred);
  if (!picked.ok()) return picked.status();
  servers.push_back(*picked);
  return servers;
}

std::vector<std::string> GroupingNames() { return Registry::Get().Names(); }

}  // namespace slacker
