#include "common/serial_executor.h"

#include <atomic>
#include <memory>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

using ::testing::ElementsAre;

TEST(SerialExecutorTest, RunsTasksInOrderOnItsThread) {
  SerialExecutor executor("test");
  std::vector<int> ran;  // Only the executor's thread writes it.
  std::atomic<bool> on_thread{true};
  for (int i = 0; i < 5; ++i) {
    executor.Post([&, i] {
      on_thread = on_thread && executor.IsCurrentThread();
      ran.push_back(i);
    });
  }
  executor.Barrier();
  EXPECT_THAT(ran, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_TRUE(on_thread);
  EXPECT_FALSE(executor.IsCurrentThread());
}

TEST(SerialExecutorTest, DelayedTasksRunInDueOrder) {
  SerialExecutor executor("test");
  std::vector<int> ran;
  executor.PostAfter(absl::Milliseconds(60), [&] { ran.push_back(2); });
  executor.PostAfter(absl::Milliseconds(20), [&] { ran.push_back(1); });
  executor.Post([&] { ran.push_back(0); });
  absl::SleepFor(absl::Milliseconds(300));
  executor.Barrier();
  EXPECT_THAT(ran, ElementsAre(0, 1, 2));
}

TEST(SerialExecutorTest, ShutdownRunsQueuedTasksDropsDelayedOnesAndRefusesNew) {
  SerialExecutor executor("test");
  std::atomic<int> ran{0};
  executor.Post([&] { ++ran; });
  executor.PostAfter(absl::Hours(1), [&] { ran += 100; });
  executor.Shutdown();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(executor.Post([&] { ++ran; }));
  executor.Shutdown();  // Idempotent.
  executor.Barrier();   // At once once shut down.
  EXPECT_EQ(ran, 1);
}

TEST(SerialExecutorDeathTest, ShutdownOnItsOwnThreadFailsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        SerialExecutor executor("self-join");
        executor.Post([&] { executor.Shutdown(); });
        executor.Barrier();
      },
      "SerialExecutor 'self-join' shut down or destroyed by one of its own "
      "tasks");
}

TEST(SerialExecutorDeathTest, DestructionOnItsOwnThreadFailsWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* executor = new SerialExecutor("self-destroy");
        executor->Post([executor] { delete executor; });
        absl::SleepFor(absl::Seconds(5));
      },
      "its thread would join itself");
}

}  // namespace
}  // namespace slacker::internal
