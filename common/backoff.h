// Backoff: the delays between retries of something that keeps failing. Each
// delay is the previous one times `multiplier`, from `initial` up to `max`,
// less a random part of up to `jitter` of it, so that many clients that failed
// together do not retry together. Reset() after a success.
//
//   Backoff backoff(BackoffOptions{absl::Milliseconds(50), absl::Seconds(2)});
//   absl::Duration delay = backoff.Next();  // In (40 ms, 50 ms], then ~100 ms
//   backoff.Reset();                        // Back to ~50 ms.
//
// Not thread-safe: one owner, or the owner's lock.

#ifndef SLACKER_COMMON_BACKOFF_H_
#define SLACKER_COMMON_BACKOFF_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>

#include "absl/time/time.h"

namespace slacker::internal {

struct BackoffOptions {
  // The first delay (before jitter). Must be positive.
  absl::Duration initial = absl::Milliseconds(50);
  // No delay is longer. Must be >= initial.
  absl::Duration max = absl::Seconds(2);
  // Each delay is the previous one times this, until `max`. Must be >= 1;
  // 1 gives a fixed delay.
  double multiplier = 2.0;
  // Each delay is shortened by a uniformly random fraction in [0, jitter) of
  // itself: it lies in (d * (1 - jitter), d]. 0 turns jitter off. Must be in
  // [0, 1).
  double jitter = 0.2;
};

class Backoff {
 public:
  // Seeded from std::random_device.
  explicit Backoff(BackoffOptions options);
  // Seeded with `seed`: the same seed gives the same delays (for tests).
  Backoff(BackoffOptions options, uint64_t seed);

  // The delay before the next retry; each call grows the next one.
  absl::Duration Next();

  // Starts again from `initial` (after a success).
  void Reset();

  const BackoffOptions& options() const { return options_; }

 private:
  BackoffOptions options_;
  absl::Duration current_;  // Before jitter.
  std::mt19937_64 random_;
};

// For log lines: "in 40ms" for a retry scheduled after `delay`, or "as
// already scheduled" for nullopt (a retry was pending already).
std::string RetryDelayText(std::optional<absl::Duration> delay);

}  // namespace slacker::internal

#endif  // SLACKER_COMMON_BACKOFF_H_
