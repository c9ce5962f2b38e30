// Tests of the cluster server against a real ZooKeeper and real gRPC servers
// on loopback: the layout it publishes, session expiry, run-time control,
// health, graceful shutdown under load, and bad input.

#include "framework/cluster_server.h"

#include <arpa/inet.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "discovery/leader_election.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "discovery/zookeeper_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/grpc/health/v1/health.grpc.pb.h"
#include "protos/slacker/cluster/registry.pb.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kEcho[] = "slacker.testing.EchoService";
constexpr char kManager[] = "slacker.cluster.ClusterManager";
// The cluster the tests' servers register in (their options' default root).
discovery::RegistryLayout Layout() {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, "test");
}

std::string ServerPath(const std::string& address) {
  return Layout().ServerPath(address);
}
std::string NamespacePath(const std::string& ns) {
  return Layout().NamespacePath(ns);
}

// Whether `value` is the JSON `json`. Compared through protobuf's library
// (not the inline Map accessors, which crash under --config=tsan: Debian's
// libprotobuf and TSan-instrumented inline Map code disagree).
bool IsJson(const google::protobuf::Value& value, const std::string& json) {
  google::protobuf::Value expected;
  return google::protobuf::util::JsonStringToMessage(json, &expected).ok() &&
         google::protobuf::util::MessageDifferencer::Equals(value, expected);
}

// A TCP port that nothing listens on (bound, then closed).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

bool AcceptsConnections(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const bool connected =
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

class ClusterServerTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    auto client = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    zk_ = *std::move(client);
  }
  void TearDown() override {
    zk_.reset();
    ZooKeeperTest::TearDown();
  }

  slacker::ClusterOptions Options() {
    slacker::ClusterOptions options;
    options.cluster = "test";
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(2);
    options.connect_timeout = absl::Seconds(10);
    options.drain_time = absl::Milliseconds(100);
    return options;
  }

  absl::StatusOr<std::unique_ptr<ClusterServer>> Start(
      slacker::ClusterOptions options,
      const std::string& listen = "127.0.0.1:0", int* selected_port = nullptr) {
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort(listen, grpc::InsecureServerCredentials(),
                             selected_port);
    builder.RegisterService(&echo_);
    return builder.BuildAndStart();
  }

  std::vector<std::string> Children(const std::string& path) {
    auto children = zk_->GetChildren(path);
    if (!children.ok()) return {};
    std::sort(children->names.begin(), children->names.end());
    return children->names;
  }
  bool Exists(const std::string& path) {
    auto stat = zk_->Exists(path);
    return stat.ok() && stat->has_value();
  }
  std::string Data(const std::string& path) {
    auto data = zk_->Get(path);
    return data.ok() ? data->data : "<" + data.status().ToString() + ">";
  }
  cluster::ServerInfo ServerInfoAt(const std::string& address) {
    cluster::ServerInfo info;
    const std::string json = Data(ServerPath(address));
    EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &info).ok())
        << json;
    return info;
  }
  // Names of the election candidates of `ns`.
  std::vector<std::string> Candidates(const std::string& ns) {
    return Children(Layout().LeaderPath(ns));
  }

  grpc::health::v1::HealthCheckResponse::ServingStatus Health(
      const std::string& address, const std::string& service) {
    auto stub = grpc::health::v1::Health::NewStub(
        grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = stub->Check(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.status();
  }

  slacker::testing::EchoServiceImpl echo_;
  std::unique_ptr<discovery::ZooKeeperClient> zk_;
};

using Serving = grpc::health::v1::HealthCheckResponse;

TEST_F(ClusterServerTest, PublishesTheRegistryLayout) {
  slacker::ClusterOptions options = Options();
  options.address.clear();  // Detected: the route to ZooKeeper is loopback.
  options.server_data = R"({"zone":"eu-1","weight":10})";
  options.enable_manager = true;  // Served, not published.
  int port = 0;
  auto server = Start(options, "127.0.0.1:0", &port);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  EXPECT_NE(port, 0);
  EXPECT_EQ(address, absl::StrCat("127.0.0.1:", port));
  EXPECT_THAT((*server)->namespaces(), ElementsAre(kEcho));

  // servers/<address>: ephemeral, ServerInfo JSON.
  EXPECT_THAT(Children(Layout().ServersPath()), ElementsAre(address));
  auto server_node = zk_->Get(ServerPath(address));
  ASSERT_TRUE(server_node.ok()) << server_node.status();
  EXPECT_NE(server_node->stat.ephemeral_owner, 0);
  const cluster::ServerInfo info = ServerInfoAt(address);
  EXPECT_EQ(info.address(), address);
  EXPECT_THAT(info.namespaces(), ElementsAre(kEcho));
  EXPECT_FALSE(info.version().empty());
  EXPECT_TRUE(IsJson(info.server_data(), R"({"zone":"eu-1","weight":10})"));

  // namespaces/<ns> persistent, with this server's ephemeral node and the
  // election; the manager is not a namespace.
  EXPECT_THAT(Children(Layout().NamespacesPath()), ElementsAre(kEcho));
  auto ns_node = zk_->Get(NamespacePath(kEcho));
  ASSERT_TRUE(ns_node.ok());
  EXPECT_EQ(ns_node->stat.ephemeral_owner, 0);
  EXPECT_THAT(Children(NamespacePath(kEcho)),
              UnorderedElementsAre(
                  address, discovery::NodeName(Layout().LeaderPath(kEcho))));
  auto member = zk_->Get(Layout().MemberPath(kEcho, address));
  ASSERT_TRUE(member.ok());
  EXPECT_NE(member->stat.ephemeral_owner, 0);
  ASSERT_TRUE(
      Eventually([&] { return Data(Layout().LeaderPath(kEcho)) == address; }));
  auto leader = discovery::LeaderElection::CurrentLeader(
      *zk_, Layout().LeaderPath(kEcho));
  ASSERT_TRUE(leader.ok());
  EXPECT_EQ(*leader, address);
  EXPECT_EQ(Candidates(kEcho).size(), 1u);
  EXPECT_TRUE((*server)->IsLeader(kEcho));

  // functions/<ns>/<method>: MethodInfo JSON whose descriptors rebuild the
  // service.
  const std::string functions = Layout().FunctionsPath(kEcho);
  EXPECT_THAT(Children(functions), ElementsAre("Echo", "Nothing"));
  cluster::MethodInfo method;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  Data(Layout().FunctionPath(kEcho, "Echo")), &method)
                  .ok());
  EXPECT_EQ(method.path(), "/slacker.testing.EchoService/Echo");
  EXPECT_EQ(method.request_type(), "slacker.testing.Ping");
  EXPECT_EQ(method.response_type(), "slacker.testing.Ping");
  EXPECT_EQ(method.streaming(), cluster::MethodInfo::UNARY);
  google::protobuf::FileDescriptorSet files;
  ASSERT_TRUE(files.ParseFromString(method.file_descriptor_set()));
  google::protobuf::DescriptorPool pool;
  for (const auto& file : files.file()) {
    ASSERT_NE(pool.BuildFile(file), nullptr) << file.name();
  }
  const google::protobuf::ServiceDescriptor* service =
      pool.FindServiceByName(kEcho);
  ASSERT_NE(service, nullptr);
  ASSERT_NE(service->FindMethodByName("Echo"), nullptr);
  EXPECT_EQ(service->FindMethodByName("Echo")->input_type()->full_name(),
            "slacker.testing.Ping");

  // It serves, and says so.
  auto stub = slacker::testing::EchoService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  slacker::testing::Ping ping, pong;
  ping.set_text("hello");
  ASSERT_TRUE(stub->Echo(&context, ping, &pong).ok());
  EXPECT_EQ(pong.text(), "hello");
  EXPECT_EQ(Health(address, kEcho), Serving::SERVING);
}

TEST_F(ClusterServerTest, ExpiredSessionBringsEveryNodeAndCandidacyBack) {
  slacker::ClusterOptions options = Options();
  options.publish_manager = true;
  options.enable_manager = true;
  auto server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  ASSERT_TRUE(Eventually([&] { return (*server)->IsLeader(kEcho); }));
  const auto [old_session, password] =
      (*server)->zookeeper_session_for_testing();
  ASSERT_TRUE(zookeeper().ExpireSession(old_session, password).ok());

  auto owned_by_new_session = [&](const std::string& path) {
    auto node = zk_->Get(path);
    return node.ok() && node->stat.ephemeral_owner != 0 &&
           node->stat.ephemeral_owner != old_session &&
           node->stat.ephemeral_owner ==
               (*server)->zookeeper_session_for_testing().first;
  };
  ASSERT_TRUE(Eventually([&] {
    if (!owned_by_new_session(ServerPath(address))) return false;
    for (const char* ns : {kEcho, kManager}) {
      if (!owned_by_new_session(Layout().MemberPath(ns, address))) {
        return false;
      }
      const std::vector<std::string> candidates = Candidates(ns);
      if (candidates.size() != 1) return false;
      if (!owned_by_new_session(
              discovery::JoinPath(Layout().LeaderPath(ns), candidates[0]))) {
        return false;
      }
      if (!(*server)->IsLeader(ns)) return false;
    }
    return true;
  })) << "server "
      << Data(ServerPath(address));
  EXPECT_THAT(ServerInfoAt(address).namespaces(), ElementsAre(kEcho, kManager));
  EXPECT_EQ(Data(Layout().LeaderPath(kEcho)), address);
}

TEST_F(ClusterServerTest, UnpublishAndPublishChangeZooKeeperAndHealth) {
  slacker::ClusterOptions options = Options();
  options.enable_manager = true;
  options.publish_manager = true;  // A second namespace.
  auto server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  ClusterServer& s = **server;
  const std::string address = s.address();
  const std::string echo_member = Layout().MemberPath(kEcho, address);
  const std::string manager_member = Layout().MemberPath(kManager, address);

  ASSERT_TRUE(s.Unpublish(kEcho).ok());
  EXPECT_FALSE(Exists(echo_member));
  // The candidate is deleted in the background once leadership is given up.
  EXPECT_TRUE(Eventually([&] { return Candidates(kEcho).empty(); }));
  EXPECT_FALSE(s.IsLeader(kEcho));
  EXPECT_TRUE(Exists(manager_member));
  EXPECT_EQ(Health(address, kEcho), Serving::NOT_SERVING);
  EXPECT_EQ(Health(address, kManager), Serving::SERVING);
  ASSERT_TRUE(Eventually([&] {
    return ServerInfoAt(address).namespaces_size() == 1 &&
           ServerInfoAt(address).namespaces(0) == kManager;
  }));
  EXPECT_TRUE(s.Unpublish(kEcho).ok());  // Idempotent.

  ASSERT_TRUE(s.Publish(kEcho).ok());
  EXPECT_TRUE(Exists(echo_member));
  EXPECT_EQ(Health(address, kEcho), Serving::SERVING);
  ASSERT_TRUE(Eventually([&] { return s.IsLeader(kEcho); }));
  ASSERT_TRUE(
      Eventually([&] { return ServerInfoAt(address).namespaces_size() == 2; }));

  ASSERT_TRUE(s.Offline().ok());
  EXPECT_FALSE(Exists(echo_member));
  EXPECT_FALSE(Exists(manager_member));
  EXPECT_TRUE(Exists(ServerPath(address)));  // The server node stays.
  EXPECT_EQ(Health(address, kEcho), Serving::NOT_SERVING);
  EXPECT_EQ(Health(address, kManager), Serving::NOT_SERVING);
  ASSERT_TRUE(s.Online().ok());
  EXPECT_TRUE(Exists(echo_member));
  EXPECT_TRUE(Exists(manager_member));
  EXPECT_EQ(Health(address, kManager), Serving::SERVING);

  ASSERT_TRUE(s.SetServerData(R"({"weight":3})").ok());
  EXPECT_EQ(s.server_data(), R"({"weight":3})");
  ASSERT_TRUE(Eventually([&] {
    return IsJson(ServerInfoAt(address).server_data(), R"({"weight":3})");
  })) << Data(ServerPath(address));

  // A namespace the server does not serve.
  absl::Status unknown = s.Unpublish("no.such.Service");
  EXPECT_TRUE(absl::IsNotFound(unknown)) << unknown;
  EXPECT_THAT(unknown.message(), HasSubstr("no.such.Service"));
  EXPECT_TRUE(absl::IsNotFound(s.Publish("a/b")));
}

TEST_F(ClusterServerTest, UnpublishingTheLeaderHandsLeadershipOver) {
  slacker::testing::EchoServiceImpl second_echo;
  auto first = Start(Options());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(Eventually([&] { return (*first)->IsLeader(kEcho); }));
  ClusterServerBuilder builder(Options());
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
  builder.RegisterService(&second_echo);
  auto second = builder.BuildAndStart();
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(Eventually([&] { return Candidates(kEcho).size() == 2; }));
  EXPECT_FALSE((*second)->IsLeader(kEcho));

  ASSERT_TRUE((*first)->Unpublish(kEcho).ok());
  EXPECT_FALSE((*first)->IsLeader(kEcho));
  ASSERT_TRUE(Eventually([&] {
    return (*second)->IsLeader(kEcho) &&
           Data(Layout().LeaderPath(kEcho)) == (*second)->address();
  }));
}

// A steady stream of calls pinned to one server while it shuts down
// gracefully: every call that started before the drain began succeeds,
// including one still running when the gRPC server is told to stop.
TEST_F(ClusterServerTest, GracefulShutdownFailsNoCallStartedBeforeTheDrain) {
  slacker::ClusterOptions options = Options();
  options.drain_time = absl::Milliseconds(500);
  options.shutdown_deadline = absl::Seconds(10);
  auto server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = slacker::testing::EchoService::NewStub(channel);

  struct Call {
    absl::Time started;
    grpc::Status status;
  };
  std::mutex mu;
  std::vector<Call> calls;
  std::atomic<bool> stop{false};
  std::atomic<int> completed{0};
  auto call = [&](int work_ms) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    slacker::testing::Ping ping, pong;
    ping.set_sequence(work_ms);
    const absl::Time started = absl::Now();
    grpc::Status status = stub->Echo(&context, ping, &pong);
    std::lock_guard<std::mutex> lock(mu);
    calls.push_back({started, status});
    completed.fetch_add(1);
    return status.ok();
  };
  std::vector<std::thread> callers;
  for (int i = 0; i < 4; ++i) {
    callers.emplace_back([&] {
      // A caller stops at its first failure (the server has stopped).
      while (!stop.load() && call(10)) {
      }
    });
  }
  // Steady state first.
  ASSERT_TRUE(Eventually([&] { return completed.load() >= 40; }));
  // A long call that is still running when gRPC's Shutdown begins (after the
  // 500 ms drain): in-flight calls are let finish.
  std::thread long_call([&] { call(1500); });
  ASSERT_TRUE(Eventually([&] { return completed.load() >= 60; }));
  // While it drains, the server still serves but is no longer published
  // and reports NOT_SERVING.
  std::atomic<bool> not_serving_while_draining{false};
  std::thread observer([&] {
    if (Eventually([&] { return !Exists(ServerPath(address)); })) {
      not_serving_while_draining.store(Health(address, kEcho) ==
                                       Serving::NOT_SERVING);
    }
  });
  const absl::Time drain_began = absl::Now();
  (*server)->Shutdown();
  observer.join();
  EXPECT_TRUE(not_serving_while_draining.load());
  const absl::Duration shutdown_took = absl::Now() - drain_began;
  stop.store(true);
  for (std::thread& caller : callers) caller.join();
  long_call.join();

  EXPECT_FALSE(Exists(ServerPath(address)));
  int before = 0, before_failed = 0, after = 0, after_failed = 0;
  for (const Call& c : calls) {
    if (c.started < drain_began) {
      ++before;
      if (!c.status.ok()) {
        ++before_failed;
        ADD_FAILURE() << "a call started before the drain failed: "
                      << c.status.error_message();
      }
    } else {
      ++after;
      if (!c.status.ok()) ++after_failed;
    }
  }
  std::cout << "measured: calls started before the drain: " << before
            << " (failed: " << before_failed << "); started after: " << after
            << " (failed: " << after_failed << "); Shutdown took "
            << shutdown_took << std::endl;
  EXPECT_GT(before, 60);
  EXPECT_EQ(before_failed, 0);
}

// --- Bad input.

TEST_F(ClusterServerTest, RegistersInCuratorDiscoveryWhilePublished) {
  slacker::ClusterOptions options = Options();
  options.curator.emplace();
  options.curator->service_name = "echo";
  options.curator->payload_json = R"({"grpc":"slacker.testing.EchoService"})";
  auto server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  const std::string instance = "/services/echo/" + address;
  const std::string json = Data(instance);
  EXPECT_THAT(json, HasSubstr(R"("name":"echo")"));
  EXPECT_THAT(json, HasSubstr(R"("address":"127.0.0.1")"));
  EXPECT_THAT(json, HasSubstr(absl::StrCat(R"("port":)", (*server)->port())));
  EXPECT_THAT(json, HasSubstr(R"("grpc":"slacker.testing.EchoService")"));
  EXPECT_NE(zk_->Get(instance)->stat.ephemeral_owner, 0);

  ASSERT_TRUE((*server)->Offline().ok());
  EXPECT_FALSE(Exists(instance)) << "an offline server stays in Curator";
  ASSERT_TRUE((*server)->Online().ok());
  EXPECT_TRUE(Exists(instance));

  slacker::ClusterOptions bad = Options();
  bad.curator.emplace();  // No service name.
  auto refused = Start(bad);
  EXPECT_TRUE(absl::IsInvalidArgument(refused.status())) << refused.status();

  (*server)->Shutdown(absl::ZeroDuration());
  EXPECT_FALSE(Exists(instance));
}

TEST_F(ClusterServerTest, RefusesBadClusterNamesAndRoots) {
  for (const char* name : {"", "a/b", "..", "."}) {
    slacker::ClusterOptions options = Options();
    options.cluster = name;
    auto server = Start(options);
    ASSERT_FALSE(server.ok()) << name;
    EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << server.status();
    EXPECT_THAT(server.status().message(), HasSubstr("cluster name"));
  }
  slacker::ClusterOptions options = Options();
  options.root = "no/slash";
  auto server = Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("root"));
  options = Options();
  options.address = "a/b";
  server = Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("node address"));
  options = Options();
  options.zookeeper.clear();
  server = Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("zookeeper"));
  EXPECT_FALSE(Exists("/slacker"));
}

TEST_F(ClusterServerTest, RefusesOversizedOrInvalidServerData) {
  slacker::ClusterOptions options = Options();
  // A valid JSON string one byte over the limit.
  options.server_data = absl::StrCat(
      "\"", std::string(slacker::ClusterOptions::kMaxServerDataBytes - 1, 'x'),
      "\"");
  auto server = Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(server.status()));
  EXPECT_THAT(server.status().message(), HasSubstr("at most 65536"));
  options.server_data = "{not json";
  server = Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_THAT(server.status().message(), HasSubstr("not valid JSON"));
  EXPECT_FALSE(Exists("/slacker"));

  // At run time: refused, and the data stays as it was.
  options.server_data = R"({"weight":1})";
  server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(absl::IsInvalidArgument((*server)->SetServerData("[1,")));
  EXPECT_TRUE(absl::IsInvalidArgument((*server)->SetServerData(
      std::string(slacker::ClusterOptions::kMaxServerDataBytes + 1, ' '))));
  EXPECT_EQ((*server)->server_data(), R"({"weight":1})");
}

TEST_F(ClusterServerTest, UnreachableZooKeeperStartsNothing) {
  slacker::ClusterOptions options = Options();
  options.zookeeper = absl::StrCat("127.0.0.1:", UnusedPort());
  options.connect_timeout = absl::Seconds(1);
  const int port = UnusedPort();
  auto server = Start(options, absl::StrCat("127.0.0.1:", port));
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::IsUnavailable(server.status())) << server.status();
  EXPECT_THAT(server.status().message(), HasSubstr("cannot reach ZooKeeper"));
  std::cout << "error: " << server.status() << std::endl;
  EXPECT_FALSE(AcceptsConnections(port));
}

TEST_F(ClusterServerTest, PortInUseIsRefusedAndNothingIsPublished) {
  auto first = Start(Options());
  ASSERT_TRUE(first.ok()) << first.status();
  slacker::testing::EchoServiceImpl second_echo;
  ClusterServerBuilder builder(Options());
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", (*first)->port()),
                           grpc::InsecureServerCredentials());
  builder.RegisterService(&second_echo);
  auto second = builder.BuildAndStart();
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  std::cout << "error: " << second.status() << std::endl;
  // Only the first server is registered, and it still serves.
  EXPECT_THAT(Children(Layout().ServersPath()),
              ElementsAre((*first)->address()));
  EXPECT_EQ(Health((*first)->address(), kEcho), Serving::SERVING);
}

}  // namespace
}  // namespace slacker
