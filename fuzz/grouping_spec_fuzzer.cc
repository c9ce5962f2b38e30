// Fuzz target: ParseGroupingSpec, which reads a channel's grouping (an option,
// or the grouping= parameter of a zk:// target).
//
// Beyond not crashing: an accepted spec names a grouping, and only an address
// (a spec with ':') is kept as the argument, verbatim.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "framework/grouping/grouping_registry.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view spec(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<slacker::GroupingSpec> parsed =
      slacker::ParseGroupingSpec(spec);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(parsed->grouping != nullptr);
  if (spec.find(':') != absl::string_view::npos) {
    FUZZ_CHECK(parsed->argument == spec);
  } else {
    FUZZ_CHECK(parsed->argument.empty());
    const std::vector<std::string> names = slacker::GroupingNames();
    FUZZ_CHECK(std::find(names.begin(), names.end(), spec) != names.end());
  }
  return 0;
}
