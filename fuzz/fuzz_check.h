// FUZZ_CHECK(condition): a property a fuzz target asserts of the code it
// fuzzes. When it is false, the target prints the condition and aborts, which
// libFuzzer and the replay driver (bazel/fuzz/replay_main.cc) report as a
// failing input and keep. Not for use outside fuzz targets.

#ifndef SLACKER_FUZZ_FUZZ_CHECK_H_
#define SLACKER_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                             \
  do {                                                                    \
    if (!(condition)) {                                                   \
      std::fprintf(stderr, "%s:%d: fuzz property failed: %s\n", __FILE__, \
                   __LINE__, #condition);                                 \
      std::abort();                                                       \
    }                                                                     \
  } while (false)

#endif  // SLACKER_FUZZ_FUZZ_CHECK_H_
