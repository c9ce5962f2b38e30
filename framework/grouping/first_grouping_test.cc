#include <memory>
#include <vector>

#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::CountPicks;
using grouping_testing::GroupingNamed;
using grouping_testing::MakeCandidates;

TEST(FirstGroupingTest, AlwaysPicksTheFirstCandidate) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("first").Prepare(MakeCandidates(Addresses(4)), nullptr);
  EXPECT_EQ(CountPicks(*picker, CallInfo{}, 1000, 4),
            (std::vector<int64_t>{1000, 0, 0, 0}));
}

}  // namespace
}  // namespace slacker
