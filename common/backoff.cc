#include "common/backoff.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace slacker::internal {

Backoff::Backoff(BackoffOptions options)
    : Backoff(options, std::random_device()()) {}

Backoff::Backoff(BackoffOptions options, uint64_t seed)
    : options_(options), current_(options.initial), random_(seed) {}

absl::Duration Backoff::Next() {
  const absl::Duration base = current_;
  current_ = std::min(current_ * options_.multiplier, options_.max);
  if (options_.jitter <= 0) return base;
  std::uniform_real_distribution<double> fraction(0.0, options_.jitter);
  return base - base * fraction(random_);
}

void Backoff::Reset() { current_ = options_.initial; }

std::string RetryDelayText(std::optional<absl::Duration> delay) {
  return delay.has_value() ? absl::StrCat("in ", absl::FormatDuration(*delay))
                           : "as already scheduled";
}

}  // namespace slacker::internal
