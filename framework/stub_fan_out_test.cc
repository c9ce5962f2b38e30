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
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "framework/cluster_channel.h"
#include "framework/grouping/grouping_registry.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
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
constexpr char kCount[] = "slacker.testing.OtherEchoService/Count";

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
                          const std::string& data = "",
                          const std::string& services = "echo,other") {
    std::vector<std::string> args = {absl::GetFlag(FLAGS_server_program),
                                     "--zookeeper=" + ConnectString(),
                                     "--cluster=test",
                                     "--session_timeout_ms=2000",
                                     "--drain_ms=300",
                                     "--services=" + services,
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
  // server counts three failures. And no set-aside: every call that reaches
  // the failing server, WaitForReady's included (how many depends on how
  // soon the servers get READY, so on the machine's load), adds to its
  // failure streak, and once set aside it is out of the fan-out, which this
  // test needs it in. Set-aside has tests of its own (cluster_channel_test).
  options.service_config_json = "{}";
  options.set_aside_after = 0;
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
  {
    grpc::ClientContext context;  // Two groupings on one call.
    SetGrouping(&context, "random");
    SetGrouping(&context, "all");
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "more than once"))
        << status.error_message();
  }
  // `all` on a client-streaming and on a bidi-streaming method. (On a
  // server-streaming one it works: ServerStreamingAllDeliversEveryMessage.)
  {
    grpc::ClientContext context;
    SetGrouping(&context, "all");
    Ping reply;
    auto writer = OtherEchoService::NewStub(channel)->Collect(&context, &reply);
    writer->Write(WhoAmI());
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "Collect"))
        << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "client- or bidi"))
        << status.error_message();
  }
  {
    grpc::ClientContext context;
    SetGrouping(&context, "all");
    auto stream = OtherEchoService::NewStub(channel)->Chat(&context);
    stream->Write(WhoAmI());
    stream->WritesDone();
    Ping message;
    EXPECT_FALSE(stream->Read(&message));
    grpc::Status status = stream->Finish();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "Chat"))
        << status.error_message();
  }
}

// How many Echo calls `server` answered so far (the test server counts).
int64_t CallsAnswered(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& server) {
  grpc::ClientContext context;
  SetGrouping(&context, server);
  Ping request;
  request.set_text("calls");
  Ping reply;
  grpc::Status status =
      OtherEchoService::NewStub(channel)->Echo(&context, request, &reply);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return reply.sequence();
}

// Routes on the request: sequence N goes to the N-th server by address;
// text "three" goes to the first three; "defer:<grouping>" defers to it. It
// also records whether it saw the caller's metadata.
absl::StatusOr<GroupingChoice> RouteOnRequest(
    const CallInfo& call, const std::vector<Candidate>& candidates) {
  if (call.request == nullptr) return GroupingChoice::Servers({0});
  const auto& ping = static_cast<const Ping&>(*call.request);
  if (call.metadata != nullptr && call.metadata->count("x-must-see") > 0 &&
      call.metadata->find("x-must-see")->second != "seen") {
    return absl::InvalidArgumentError("metadata not as set");
  }
  if (ping.text() == "three") return GroupingChoice::Servers({0, 1, 2});
  if (absl::StartsWith(ping.text(), "defer:")) {
    return GroupingChoice::Defer(ping.text().substr(6));
  }
  if (ping.text() == "bad") {
    return absl::InvalidArgumentError("this request cannot be routed");
  }
  return GroupingChoice::Servers(
      {static_cast<size_t>(ping.sequence()) % candidates.size()});
}

void RegisterRouteOnRequest() {
  static const absl::Status registered =
      RegisterCallGroupingFunction("route_on_request", RouteOnRequest);
  ASSERT_TRUE(registered.ok()) << registered;
}

TEST_F(StubFanOutTest, AFunctionRoutesEachCallOnItsRequest) {
  RegisterRouteOnRequest();
  std::set<std::string> started;
  for (int i = 0; i < 4; ++i) started.insert(StartServer());
  const std::vector<std::string> servers(started.begin(), started.end());
  ClusterChannelOptions options;
  options.method_groupings[kOtherNamespace] = "route_on_request";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, started));
  ASSERT_TRUE(Eventually([&] {
    return ReadyServers(channel, kOtherNamespace).size() == servers.size();
  }));
  std::map<std::string, int64_t> before;
  for (const std::string& server : servers) {
    before[server] = CallsAnswered(channel, server);
  }
  // Server i gets i + 1 calls, each on its own request's say.
  auto stub = OtherEchoService::NewStub(channel);
  for (size_t i = 0; i < servers.size(); ++i) {
    for (size_t n = 0; n <= i; ++n) {
      grpc::ClientContext context;
      context.AddMetadata("x-must-see", "seen");
      CallResults<Ping> results(&context);
      Ping request;
      request.set_text("whoami");
      request.set_sequence(static_cast<int64_t>(i));
      Ping reply;
      grpc::Status status = stub->Echo(&context, request, &reply);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(reply.text(), servers[i]);
      EXPECT_FALSE(results.called());  // One server: passed through.
    }
  }
  for (size_t i = 0; i < servers.size(); ++i) {
    EXPECT_EQ(CallsAnswered(channel, servers[i]) - before[servers[i]],
              static_cast<int64_t>(i + 1))
        << servers[i];
  }
  {  // Three servers: the call goes to exactly those three.
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    Ping request;
    request.set_text("three");
    Ping reply;
    ASSERT_TRUE(stub->Echo(&context, request, &reply).ok());
    EXPECT_TRUE(results.called());
    std::set<std::string> called;
    for (const ServerOutcome& outcome : results.outcomes()) {
      EXPECT_TRUE(outcome.status.ok()) << outcome.address;
      called.insert(outcome.address);
    }
    EXPECT_EQ(called,
              std::set<std::string>(servers.begin(), servers.begin() + 3));
  }
  {  // Defer to a built-in grouping, and to `all`.
    grpc::ClientContext context;
    Ping request;
    request.set_text("defer:first");
    Ping reply;
    ASSERT_TRUE(stub->Echo(&context, request, &reply).ok());
    EXPECT_EQ(reply.text(), "defer:first");
    grpc::ClientContext all_context;
    CallResults<Ping> results(&all_context);
    request.set_text("defer:all");
    ASSERT_TRUE(stub->Echo(&all_context, request, &reply).ok());
    EXPECT_EQ(results.outcomes().size(), servers.size());
  }
  {  // INVALID_ARGUMENT from the function fails the call, naming it.
    grpc::ClientContext context;
    Ping request;
    request.set_text("bad");
    Ping reply;
    grpc::Status status = stub->Echo(&context, request, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "route_on_request"))
        << status.error_message();
  }
  {  // Deferring to a grouping that does not exist.
    grpc::ClientContext context;
    Ping request;
    request.set_text("defer:nonesuch");
    Ping reply;
    grpc::Status status = stub->Echo(&context, request, &reply);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_TRUE(absl::StrContains(status.error_message(), "nonesuch"))
        << status.error_message();
  }
  {  // Per call, through SetGrouping.
    auto plain = Channel();
    ASSERT_TRUE(WaitForReady(plain, started));
    // WaitForReady sees EchoService's servers; the function picks among
    // OtherEchoService's by index (sequence % candidates), so wait for all
    // four there too, as for the first channel above.
    ASSERT_TRUE(Eventually([&] {
      return ReadyServers(plain, kOtherNamespace).size() == servers.size();
    }));
    grpc::ClientContext context;
    SetGrouping(&context, "route_on_request");
    Ping request;
    request.set_text("whoami");
    request.set_sequence(3);
    Ping reply;
    ASSERT_TRUE(
        OtherEchoService::NewStub(plain)->Echo(&context, request, &reply).ok());
    EXPECT_EQ(reply.text(), servers[3]);
  }
}

// Every server's messages, by server in the order it sent them.
std::map<std::string, std::vector<int64_t>> ByServer(
    const std::vector<Ping>& messages) {
  std::map<std::string, std::vector<int64_t>> by_server;
  for (const Ping& message : messages) {
    by_server[message.text()].push_back(message.sequence());
  }
  return by_server;
}

TEST_F(StubFanOutTest, ServerStreamingAllDeliversEveryMessage) {
  const std::set<std::string> servers = {StartServer(), StartServer(),
                                         StartServer()};
  ClusterChannelOptions options;
  options.method_groupings[kCount] = "all";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, servers));
  ASSERT_TRUE(Eventually([&] {
    return ReadyServers(channel, kOtherNamespace).size() == servers.size();
  }));
  const std::vector<int64_t> one_to_four = {1, 2, 3, 4};
  auto stub = OtherEchoService::NewStub(channel);
  Ping request = WhoAmI();
  request.set_sequence(4);
  {  // Sync.
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    auto reader = stub->Count(&context, request);
    std::vector<Ping> messages;
    Ping message;
    while (reader->Read(&message)) messages.push_back(message);
    grpc::Status status = reader->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(messages.size(), 12u);
    std::map<std::string, std::vector<int64_t>> by_server = ByServer(messages);
    EXPECT_EQ(by_server.size(), 3u);
    for (const std::string& server : servers) {
      EXPECT_EQ(by_server[server], one_to_four) << server;
    }
    EXPECT_TRUE(results.called());
    EXPECT_EQ(results.outcomes().size(), 3u);
  }
  {  // Callback.
    class Reader : public grpc::ClientReadReactor<Ping> {
     public:
      void OnReadDone(bool ok) override {
        if (!ok) return;
        messages.push_back(message);
        StartRead(&message);
      }
      void OnDone(const grpc::Status& s) override {
        std::lock_guard<std::mutex> lock(mu);
        status = s;
        cv.notify_all();
      }
      std::vector<Ping> messages;
      Ping message;
      std::mutex mu;
      std::condition_variable cv;
      std::optional<grpc::Status> status;
    } reader;
    grpc::ClientContext context;
    stub->async()->Count(&context, &request, &reader);
    reader.StartRead(&reader.message);
    reader.StartCall();
    std::unique_lock<std::mutex> lock(reader.mu);
    reader.cv.wait(lock, [&] { return reader.status.has_value(); });
    ASSERT_TRUE(reader.status->ok()) << reader.status->error_message();
    std::map<std::string, std::vector<int64_t>> by_server =
        ByServer(reader.messages);
    EXPECT_EQ(by_server.size(), 3u);
    for (const std::string& server : servers) {
      EXPECT_EQ(by_server[server], one_to_four) << server;
    }
  }
  {  // CQ async.
    grpc::CompletionQueue cq;
    grpc::ClientContext context;
    auto reader = stub->AsyncCount(&context, request, &cq, nullptr);
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    std::vector<Ping> messages;
    Ping message;
    while (true) {
      reader->Read(&message, nullptr);
      ASSERT_TRUE(cq.Next(&tag, &ok));
      if (!ok) break;
      messages.push_back(message);
    }
    grpc::Status status;
    reader->Finish(&status, nullptr);
    ASSERT_TRUE(cq.Next(&tag, &ok));
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(ByServer(messages).size(), 3u);
    EXPECT_EQ(messages.size(), 12u);
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
}

TEST_F(StubFanOutTest, UnavailableValueForAOneServerGrouping) {
  // A server of the other namespace only: the channel resolves, and nobody
  // publishes EchoService.
  StartServer(0, 0, "", "other");
  ClusterChannelOptions options;  // grouping: random.
  options.method_policies[kEcho].unavailable_value = R"({"text":"nobody"})";
  auto channel = Channel(options);
  ASSERT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    Ping reply;
    OtherEchoService::NewStub(channel)->Echo(&context, WhoAmI(), &reply);
    return ReadyServers(channel, kOtherNamespace).size() == 1;
  }));
  auto stub = EchoService::NewStub(channel);
  {
    grpc::ClientContext context;
    CallResults<Ping> results(&context);
    Ping reply;
    grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(reply.text(), "nobody");
    EXPECT_TRUE(results.unavailable());
  }
  {  // A method without one still fails UNAVAILABLE.
    grpc::ClientContext context;
    google::protobuf::Empty nothing;
    grpc::Status status =
        stub->Nothing(&context, google::protobuf::Empty(), &nothing);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  // Once a server publishes the namespace, calls reach it.
  const std::string server = StartServer();
  ASSERT_TRUE(WaitForReady(channel, {server}));
  grpc::ClientContext context;
  Ping reply;
  ASSERT_TRUE(stub->Echo(&context, WhoAmI(), &reply).ok());
  EXPECT_EQ(reply.text(), server);
}

TEST_F(StubFanOutTest, MembershipChangesDuringAStreamOfAllCalls) {
  const std::string stable = StartServer();
  const std::string killed = StartServer();
  const std::string stopped = StartServer();
  ClusterChannelOptions options;
  options.method_groupings[kEcho] = "all";
  auto channel = Channel(options);
  ASSERT_TRUE(WaitForReady(channel, {stable, killed, stopped}));
  std::mutex mu;
  std::set<std::string> started = {stable, killed, stopped};
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::vector<std::string> problems;
  std::thread caller([&] {
    auto stub = EchoService::NewStub(channel);
    while (!stop.load()) {
      grpc::ClientContext context;
      CallResults<Ping> results(&context);
      Ping reply;
      grpc::Status status = stub->Echo(&context, WhoAmI(), &reply);
      calls.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      if (!status.ok()) {
        problems.push_back("call failed: " + status.error_message());
        continue;
      }
      std::set<std::string> called;
      bool stable_answered = false;
      for (const ServerOutcome& outcome : results.outcomes()) {
        if (!called.insert(outcome.address).second) {
          problems.push_back("called twice: " + outcome.address);
        }
        if (started.count(outcome.address) == 0) {
          problems.push_back("called a server never started: " +
                             outcome.address);
        }
        if (outcome.address == stable && outcome.status.ok()) {
          stable_answered = true;
        }
      }
      if (!stable_answered) {
        problems.push_back("the live server " + stable + " was not called");
      }
    }
  });
  auto wait_calls = [&] {
    const int from = calls.load();
    ASSERT_TRUE(Eventually([&] { return calls.load() >= from + 5; }));
  };
  wait_calls();
  {  // Join.
    const std::string joined = StartServer();
    std::lock_guard<std::mutex> lock(mu);
    started.insert(joined);
  }
  wait_calls();
  servers_[killed]->Kill(SIGKILL);
  wait_calls();
  servers_[stopped]->Kill(SIGTERM);
  wait_calls();
  {
    const std::string joined = StartServer();
    std::lock_guard<std::mutex> lock(mu);
    started.insert(joined);
  }
  wait_calls();
  stop.store(true);
  caller.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(problems.empty()) << absl::StrJoin(problems, "\n");
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
