#include "common/json_bounds.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

constexpr JsonBounds kBounds{/*max_bytes=*/1000, /*max_depth=*/3,
                             /*max_items=*/10};

std::string Nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(JsonBoundsTest, CountsObjectsAndArrays) {
  EXPECT_EQ(JsonDepth("", 100), 0);
  EXPECT_EQ(JsonDepth("1", 100), 0);
  EXPECT_EQ(JsonDepth("[]", 100), 1);
  EXPECT_EQ(JsonDepth(R"({"a":[{"b":1}],"c":[]})", 100), 3);
  EXPECT_EQ(JsonDepth(Nested(50), 100), 50);
}

TEST(JsonBoundsTest, BracketsInStringsDoNotCount) {
  EXPECT_EQ(JsonDepth(R"(["[[[[", "{{{{"])", 100), 1);
  // An escaped quote does not end the string; an escaped backslash does not
  // escape the quote after it.
  EXPECT_EQ(JsonDepth(R"(["\"[[[["])", 100), 1);
  EXPECT_EQ(JsonDepth(R"(["\\", [[]]])", 100), 3);
}

TEST(JsonBoundsTest, StopsCountingPastTheLimit) {
  EXPECT_EQ(JsonDepth(Nested(30000), 64), 65);
}

TEST(JsonBoundsTest, UnbalancedClosersNeverGoBelowZero) {
  EXPECT_EQ(JsonDepth("]]]][[", 100), 2);
}

TEST(JsonBoundsTest, AcceptsWithinBounds) {
  EXPECT_TRUE(CheckJsonBounds(Nested(3), kBounds, "data").ok());
  EXPECT_TRUE(CheckJsonBounds("", kBounds, "data").ok());
  // Malformed text within the bounds is the parser's to refuse.
  EXPECT_TRUE(CheckJsonBounds("{{{ not json", kBounds, "data").ok());
}

TEST(JsonBoundsTest, RefusesTooDeepSayingWhere) {
  absl::Status status = CheckJsonBounds(Nested(4), kBounds, "server data");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "server data nests"))
      << status;
  EXPECT_TRUE(
      absl::StrContains(status.message(), "more than 3 deep (at byte 3)"))
      << status;
}

TEST(JsonBoundsTest, CountsItemsOutsideStrings) {
  EXPECT_EQ(JsonItems("1"), 0);
  EXPECT_EQ(JsonItems("[1,2,3]"), 3);
  EXPECT_EQ(JsonItems(R"({"a":1,"b":[2]})"), 5);
  EXPECT_EQ(JsonItems(R"([",:[{"])"), 1);
}

TEST(JsonBoundsTest, RefusesTooManyItems) {
  EXPECT_TRUE(CheckJsonBounds("[1,2,3,4,5,6,7,8,9,10]", kBounds, "data").ok());
  absl::Status status =
      CheckJsonBounds("[1,2,3,4,5,6,7,8,9,10,11]", kBounds, "server data");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(),
                                "has 11 values and members; at most 10"))
      << status;
}

TEST(JsonBoundsTest, RefusesTooLarge) {
  absl::Status status =
      CheckJsonBounds(std::string(1001, ' '), kBounds, "server data");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(status.message(), "1001 bytes; at most 1000"))
      << status;
}

}  // namespace
}  // namespace slacker::internal
