#include "framework/internal/channel_registry.h"

#include <memory>

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

// Only its address is used.
const grpc::ChannelInterface* FakeChannel(int n) {
  static char slots[4];
  return reinterpret_cast<const grpc::ChannelInterface*>(&slots[n]);
}

std::shared_ptr<const ChannelSettings> Settings(const std::string& cluster) {
  auto settings = std::make_shared<ChannelSettings>();
  settings->cluster = cluster;
  settings->target = "zk://zk:2181/" + cluster;
  return settings;
}

TEST(ChannelRegistryTest, FindsAChannelByIdAndPointerUntilForgotten) {
  const ChannelId id = NewChannelId();
  EXPECT_GT(id, 0);
  EXPECT_NE(NewChannelId(), id);
  EXPECT_FALSE(FindChannel(id).has_value());
  RegisterChannel(id, FakeChannel(0), Settings("orders"));
  std::optional<ChannelEntry> by_id = FindChannel(id);
  ASSERT_TRUE(by_id.has_value());
  EXPECT_EQ(by_id->settings->cluster, "orders");
  EXPECT_EQ(by_id->servers, nullptr);
  std::optional<ChannelEntry> by_pointer = FindChannel(FakeChannel(0));
  ASSERT_TRUE(by_pointer.has_value());
  EXPECT_EQ(by_pointer->id, id);
  EXPECT_FALSE(FindChannel(FakeChannel(1)).has_value());
  ForgetChannel(id);
  EXPECT_FALSE(FindChannel(id).has_value());
  EXPECT_FALSE(FindChannel(FakeChannel(0)).has_value());
  ForgetChannel(id);  // A no-op.
}

TEST(ChannelRegistryTest, PublishedServersAreSnapshots) {
  const ChannelId id = NewChannelId();
  RegisterChannel(id, FakeChannel(2), Settings("a"));
  auto servers = std::make_shared<ServersByNamespace>();
  Candidate server;
  server.address = "a:1";
  (*servers)["pkg.Svc"].ready.push_back(server);
  (*servers)["pkg.Svc"].connecting = 2;
  PublishServers(id, servers);
  std::optional<ChannelEntry> entry = FindChannel(FakeChannel(2));
  ASSERT_TRUE(entry.has_value());
  ASSERT_NE(entry->servers, nullptr);
  EXPECT_EQ(entry->servers->at("pkg.Svc").ready[0].address, "a:1");
  EXPECT_EQ(entry->servers->at("pkg.Svc").connecting, 2);
  PublishServers(id, nullptr);
  EXPECT_EQ(FindChannel(id)->servers, nullptr);
  ForgetChannel(id);
  // The snapshot outlives the entry; publishing to a forgotten id is a no-op.
  EXPECT_EQ(entry->servers->size(), 1u);
  PublishServers(id, servers);
  EXPECT_FALSE(FindChannel(id).has_value());
}

TEST(ChannelRegistryDeathTest, BrokenRequirementsSaySo) {
  EXPECT_DEATH(RegisterChannel(0, FakeChannel(3), Settings("a")),
               "did not come from NewChannelId");
  EXPECT_DEATH(RegisterChannel(NewChannelId(), nullptr, Settings("a")),
               "null channel");
  const ChannelId id = NewChannelId();
  RegisterChannel(id, FakeChannel(3), Settings("a"));
  EXPECT_DEATH(RegisterChannel(id, FakeChannel(3), Settings("a")),
               "already registered");
  ForgetChannel(id);
}

}  // namespace
}  // namespace slacker::internal
