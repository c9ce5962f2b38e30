// Channels made by grpc::CreateChannel("zk://...") after
// InitClusterChannels() and InstallClusterInterceptor(), against a real
// ZooKeeper and real cluster servers in child processes: they are in the
// channel registry (ReadyServers, ServerData, the fan-out API), and their
// stub calls get the cluster call model (`all`, grouping functions that see
// the request) through gRPC's global interceptor factory, which leaves
// non-cluster channels to the user's own factory, untouched.
//
// Its own binary: the global factory is installed once, for the process.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "framework/cluster_channel.h"
#include "framework/grouping/grouping_registry.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::EchoService;
using ::slacker::testing::OtherEchoService;
using ::slacker::testing::Ping;

constexpr char kEcho[] = "slacker.testing.EchoService/Echo";
constexpr char kEchoNamespace[] = "slacker.testing.EchoService";
constexpr char kOtherNamespace[] = "slacker.testing.OtherEchoService";

// The user's own global interceptor: counts the calls it sees, by method.
class CountingFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  class Counting : public grpc::experimental::Interceptor {
   public:
    void Intercept(grpc::experimental::InterceptorBatchMethods* m) override {
      m->Proceed();
    }
  };
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    calls.fetch_add(1);
    return new Counting();
  }
  std::atomic<int> calls{0};
};

CountingFactory& Yours() {
  static CountingFactory* factory = new CountingFactory();
  return *factory;
}

Ping WhoAmI() {
  Ping request;
  request.set_text("whoami");
  return request;
}

class ZkChannelTest : public slacker::testing::ZooKeeperTest {
 protected:
  void TearDown() override {
    servers_.clear();
    ZooKeeperTest::TearDown();
  }

  std::string StartServer() {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        "--cluster=test", "--session_timeout_ms=2000", "--drain_ms=300",
        "--services=echo,other"});
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }

  std::shared_ptr<grpc::Channel> ZkChannel(const std::string& query = "") {
    return grpc::CreateChannel(
        absl::StrCat("zk://", ConnectString(), "/test?session_timeout=2000",
                     query.empty() ? "" : "&", query),
        grpc::InsecureChannelCredentials());
  }

  // Waits until the channel sees exactly `expected` as READY (driving its
  // connections with one-server calls).
  bool WaitForReady(const std::shared_ptr<grpc::Channel>& channel,
                    const std::set<std::string>& expected) {
    auto stub = EchoService::NewStub(channel);
    std::vector<std::string> ready;
    const bool done = Eventually([&] {
      grpc::ClientContext context;
      SetGrouping(&context, "random");
      context.set_deadline(std::chrono::system_clock::now() +
                           std::chrono::seconds(2));
      Ping reply;
      stub->Echo(&context, WhoAmI(), &reply).ok();
      ready = ReadyServers(channel, kEchoNamespace);
      return std::set<std::string>(ready.begin(), ready.end()) == expected;
    });
    if (!done) {
      ADD_FAILURE() << "ready: " << absl::StrJoin(ready, ",") << "; expected "
                    << absl::StrJoin(expected, ",");
    }
    return done;
  }

  std::map<std::string, std::unique_ptr<Child>> servers_;
};

std::set<std::string> Keys(const CallResults<Ping>& results) {
  std::set<std::string> keys;
  absl::StatusOr<std::map<std::string, Ping>> map = results.Map();
  EXPECT_TRUE(map.ok()) << map.status();
  if (!map.ok()) return keys;
  for (const auto& [address, response] : *map) {
    EXPECT_EQ(response.text(), address);
    keys.insert(address);
  }
  return keys;
}

TEST_F(ZkChannelTest, IsInTheChannelRegistry) {
  const std::set<std::string> servers = {StartServer(), StartServer(),
                                         StartServer()};
  auto channel = ZkChannel();
  ASSERT_TRUE(WaitForReady(channel, servers));  // ReadyServers works.
  FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI());
  ASSERT_TRUE(result.status().ok()) << result.status();
  absl::StatusOr<std::map<std::string, Ping>> map = result.Map();
  ASSERT_TRUE(map.ok()) << map.status();
  std::set<std::string> answered;
  for (const auto& [address, reply] : *map) answered.insert(address);
  EXPECT_EQ(answered, servers);
  absl::StatusOr<std::string> data = ServerData(channel, *servers.begin());
  EXPECT_TRUE(data.ok()) << data.status();
}

TEST_F(ZkChannelTest, StubCallsGetTheClusterCallModel) {
  const std::set<std::string> servers = {StartServer(), StartServer(),
                                         StartServer()};
  auto channel = ZkChannel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  auto stub = EchoService::NewStub(channel);
  const int yours_before = Yours().calls.load();
  {  // Per call.
    grpc::ClientContext context;
    SetGrouping(&context, "all");
    CallResults<Ping> results(&context);
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(results.called());
    EXPECT_EQ(Keys(results), servers);
    EXPECT_EQ(reply.text(), *servers.begin());
  }
  // zk:// channels get the cluster interceptor in the one global slot, not
  // yours (see InstallClusterInterceptor).
  EXPECT_EQ(Yours().calls.load(), yours_before);

  // Per channel, from the target.
  auto all = ZkChannel("grouping=all");
  ASSERT_TRUE(WaitForReady(all, servers));
  {
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    Ping reply;
    ASSERT_TRUE(
        EchoService::NewStub(all)->Echo(&context, WhoAmI(), &reply).ok());
    EXPECT_EQ(Keys(results), servers);
  }

  // A grouping function that routes on the request.
  static const absl::Status registered = RegisterCallGroupingFunction(
      "zk_by_sequence",
      [](const CallInfo& call, const std::vector<Candidate>& candidates)
          -> absl::StatusOr<GroupingChoice> {
        if (call.request == nullptr) return GroupingChoice::Servers({0});
        const auto& ping = static_cast<const Ping&>(*call.request);
        return GroupingChoice::Servers(
            {static_cast<size_t>(ping.sequence()) % candidates.size()});
      });
  ASSERT_TRUE(registered.ok()) << registered;
  auto routed = ZkChannel("grouping=zk_by_sequence");
  ASSERT_TRUE(WaitForReady(routed, servers));
  const std::vector<std::string> sorted(servers.begin(), servers.end());
  ASSERT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    Ping reply;
    OtherEchoService::NewStub(routed)->Echo(&context, WhoAmI(), &reply);
    return ReadyServers(routed, kOtherNamespace).size() == servers.size();
  }));
  for (int64_t i = 0; i < 3; ++i) {
    grpc::ClientContext context;
    Ping request = WhoAmI();
    request.set_sequence(i);
    Ping reply;
    ASSERT_TRUE(OtherEchoService::NewStub(routed)
                    ->Echo(&context, request, &reply)
                    .ok());
    EXPECT_EQ(reply.text(), sorted[i]) << i;
  }
}

TEST_F(ZkChannelTest, NonClusterChannelsAreLeftToYourFactory) {
  slacker::testing::EchoServiceImpl service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = EchoService::NewStub(channel);
  const int before = Yours().calls.load();
  // Even a call that carries a Slacker grouping goes through untouched.
  grpc::ClientContext context;
  SetGrouping(&context, "all");
  CallResults<Ping> results(&context);
  Ping request;
  request.set_text("hello");
  Ping reply;
  grpc::Status status = stub->Echo(&context, request, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "hello");
  EXPECT_FALSE(results.called());
  EXPECT_EQ(Yours().calls.load(), before + 1);
  EXPECT_EQ(ReadyServers(channel, kEchoNamespace).size(), 0u);
  server->Shutdown();
}

TEST(InstallClusterInterceptorTest, OnceOnly) {
  absl::Status again = InstallClusterInterceptor();
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  absl::Status installed =
      slacker::InstallClusterInterceptor(&slacker::Yours());
  if (!installed.ok()) {
    std::cerr << installed << std::endl;
    return 1;
  }
  return RUN_ALL_TESTS();
}
