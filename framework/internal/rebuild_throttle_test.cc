#include "framework/internal/rebuild_throttle.h"

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1000);

TEST(RebuildThrottleTest, FirstChangeBuildsAtOnce) {
  RebuildThrottle throttle;
  EXPECT_EQ(throttle.Changed(kStart), absl::ZeroDuration());
}

TEST(RebuildThrottleTest, WaitsFourTimesTheLastBuildsCost) {
  RebuildThrottle throttle;
  throttle.Built(kStart, kStart + absl::Milliseconds(1));
  const absl::Time built = kStart + absl::Milliseconds(1);
  EXPECT_EQ(throttle.Changed(built + absl::Milliseconds(1)),
            absl::Milliseconds(3));
  // Deferred: later changes wait for the same build.
  EXPECT_EQ(throttle.Changed(built + absl::Milliseconds(2)),
            absl::InfiniteDuration());
  throttle.Built(built + absl::Milliseconds(4), built + absl::Milliseconds(4));
  EXPECT_EQ(throttle.Changed(built + absl::Milliseconds(4)),
            absl::ZeroDuration());
}

TEST(RebuildThrottleTest, BuildsAtOnceOnceDue) {
  RebuildThrottle throttle;
  throttle.Built(kStart, kStart + absl::Microseconds(10));
  EXPECT_EQ(throttle.Changed(kStart + absl::Microseconds(50)),
            absl::ZeroDuration());
}

}  // namespace
}  // namespace slacker::internal
