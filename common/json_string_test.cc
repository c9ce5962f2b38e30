#include "common/json_string.h"

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

TEST(JsonStringTest, QuotesAndEscapes) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(JsonString(absl::string_view("\n\x01", 2)), "\"\\u000a\\u0001\"");
  EXPECT_EQ(JsonString("h\xC3\xA9"), "\"h\xC3\xA9\"");  // UTF-8 kept as is.
}

}  // namespace
}  // namespace slacker::internal
