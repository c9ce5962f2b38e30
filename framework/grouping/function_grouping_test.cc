#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grouping/grouping_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using grouping_testing::Addresses;
using grouping_testing::GroupingNamed;
using grouping_testing::MakeCandidates;
using ::testing::ElementsAreArray;

// Registrations last for the process, so each test uses its own name.
std::unique_ptr<GroupingPicker> RegisterAndPrepare(const std::string& name,
                                                   GroupingFunction function,
                                                   int candidates) {
  absl::Status registered = RegisterGroupingFunction(name, std::move(function));
  EXPECT_TRUE(registered.ok()) << registered;
  return GroupingNamed(name).Prepare(MakeCandidates(Addresses(candidates)),
                                     nullptr);
}

TEST(FunctionGroupingTest, IsCalledWithTheCallAndTheCandidates) {
  std::vector<std::string> seen_addresses;
  std::string seen_method;
  std::unique_ptr<GroupingPicker> picker = RegisterAndPrepare(
      "last_two",
      [&](const CallInfo& call, const std::vector<Candidate>& candidates)
          -> absl::StatusOr<std::vector<size_t>> {
        seen_method = std::string(call.method);
        for (const Candidate& c : candidates)
          seen_addresses.push_back(c.address);
        return std::vector<size_t>{candidates.size() - 1,
                                   candidates.size() - 2};
      },
      4);
  CallInfo call;
  call.method = "Get";
  EXPECT_EQ(picker->Pick(call).value_or(99), 3u);
  EXPECT_EQ(seen_method, "Get");
  EXPECT_THAT(seen_addresses, ElementsAreArray(Addresses(4)));
}

TEST(FunctionGroupingTest, ChoosingNoServerIsUnavailable) {
  std::unique_ptr<GroupingPicker> picker = RegisterAndPrepare(
      "none",
      [](const CallInfo&,
         const std::vector<Candidate>&) -> absl::StatusOr<std::vector<size_t>> {
        return std::vector<size_t>{};
      },
      3);
  CallInfo call;
  call.cluster = "prod";
  call.name_space = "shop.Cart";
  absl::StatusOr<size_t> index = picker->Pick(call);
  EXPECT_EQ(index.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(index.status().message(),
            "grouping function none chose none of the 3 ready servers of "
            "namespace shop.Cart in cluster prod");
}

TEST(FunctionGroupingTest, AnIndexOutOfRangeIsInternalNamingTheFunction) {
  std::unique_ptr<GroupingPicker> picker = RegisterAndPrepare(
      "off_by_one",
      [](const CallInfo&, const std::vector<Candidate>& candidates)
          -> absl::StatusOr<std::vector<size_t>> {
        return std::vector<size_t>{0, candidates.size()};
      },
      3);
  absl::StatusOr<size_t> index = picker->Pick(CallInfo{});
  EXPECT_EQ(index.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(index.status().message(),
            "grouping function off_by_one returned index 3 for a list of 3 "
            "candidates");
}

TEST(FunctionGroupingTest, TheFunctionsOwnErrorIsReturnedAsIs) {
  std::unique_ptr<GroupingPicker> picker = RegisterAndPrepare(
      "picky",
      [](const CallInfo&,
         const std::vector<Candidate>&) -> absl::StatusOr<std::vector<size_t>> {
        return absl::FailedPreconditionError("no tenant in the call");
      },
      3);
  EXPECT_EQ(picker->Pick(CallInfo{}).status(),
            absl::FailedPreconditionError("no tenant in the call"));
}

TEST(FunctionGroupingTest, ADeferringFunctionPicksAsTheGroupingItNames) {
  ASSERT_TRUE(RegisterCallGroupingFunction(
                  "defer_to_first",
                  [](const CallInfo&, const std::vector<Candidate>&)
                      -> absl::StatusOr<GroupingChoice> {
                    return GroupingChoice::Defer("first");
                  })
                  .ok());
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("defer_to_first")
          .Prepare(MakeCandidates(Addresses(3)), nullptr);
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<size_t> index = picker->Pick(CallInfo{});
    ASSERT_TRUE(index.ok()) << index.status();
    EXPECT_EQ(*index, 0u);
  }
  // The fan-out API's view: the servers the deferred grouping stands for.
  absl::StatusOr<GroupingFunction> as_servers =
      FindGroupingFunction("defer_to_first");
  ASSERT_TRUE(as_servers.ok());
  absl::StatusOr<std::vector<size_t>> servers =
      (*as_servers)(CallInfo{}, MakeCandidates(Addresses(3)));
  ASSERT_TRUE(servers.ok()) << servers.status();
  EXPECT_EQ(*servers, std::vector<size_t>{0});
}

TEST(FunctionGroupingTest, DeferringToAnUnknownGroupingNamesTheFunction) {
  ASSERT_TRUE(RegisterCallGroupingFunction(
                  "defer_to_nothing",
                  [](const CallInfo&, const std::vector<Candidate>&)
                      -> absl::StatusOr<GroupingChoice> {
                    return GroupingChoice::Defer("no_such_grouping");
                  })
                  .ok());
  std::unique_ptr<GroupingPicker> picker =
      GroupingNamed("defer_to_nothing")
          .Prepare(MakeCandidates(Addresses(2)), nullptr);
  absl::StatusOr<size_t> index = picker->Pick(CallInfo{});
  EXPECT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(index.status().message()),
              ::testing::HasSubstr("defer_to_nothing"));
}

}  // namespace
}  // namespace slacker
