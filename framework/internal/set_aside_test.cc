#include "framework/internal/set_aside.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000000);
constexpr absl::StatusCode kUnavailable = absl::StatusCode::kUnavailable;
constexpr absl::StatusCode kDeadline = absl::StatusCode::kDeadlineExceeded;
constexpr absl::StatusCode kOk = absl::StatusCode::kOk;
const absl::Duration kFast = absl::Milliseconds(1);

bool Fail(ServerStats& stats, const SetAsideRule& rule, absl::Time now) {
  stats.CallStarted();
  return stats.CallFinished(kUnavailable, kFast, rule, now);
}

TEST(SetAsideTest, SetAsideAfterTheNthConsecutiveUnavailable) {
  ServerStats stats;
  SetAsideRule rule{3, absl::Seconds(10)};
  EXPECT_FALSE(Fail(stats, rule, kNow));
  EXPECT_FALSE(Fail(stats, rule, kNow));
  EXPECT_FALSE(stats.IsSetAside(kNow));
  EXPECT_TRUE(Fail(stats, rule, kNow));
  EXPECT_TRUE(stats.IsSetAside(kNow));
  EXPECT_TRUE(stats.IsSetAside(kNow + absl::Seconds(9)));
  EXPECT_FALSE(stats.IsSetAside(kNow + absl::Seconds(10)));
  EXPECT_EQ(stats.in_flight.load(), 0);
}

TEST(SetAsideTest, AnyOtherOutcomeEndsTheStreak) {
  ServerStats stats;
  SetAsideRule rule{2, absl::Seconds(1)};
  EXPECT_FALSE(Fail(stats, rule, kNow));
  stats.CallStarted();
  EXPECT_FALSE(
      stats.CallFinished(absl::StatusCode::kNotFound, kFast, rule, kNow));
  EXPECT_FALSE(Fail(stats, rule, kNow));
  stats.Connected();
  EXPECT_FALSE(Fail(stats, rule, kNow));
  EXPECT_TRUE(Fail(stats, rule, kNow));
}

TEST(SetAsideTest, ZeroNeverSetsAside) {
  ServerStats stats;
  SetAsideRule rule{0, absl::Seconds(1)};
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(Fail(stats, rule, kNow));
  EXPECT_FALSE(stats.IsSetAside(kNow));
}

TEST(SetAsideTest, NotSetAsideAgainWhileSetAside) {
  ServerStats stats;
  SetAsideRule rule{1, absl::Seconds(10)};
  EXPECT_TRUE(Fail(stats, rule, kNow));
  EXPECT_FALSE(Fail(stats, rule, kNow + absl::Seconds(1)));
  EXPECT_TRUE(Fail(stats, rule, kNow + absl::Seconds(11)));
}

TEST(SetAsideTest, OneOfConcurrentFailuresWins) {
  ServerStats stats;
  SetAsideRule rule{1, absl::Seconds(10)};
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 100; ++j) winners += Fail(stats, rule, kNow);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
}

// A hung server: its calls end at the callers' deadlines.
TEST(SetAsideTest, DeadlineExceededCountsAsAFailure) {
  ServerStats stats;
  SetAsideRule rule{3, absl::Seconds(10)};
  for (int i = 0; i < 2; ++i) {
    stats.CallStarted();
    EXPECT_FALSE(stats.CallFinished(kDeadline, absl::Seconds(1), rule, kNow));
  }
  stats.CallStarted();
  EXPECT_TRUE(stats.CallFinished(kDeadline, absl::Seconds(1), rule, kNow));
  EXPECT_TRUE(stats.IsSetAside(kNow));
}

TEST(SetAsideTest, UnavailableAndDeadlineExceededMakeOneStreak) {
  ServerStats stats;
  SetAsideRule rule{3, absl::Seconds(10)};
  stats.CallStarted();
  EXPECT_FALSE(stats.CallFinished(kDeadline, kFast, rule, kNow));
  EXPECT_FALSE(Fail(stats, rule, kNow));
  stats.CallStarted();
  EXPECT_TRUE(stats.CallFinished(kDeadline, kFast, rule, kNow));
}

TEST(SetAsideTest, SlowCallsCountOnlyWhenAskedFor) {
  ServerStats stats;
  SetAsideRule off{2, absl::Seconds(10)};  // slower_than: infinite.
  for (int i = 0; i < 10; ++i) {
    stats.CallStarted();
    EXPECT_FALSE(stats.CallFinished(kOk, absl::Hours(1), off, kNow));
  }
  SetAsideRule rule{2, absl::Seconds(10), absl::Milliseconds(100)};
  stats.CallStarted();
  EXPECT_FALSE(stats.CallFinished(kOk, absl::Milliseconds(100), rule, kNow));
  stats.CallStarted();
  EXPECT_FALSE(stats.CallFinished(kOk, absl::Milliseconds(101), rule, kNow));
  stats.CallStarted();
  EXPECT_TRUE(stats.CallFinished(kOk, absl::Milliseconds(500), rule, kNow));
  EXPECT_EQ(stats.in_flight.load(), 0);
}

TEST(SetAsideTest, AFastAnswerEndsASlowStreak) {
  ServerStats stats;
  SetAsideRule rule{2, absl::Seconds(10), absl::Milliseconds(100)};
  stats.CallStarted();
  EXPECT_FALSE(stats.CallFinished(kOk, absl::Seconds(1), rule, kNow));
  stats.CallStarted();
  EXPECT_FALSE(stats.CallFinished(kOk, kFast, rule, kNow));
  stats.CallStarted();
  EXPECT_FALSE(stats.CallFinished(kOk, absl::Seconds(1), rule, kNow));
  EXPECT_FALSE(stats.IsSetAside(kNow));
}

TEST(SetAsideTest, WhatCountsAsAFailure) {
  const SetAsideRule rule;  // Latency not counted.
  EXPECT_TRUE(IsSetAsideFailure(kUnavailable, kFast, rule));
  EXPECT_TRUE(IsSetAsideFailure(kDeadline, kFast, rule));
  EXPECT_FALSE(IsSetAsideFailure(kOk, absl::Hours(1), rule));
  // The server answered: its own errors say nothing about its health.
  for (absl::StatusCode code :
       {absl::StatusCode::kNotFound, absl::StatusCode::kInternal,
        absl::StatusCode::kResourceExhausted, absl::StatusCode::kCancelled,
        absl::StatusCode::kInvalidArgument}) {
    EXPECT_FALSE(IsSetAsideFailure(code, kFast, rule)) << code;
  }
}

}  // namespace
}  // namespace slacker::internal
