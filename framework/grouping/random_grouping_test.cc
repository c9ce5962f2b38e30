#include <memory>
#include <vector>

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

TEST(RandomGroupingTest, PicksUniformly) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("random").Prepare(MakeCandidates(Addresses(5)), nullptr);
  std::vector<int64_t> counts = CountPicks(*picker, CallInfo{}, 100000, 5);
  EXPECT_TRUE(FitsDistribution(counts, std::vector<double>(5, 0.2)));
}

TEST(RandomGroupingTest, OneCandidateIsAlwaysPicked) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("random").Prepare(MakeCandidates(Addresses(1)), nullptr);
  EXPECT_EQ(CountPicks(*picker, CallInfo{}, 100, 1), std::vector<int64_t>{100});
}

}  // namespace
}  // namespace slacker
