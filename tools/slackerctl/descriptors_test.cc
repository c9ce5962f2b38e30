// The network-free half of descriptors.h: type definitions and protosets
// built from descriptors, here those of this test's generated code.

#include "tools/slackerctl/descriptors.h"

#include <google/protobuf/descriptor.pb.h>

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "tools/testdata/describe.pb.h"

namespace slacker::slackerctl {
namespace {

namespace pb = google::protobuf;

int Count(const std::string& text, const std::string& part) {
  int count = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

TEST(TypeDefinitionsTest, EachTypeOnceNestedTypesInsideTheirMessage) {
  const pb::Descriptor* order = testing::describe::Order::descriptor();
  const pb::Descriptor* line = testing::describe::Order::Line::descriptor();
  // Line is asked for after Order, which already holds it; Order twice.
  const std::string text = TypeDefinitions({order, line, order}, {});
  EXPECT_TRUE(absl::StartsWith(
      text,
      "// slacker.testing.describe.Order (tools/testdata/describe.proto)\n"
      "message Order {\n"))
      << text;
  EXPECT_EQ(Count(text, "message Order {"), 1) << text;
  EXPECT_EQ(Count(text, "message Line {"), 1) << text;
  EXPECT_EQ(Count(text, "enum Kind {"), 1) << text;
  // The types its fields use: from its own file and from the imports.
  EXPECT_EQ(Count(text, "enum Priority {"), 1) << text;
  EXPECT_EQ(Count(text, "message Ping {"), 1) << text;
  EXPECT_EQ(Count(text, "message Timestamp {"), 1) << text;
  // A map's entry type is printed as the map, not as a message of its own.
  EXPECT_TRUE(absl::StrContains(text, "map<string, .slacker.testing.Ping>"));
  EXPECT_FALSE(absl::StrContains(text, "NotesEntry")) << text;
}

TEST(TypeDefinitionsTest, AnEnumAlone) {
  const std::string text =
      TypeDefinitions({}, {testing::describe::Priority_descriptor()});
  EXPECT_EQ(text,
            "// slacker.testing.describe.Priority "
            "(tools/testdata/describe.proto)\n"
            "enum Priority {\n  PRIORITY_UNSPECIFIED = 0;\n"
            "  PRIORITY_HIGH = 1;\n}\n");
}

TEST(FileSetOfTest, DependenciesFirstEachFileOnce) {
  const pb::FileDescriptor* file =
      testing::describe::Order::descriptor()->file();
  absl::StatusOr<pb::FileDescriptorSet> set = FileSetOf({file, file});
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->file_size(), 3);
  EXPECT_EQ(set->file(0).name(), "google/protobuf/timestamp.proto");
  EXPECT_EQ(set->file(1).name(), "protos/slacker/testing/ping.proto");
  EXPECT_EQ(set->file(2).name(), "tools/testdata/describe.proto");
  // What DescriptorPool::BuildFile needs: each file after its imports.
  pb::DescriptorPool pool;
  for (const pb::FileDescriptorProto& proto : set->file()) {
    EXPECT_NE(pool.BuildFile(proto), nullptr) << proto.name();
  }
  EXPECT_NE(pool.FindMessageTypeByName("slacker.testing.describe.Order"),
            nullptr);
}

TEST(FileSetOfTest, TwoVersionsOfOneFileAreRefused) {
  const pb::FileDescriptor* file =
      testing::describe::Order::descriptor()->file();
  pb::FileDescriptorProto other;
  file->dependency(1)->CopyTo(&other);  // ping.proto, with one more message.
  other.add_message_type()->set_name("Extra");
  pb::DescriptorPool pool;
  const pb::FileDescriptor* changed = pool.BuildFile(other);
  ASSERT_NE(changed, nullptr);
  absl::StatusOr<pb::FileDescriptorSet> set = FileSetOf({file, changed});
  EXPECT_TRUE(absl::IsInvalidArgument(set.status())) << set.status();
  EXPECT_TRUE(absl::StrContains(set.status().message(),
                                "protos/slacker/testing/ping.proto"))
      << set.status();
}

}  // namespace
}  // namespace slacker::slackerctl
