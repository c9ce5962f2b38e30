#include "framework/internal/set_aside.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1000000);
constexpr absl::StatusCode kUnavailable = absl::StatusCode::kUnavailable;

bool Fail(ServerStats& stats, const SetAsideRule& rule, absl::Time now) {
  stats.CallStarted();
  return stats.CallFinished(kUnavailable, rule, now);
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
  EXPECT_FALSE(stats.CallFinished(absl::StatusCode::kNotFound, rule, kNow));
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

}  // namespace
}  // namespace slacker::internal
