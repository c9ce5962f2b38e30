#include "discovery/foreign_announcements.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::HasSubstr;

TEST(ForeignAnnouncementsTest, RefusesDeepOrLargeDataBeforeParsing) {
  const std::string deep =
      "{\"shard\":" + std::string(100000, '[') + "}";
  absl::StatusOr<ServerSetMember> member = ParseServerSetMember(deep);
  ASSERT_FALSE(member.ok());
  EXPECT_THAT(member.status().message(), HasSubstr("deep"));
  const std::string large =
      R"({"serviceEndpoint":{"host":"h","port":1},"x":")" +
      std::string(200 * 1024, 'a') + "\"}";
  EXPECT_FALSE(ParseServerSetMember(large).ok());
}

TEST(ServerSetMemberTest, ReadsWhatServerSetImplWrites) {
  absl::StatusOr<ServerSetMember> member = ParseServerSetMember(
      R"({"serviceEndpoint":{"host":"10.0.0.7","port":31337},)"
      R"("additionalEndpoints":{"grpc":{"host":"10.0.0.7","port":31338},)"
      R"("http":{"host":"10.0.0.7","port":8080}},"status":"ALIVE","shard":3})");
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(member->service_endpoint.HostPort(), "10.0.0.7:31337");
  ASSERT_EQ(member->additional_endpoints.count("grpc"), 1);
  EXPECT_EQ(member->additional_endpoints["grpc"].port, 31338);
  EXPECT_EQ(member->status, "ALIVE");
  EXPECT_EQ(member->shard, 3);
}

TEST(ServerSetMemberTest, StatusDefaultsToAliveAndIpv6IsBracketed) {
  absl::StatusOr<ServerSetMember> member =
      ParseServerSetMember(R"({"serviceEndpoint":{"host":"::1","port":9}})");
  ASSERT_TRUE(member.ok()) << member.status();
  EXPECT_EQ(member->status, "ALIVE");
  EXPECT_EQ(member->service_endpoint.HostPort(), "[::1]:9");
  EXPECT_FALSE(member->shard.has_value());
}

TEST(ServerSetMemberTest, RefusesMalformedMembers) {
  for (const char* bad : {
           "{}",
           R"({"serviceEndpoint":null})",
           R"({"serviceEndpoint":{"host":"h"}})",
           R"({"serviceEndpoint":{"port":1}})",
           R"({"serviceEndpoint":{"host":"h","port":-1}})",
           R"({"serviceEndpoint":"h:1"})",
           R"({"serviceEndpoint":{"host":"h","port":1},"status":5})",
           R"({"serviceEndpoint":{"host":"h","port":1},"shard":"0"})",
           R"({"serviceEndpoint":{"host":"h","port":1},"shard":1e20})",
           R"({"serviceEndpoint":{"host":"h","port":1},)"
           R"("additionalEndpoints":{"grpc":{"host":"h"}}})",
           R"({"serviceEndpoint":{"host":"h","port":1},)"
           R"("additionalEndpoints":[1]})",
       }) {
    EXPECT_FALSE(ParseServerSetMember(bad).ok()) << bad;
  }
}

TEST(ForeignAnnouncementsTest, Hosts) {
  EXPECT_TRUE(ValidateAnnouncedHost("db-1.example", "host").ok());
  EXPECT_TRUE(ValidateAnnouncedHost("::1", "host").ok());
  EXPECT_FALSE(ValidateAnnouncedHost("", "host").ok());
  EXPECT_FALSE(ValidateAnnouncedHost("a b", "host").ok());
  EXPECT_FALSE(ValidateAnnouncedHost("a/b", "host").ok());
  EXPECT_FALSE(ValidateAnnouncedHost(std::string(256, 'a'), "host").ok());
}

TEST(ServerSetMemberTest, MemberNames) {
  EXPECT_TRUE(IsServerSetMemberName("member_0000000007"));
  EXPECT_FALSE(IsServerSetMemberName("member_"));
  EXPECT_FALSE(IsServerSetMemberName("member_12a"));
  EXPECT_FALSE(IsServerSetMemberName("leader_0000000001"));
}

}  // namespace
}  // namespace slacker::discovery
