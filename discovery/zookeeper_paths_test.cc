#include "discovery/zookeeper_paths.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::HasSubstr;

TEST(ValidatePathTest, AcceptsAbsolutePaths) {
  for (const char* path :
       {"/", "/a", "/a/b", "/slacker/cluster/c1/servers/10.0.0.1:80",
        "/with space", "/ünicode"}) {
    EXPECT_TRUE(ValidatePath(path).ok()) << path;
  }
}

TEST(ValidatePathTest, RefusesWhatZooKeeperRefuses) {
  struct Case {
    std::string path;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"", "empty"},
           {"a/b", "start with '/'"},
           {"/a/", "end with '/'"},
           {"/a//b", "empty segment"},
           {"/a/.", "\".\" or \"..\""},
           {"/../a", "\".\" or \"..\""},
           {std::string("/a\0b", 4), "control character"},
           {"/a\nb", "control character"},
       }) {
    absl::Status status = ValidatePath(c.path);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << c.path;
    EXPECT_THAT(status.message(), HasSubstr(c.why)) << c.path;
  }
}

TEST(ValidateNodeNameTest, NamesTheThingInTheError) {
  EXPECT_TRUE(ValidateNodeName("orders-1", "cluster name").ok());
  absl::Status status = ValidateNodeName("a/b", "cluster name");
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_THAT(status.message(), HasSubstr("invalid cluster name \"a/b\""));
  EXPECT_FALSE(ValidateNodeName("", "x").ok());
  EXPECT_FALSE(ValidateNodeName("..", "x").ok());
}

TEST(PathPartsTest, JoinParentAndName) {
  EXPECT_EQ(JoinPath("/", "a"), "/a");
  EXPECT_EQ(JoinPath("/a", "b"), "/a/b");
  EXPECT_EQ(ParentPath("/a/b"), "/a");
  EXPECT_EQ(ParentPath("/a"), "/");
  EXPECT_EQ(ParentPath("/"), "/");
  EXPECT_EQ(NodeName("/a/b"), "b");
  EXPECT_EQ(NodeName("/"), "");
}

TEST(SequenceNumberTest, ReadsTheTenDigitSuffix) {
  EXPECT_EQ(SequenceNumber("n_0000000042"), 42);
  EXPECT_EQ(SequenceNumber("0000000000"), 0);
  EXPECT_EQ(SequenceNumber("n_2147483647"), 2147483647);
  EXPECT_EQ(SequenceNumber("n_42"), std::nullopt);
  EXPECT_EQ(SequenceNumber("n_000000004x"), std::nullopt);
}

}  // namespace
}  // namespace slacker::discovery
