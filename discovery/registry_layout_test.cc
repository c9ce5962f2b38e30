#include "discovery/registry_layout.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::HasSubstr;

// The wire contract, spelled out: these strings are what slacker-cluster
// and slackerctl read.
TEST(RegistryLayoutTest, BuildsEveryPathOfTheLayout) {
  const RegistryLayout layout(kDefaultRegistryRoot, "orders");
  EXPECT_EQ(layout.root(), "/slacker/cluster");
  EXPECT_EQ(layout.cluster(), "orders");
  EXPECT_EQ(layout.ClusterPath(), "/slacker/cluster/orders");
  EXPECT_EQ(layout.ServersPath(), "/slacker/cluster/orders/servers");
  EXPECT_EQ(layout.ServerPath("10.0.0.7:8080"),
            "/slacker/cluster/orders/servers/10.0.0.7:8080");
  EXPECT_EQ(layout.NamespacesPath(), "/slacker/cluster/orders/namespaces");
  EXPECT_EQ(layout.NamespacePath("pkg.Svc"),
            "/slacker/cluster/orders/namespaces/pkg.Svc");
  EXPECT_EQ(layout.MemberPath("pkg.Svc", "10.0.0.7:8080"),
            "/slacker/cluster/orders/namespaces/pkg.Svc/10.0.0.7:8080");
  EXPECT_EQ(layout.LeaderPath("pkg.Svc"),
            "/slacker/cluster/orders/namespaces/pkg.Svc/_leader");
  EXPECT_EQ(layout.FunctionsPath("pkg.Svc"),
            "/slacker/cluster/orders/functions/pkg.Svc");
  EXPECT_EQ(layout.FunctionPath("pkg.Svc", "Get"),
            "/slacker/cluster/orders/functions/pkg.Svc/Get");
}

TEST(RegistryLayoutTest, RootSlashHasNoDoubleSlash) {
  const RegistryLayout layout("/", "orders");
  EXPECT_EQ(layout.ClusterPath(), "/orders");
  EXPECT_EQ(layout.ServerPath("h:1"), "/orders/servers/h:1");
  EXPECT_EQ(layout.NamespacesPath(), "/orders/namespaces");
  EXPECT_EQ(layout.LeaderPath("ns"), "/orders/namespaces/ns/_leader");
  EXPECT_EQ(layout.FunctionPath("ns", "M"), "/orders/functions/ns/M");
  EXPECT_TRUE(layout.Validate().ok());
}

TEST(RegistryLayoutTest, IPv6MembersKeepTheirBrackets) {
  const RegistryLayout layout("/r", "c");
  EXPECT_EQ(layout.MemberPath("ns", "[::1]:80"), "/r/c/namespaces/ns/[::1]:80");
}

TEST(RegistryLayoutTest, TellsTheLeaderNodeFromMembers) {
  EXPECT_TRUE(RegistryLayout::IsLeaderNode("_leader"));
  EXPECT_FALSE(RegistryLayout::IsLeaderNode("10.0.0.7:8080"));
  EXPECT_FALSE(RegistryLayout::IsLeaderNode("_leader2"));
  const RegistryLayout layout("/r", "c");
  EXPECT_TRUE(RegistryLayout::IsLeaderNode(
      layout.LeaderPath("ns").substr(layout.NamespacePath("ns").size() + 1)));
}

TEST(RegistryLayoutTest, ValidateNamesWhatIsWrong) {
  EXPECT_TRUE(RegistryLayout(kDefaultRegistryRoot, "orders").Validate().ok());
  EXPECT_THAT(RegistryLayout("/r", "a/b").Validate().message(),
              HasSubstr("cluster name"));
  EXPECT_THAT(RegistryLayout("/r", "").Validate().message(),
              HasSubstr("cluster name"));
  EXPECT_THAT(RegistryLayout("r", "c").Validate().message(),
              HasSubstr("ZooKeeper path"));
  EXPECT_THAT(RegistryLayout("/r/", "c").Validate().message(),
              HasSubstr("ZooKeeper path"));
}

}  // namespace
}  // namespace slacker::discovery
