// A bound on what a JSON text may cost before any JSON parser sees it: its
// size and its nesting depth, checked in one pass over the text. Protobuf's
// JsonStringToMessage spends time that grows with the square of the nesting
// depth (an array nested 30,000 deep, 60 KB, took 33.8 s of CPU), so text read
// from ZooKeeper, which anyone with access can write, is checked here first.
//
// The check is not a validator: it counts brackets outside strings (honouring
// backslash escapes) and accepts malformed text within the bounds, which the
// parser then refuses as usual. Its own cost is linear in the text's size.
//
// Thread-safe; pure functions.

#ifndef SLACKER_COMMON_JSON_BOUNDS_H_
#define SLACKER_COMMON_JSON_BOUNDS_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker::internal {

struct JsonBounds {
  size_t max_bytes = 0;  // The text's size, in bytes.
  int max_depth = 0;     // Open objects and arrays at any point: "[[1]]" is 2.
  // Items: every '[', '{', ',' and ':' outside strings, about one per value
  // and member. A parser's cost grows with them (protobuf's JSON parser
  // spends about 1 us on each), more than with the bytes.
  int64_t max_items = 0;
};

// OK if `text` is at most bounds.max_bytes long, never nests deeper than
// bounds.max_depth and has at most bounds.max_items items; otherwise
// InvalidArgument saying which bound it passes (and, for depth, at which byte
// offset), so that the writer can fix it.
// `what` names the text in the message ("server data", ...).
absl::Status CheckJsonBounds(absl::string_view text, JsonBounds bounds,
                             absl::string_view what);

// The deepest nesting of objects and arrays in `text`, counting brackets
// outside strings; stops counting (and returns it) once past `stop_after`.
int JsonDepth(absl::string_view text, int stop_after);

// The items of `text` as JsonBounds counts them.
int64_t JsonItems(absl::string_view text);

}  // namespace slacker::internal

#endif  // SLACKER_COMMON_JSON_BOUNDS_H_
