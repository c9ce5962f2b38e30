// Every picker is used by every call of a channel at once, while the channel
// prepares its successor from it. Run under ThreadSanitizer too:
//   bazel test --config=tsan //framework/grouping/...

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::LoadOf;
using grouping_testing::MakeCandidates;

constexpr int kThreads = 8;
constexpr int kPicksPerThread = 3000;
constexpr int kCandidates = 4;

class GroupingConcurrencyTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(RegisterGroupingFunction(
                    "concurrent_function",
                    [](const CallInfo& call, const std::vector<Candidate>& c)
                        -> absl::StatusOr<std::vector<size_t>> {
                      return std::vector<size_t>{call.hash_key.size() %
                                                 c.size()};
                    })
                    .ok());
  }
};

// 8 threads pick at once, each marking its call in flight on the picked
// server for a moment as the channel does, while the main thread prepares
// successors from the picker. Returns how many picks each candidate got.
std::vector<int64_t> PickConcurrently(const GroupingSpec& spec,
                                      const std::vector<Candidate>& candidates,
                                      GroupingPicker& picker) {
  std::vector<std::atomic<int64_t>> counts(candidates.size());
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPicksPerThread; ++i) {
        std::string key = absl::StrCat("key-", t, "-", i);
        CallInfo call;
        call.hash_key = key;
        call.server = spec.argument;
        absl::StatusOr<size_t> index = picker.Pick(call);
        if (!index.ok() || *index >= candidates.size()) {
          failed = true;
          return;
        }
        LoadOf(candidates[*index]).in_flight += 1;
        counts[*index] += 1;
        LoadOf(candidates[*index]).in_flight -= 1;
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    spec.grouping->Prepare(candidates, &picker);
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(failed);
  std::vector<int64_t> totals;
  for (const auto& count : counts) totals.push_back(count.load());
  return totals;
}

TEST_P(GroupingConcurrencyTest, PicksFromManyThreadsAtOnce) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(GetParam());
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::vector<Candidate> candidates = MakeCandidates(Addresses(kCandidates));
  candidates[1].leader = true;
  std::unique_ptr<GroupingPicker> picker =
      spec->grouping->Prepare(candidates, nullptr);
  std::vector<int64_t> counts = PickConcurrently(*spec, candidates, *picker);

  int64_t total = 0;
  int servers = 0;
  for (int64_t count : counts) {
    total += count;
    servers += count > 0;
  }
  EXPECT_EQ(total, kThreads * kPicksPerThread);
  if (GetParam() == "round_robin") {
    EXPECT_EQ(counts,
              std::vector<int64_t>(kCandidates,
                                   kThreads * kPicksPerThread / kCandidates));
  }
  if (GetParam() == "sticky") {
    EXPECT_EQ(servers, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(EveryGrouping, GroupingConcurrencyTest,
                         ::testing::Values("random", "round_robin", "first",
                                           "sticky", "leader",
                                           "least_in_flight", "weighted",
                                           "hash", "10.0.0.2:8080",
                                           "concurrent_function"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!absl::ascii_isalnum(c)) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace slacker
