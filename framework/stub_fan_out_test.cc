// Multi-server calls through ordinary generated stubs on a cluster channel
// (the channel's interceptor), against a real ZooKeeper and real cluster
// servers in child processes: `all` per method, call and channel, for sync,
// completion-queue and callback stubs; errors policies; deadlines; cancel;
// the unavailable value; ServerData; the errors a user can act on.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "framework/cluster_channel.h"
#include "testing/child.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
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

Ping WhoAmI() {
  Ping request;
  request.set_text("whoami");
  return request;
}

class StubFanOutTest : public slacker::testing::ZooKeeperTest {
 protected:
  void TearDown() override {
    servers_.clear();
    ZooKeeperTest::TearDown();
  }

  std::string StartServer(int fail = 0, int delay_ms = 0,
                          const std::string& data = "") {
    std::vector<std::string> args = {absl::GetFlag(FLAGS_server_program),
                                     "--zookeeper=" + ConnectString(),
                                     "--cluster=test",
                                     "--session_timeout_ms=2000",
                                     "--drain_ms=300",
                                     "--services=echo,other",
                                     absl::StrCat("--fail=", fail),
                                     absl::StrCat("--delay_ms=", delay_ms)};
    if (!data.empty()) args.push_back("--server_data=" + data);
    auto child = std::make_unique<Child>(args);
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }

  std::shared_ptr<grpc::Channel> Channel(ClusterChannelOptions options = {}) {
    options.session_timeout = absl::Seconds(2);
    auto channel = CreateClusterChannel(ConnectString(), "test", options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
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
    EXPECT_EQ(response.text(), address);  // Each server answered itself.
    keys.insert(address);
  }
  return keys;
}

// Sync, CQ async and callback stubs; the stub's response is the first
// server by address.
void ExpectAllThreeStubs(const std::shared_ptr<grpc::Channel>& channel,
                         const std::set<std::string>& servers, bool per_call) {
  auto stub = EchoService::NewStub(channel);
  {
    grpc::ClientContext context;
    if (per_call) SetGrouping(&context, "all");
    CallResults<Ping> results(&context);
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(results.called());
    EXPECT_EQ(Keys(results), servers);
    EXPECT_EQ(reply.text(), *servers.begin());
    EXPECT_EQ(results.outcomes().size(), servers.size());
    ASSERT_TRUE(results.Vector().ok());
    EXPECT_EQ(results.Vector()->size(), servers.size());
  }
  {
    grpc::CompletionQueue cq;
    grpc::ClientContext context;
    if (per_call) SetGrouping(&context, "all");
    CallResults<Ping> results(&context);
    Ping reply;
    grpc::Status status;
    auto reader = stub->AsyncEcho(&context, WhoAmI(), &cq);
    reader->Finish(&reply, &status, reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_TRUE(ok);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(Keys(results), servers);
    EXPECT_EQ(reply.text(), *servers.begin());
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
  {
    grpc::ClientContext context;
    if (per_call) SetGrouping(&context, "all");
    CallResults<Ping> results(&context);
    Ping request = WhoAmI();
    Ping reply;
    std::mutex mu;
    std::condition_variable cv;
    std::optional<grpc::Status> status;
    stub->async()->Echo(&context, &request, &reply, [&](grpc::Status s) {
      std::lock_guard<std::mutex> lock(mu);
      status = s;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return status.has_value(); });
    ASSERT_TRUE(status->ok()) << status->error_message();
    EXPECT_EQ(Keys(results), servers);
    EXPECT_EQ(reply.text(), *servers.begin());
  }
}

TEST_F(StubFanOutTest, MethodGroupingAllReachesEveryServerFromEveryStubKind) {
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  auto channel = Channel(options);
  std::set<std::string> servers;
  for (int target : {1, 3, 8}) {
    while (static_cast<int>(servers.size()) < target) {
      servers.insert(StartServer());
    }
    ASSERT_TRUE(WaitForReady(channel, servers)) << target << " servers";
    ExpectAllThreeStubs(channel, servers, /*per_call=*/false);
  }
}

TEST_F(StubFanOutTest, PerCallAndPerChannelAll) {
  const std::set<std::string> servers = {StartServer(), StartServer(),
                                         StartServer()};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  ExpectAllThreeStubs(channel, servers, /*per_call=*/true);

  ClusterChannelOptions options;
  options.grouping = "all";
  auto all = Channel(options);
  ASSERT_TRUE(WaitForReady(all, servers));
  ExpectAllThreeStubs(all, servers, /*per_call=*/false);

  // A one-server grouping of the call beats the channel's `all`.
  grpc::ClientContext context;
  SetGrouping(&context, *servers.rbegin());
  CallResults<Ping> results(&context);
  Ping reply;
  ASSERT_TRUE(EchoService::NewStub(all)->Echo(&context, WhoAmI(), &reply).ok());
  EXPECT_EQ(reply.text(), *servers.rbegin());
  EXPECT_FALSE(results.called());
}

TEST_F(StubFanOutTest, ErrorsPolicies) {
  const std::string bad = StartServer(/*fail=*/14);
  const std::set<std::string> servers = {bad, StartServer(), StartServer()};
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  // No retries: with the default retry policy each call to the failing
  // server counts three failures, and it is set aside (out of the fan-out)
  // by the second call.
  options.service_config_json = "{}";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, servers));
  auto stub = EchoService::NewStub(channel);
  {  // all (default): one failure does not fail the call.
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    Ping reply;
    ASSERT_TRUE(stub->Echo(&context, WhoAmI(), &reply).ok());
    EXPECT_EQ(Keys(results).size(), 2u);
    EXPECT_EQ(results.outcomes().size(), 3u);
  }
  {  // any: one failure fails it, naming every server.
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    results.policies().errors = FanOutErrors::kAny;
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    EXPECT_FALSE(status.ok());
    for (const std::string& server : servers) {
      EXPECT_TRUE(absl::StrContains(status.error_message(), server))
          << status.error_message();
    }
  }
  {  // A function.
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    results.policies().error_policy =
        [](const std::vector<ServerOutcome>& outcomes) {
          return outcomes.size() == 3 ? absl::PermissionDeniedError("mine")
                                      : absl::OkStatus();
        };
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(StubFanOutTest, AllServersFailing) {
  const std::set<std::string> servers = {StartServer(14), StartServer(14),
                                         StartServer(14)};
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, servers));
  grpc::ClientContext context;
  CallResults<Ping> results(&context);
  Ping reply;
  grpc::Status status =
      EchoService::NewStub(channel)->Echo(&context, WhoAmI(), &reply);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "3 of 3"))
      << status.error_message();
  EXPECT_FALSE(results.Map().ok());
}

TEST_F(StubFanOutTest, CallerDeadlineBoundsASlowServer) {
  const std::string slow = StartServer(0, 5000);
  const std::set<std::string> servers = {slow, StartServer(), StartServer()};
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, servers));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(1500));
  CallResults<Ping> results(&context);
  Ping reply;
  ASSERT_TRUE(
      EchoService::NewStub(channel)->Echo(&context, WhoAmI(), &reply).ok());
  EXPECT_EQ(Keys(results).size(), 2u);
  for (const ServerOutcome& outcome : results.outcomes()) {
    if (outcome.address == slow) {
      EXPECT_EQ(outcome.status.error_code(),
                grpc::StatusCode::DEADLINE_EXCEEDED);
    }
  }
}

TEST_F(StubFanOutTest, CancelStopsEverySubCall) {
  const std::set<std::string> servers = {StartServer(0, 20000),
                                         StartServer(0, 20000)};
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, servers));
  grpc::ClientContext context;
  CallResults<Ping> results(&context);
  Ping request = WhoAmI();
  Ping reply;
  std::mutex mu;
  std::condition_variable cv;
  std::optional<grpc::Status> status;
  EchoService::NewStub(channel)->async()->Echo(
      &context, &request, &reply, [&](grpc::Status s) {
        std::lock_guard<std::mutex> lock(mu);
        status = s;
        cv.notify_all();
      });
  absl::SleepFor(absl::Milliseconds(300));
  context.TryCancel();
  std::unique_lock<std::mutex> lock(mu);
  // Bounded well below the servers' 20 s: the sub-calls were cancelled.
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10),
                          [&] { return status.has_value(); }));
  EXPECT_EQ(status->error_code(), grpc::StatusCode::CANCELLED);
  for (const ServerOutcome& outcome : results.outcomes()) {
    EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::CANCELLED);
  }
}

TEST_F(StubFanOutTest, UnavailableValueThroughTheStub) {
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  options.method_policies[kEcho].unavailable_value = R"({"text":"nobody"})";
  auto channel = Channel(options);
  grpc::ClientContext context;
  CallResults<Ping> results(&context);
  Ping reply;
  grpc::Status status =
      EchoService::NewStub(channel)->Echo(&context, WhoAmI(), &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "nobody");
  EXPECT_TRUE(results.unavailable());

  // Without one: UNAVAILABLE naming the namespace.
  grpc::ClientContext plain;
  SetGrouping(&plain, "all");
  google::protobuf::Empty nothing;
  status = EchoService::NewStub(channel)->Nothing(
      &plain, google::protobuf::Empty(), &nothing);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), kEchoNamespace))
      << status.error_message();
}

TEST_F(StubFanOutTest, ResultsFunctionSeesTheRequest) {
  const std::set<std::string> servers = {StartServer(), StartServer()};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  grpc::ClientContext context;
  SetGrouping(&context, "all");
  CallResults<Ping> results(&context);
  std::string seen;
  results.policies().results_function =
      [&](absl::string_view ns, absl::string_view method,
          const google::protobuf::Message* request) {
        seen = absl::StrCat(ns, "/", method, ":",
                            static_cast<const Ping*>(request)->text());
        return ResultsPolicy::kMap;
      };
  Ping reply;
  ASSERT_TRUE(
      EchoService::NewStub(channel)->Echo(&context, WhoAmI(), &reply).ok());
  EXPECT_EQ(results.policy(), ResultsPolicy::kMap);
  EXPECT_EQ(seen, absl::StrCat(kEcho, ":whoami"));
}

TEST_F(StubFanOutTest, ServerDataAfterAChange) {
  const std::string address = StartServer(0, 0, R"({"weight":2})");
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {address}));
  absl::StatusOr<std::string> data = ServerData(channel, address);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(absl::StrContains(*data, "\"weight\":2")) << *data;
  EXPECT_EQ(ServerData(channel, "127.0.0.1:1").status().code(),
            absl::StatusCode::kNotFound);
  // A change: the server restarts on another port with other data.
  servers_.clear();
  const std::string other = StartServer(0, 0, R"({"weight":3})");
  ASSERT_TRUE(WaitForReady(channel, {other}));
  data = ServerData(channel, other);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(absl::StrContains(*data, "\"weight\":3")) << *data;
}

TEST_F(StubFanOutTest, ErrorsSayWhatToDo) {
  const std::string address = StartServer();
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {address}));
  auto stub = EchoService::NewStub(channel);
  {
    grpc::ClientContext context;
    SetGrouping(&context, "no_such_grouping");
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "no_such_grouping"))
        << status.error_message();
  }
  {
    grpc::ClientContext context;
    SetGrouping(&context, "hash");
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "SetHashKey"))
        << status.error_message();
  }
  {  // `all` on a streaming method.
    grpc::ClientContext context;
    SetGrouping(&context, "all");
    Ping request = WhoAmI();
    request.set_sequence(2);
    auto reader = OtherEchoService::NewStub(channel)->Count(&context, request);
    Ping message;
    EXPECT_FALSE(reader->Read(&message));
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "Count"))
        << status.error_message();
  }
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
