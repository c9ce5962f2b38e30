#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::CountPicks;
using grouping_testing::FitsDistribution;
using grouping_testing::GroupingNamed;
using grouping_testing::MakeCandidates;

size_t PickOrDie(GroupingPicker& picker) {
  absl::StatusOr<size_t> index = picker.Pick(CallInfo{});
  EXPECT_TRUE(index.ok()) << index.status();
  return index.value_or(0);
}

TEST(StickyGroupingTest, EveryCallGoesToTheSameCandidate) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("sticky").Prepare(MakeCandidates(Addresses(5)), nullptr);
  size_t chosen = PickOrDie(*picker);
  std::vector<int64_t> counts = CountPicks(*picker, CallInfo{}, 1000, 5);
  EXPECT_EQ(counts[chosen], 1000);
}

TEST(StickyGroupingTest, FreshPickersChooseAtRandom) {
  const Grouping& grouping = GroupingNamed("sticky");
  std::vector<int64_t> chosen(5);
  for (int i = 0; i < 10000; ++i) {
    ++chosen[PickOrDie(
        *grouping.Prepare(MakeCandidates(Addresses(5)), nullptr))];
  }
  EXPECT_TRUE(FitsDistribution(chosen, std::vector<double>(5, 0.2)));
}

TEST(StickyGroupingTest, KeepsItsServerWhileItStaysThenMoves) {
  const Grouping& grouping = GroupingNamed("sticky");
  std::vector<std::string> addresses = Addresses(5);
  std::unique_ptr<GroupingPicker> picker =
      grouping.Prepare(MakeCandidates(addresses), nullptr);
  std::string kept = addresses[PickOrDie(*picker)];

  // Other servers leave and join: the chosen one stays chosen, at whatever
  // index it now has.
  for (int round = 0; round < 20; ++round) {
    std::vector<std::string> changed = {kept};
    for (const std::string& address : Addresses(4, 5 + round % 5)) {
      if (address != kept) changed.push_back(address);
    }
    std::sort(changed.begin(), changed.end());
    picker = grouping.Prepare(MakeCandidates(changed), picker.get());
    ASSERT_EQ(changed[PickOrDie(*picker)], kept) << "round " << round;
  }

  // The chosen server leaves: another one is chosen and kept.
  std::vector<std::string> without = Addresses(3, 6);
  picker = grouping.Prepare(MakeCandidates(without), picker.get());
  size_t moved = PickOrDie(*picker);
  EXPECT_NE(without[moved], kept);
  EXPECT_EQ(CountPicks(*picker, CallInfo{}, 100, 3)[moved], 100);
}

TEST(StickyGroupingTest, APickerNeverPickedFromPassesNoChoiceOn) {
  const Grouping& grouping = GroupingNamed("sticky");
  std::unique_ptr<GroupingPicker> unused =
      grouping.Prepare(MakeCandidates(Addresses(5)), nullptr);
  std::vector<int64_t> chosen(5);
  for (int i = 0; i < 10000; ++i) {
    ++chosen[PickOrDie(
        *grouping.Prepare(MakeCandidates(Addresses(5)), unused.get()))];
  }
  EXPECT_TRUE(FitsDistribution(chosen, std::vector<double>(5, 0.2)));
}

}  // namespace
}  // namespace slacker
