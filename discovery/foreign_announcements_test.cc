#include "discovery/foreign_announcements.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::HasSubstr;

TEST(CuratorInstanceEndpointTest, ReadsWhatCuratorWrites) {
  // As Curator 5.4's JsonInstanceSerializer writes a ServiceInstance<Map>.
  absl::StatusOr<CuratorInstanceEndpoint> instance =
      ParseCuratorInstanceEndpoint(
          R"({"name":"api","id":"1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b",)"
          R"("address":"10.0.0.7","port":50051,"sslPort":null,)"
          R"("payload":{"@class":"java.util.LinkedHashMap","weight":2.5},)"
          R"("registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC",)"
          R"("uriSpec":null})");
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_EQ(instance->name, "api");
  EXPECT_EQ(instance->id, "1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b");
  EXPECT_EQ(instance->address, "10.0.0.7");
  EXPECT_EQ(instance->port, 50051);
  EXPECT_FALSE(instance->ssl_port.has_value());
  EXPECT_EQ(instance->weight, 2.5);
}

TEST(CuratorInstanceEndpointTest, StringPayloadAndSslPortOnly) {
  absl::StatusOr<CuratorInstanceEndpoint> instance =
      ParseCuratorInstanceEndpoint(
          R"({"name":"api","id":"x","address":"db.example","sslPort":443,)"
          R"("payload":"just text"})");
  ASSERT_TRUE(instance.ok()) << instance.status();
  EXPECT_FALSE(instance->port.has_value());
  EXPECT_EQ(instance->ssl_port, 443);
  EXPECT_FALSE(instance->weight.has_value());
}

TEST(CuratorInstanceEndpointTest, RefusesWhatIsNotAnEndpoint) {
  for (const char* bad : {
           "",
           "not json",
           "[1,2]",
           R"({"address":"h"})",               // No port at all.
           R"({"address":"h","port":0})",      // Out of range.
           R"({"address":"h","port":70000})",  // Out of range.
           R"({"address":"h","port":"80"})",   // Not an integer.
           R"({"address":"h","port":1.5})",    // Not an integer.
           R"({"address":"","port":80})",      // No host.
           R"({"address":"a b","port":80})",   // A space.
           R"({"address":"a/b","port":80})",   // A slash.
           R"({"address":7,"port":80})",       // Not a string.
           R"({"port":80})",                   // No address.
           R"({"address":"h","port":18446744073709551615})",
       }) {
    EXPECT_FALSE(ParseCuratorInstanceEndpoint(bad).ok()) << bad;
  }
}

TEST(ForeignAnnouncementsTest, RefusesDeepOrLargeDataBeforeParsing) {
  const std::string deep = "{\"payload\":" + std::string(100000, '[') + "}";
  absl::StatusOr<CuratorInstanceEndpoint> curator =
      ParseCuratorInstanceEndpoint(deep);
  ASSERT_FALSE(curator.ok());
  EXPECT_THAT(curator.status().message(), HasSubstr("deep"));
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

TEST(ServerSetMemberTest, MemberNames) {
  EXPECT_TRUE(IsServerSetMemberName("member_0000000007"));
  EXPECT_FALSE(IsServerSetMemberName("member_"));
  EXPECT_FALSE(IsServerSetMemberName("member_12a"));
  EXPECT_FALSE(IsServerSetMemberName("leader_0000000001"));
}

}  // namespace
}  // namespace slacker::discovery
