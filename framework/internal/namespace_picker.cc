#include "framework/internal/namespace_picker.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "framework/internal/plugin_names.h"

namespace slacker::internal {
namespace {

PickDecision Decide(PickDecision::Kind kind, absl::Status status = {}) {
  PickDecision decision;
  decision.kind = kind;
  decision.status = std::move(status);
  return decision;
}

// The call's own grouping (SetGrouping) over `choices`, parsed once per
// grouping text and picker, not once per call; InvalidArgument for a
// grouping that does not parse.
absl::StatusOr<const NamespaceChoices::CallGrouping*> CallGroupingFor(
    NamespaceChoices& choices, absl::string_view text)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(choices.mu) {
  auto it = choices.call_pickers.find(text);
  if (it != choices.call_pickers.end()) return &it->second;
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(text);
  if (!spec.ok()) return spec.status();
  NamespaceChoices::CallGrouping grouping;
  grouping.picker = spec->grouping->Prepare(choices.candidates, nullptr);
  grouping.spec = *std::move(spec);
  return &choices.call_pickers.emplace(std::string(text), std::move(grouping))
              .first->second;
}

}  // namespace

NamespaceChoices::~NamespaceChoices() {
  std::lock_guard<std::mutex> lock(mu);
  call_pickers.clear();
}

void PrepareConfiguredPickers(const ClusterLbOptions& options,
                              const ChoicesByNamespace& previous,
                              ChoicesByNamespace& choices) {
  std::vector<const NamedGrouping*> groupings = {&options.grouping};
  for (const auto& [name, grouping] : options.methods) {
    groupings.push_back(&grouping);
  }
  for (auto& [ns, entry] : choices) {
    if (entry->candidates.empty()) continue;
    auto old = previous.find(ns);
    for (const NamedGrouping* grouping : groupings) {
      const std::string& text = grouping->text;
      if (entry->pickers.count(text) > 0) continue;
      const GroupingPicker* previous_picker = nullptr;
      if (old != previous.end()) {
        auto it = old->second->pickers.find(text);
        if (it != old->second->pickers.end()) {
          previous_picker = it->second.get();
        }
      }
      entry->pickers[text] =
          grouping->spec.grouping->Prepare(entry->candidates, previous_picker);
    }
  }
}

PickDecision PickForCall(const ClusterLbOptions& options,
                         const ChoicesByNamespace& choices,
                         absl::string_view path,
                         std::optional<absl::string_view> call_grouping,
                         std::optional<absl::string_view> hash_key) {
  using Kind = PickDecision::Kind;
  // "/package.Service/Method"
  absl::ConsumePrefix(&path, "/");
  const size_t slash = path.find('/');
  const absl::string_view ns = path.substr(0, slash);
  const absl::string_view method =
      slash == absl::string_view::npos ? "" : path.substr(slash + 1);
  auto found = choices.find(ns);
  // Servers announced in a format that does not name their gRPC services
  // serve every namespace (foreign_snapshot.h).
  if (found == choices.end()) found = choices.find(kAnyNamespace);
  if (found == choices.end() && !options.announced_path.empty()) {
    return Decide(
        Kind::kFail,
        absl::UnavailableError(absl::StrCat(
            "no server announced under ", options.announced_path,
            " serves namespace '", ns,
            "': start one, check the path, or add the namespace to the "
            "channel's announced services (ClusterChannelOptions::"
            "announced_services)")));
  }
  if (found == choices.end()) {
    return Decide(
        Kind::kFail,
        absl::UnavailableError(absl::StrCat(
            "no server of cluster '", options.cluster,
            "' publishes namespace '", ns, "' (nothing under ",
            options.namespaces_path, "/", ns,
            "): start a server that registers this service in this cluster, "
            "or check the cluster name")));
  }
  NamespaceChoices& entry = *found->second;
  if (entry.candidates.empty()) {
    if (entry.connecting > 0) return Decide(Kind::kQueue);
    return Decide(
        Kind::kFail,
        absl::UnavailableError(absl::StrCat(
            "none of the ", entry.publishers, " server(s) of cluster '",
            options.cluster, "' publishing '", ns, "' is reachable",
            entry.last_error.empty() ? "" : " (last error: ", entry.last_error,
            entry.last_error.empty() ? "" : ")")));
  }
  const NamedGrouping* named = &options.grouping;
  if (!options.methods.empty()) {
    auto by_method = options.methods.find(path);
    if (by_method == options.methods.end())
      by_method = options.methods.find(ns);
    if (by_method != options.methods.end()) named = &by_method->second;
  }
  const GroupingSpec* spec = &named->spec;
  GroupingPicker* picker = nullptr;
  std::unique_lock<std::mutex> call_grouping_lock;
  if (call_grouping.has_value() && *call_grouping == kAllGrouping) {
    // Only the cluster interceptor answers such a call; one that reached the
    // picker came on a channel without it. UNAVAILABLE: gRPC turns any other
    // code an LB policy drops a call with into INTERNAL.
    return Decide(
        Kind::kDrop,
        absl::UnavailableError(absl::StrCat(
            "grouping 'all' of this call to ", ns, "/", method,
            " calls several servers, which the cluster channel's interceptor "
            "does, and this call did not go through it: a channel made with "
            "grpc::CreateChannel(\"zk://...\") gets it from "
            "slacker::InstallClusterInterceptor(), once it has resolved its "
            "cluster (a first call, or WaitForConnected); or make the channel "
            "with slacker::CreateClusterChannel")));
  }
  if (call_grouping.has_value() && *call_grouping != named->text) {
    call_grouping_lock = std::unique_lock<std::mutex>(entry.mu);
    absl::StatusOr<const NamespaceChoices::CallGrouping*> grouping =
        CallGroupingFor(entry, *call_grouping);
    if (!grouping.ok()) return Decide(Kind::kDrop, grouping.status());
    spec = &(*grouping)->spec;
    picker = (*grouping)->picker.get();
  } else {
    auto prepared = entry.pickers.find(named->text);
    if (prepared == entry.pickers.end()) {
      return Decide(Kind::kDrop,
                    absl::InternalError(absl::StrCat(
                        "no picker prepared for grouping '", named->text,
                        "' (PrepareConfiguredPickers did not run)")));
    }
    picker = prepared->second.get();
  }
  CallInfo call;
  call.cluster = options.cluster;
  call.name_space = ns;
  call.method = method;
  call.hash_key = hash_key.value_or("");
  call.server = spec->argument;
  absl::StatusOr<size_t> index = picker->Pick(call);
  if (!index.ok()) {
    if (absl::IsUnavailable(index.status())) {
      if (entry.connecting > 0) return Decide(Kind::kQueue);
      return Decide(Kind::kFail, index.status());
    }
    return Decide(Kind::kDrop, index.status());
  }
  PickDecision decision = Decide(Kind::kComplete);
  decision.choices = &entry;
  decision.index = *index;
  return decision;
}

}  // namespace slacker::internal
