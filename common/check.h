// Checking a REQUIRES: that a caller can break. A broken one ends the process
// with a message naming the rule, instead of the deadlock or the thread joining
// itself that would follow.
//
// Thread-safe.

#ifndef SLACKER_COMMON_CHECK_H_
#define SLACKER_COMMON_CHECK_H_

#include "absl/strings/string_view.h"

namespace slacker::internal {

// Writes "slacker FATAL <message>" to stderr, then aborts. Never returns.
// (Not through the log sink: the level set may drop the line.)
[[noreturn]] void FailWithMessage(absl::string_view message);

// FailWithMessage(message) unless `condition`.
inline void CheckRequires(bool condition, absl::string_view message) {
  if (!condition) FailWithMessage(message);
}

}  // namespace slacker::internal

#endif  // SLACKER_COMMON_CHECK_H_
