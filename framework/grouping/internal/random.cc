#include "framework/grouping/internal/random.h"

#include "absl/random/random.h"

namespace slacker::internal {
namespace {

// Seeded from the operating system's entropy once per thread; a generator
// per thread keeps Pick lock-free.
absl::BitGen& ThreadGenerator() {
  thread_local absl::BitGen generator;
  return generator;
}

}  // namespace

size_t RandomIndex(size_t n) {
  return absl::Uniform<size_t>(ThreadGenerator(), 0, n);
}

double RandomFraction() {
  return absl::Uniform<double>(ThreadGenerator(), 0.0, 1.0);
}

}  // namespace slacker::internal
