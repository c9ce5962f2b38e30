// Fuzz target: the Curator payload reader behind
// discovery::CuratorServiceInstance::ToJson (and SetPayload), which checks a
// payload before it is written where Java's Jackson will read it.
//
// Beyond not crashing, checked against nlohmann's own strict parser: the
// payload is accepted exactly when it is one JSON value of at most 64 KiB,
// nested at most 100 levels, in valid UTF-8 without a byte-order mark, and
// not an object with an "@class" member; the instance JSON written is then
// valid JSON that ParseCuratorInstance reads back, whose payload without
// Jackson's type id is the given value.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/time/time.h"
#include "discovery/curator_instance_json.h"
#include "discovery/curator_service_instance.h"
#include "fuzz/fuzz_check.h"

namespace {

using Json = nlohmann::ordered_json;

// How deep `value` nests objects and arrays (a scalar: 0).
int Depth(const Json& value) {
  int deepest = 0;
  if (value.is_structured()) {
    for (const Json& child : value) deepest = std::max(deepest, Depth(child));
    return deepest + 1;
  }
  return 0;
}

// What nlohmann says of `text` as a payload: a value, or discarded.
Json Reference(const std::string& text) {
  if (text.size() >
      slacker::discovery::CuratorServiceInstance::kMaxPayloadBytes) {
    return Json::value_t::discarded;
  }
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    return Json::value_t::discarded;
  }
  // RFC 8259 allows no NUL byte anywhere (nlohmann would stop reading at
  // one), and JSON text is UTF-8 (nlohmann's writer refuses anything else).
  if (text.find('\0') != std::string::npos) return Json::value_t::discarded;
  try {
    static_cast<void>(Json(text).dump());
  } catch (const Json::type_error&) {
    return Json::value_t::discarded;
  }
  // Parsed with its depth bounded first: nlohmann's DOM recurses when freed.
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  if (deepest > 100) return Json::value_t::discarded;
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() ||
      (parsed.is_object() && parsed.contains("@class")) ||
      Depth(parsed) > 100) {
    return Json::value_t::discarded;
  }
  return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string payload(reinterpret_cast<const char*>(data), size);
  slacker::discovery::CuratorServiceInstanceOptions options;
  options.service_name = "api";
  options.address = "10.0.0.7";
  options.port = 50051;
  options.payload_json = payload;
  const absl::StatusOr<std::string> json =
      slacker::discovery::CuratorServiceInstance::ToJson(
          options, absl::FromUnixMillis(1700000000000));
  const Json reference = Reference(payload);
  if (payload.empty()) {
    FUZZ_CHECK(json.ok());
    return 0;
  }
  if (!json.ok()) {
    FUZZ_CHECK(json.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(reference.is_discarded());
    return 0;
  }
  FUZZ_CHECK(!reference.is_discarded());
  Json written = Json::parse(*json, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(written.is_object());
  const absl::StatusOr<slacker::discovery::CuratorInstance> read =
      slacker::discovery::ParseCuratorInstance(*json);
  FUZZ_CHECK(read.ok());
  FUZZ_CHECK(read->payload_class.empty() ==
             !(reference.is_object() || reference.is_array() ||
               read->payload_json[0] == '['));
  FUZZ_CHECK(Json::parse(read->payload_value_json) == reference);
  return 0;
}
