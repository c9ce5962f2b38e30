// The picking decision of the `slacker_cluster` LB policy, with no gRPC type:
// for one call, from its path and metadata, which of the namespace's
// candidates it goes to, or whether it queues, fails or is dropped.
// framework/grpc_plugin/cluster_picker.h wraps it in gRPC's picker; this is
// tested over fake candidates (namespace_picker_test.cc).
//
// Grouping in force: the call's `slacker-grouping` metadata (SetGrouping),
// else the options' "methods" entry for "pkg.Service/Method", else for
// "pkg.Service", else the options' "grouping".

#ifndef SLACKER_FRAMEWORK_INTERNAL_NAMESPACE_PICKER_H_
#define SLACKER_FRAMEWORK_INTERNAL_NAMESPACE_PICKER_H_

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "framework/grouping/grouping.h"
#include "framework/internal/cluster_lb_options.h"
#include "framework/internal/set_aside.h"

namespace slacker::internal {

// Everything a picker needs for one namespace, fixed when the picker is made
// (the grpc_plugin subclass adds each candidate's subchannel). Read
// concurrently by every call; only `call_pickers` changes, under `mu`.
struct NamespaceChoices {
  NamespaceChoices() = default;
  NamespaceChoices(const NamespaceChoices&) = delete;
  NamespaceChoices& operator=(const NamespaceChoices&) = delete;
  // gRPC ends a picker's last pick before it destroys the picker, but orders
  // that in uninstrumented libgrpc; taking `mu` states the order to TSan for
  // what picks made and used under it.
  virtual ~NamespaceChoices();

  std::vector<Candidate> candidates;  // READY, not set aside; by address.
  std::vector<std::shared_ptr<ServerStats>> stats;  // Parallel to candidates.
  int publishers = 0;  // Every server publishing it, READY or not.
  int connecting = 0;  // Publishers that may become READY soon.
  std::string last_error;
  // Pickers for the groupings the options name, made up front (read-only
  // once the picker is published); see PrepareConfiguredPickers.
  std::map<std::string, std::unique_ptr<GroupingPicker>, std::less<>> pickers;

  // Per-call groupings (SetGrouping): parsed, made and used under `mu`.
  struct CallGrouping {
    GroupingSpec spec;
    std::unique_ptr<GroupingPicker> picker;
  };
  std::mutex mu;
  std::map<std::string, CallGrouping, std::less<>> call_pickers
      ABSL_GUARDED_BY(mu);
};

// By namespace; heterogeneous lookup, so a pick does not allocate.
using ChoicesByNamespace =
    std::map<std::string, std::shared_ptr<NamespaceChoices>, std::less<>>;

// Makes, for every namespace with candidates, a picker for each grouping the
// options name, so that calls find them without a lock; each continues the
// picker `previous` (the last picker's choices) had for the same namespace
// and grouping (round_robin's position, sticky's server).
void PrepareConfiguredPickers(const ClusterLbOptions& options,
                              const ChoicesByNamespace& previous,
                              ChoicesByNamespace& choices);

// What to do with one call.
struct PickDecision {
  enum class Kind {
    kComplete,  // Send it to choices->candidates[index].
    kQueue,     // Wait for the next picker (publishers are connecting).
    kFail,      // Fail it with `status` (wait-for-ready calls wait instead).
    kDrop,      // Fail it with `status`, even if wait-for-ready.
  };
  Kind kind = Kind::kFail;
  absl::Status status;
  NamespaceChoices* choices = nullptr;  // kComplete: the namespace's choices.
  size_t index = 0;                     // kComplete: into choices->candidates.
};

// The decision for a call to `path` ("/pkg.Service/Method") carrying the
// grouping and hash-key metadata given (nullopt when absent).
// REQUIRES: PrepareConfiguredPickers ran on `choices` with these options.
PickDecision PickForCall(const ClusterLbOptions& options,
                         const ChoicesByNamespace& choices,
                         absl::string_view path,
                         std::optional<absl::string_view> call_grouping,
                         std::optional<absl::string_view> hash_key);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_NAMESPACE_PICKER_H_
