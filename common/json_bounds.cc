#include "common/json_bounds.h"

#include "absl/strings/str_cat.h"

namespace slacker::internal {
namespace {

// The deepest nesting, and the offset where `stop_after` was first passed
// (text.size() if never).
struct Scan {
  int depth = 0;
  size_t passed_at = 0;
  int64_t items = 0;
};

Scan ScanDepth(absl::string_view text, int stop_after) {
  Scan scan;
  scan.passed_at = text.size();
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case ',':
      case ':':
        ++scan.items;
        break;
      case '[':
      case '{':
        ++scan.items;
        if (++depth > scan.depth) scan.depth = depth;
        if (depth > stop_after) {
          scan.passed_at = i;
          return scan;
        }
        break;
      case ']':
      case '}':
        // Unbalanced closers are the parser's to refuse; never below zero.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return scan;
}

}  // namespace

int JsonDepth(absl::string_view text, int stop_after) {
  return ScanDepth(text, stop_after).depth;
}

int64_t JsonItems(absl::string_view text) {
  return ScanDepth(text, static_cast<int>(text.size())).items;
}

absl::Status CheckJsonBounds(absl::string_view text, JsonBounds bounds,
                             absl::string_view what) {
  if (text.size() > bounds.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", text.size(), " bytes; at most ",
                     bounds.max_bytes, " are allowed"));
  }
  const Scan scan = ScanDepth(text, bounds.max_depth);
  if (scan.depth > bounds.max_depth) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " nests objects and arrays more than ",
                     bounds.max_depth, " deep (at byte ", scan.passed_at,
                     "); at most that is allowed: flatten it"));
  }
  if (scan.items > bounds.max_items) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has ", scan.items, " values and members; at most ",
        bounds.max_items, " are allowed: keep large data elsewhere"));
  }
  return absl::OkStatus();
}

}  // namespace slacker::internal
