#include "framework/internal/foreign_snapshot.h"

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using NodeMap = std::map<std::string, discovery::NodeData>;

discovery::NodeData Node(std::string data, int64_t mzxid = 1) {
  discovery::NodeData node;
  node.data = std::move(data);
  node.stat.czxid = mzxid;
  node.stat.mzxid = mzxid;
  return node;
}

std::string Curator(const std::string& id, int port,
                    const std::string& payload = "null") {
  return R"({"name":"api","id":")" + id + R"(","address":"127.0.0.1","port":)" +
         std::to_string(port) + R"(,"sslPort":null,"payload":)" + payload +
         R"(,"registrationTimeUTC":1,"serviceType":"DYNAMIC","uriSpec":null})";
}

std::string Member(int port, const std::string& status = "ALIVE") {
  return R"({"serviceEndpoint":{"host":"127.0.0.1","port":)" +
         std::to_string(port) +
         R"(},"additionalEndpoints":{"grpc":{"host":"127.0.0.2","port":)" +
         std::to_string(port + 1) + R"(}},"status":")" + status +
         R"(","shard":0})";
}

TEST(ForeignSnapshotTest, CuratorInstancesServeEveryNamespace) {
  ForeignSource source;
  source.format = AnnouncementFormat::kCurator;
  const NodeMap children = {
      {"a", Node(Curator("a", 5001, R"({"@class":"x","weight":3})"))},
      {"b", Node(Curator("b", 5002))},
      {"c", Node(Curator("c", 5002))},  // Same endpoint as b: one server.
      {"d", Node(R"({"name":"api","id":"d","address":"h"})")},
      {"e", Node(R"({"name":"api","id":"e","address":"127.0.0.1","port":5005,)"
                 R"("enabled":false})")},
      {"f", Node(R"({"name":"api","id":"f","address":"a b","port":5006})")},
      {"g", Node("{\"address\":[[[[")},
  };
  std::map<std::string, ClusterServer> servers;
  std::vector<RefusedAnnouncement> refused;
  AddForeignServers(source, "/services/api", children, &servers, &refused);
  ASSERT_EQ(servers.size(), 2);
  const ClusterServer& a = servers.at("127.0.0.1:5001");
  EXPECT_THAT(a.namespaces, ElementsAre(kAnyNamespace));
  EXPECT_TRUE(a.leads.empty());
  EXPECT_EQ(a.weight, 3);
  EXPECT_EQ(a.server_data, children.at("a").data);
  EXPECT_EQ(servers.at("127.0.0.1:5002").server_data, children.at("b").data);
  ASSERT_EQ(refused.size(), 4);
  EXPECT_EQ(refused[0].path, "/services/api/d");
  EXPECT_THAT(refused[0].reason, HasSubstr("no port"));
  EXPECT_THAT(refused[1].reason, HasSubstr("disabled"));
  EXPECT_THAT(refused[2].reason, HasSubstr("printable"));
  EXPECT_EQ(refused[3].path, "/services/api/g");
}

TEST(ForeignSnapshotTest, CuratorSslPortWhenAsked) {
  ForeignSource source;
  source.format = AnnouncementFormat::kCurator;
  source.use_ssl_port = true;
  source.namespaces = {"pkg.A", "pkg.B"};
  const NodeMap children = {
      {"a", Node(R"({"name":"api","id":"a","address":"10.0.0.1","port":80,)"
                 R"("sslPort":443})")},
      {"b", Node(R"({"name":"api","id":"b","address":"10.0.0.2","port":80})")},
  };
  std::map<std::string, ClusterServer> servers;
  std::vector<RefusedAnnouncement> refused;
  AddForeignServers(source, "/s/api", children, &servers, &refused);
  ASSERT_EQ(servers.count("10.0.0.1:443"), 1);
  EXPECT_THAT(servers.at("10.0.0.1:443").namespaces,
              ElementsAre("pkg.A", "pkg.B"));
  ASSERT_EQ(refused.size(), 1);
  EXPECT_THAT(refused[0].reason, HasSubstr("sslPort"));
}

TEST(ForeignSnapshotTest, ServerSetAliveMembersOnly) {
  ForeignSource source;
  source.format = AnnouncementFormat::kServerSet;
  const NodeMap children = {
      {"member_0000000001", Node(Member(7001))},
      {"member_0000000002", Node(Member(7003, "STARTING"))},
      {"member_0000000003", Node("{\"serviceEndpoint\":")},  // Cut short.
      {"member_0000000004", Node(std::string(100000, '['))},
      {"leader", Node("whatever")},  // Not a member: skipped silently.
  };
  std::map<std::string, ClusterServer> servers;
  std::vector<RefusedAnnouncement> refused;
  AddForeignServers(source, "/aurora/r/e/j", children, &servers, &refused);
  ASSERT_EQ(servers.size(), 1);
  EXPECT_EQ(servers.begin()->first, "127.0.0.1:7001");
  ASSERT_EQ(refused.size(), 3);
  EXPECT_EQ(refused[0].path, "/aurora/r/e/j/member_0000000002");
  EXPECT_THAT(refused[0].reason, HasSubstr("STARTING"));
  EXPECT_THAT(refused[1].reason, HasSubstr("not JSON"));
  EXPECT_THAT(refused[2].reason, HasSubstr("deep"));
}

TEST(ForeignSnapshotTest, ServerSetAdditionalEndpoint) {
  ForeignSource source;
  source.format = AnnouncementFormat::kServerSet;
  source.endpoint = "grpc";
  const NodeMap children = {
      {"member_0000000001", Node(Member(7001))},
      {"member_0000000002",
       Node(R"({"serviceEndpoint":{"host":"h","port":1},"status":"ALIVE"})")},
  };
  std::map<std::string, ClusterServer> servers;
  std::vector<RefusedAnnouncement> refused;
  AddForeignServers(source, "/ss", children, &servers, &refused);
  ASSERT_EQ(servers.size(), 1);
  EXPECT_EQ(servers.begin()->first, "127.0.0.2:7002");
  ASSERT_EQ(refused.size(), 1);
  EXPECT_THAT(refused[0].reason, HasSubstr("\"grpc\""));
}

}  // namespace
}  // namespace slacker::internal
