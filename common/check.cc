#include "common/check.h"

#include <cstdio>
#include <cstdlib>

namespace slacker::internal {

void FailWithMessage(absl::string_view message) {
  std::fprintf(stderr, "slacker FATAL %.*s\n", static_cast<int>(message.size()),
               message.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace slacker::internal
