#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::FitsDistribution;
using grouping_testing::GroupingNamed;
using grouping_testing::MakeCandidates;

size_t PickOrDie(GroupingPicker& picker) {
  absl::StatusOr<size_t> index = picker.Pick(CallInfo{});
  EXPECT_TRUE(index.ok()) << index.status();
  return index.value_or(0);
}

TEST(RoundRobinGroupingTest, CyclesThroughEveryCandidateInOrder) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("round_robin")
          .Prepare(MakeCandidates(Addresses(4)), nullptr);
  size_t start = PickOrDie(*picker);
  for (size_t i = 1; i < 1000; ++i) {
    ASSERT_EQ(PickOrDie(*picker), (start + i) % 4) << "pick " << i;
  }
}

TEST(RoundRobinGroupingTest, FreshPickersStartAtRandomCandidates) {
  const Grouping& grouping = GroupingNamed("round_robin");
  std::vector<int64_t> starts(4);
  for (int i = 0; i < 10000; ++i) {
    ++starts[PickOrDie(
        *grouping.Prepare(MakeCandidates(Addresses(4)), nullptr))];
  }
  EXPECT_TRUE(FitsDistribution(starts, std::vector<double>(4, 0.25)));
}

TEST(RoundRobinGroupingTest, ContinuesThePreviousPickersCount) {
  const Grouping& grouping = GroupingNamed("round_robin");
  std::unique_ptr<GroupingPicker> old_picker =
      grouping.Prepare(MakeCandidates(Addresses(3)), nullptr);
  // A fresh picker's count starts at its first index, so after 7 picks the
  // next count is start + 7 whatever the number of candidates.
  size_t start = PickOrDie(*old_picker);
  for (int i = 1; i < 7; ++i) PickOrDie(*old_picker);

  std::unique_ptr<GroupingPicker> same_size =
      grouping.Prepare(MakeCandidates(Addresses(3)), old_picker.get());
  EXPECT_EQ(PickOrDie(*same_size), (start + 7) % 3);

  std::unique_ptr<GroupingPicker> grown =
      grouping.Prepare(MakeCandidates(Addresses(5)), same_size.get());
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(PickOrDie(*grown), (start + 8 + i) % 5);
  }
}

TEST(RoundRobinGroupingTest, IgnoresAPreviousPickerOfAnotherGrouping) {
  std::unique_ptr<GroupingPicker> other =
      GroupingNamed("first").Prepare(MakeCandidates(Addresses(3)), nullptr);
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("round_robin")
          .Prepare(MakeCandidates(Addresses(3)), other.get());
  size_t start = PickOrDie(*picker);
  EXPECT_EQ(PickOrDie(*picker), (start + 1) % 3);
}

}  // namespace
}  // namespace slacker
