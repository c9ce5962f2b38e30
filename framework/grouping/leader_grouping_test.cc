#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::CountPicks;
using grouping_testing::GroupingNamed;
using grouping_testing::MakeCandidates;

TEST(LeaderGroupingTest, PicksTheLeader) {
  std::vector<Candidate> candidates = MakeCandidates(Addresses(4));
  candidates[2].leader = true;
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("leader").Prepare(candidates, nullptr);
  EXPECT_EQ(CountPicks(*picker, CallInfo{}, 100, 4),
            (std::vector<int64_t>{0, 0, 100, 0}));
}

TEST(LeaderGroupingTest, TwoLeadersMeanTheFirst) {
  std::vector<Candidate> candidates = MakeCandidates(Addresses(4));
  candidates[1].leader = true;
  candidates[3].leader = true;
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("leader").Prepare(candidates, nullptr);
  EXPECT_EQ(picker->Pick(CallInfo{}).value_or(99), 1u);
}

TEST(LeaderGroupingTest, NoLeaderIsUnavailableNamingTheNamespace) {
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("leader").Prepare(MakeCandidates(Addresses(3)), nullptr);
  CallInfo call;
  call.cluster = "prod";
  call.name_space = "shop.Cart";
  absl::StatusOr<size_t> index = picker->Pick(call);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(index.status().message(),
            "no leader of namespace shop.Cart in cluster prod among the 3 "
            "ready servers");
}

}  // namespace
}  // namespace slacker
