// Writing a JSON string literal, for the few places that write JSON by hand
// (protobuf's JSON printer needs a message; grpc_core's Json is fenced off).

#ifndef SLACKER_COMMON_JSON_STRING_H_
#define SLACKER_COMMON_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace slacker::internal {

// `text` as a JSON string literal, quotes included: `"`, `\` and control
// characters escaped. Thread-safe; pure.
std::string JsonString(absl::string_view text);

}  // namespace slacker::internal

#endif  // SLACKER_COMMON_JSON_STRING_H_
