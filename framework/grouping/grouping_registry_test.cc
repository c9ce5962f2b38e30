#include "framework/grouping/grouping_registry.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<std::vector<size_t>> PickFirst(const CallInfo&,
                                              const std::vector<Candidate>&) {
  return std::vector<size_t>{0};
}

constexpr const char* kBuiltins[] = {
    "first",  "hash",        "leader", "least_in_flight",
    "random", "round_robin", "sticky", "weighted",
};

TEST(ParseGroupingSpecTest, FindsEveryBuiltinByName) {
  for (const char* name : kBuiltins) {
    absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(name);
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    EXPECT_EQ(spec->grouping->name(), name);
    EXPECT_EQ(spec->argument, "");
  }
}

TEST(ParseGroupingSpecTest, AHostPortIsTheServerGrouping) {
  for (const char* address : {"10.0.0.5:8080", "db-1.example.com:1", "[::1]:80",
                              "[fe80::1%eth0]:65535"}) {
    absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(address);
    ASSERT_TRUE(spec.ok()) << address << ": " << spec.status();
    EXPECT_EQ(spec->grouping->name(), "server");
    EXPECT_EQ(spec->argument, address);
  }
}

TEST(ParseGroupingSpecTest, RefusesMalformedAddresses) {
  for (const char* address :
       {"host:", ":80", "host:http", "host:0", "host:65536", "host:+80",
        "::1:80", "[::1]", "[]:80", "[::1]80", "a b:80", "a/b:80"}) {
    absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(address);
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument)
        << address;
    EXPECT_THAT(spec.status().message(), HasSubstr("host:port")) << address;
  }
}

TEST(ParseGroupingSpecTest, AnUnknownNameListsTheKnownOnes) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("fastest");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(),
              HasSubstr("unknown grouping \"fastest\"; known: first, hash, "
                        "leader, least_in_flight, random, round_robin, "));
  EXPECT_THAT(spec.status().message(),
              HasSubstr("sticky, weighted, or a server's host:port"));
}

TEST(ParseGroupingSpecTest, AllBelongsToTheFanOutApi) {
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("all");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(spec.status().message(),
            "grouping \"all\" sends one call to every server and is used "
            "through the fan-out API, not as a channel's grouping");
}

TEST(ParseGroupingSpecTest, RefusesAnEmptySpecAndABareServer) {
  EXPECT_EQ(ParseGroupingSpec("").status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("server");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(spec.status().message(), HasSubstr("host:port"));
}

TEST(RegisterGroupingFunctionTest, RegistersOnceUnderItsName) {
  ASSERT_TRUE(RegisterGroupingFunction("by_tenant", PickFirst).ok());
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec("by_tenant");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->grouping->name(), "by_tenant");
  EXPECT_EQ(spec->argument, "");
  EXPECT_EQ(ParseGroupingSpec("by_tenant")->grouping, spec->grouping);

  absl::Status again = RegisterGroupingFunction("by_tenant", PickFirst);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(again.message(), HasSubstr("by_tenant"));
}

TEST(RegisterGroupingFunctionTest, RefusesBuiltinAndReservedNames) {
  for (const char* name : kBuiltins) {
    EXPECT_EQ(RegisterGroupingFunction(name, PickFirst).code(),
              absl::StatusCode::kAlreadyExists)
        << name;
  }
  EXPECT_EQ(RegisterGroupingFunction("server", PickFirst).code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(RegisterGroupingFunction("all", PickFirst).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(RegisterGroupingFunctionTest, RefusesNamesThatDoNotReadAsNames) {
  for (const char* name : {"", "a:b", "a/b", "a b", "a\tb", "tail\n"}) {
    EXPECT_EQ(RegisterGroupingFunction(name, PickFirst).code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(RegisterGroupingFunction("no_function", nullptr).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GroupingNamesTest, ListsBuiltinsAndFunctionsSorted) {
  ASSERT_TRUE(RegisterGroupingFunction("a_user_function", PickFirst).ok());
  std::vector<std::string> names = GroupingNames();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"a_user_function", "first", "hash", "leader",
                          "least_in_flight", "random", "round_robin", "server",
                          "sticky", "weighted"}));
  EXPECT_THAT(names, ::testing::Not(::testing::Contains("all")));
}

}  // namespace
}  // namespace slacker
