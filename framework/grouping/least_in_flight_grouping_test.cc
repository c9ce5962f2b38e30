#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::CountPicks;
using grouping_testing::FitsDistribution;
using grouping_testing::GroupingNamed;
using grouping_testing::LoadOf;
using grouping_testing::MakeCandidates;

void SetLoads(const std::vector<Candidate>& candidates,
              const std::vector<int64_t>& loads) {
  for (size_t i = 0; i < loads.size(); ++i) {
    LoadOf(candidates[i]).in_flight = loads[i];
  }
}

TEST(LeastInFlightGroupingTest, FollowsTheLoads) {
  std::vector<Candidate> candidates = MakeCandidates(Addresses(4));
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("least_in_flight").Prepare(candidates, nullptr);

  SetLoads(candidates, {5, 2, 7, 3});
  EXPECT_EQ(CountPicks(*picker, CallInfo{}, 1000, 4),
            (std::vector<int64_t>{0, 1000, 0, 0}));

  SetLoads(candidates, {5, 9, 7, 3});
  EXPECT_EQ(CountPicks(*picker, CallInfo{}, 1000, 4),
            (std::vector<int64_t>{0, 0, 0, 1000}));
}

TEST(LeastInFlightGroupingTest, SpreadsCallsOverEquallyLoadedServers) {
  std::vector<Candidate> candidates = MakeCandidates(Addresses(4));
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("least_in_flight").Prepare(candidates, nullptr);
  SetLoads(candidates, {4, 2, 7, 2});
  EXPECT_TRUE(FitsDistribution(CountPicks(*picker, CallInfo{}, 20000, 4),
                               {0, 0.5, 0, 0.5}));
}

TEST(LeastInFlightGroupingTest, CountsCallsStartedOnThePickedServer) {
  std::vector<Candidate> candidates = MakeCandidates(Addresses(3));
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("least_in_flight").Prepare(candidates, nullptr);
  // Calls that never finish, started as the channel would start them, fill
  // the servers evenly.
  for (int i = 0; i < 300; ++i) {
    size_t index = picker->Pick(CallInfo{}).value_or(0);
    LoadOf(candidates[index]).in_flight += 1;
  }
  for (const Candidate& candidate : candidates) {
    EXPECT_EQ(candidate.in_flight(), 100) << candidate.address;
  }
}

// Above 16 servers two are drawn and the less loaded wins: with distinct
// loads, server i (load i) is picked when it is drawn together with one of
// the n - 1 - i more loaded servers, with probability 2 (n - 1 - i) / (n (n -
// 1)); the most loaded is never picked.
TEST(LeastInFlightGroupingTest, ManyServersUseTwoRandomChoices) {
  constexpr int kServers = 40;
  std::vector<std::string> addresses;
  for (int i = 0; i < kServers; ++i) {
    addresses.push_back(absl::StrCat("10.0.1.", 100 + i, ":8080"));
  }
  std::vector<Candidate> candidates = MakeCandidates(addresses);
  std::vector<int64_t> loads;
  std::vector<double> probabilities;
  for (int i = 0; i < kServers; ++i) {
    loads.push_back(i);
    probabilities.push_back(2.0 * (kServers - 1 - i) /
                            (kServers * (kServers - 1)));
  }
  SetLoads(candidates, loads);
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("least_in_flight").Prepare(candidates, nullptr);
  EXPECT_TRUE(FitsDistribution(
      CountPicks(*picker, CallInfo{}, 100000, kServers), probabilities));
}

TEST(LeastInFlightGroupingTest, CandidatesWithoutLoadReadAsIdle) {
  std::vector<Candidate> candidates = MakeCandidates(Addresses(2));
  SetLoads(candidates, {1, 0});
  candidates[0].load = nullptr;
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("least_in_flight").Prepare(candidates, nullptr);
  EXPECT_TRUE(
      FitsDistribution(CountPicks(*picker, CallInfo{}, 10000, 2), {0.5, 0.5}));
}

}  // namespace
}  // namespace slacker
