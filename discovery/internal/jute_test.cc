#include "discovery/internal/jute.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(JuteTest, RoundTripsBigEndianValues) {
  JuteWriter writer;
  writer.Int(-4);
  writer.Long(0x0102030405060708);
  writer.Bool(true);
  writer.Bytes("abc");
  writer.Strings({"x", "yz"});
  EXPECT_EQ(writer.bytes().substr(0, 4), std::string("\xff\xff\xff\xfc", 4));
  JuteReader reader(writer.bytes());
  EXPECT_EQ(*reader.Int("i"), -4);
  EXPECT_EQ(*reader.Long("l"), 0x0102030405060708);
  EXPECT_TRUE(*reader.Bool("b"));
  EXPECT_EQ(*reader.Bytes("s", 10), "abc");
  EXPECT_THAT(*reader.Strings("v", 10, 10), ElementsAre("x", "yz"));
  EXPECT_EQ(reader.remaining(), 0u);
}

TEST(JuteTest, FrameCarriesItsLength) {
  JuteWriter writer;
  writer.Int(7);
  EXPECT_EQ(writer.Frame(), std::string("\0\0\0\4\0\0\0\7", 8));
}

TEST(JuteTest, NullStringAndVectorReadAsEmpty) {
  JuteWriter writer;
  writer.Int(-1);
  writer.Int(-1);
  JuteReader reader(writer.bytes());
  EXPECT_EQ(*reader.Bytes("s", 10), "");
  EXPECT_TRUE(reader.Strings("v", 10, 10)->empty());
}

TEST(JuteTest, RefusesLengthsPastTheFrameOrTheBound) {
  JuteWriter huge;
  huge.Int(0x7fffffff);  // A string "2 GB long" in a 4-byte frame.
  JuteReader reader(huge.bytes());
  absl::StatusOr<std::string> s = reader.Bytes("path", SIZE_MAX);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("needs 2147483647 bytes"));

  JuteWriter over_bound;
  over_bound.Bytes("abcdef");
  JuteReader bounded(over_bound.bytes());
  EXPECT_THAT(bounded.Bytes("passwd", 4).status().message(),
              HasSubstr("the bound is 4"));

  JuteWriter negative;
  negative.Int(-7);
  JuteReader neg(negative.bytes());
  EXPECT_FALSE(neg.Bytes("data", 10).ok());
}

TEST(JuteTest, RefusesAChildCountTheFrameCannotHold) {
  JuteWriter writer;
  writer.Int(100000000);  // 10^8 children claimed, none sent.
  JuteReader reader(writer.bytes());
  absl::StatusOr<std::vector<std::string>> names =
      reader.Strings("children", SIZE_MAX, SIZE_MAX);
  ASSERT_FALSE(names.ok());
  EXPECT_THAT(names.status().message(), HasSubstr("0 fit in the bytes left"));

  JuteWriter many;
  many.Strings({"a", "b", "c"});
  JuteReader capped(many.bytes());
  EXPECT_THAT(capped.Strings("children", 2, 10).status().message(),
              HasSubstr("the bound is 2"));
}

TEST(JuteTest, StatNeedsAllItsBytes) {
  JuteWriter writer;
  writer.Long(1);
  JuteReader reader(writer.bytes());
  EXPECT_FALSE(reader.Stat().ok());
}

}  // namespace
}  // namespace slacker::discovery::internal
