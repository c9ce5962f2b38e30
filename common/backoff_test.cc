#include "common/backoff.h"

#include <vector>

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

BackoffOptions NoJitter() {
  BackoffOptions options;
  options.initial = absl::Milliseconds(50);
  options.max = absl::Seconds(2);
  options.jitter = 0;
  return options;
}

TEST(BackoffTest, DoublesFromInitialUpToMaxWithoutJitter) {
  Backoff backoff(NoJitter(), 1);
  const std::vector<absl::Duration> expected = {
      absl::Milliseconds(50),   absl::Milliseconds(100),
      absl::Milliseconds(200),  absl::Milliseconds(400),
      absl::Milliseconds(800),  absl::Milliseconds(1600),
      absl::Milliseconds(2000), absl::Milliseconds(2000)};
  for (absl::Duration want : expected) EXPECT_EQ(backoff.Next(), want);
}

TEST(BackoffTest, ResetStartsAgainFromInitial) {
  Backoff backoff(NoJitter(), 1);
  backoff.Next();
  backoff.Next();
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(50));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(100));
}

TEST(BackoffTest, MultiplierOneIsAFixedDelay) {
  BackoffOptions options = NoJitter();
  options.initial = options.max = absl::Seconds(1);
  options.multiplier = 1;
  Backoff backoff(options, 1);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(backoff.Next(), absl::Seconds(1));
}

TEST(BackoffTest, JitterOnlyShortensEachDelayByAtMostItsFraction) {
  BackoffOptions options = NoJitter();
  options.jitter = 0.25;
  Backoff jittered(options, 42);
  Backoff plain(NoJitter(), 42);
  bool some_shortened = false;
  for (int i = 0; i < 200; ++i) {
    if (i % 10 == 0) {
      jittered.Reset();
      plain.Reset();
    }
    const absl::Duration base = plain.Next();
    const absl::Duration delay = jittered.Next();
    EXPECT_LE(delay, base);
    EXPECT_GT(delay, base * 0.75);
    some_shortened |= delay < base;
  }
  EXPECT_TRUE(some_shortened);
}

TEST(BackoffTest, SameSeedGivesSameDelays) {
  BackoffOptions options;  // Default jitter.
  Backoff a(options, 7);
  Backoff b(options, 7);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(a.Next(), b.Next());
}

TEST(BackoffTest, DifferentSeedsSpreadTheDelays) {
  BackoffOptions options;
  options.jitter = 0.5;
  Backoff a(options, 1);
  Backoff b(options, 2);
  bool differ = false;
  for (int i = 0; i < 20; ++i) differ |= a.Next() != b.Next();
  EXPECT_TRUE(differ);
}

TEST(BackoffTest, RetryDelayTextNamesTheDelayOrThePendingRetry) {
  EXPECT_EQ(RetryDelayText(absl::Milliseconds(40)), "in 40ms");
  EXPECT_EQ(RetryDelayText(std::nullopt), "as already scheduled");
}

}  // namespace
}  // namespace slacker::internal
