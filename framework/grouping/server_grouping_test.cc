#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grouping/grouping_test_util.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::MakeCandidates;

TEST(ServerGroupingTest, PicksTheNamedServer) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("10.0.0.2:8080");
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::unique_ptr<GroupingPicker> picker =
      spec->grouping->Prepare(MakeCandidates(Addresses(4)), nullptr);
  CallInfo call;
  call.server = spec->argument;
  EXPECT_EQ(picker->Pick(call).value_or(99), 2u);
}

TEST(ServerGroupingTest, FindsItInAnyOrder) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("[::1]:80");
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::unique_ptr<GroupingPicker> picker = spec->grouping->Prepare(
      MakeCandidates({"[::2]:80", "10.0.0.1:80", "[::1]:80"}), nullptr);
  CallInfo call;
  call.server = spec->argument;
  EXPECT_EQ(picker->Pick(call).value_or(99), 2u);
}

TEST(ServerGroupingTest, AServerNotAmongTheCandidatesIsUnavailable) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("10.0.0.9:8080");
  ASSERT_TRUE(spec.ok()) << spec.status();
  std::unique_ptr<GroupingPicker> picker =
      spec->grouping->Prepare(MakeCandidates(Addresses(4)), nullptr);
  CallInfo call;
  call.cluster = "prod";
  call.name_space = "shop.Cart";
  call.server = spec->argument;
  absl::StatusOr<size_t> index = picker->Pick(call);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(index.status().message(),
            "server 10.0.0.9:8080 is not a ready publisher of namespace "
            "shop.Cart in cluster prod");
}

}  // namespace
}  // namespace slacker
