// Random numbers for pickers. Each thread draws from its own generator, so
// concurrent calls neither contend on a lock nor share state.
//
// Thread-safe.

#ifndef SLACKER_FRAMEWORK_GROUPING_INTERNAL_RANDOM_H_
#define SLACKER_FRAMEWORK_GROUPING_INTERNAL_RANDOM_H_

#include <cstddef>

namespace slacker::internal {

// A uniformly distributed index in [0, n). REQUIRES: n > 0.
size_t RandomIndex(size_t n);

// A uniformly distributed number in [0, 1).
double RandomFraction();

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GROUPING_INTERNAL_RANDOM_H_
