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

std::unique_ptr<GroupingPicker> WeightedPicker(
    const std::vector<double>& weights) {
  std::vector<Candidate> candidates =
      MakeCandidates(Addresses(static_cast<int>(weights.size())));
  for (size_t i = 0; i < weights.size(); ++i) {
    candidates[i].weight = weights[i];
  }
  return GroupingNamed("weighted").Prepare(candidates, nullptr);
}

TEST(WeightedGroupingTest, PicksInProportionToWeights) {
  std::unique_ptr<GroupingPicker> picker = WeightedPicker({1, 2, 3, 4, 0.5});
  EXPECT_TRUE(
      FitsDistribution(CountPicks(*picker, CallInfo{}, 100000, 5),
                       {1 / 10.5, 2 / 10.5, 3 / 10.5, 4 / 10.5, 0.5 / 10.5}));
}

TEST(WeightedGroupingTest, EqualWeightsAreUniform) {
  std::unique_ptr<GroupingPicker> picker = WeightedPicker({7, 7, 7});
  EXPECT_TRUE(FitsDistribution(CountPicks(*picker, CallInfo{}, 30000, 3),
                               {1 / 3.0, 1 / 3.0, 1 / 3.0}));
}

// Weights are promised positive; a broken one must not take calls.
TEST(WeightedGroupingTest, NonPositiveWeightsTakeNoCalls) {
  std::unique_ptr<GroupingPicker> picker = WeightedPicker({0, 1, -3, 1});
  EXPECT_TRUE(FitsDistribution(CountPicks(*picker, CallInfo{}, 20000, 4),
                               {0, 0.5, 0, 0.5}));
}

TEST(WeightedGroupingTest, WithoutAnyPositiveWeightPicksUniformly) {
  std::unique_ptr<GroupingPicker> picker = WeightedPicker({0, 0});
  EXPECT_TRUE(
      FitsDistribution(CountPicks(*picker, CallInfo{}, 10000, 2), {0.5, 0.5}));
}

}  // namespace
}  // namespace slacker
