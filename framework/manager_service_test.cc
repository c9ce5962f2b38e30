// The ClusterManager service, called over gRPC like an operator's tool would:
// each RPC changes ZooKeeper as the ClusterServer method of the same name.

#include "framework/manager_service.h"

#include <google/protobuf/empty.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/slacker/cluster/manager.grpc.pb.h"
#include "protos/slacker/cluster/registry.pb.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::testing::ElementsAre;

constexpr char kEcho[] = "slacker.testing.EchoService";

// The cluster the tests' servers register in (default root).
discovery::RegistryLayout Layout() {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, "test");
}

// Whether `value` is the JSON `json`. Compared through protobuf's library
// (not the inline Map accessors, which crash under --config=tsan: Debian's
// libprotobuf and TSan-instrumented inline Map code disagree).
bool IsJson(const google::protobuf::Value& value, const std::string& json) {
  google::protobuf::Value expected;
  return google::protobuf::util::JsonStringToMessage(json, &expected).ok() &&
         google::protobuf::util::MessageDifferencer::Equals(value, expected);
}

class ManagerServiceTest : public slacker::testing::ZooKeeperTest {};

TEST_F(ManagerServiceTest, EachCallChangesZooKeeper) {
  discovery::ZooKeeperOptions zk_options;
  zk_options.connect_string = ConnectString();
  zk_options.session_timeout = absl::Seconds(4);
  auto zk = discovery::ZooKeeperClient::Connect(zk_options);
  ASSERT_TRUE(zk.ok()) << zk.status();

  slacker::ClusterOptions options;
  options.cluster = "test";
  options.zookeeper = ConnectString();
  options.address = "127.0.0.1";
  options.session_timeout = absl::Seconds(2);
  options.drain_time = absl::Milliseconds(100);
  options.enable_manager = true;
  options.server_data = R"({"weight":1})";
  slacker::testing::EchoServiceImpl echo;
  ClusterServerBuilder builder(options);
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
  builder.RegisterService(&echo);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  const std::string server_path = Layout().ServerPath(address);
  const std::string member = Layout().MemberPath(kEcho, address);
  auto exists = [&](const std::string& path) {
    auto stat = (*zk)->Exists(path);
    return stat.ok() && stat->has_value();
  };
  // The manager is served, never published.
  EXPECT_THAT((*server)->namespaces(), ElementsAre(kEcho));

  auto manager = cluster::ClusterManager::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  google::protobuf::Empty empty;
  auto call = [&](auto method, const auto& request, auto* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return (manager.get()->*method)(&context, request, response);
  };

  ASSERT_TRUE(
      call(&cluster::ClusterManager::Stub::Offline, empty, &empty).ok());
  EXPECT_FALSE(exists(member));
  EXPECT_TRUE(exists(server_path));
  ASSERT_TRUE(call(&cluster::ClusterManager::Stub::Online, empty, &empty).ok());
  EXPECT_TRUE(exists(member));

  cluster::NamespaceRequest ns;
  ns.set_namespace_(kEcho);
  ASSERT_TRUE(
      call(&cluster::ClusterManager::Stub::OfflineNamespace, ns, &empty).ok());
  EXPECT_FALSE(exists(member));
  EXPECT_FALSE((*server)->IsPublished(kEcho));
  ASSERT_TRUE(
      call(&cluster::ClusterManager::Stub::OnlineNamespace, ns, &empty).ok());
  EXPECT_TRUE(exists(member));
  ns.set_namespace_("no.such.Service");
  EXPECT_EQ(call(&cluster::ClusterManager::Stub::OnlineNamespace, ns, &empty)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);

  google::protobuf::Value data;
  ASSERT_TRUE(
      call(&cluster::ClusterManager::Stub::GetServerData, empty, &data).ok());
  EXPECT_TRUE(IsJson(data, R"({"weight":1})"));
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(R"({"weight":5})", &data)
          .ok());
  ASSERT_TRUE(
      call(&cluster::ClusterManager::Stub::SetServerData, data, &empty).ok());
  ASSERT_TRUE(Eventually([&] {
    auto node = (*zk)->Get(server_path);
    cluster::ServerInfo info;
    return node.ok() &&
           google::protobuf::util::JsonStringToMessage(node->data, &info)
               .ok() &&
           IsJson(info.server_data(), R"({"weight":5})");
  }));

  ASSERT_TRUE(
      call(&cluster::ClusterManager::Stub::Shutdown, empty, &empty).ok());
  (*server)->Wait();
  EXPECT_FALSE(exists(server_path));
  EXPECT_FALSE(exists(member));
}

}  // namespace
}  // namespace slacker
