// Fuzz target: ParseCuratorInstance, which reads nodes anyone with write
// access to a Curator base path may have written.
//
// Beyond not crashing: an accepted text is valid JSON (nlohmann's strict
// parser agrees), within kCuratorInstanceBounds, and its payload's parts are
// themselves valid JSON values.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "discovery/curator_instance_json.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<slacker::discovery::CuratorInstance> instance =
      slacker::discovery::ParseCuratorInstance(text);
  if (!instance.ok()) {
    FUZZ_CHECK(instance.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(size <= slacker::discovery::kCuratorInstanceBounds.max_bytes);
  FUZZ_CHECK(nlohmann::json::accept(text));
  FUZZ_CHECK(!instance->id.empty());
  FUZZ_CHECK(nlohmann::json::accept(instance->payload_json));
  FUZZ_CHECK(nlohmann::json::accept(instance->payload_value_json));
  static_cast<void>(instance->Uri());
  return 0;
}
