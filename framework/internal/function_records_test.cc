// FunctionRecords against a real ZooKeeper: a record is written only when it
// differs from what is there.

#include "framework/internal/function_records.h"

#include <map>
#include <memory>
#include <string>

#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::internal {
namespace {

constexpr char kNamespace[] = "slacker.testing.EchoService";

std::string Record(const std::string& method, const std::string& descriptors) {
  return std::string(R"({"path":"/slacker.testing.EchoService/)") + method +
         R"(","fileDescriptorSet":")" + descriptors + R"("})";
}

class FunctionRecordsTest : public testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    testing::ZooKeeperTest::SetUp();
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    auto client = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  void TearDown() override {
    if (client_ != nullptr) client_->Close();
    testing::ZooKeeperTest::TearDown();
  }

  // Starts and closes FunctionRecords for `records`, as one server run does.
  void Run(std::map<std::string, std::string> records) {
    auto kept = FunctionRecords::Start(client_.get(), layout_, kNamespace,
                                       std::move(records));
    ASSERT_TRUE(kept.ok()) << kept.status();
    (*kept)->Close();
  }

  discovery::NodeData Read(const std::string& method) {
    auto node = client_->Get(layout_.FunctionPath(kNamespace, method));
    EXPECT_TRUE(node.ok()) << node.status();
    return node.ok() ? *node : discovery::NodeData();
  }

  const discovery::RegistryLayout layout_{
      std::string(discovery::kDefaultRegistryRoot), "records"};
  std::unique_ptr<discovery::ZooKeeperClient> client_;
};

TEST_F(FunctionRecordsTest, WritesARecordOnlyWhenItChanged) {
  const std::map<std::string, std::string> first = {
      {"Echo", Record("Echo", "AAAA")}, {"Ping", Record("Ping", "BBBB")}};
  Run(first);
  const discovery::NodeData echo = Read("Echo");
  const discovery::NodeData ping = Read("Ping");
  EXPECT_EQ(echo.data, first.at("Echo"));
  EXPECT_EQ(ping.data, first.at("Ping"));

  // The same build again: nothing is written (same version, same mzxid).
  Run(first);
  EXPECT_EQ(Read("Echo").stat.mzxid, echo.stat.mzxid);
  EXPECT_EQ(Read("Ping").stat.mzxid, ping.stat.mzxid);

  // A build whose Echo descriptors changed: that record alone is written.
  std::map<std::string, std::string> second = first;
  second["Echo"] = Record("Echo", "CCCC");
  Run(second);
  const discovery::NodeData rewritten = Read("Echo");
  EXPECT_EQ(rewritten.data, second.at("Echo"));
  EXPECT_EQ(rewritten.stat.version, echo.stat.version + 1);
  EXPECT_EQ(Read("Ping").stat.mzxid, ping.stat.mzxid);

  // A record deleted meanwhile is created again.
  ASSERT_TRUE(client_->Delete(layout_.FunctionPath(kNamespace, "Ping")).ok());
  Run(second);
  EXPECT_EQ(Read("Ping").data, second.at("Ping"));
}

}  // namespace
}  // namespace slacker::internal
