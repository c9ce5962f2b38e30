// The cluster channel against a real ZooKeeper and real cluster servers in
// child processes (testing/programs:cluster_server): routing by
// namespace, every grouping, membership changes under a steady call stream
// (join, graceful leave, kill -9), ZooKeeper down past the session timeout,
// malformed nodes, bad targets, and generated stubs sync, async and callback.

#include "framework/cluster_channel.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/leader_election.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/grouping/grouping_registry.h"
#include "gtest/gtest.h"
#include "protos/slacker/cluster/manager.grpc.pb.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");
ABSL_FLAG(std::string, many_servers_program, "",
          "path of testing/programs/many_servers");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::EchoService;
using ::slacker::testing::OtherEchoService;
using ::slacker::testing::Ping;

constexpr char kCluster[] = "test";
constexpr char kEchoNamespace[] = "slacker.testing.EchoService";

// Where the tests' servers register (default root, cluster kCluster).
discovery::RegistryLayout Layout() {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, kCluster);
}

class ClusterChannelTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    ASSERT_TRUE(InitClusterChannels().ok());
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    auto client = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    zk_ = *std::move(client);
  }
  void TearDown() override {
    servers_.clear();
    zk_.reset();
    ZooKeeperTest::TearDown();
  }

  // Starts a server; returns its address once it is published.
  std::string StartServer(const std::string& services = "echo",
                          const std::string& server_data = "", int fail = 0,
                          const std::string& not_serving = "",
                          bool manager = false) {
    const std::string program = absl::GetFlag(FLAGS_server_program);
    auto child = std::make_unique<Child>(std::vector<std::string>{
        program, "--zookeeper=" + ConnectString(), "--cluster=test",
        "--session_timeout_ms=2000", "--drain_ms=1000",
        "--services=" + services, "--server_data=" + server_data,
        absl::StrCat("--fail=", fail), "--not_serving=" + not_serving,
        absl::StrCat("--manager=", manager ? "true" : "false")});
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }

  std::shared_ptr<grpc::Channel> Channel(ClusterChannelOptions options = {},
                                         std::string zookeeper = "") {
    options.session_timeout = absl::Seconds(2);
    if (zookeeper.empty()) zookeeper = ConnectString();
    auto channel = CreateClusterChannel(zookeeper, kCluster, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  // Which server answered; "" and the status's message on failure.
  static std::string WhoAmI(EchoService::Stub& stub,
                            const std::string& grouping = "",
                            const std::string& hash_key = "",
                            grpc::Status* status_out = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    if (!grouping.empty()) SetGrouping(&context, grouping);
    if (!hash_key.empty()) SetHashKey(&context, hash_key);
    Ping request;
    request.set_text("whoami");
    Ping response;
    grpc::Status status = stub.Echo(&context, request, &response);
    if (status_out != nullptr) *status_out = status;
    return status.ok() ? response.text() : "";
  }

  // Waits until calls reach every one of `expected` (and no other).
  bool WaitForServers(EchoService::Stub& stub,
                      const std::set<std::string>& expected) {
    return Eventually([&] {
      std::set<std::string> seen;
      for (int i = 0; i < 20 * static_cast<int>(expected.size()); ++i) {
        seen.insert(WhoAmI(stub, "round_robin"));
      }
      return seen == expected;
    });
  }

  std::string Leader(const std::string& ns) {
    auto leader =
        discovery::LeaderElection::CurrentLeader(*zk_, Layout().LeaderPath(ns));
    return leader.ok() ? *leader : "";
  }

  // Test bodies run in more than one discovery mode.
  void EachGroupingDoesWhatItSaysWith(
      ClusterChannelOptions::Discovery discovery);
  void MembershipChangesUnderASteadyCallStreamWith(
      ClusterChannelOptions::Discovery discovery);

  std::unique_ptr<discovery::ZooKeeperClient> zk_;
  std::map<std::string, std::unique_ptr<Child>> servers_;
};

// The body of EachGroupingDoesWhatItSays, with the channel following the
// cluster as `discovery` says.
void ClusterChannelTest::EachGroupingDoesWhatItSaysWith(
    ClusterChannelOptions::Discovery discovery) {
  const std::string a = StartServer("echo", R"({"weight":1})");
  const std::string b = StartServer("echo", R"({"weight":3})");
  const std::string c = StartServer("echo", R"({"weight":6})");
  ClusterChannelOptions channel_options;
  channel_options.discovery = discovery;
  auto channel = Channel(channel_options);
  auto stub = EchoService::NewStub(channel);
  ASSERT_TRUE(WaitForServers(*stub, {a, b, c}));

  auto count = [&](const std::string& grouping, int calls,
                   const std::string& key = "") {
    std::map<std::string, int> counts;
    for (int i = 0; i < calls; ++i) ++counts[WhoAmI(*stub, grouping, key)];
    return counts;
  };
  // round_robin: an exact cycle while membership stays.
  std::map<std::string, int> round_robin = count("round_robin", 999);
  EXPECT_EQ(round_robin[a], 333);
  EXPECT_EQ(round_robin[b], 333);
  EXPECT_EQ(round_robin[c], 333);
  // random (the default): 1,000 calls, 1/3 each; sd ~15, bounds ~6.6 sd.
  std::map<std::string, int> random = count("", 1000);
  for (const std::string& server : {a, b, c}) {
    EXPECT_GT(random[server], 233) << server;
    EXPECT_LT(random[server], 433) << server;
  }
  // weighted 1:3:6 over 1,000 calls: expected 100/300/600, sd <= 16.
  std::map<std::string, int> weighted = count("weighted", 1000);
  EXPECT_GT(weighted[a], 30);
  EXPECT_LT(weighted[a], 170);
  EXPECT_GT(weighted[b], 200);
  EXPECT_LT(weighted[b], 400);
  EXPECT_GT(weighted[c], 500);
  EXPECT_LT(weighted[c], 700);
  // first: the lowest address.
  const std::string lowest = std::min({a, b, c});
  EXPECT_EQ(count("first", 50)[lowest], 50);
  // leader: the namespace's leader in ZooKeeper.
  const std::string leader = Leader(kEchoNamespace);
  ASSERT_FALSE(leader.empty());
  EXPECT_EQ(count("leader", 50)[leader], 50);
  // An explicit server.
  EXPECT_EQ(count(b, 50)[b], 50);
  // sticky: one server for every call.
  EXPECT_EQ(count("sticky", 50).size(), 1u);
  // least_in_flight with sequential calls: all servers are idle each time,
  // ties are broken at random, so every server is used.
  EXPECT_EQ(count("least_in_flight", 200).size(), 3u);
  // hash: a key always lands on the same server; keys spread.
  std::set<std::string> by_key;
  for (int key = 0; key < 60; ++key) {
    std::map<std::string, int> one = count("hash", 5, absl::StrCat("k", key));
    EXPECT_EQ(one.size(), 1u) << "key k" << key;
    by_key.insert(one.begin()->first);
  }
  EXPECT_EQ(by_key.size(), 3u);
  // hash without a key fails the call, saying why (as INTERNAL: gRPC does
  // not let a pick fail with INVALID_ARGUMENT, see gRFC A54).
  grpc::Status status;
  WhoAmI(*stub, "hash", "", &status);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.error_message(), "SetHashKey"))
      << status.error_message();
}

TEST_F(ClusterChannelTest, EachGroupingDoesWhatItSays) {
  EachGroupingDoesWhatItSaysWith(ClusterChannelOptions::Discovery::kWatches);
}

// The same over one persistent recursive watch (ZooKeeper 3.8 here): the
// view it builds carries the same weights and leader.
TEST_F(ClusterChannelTest, EachGroupingDoesWhatItSaysOverARecursiveWatch) {
  EachGroupingDoesWhatItSaysWith(
      ClusterChannelOptions::Discovery::kPersistentRecursive);
}

TEST_F(ClusterChannelTest, FirstCallOnAFreshChannelFindsThePublishers) {
  // A fresh channel's first complete view must already hold every namespace
  // (the namespace list is read before its per-namespace views exist): the
  // first call on each of 20 fresh channels succeeds, no retry.
  StartServer("echo,other");
  StartServer("other");
  for (int i = 0; i < 20; ++i) {
    auto stub = EchoService::NewStub(Channel());
    grpc::Status status;
    WhoAmI(*stub, "", "", &status);
    EXPECT_TRUE(status.ok())
        << "channel " << i << ": " << status.error_message();
  }
}

TEST_F(ClusterChannelTest, ManyServersConnectingAtOnceAreAllPicked) {
  // 200 servers come up in one burst of connectivity and health changes,
  // which the policy folds into few pickers (see PickerChangedLocked): the
  // last picker must hold every server. Then round_robin gives each exactly
  // its share, and the unregistered spare port is never called.
  constexpr int kServers = 200;
  Child helper({absl::GetFlag(FLAGS_many_servers_program),
                "--zookeeper=" + ConnectString(),
                absl::StrCat("--cluster=", kCluster),
                absl::StrCat("--count=", kServers)});
  std::optional<std::string> spare = helper.WaitForLine("spare ");
  std::optional<std::string> listed =
      helper.WaitForLine("addresses ", absl::Seconds(60));
  ASSERT_TRUE(spare.has_value() && listed.has_value());
  std::set<std::string> expected;
  for (absl::string_view address : absl::StrSplit(*listed, ',')) {
    expected.insert(absl::StrCat("ipv4:", address));
  }
  ASSERT_EQ(expected.size(), kServers);
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  auto stub = EchoService::NewStub(Channel(options));
  auto call = [&]() -> std::string {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    Ping request, response;
    grpc::Status status = stub->Echo(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return status.ok() ? context.peer() : "";
  };
  std::set<std::string> seen;
  const absl::Time give_up = absl::Now() + absl::Seconds(120);
  while (seen.size() < expected.size() && absl::Now() < give_up) {
    seen.insert(call());
  }
  EXPECT_EQ(seen, expected);
  std::map<std::string, int> calls;
  for (int i = 0; i < 3 * kServers; ++i) ++calls[call()];
  EXPECT_EQ(calls.size(), kServers);
  for (const auto& [peer, count] : calls) {
    EXPECT_EQ(count, 3) << peer;
  }
  EXPECT_EQ(calls.count("ipv4:" + *spare), 0);
}

TEST_F(ClusterChannelTest, HashMovesAboutOneNthOfKeysWhenAServerJoins) {
  std::set<std::string> before_servers = {StartServer(), StartServer(),
                                          StartServer()};
  auto channel = Channel();
  auto stub = EchoService::NewStub(channel);
  ASSERT_TRUE(WaitForServers(*stub, before_servers));
  std::map<int, std::string> before;
  for (int key = 0; key < 300; ++key) {
    before[key] = WhoAmI(*stub, "hash", absl::StrCat("key-", key));
  }
  const std::string joined = StartServer();
  before_servers.insert(joined);
  ASSERT_TRUE(WaitForServers(*stub, before_servers));
  int moved = 0;
  for (int key = 0; key < 300; ++key) {
    const std::string now = WhoAmI(*stub, "hash", absl::StrCat("key-", key));
    if (now != before[key]) {
      ++moved;
      EXPECT_EQ(now, joined) << "a key moved between two old servers";
    }
  }
  // Expected 1/4 of 300 = 75.
  EXPECT_GT(moved, 25);
  EXPECT_LT(moved, 150);
}

TEST_F(ClusterChannelTest, CallsReachOnlyServersOfTheirNamespace) {
  const std::string echo1 = StartServer("echo");
  const std::string echo2 = StartServer("echo");
  const std::string other = StartServer("other");
  const std::string both = StartServer("echo,other");
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  auto channel = Channel(options);
  auto echo_stub = EchoService::NewStub(channel);
  auto other_stub = OtherEchoService::NewStub(channel);
  ASSERT_TRUE(WaitForServers(*echo_stub, {echo1, echo2, both}));
  std::set<std::string> other_seen;
  for (int i = 0; i < 60; ++i) {
    grpc::ClientContext context;
    Ping request, response;
    request.set_text("whoami");
    ASSERT_TRUE(other_stub->Echo(&context, request, &response).ok());
    other_seen.insert(response.text());
  }
  EXPECT_EQ(other_seen, (std::set<std::string>{other, both}));
}

TEST_F(ClusterChannelTest, GroupingPrecedenceIsCallThenMethodThenChannel) {
  const std::string a = StartServer();
  const std::string b = StartServer();
  const std::string lowest = std::min(a, b);
  const std::string highest = std::max(a, b);
  ClusterChannelOptions options;
  options.grouping = highest;
  options.method_groupings["slacker.testing.EchoService/Echo"] = "first";
  auto channel = Channel(options);
  auto stub = EchoService::NewStub(channel);
  ASSERT_TRUE(Eventually([&] { return WhoAmI(*stub, a) == a; }));
  ASSERT_TRUE(Eventually([&] { return WhoAmI(*stub, b) == b; }));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(WhoAmI(*stub), lowest);            // The method's: first.
    EXPECT_EQ(WhoAmI(*stub, highest), highest);  // The call's.
  }
  // Channel default applies where no method setting does.
  ClusterChannelOptions by_channel;
  by_channel.grouping = highest;
  auto stub2 = EchoService::NewStub(Channel(by_channel));
  ASSERT_TRUE(Eventually([&] { return WhoAmI(*stub2) == highest; }));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(WhoAmI(*stub2), highest);
}

TEST_F(ClusterChannelTest, UserGroupingFunctionSeesTheCall) {
  std::mutex mu;
  std::set<std::string> seen_methods;
  ASSERT_TRUE(
      RegisterGroupingFunction(
          "test_last",
          [&](const CallInfo& call, const std::vector<Candidate>& candidates)
              -> absl::StatusOr<std::vector<size_t>> {
            std::lock_guard<std::mutex> lock(mu);
            seen_methods.insert(
                absl::StrCat(call.name_space, "/", call.method));
            return std::vector<size_t>{candidates.size() - 1};
          })
          .ok());
  const std::string a = StartServer();
  const std::string b = StartServer();
  ClusterChannelOptions options;
  options.grouping = "test_last";
  auto stub = EchoService::NewStub(Channel(options));
  ASSERT_TRUE(Eventually([&] { return WhoAmI(*stub) == std::max(a, b); }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(seen_methods.count("slacker.testing.EchoService/Echo"));
}

TEST_F(ClusterChannelTest, NoPublisherFailsFastNamingClusterAndNamespace) {
  StartServer("other");
  auto channel = Channel();
  auto stub = EchoService::NewStub(channel);
  grpc::Status status;
  ASSERT_TRUE(Eventually([&] {
    WhoAmI(*stub, "", "", &status);
    return absl::StrContains(status.error_message(), "publishes namespace");
  })) << status.error_message();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "'test'"));
  EXPECT_TRUE(absl::StrContains(status.error_message(), kEchoNamespace));

  // An unknown cluster: the same, at once.
  auto unknown = CreateClusterChannel(ConnectString(), "no-such-cluster");
  ASSERT_TRUE(unknown.ok());
  auto unknown_stub = EchoService::NewStub(*unknown);
  const absl::Time start = absl::Now();
  WhoAmI(*unknown_stub, "", "", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "no-such-cluster"))
      << status.error_message();
  EXPECT_LT(absl::Now() - start, absl::Seconds(9));  // Not the deadline.
}

TEST_F(ClusterChannelTest, WaitForReadyWaitsForAPublisher) {
  ClusterChannelOptions options;
  options.wait_for_ready = true;
  auto stub = EchoService::NewStub(Channel(options));
  std::string answered;
  std::thread caller([&] { answered = WhoAmI(*stub); });
  absl::SleepFor(absl::Milliseconds(500));  // The call is waiting by now.
  const std::string server = StartServer();
  caller.join();
  EXPECT_EQ(answered, server);
}

void ClusterChannelTest::MembershipChangesUnderASteadyCallStreamWith(
    ClusterChannelOptions::Discovery discovery) {
  const std::string a = StartServer();
  const std::string b = StartServer();
  ClusterChannelOptions options;
  options.discovery = discovery;
  options.grouping = "round_robin";
  // Retries of UNAVAILABLE, so that a call on the crashed server's
  // connection is retried on another.
  options.service_config_json = R"({"methodConfig": [{
      "name": [{"service": "slacker.testing.EchoService"}],
      "retryPolicy": {"maxAttempts": 5, "initialBackoff": "0.01s",
        "maxBackoff": "0.1s", "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]}}]})";
  auto channel = Channel(options);
  auto stub = EchoService::NewStub(channel);
  ASSERT_TRUE(WaitForServers(*stub, {a, b}));

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, int> answered;
  std::vector<std::string> failures;
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        grpc::Status status;
        const std::string server = WhoAmI(*stub, "", "", &status);
        std::lock_guard<std::mutex> lock(mu);
        if (status.ok()) {
          ++answered[server];
        } else {
          failures.push_back(absl::StrCat(status.error_code(), " ",
                                          status.error_message(), " at ",
                                          absl::FormatTime(absl::Now())));
        }
      }
    });
  }
  auto answered_by = [&](const std::string& server) {
    std::lock_guard<std::mutex> lock(mu);
    return answered[server];
  };
  // A server joins: it gets traffic.
  const std::string c = StartServer();
  EXPECT_TRUE(Eventually([&] { return answered_by(c) > 20; }));
  // A graceful leave (SIGTERM: unpublish, drain, stop): no call fails, and
  // it gets no new calls once gone.
  std::cout << "SIGTERM at " << absl::FormatTime(absl::Now()) << std::endl;
  servers_[a]->Kill(SIGTERM);
  const int a_after_leave = answered_by(a);
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(answered_by(a), a_after_leave);
  // A crash (kill -9): with retries configured, no call fails.
  const int b_before = answered_by(b);
  std::cout << "SIGKILL at " << absl::FormatTime(absl::Now()) << std::endl;
  servers_[b]->Kill(SIGKILL);
  EXPECT_TRUE(Eventually([&] {
    const int c_before = answered_by(c);
    absl::SleepFor(absl::Milliseconds(100));
    return answered_by(c) > c_before;
  }));
  EXPECT_GE(answered_by(b), b_before);
  absl::SleepFor(absl::Milliseconds(500));
  stop = true;
  for (std::thread& caller : callers) caller.join();
  std::lock_guard<std::mutex> lock(mu);
  for (const std::string& failure : failures) ADD_FAILURE() << failure;
  int total = 0;
  for (const auto& [server, n] : answered) total += n;
  std::cout << "measured: " << total << " calls across join, SIGTERM and "
            << "kill -9, " << failures.size() << " failed" << std::endl;
}

TEST_F(ClusterChannelTest, MembershipChangesUnderASteadyCallStream) {
  MembershipChangesUnderASteadyCallStreamWith(
      ClusterChannelOptions::Discovery::kWatches);
}

// A join, a graceful leave and a kill -9 followed through one persistent
// recursive watch: the same guarantees (no failed call with retries).
TEST_F(ClusterChannelTest,
       MembershipChangesUnderASteadyCallStreamOverARecursiveWatch) {
  MembershipChangesUnderASteadyCallStreamWith(
      ClusterChannelOptions::Discovery::kPersistentRecursive);
}

TEST_F(ClusterChannelTest, WithoutRetriesOnlyCallsInFlightOnACrashFail) {
  const std::string a = StartServer();
  const std::string b = StartServer();
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  options.service_config_json = "{}";  // Not the default retry policy.
  auto stub = EchoService::NewStub(Channel(options));
  ASSERT_TRUE(WaitForServers(*stub, {a, b}));
  constexpr int kCallers = 4;  // So at most 4 calls are in flight at once.
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<grpc::Status> failures;
  std::vector<std::thread> callers;
  for (int t = 0; t < kCallers; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        grpc::Status status;
        WhoAmI(*stub, "", "", &status);
        if (status.ok()) {
          ok.fetch_add(1);
        } else {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(status);
        }
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return ok.load() > 200; }));
  servers_[b]->Kill(SIGKILL);
  const int before = ok.load();
  ASSERT_TRUE(Eventually([&] { return ok.load() > before + 500; }));
  stop = true;
  for (std::thread& caller : callers) caller.join();
  std::lock_guard<std::mutex> lock(mu);
  // Calls in flight on the crashed server fail, and so may a caller's next
  // call if it is picked in the microseconds before the channel has seen the
  // connection break (gRPC's own round_robin has the same window): at most
  // two per caller, never a stream of failures.
  EXPECT_LE(failures.size(), static_cast<size_t>(2 * kCallers));
  for (const grpc::Status& failure : failures) {
    EXPECT_EQ(failure.error_code(), grpc::StatusCode::UNAVAILABLE)
        << failure.error_message();
  }
  std::cout << "measured: kill -9 without retries: " << failures.size()
            << " failed of " << ok.load() + failures.size() << std::endl;
}

TEST_F(ClusterChannelTest, ServerFailingWithUnavailableIsSetAside) {
  const std::string healthy = StartServer();
  const std::string failing = StartServer("echo", "", /*fail=*/14);
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  options.set_aside_after = 3;
  options.set_aside_for = absl::Seconds(60);
  // No retries: each failed call is one failure of the streak (the default
  // retry policy would make each three).
  options.service_config_json = "{}";
  auto stub = EchoService::NewStub(Channel(options));
  ASSERT_TRUE(Eventually([&] { return WhoAmI(*stub, healthy) == healthy; }));
  ASSERT_TRUE(Eventually([&] {
    grpc::Status status;
    WhoAmI(*stub, failing, "", &status);
    return status.error_code() == grpc::StatusCode::UNAVAILABLE;
  }));
  // Round robin alternates until the failing server has failed 3 times in a
  // row (counting the probe above), then only the healthy one is picked.
  int failures = 0;
  for (int i = 0; i < 10; ++i) failures += WhoAmI(*stub).empty();
  EXPECT_LE(failures, 3);
  EXPECT_GE(failures, 1);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(WhoAmI(*stub), healthy);
}

TEST_F(ClusterChannelTest, NotServingNamespaceIsNotPicked) {
  const std::string serving = StartServer("echo,other");
  // Published in ZooKeeper for both, but its health says NOT_SERVING for
  // EchoService.
  const std::string sick = StartServer("echo,other", "", 0, kEchoNamespace);
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  auto channel = Channel(options);
  auto echo = EchoService::NewStub(channel);
  auto other = OtherEchoService::NewStub(channel);
  // OtherEchoService is healthy on both: both are used.
  std::set<std::string> other_seen;
  ASSERT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    Ping request, response;
    request.set_text("whoami");
    if (other->Echo(&context, request, &response).ok()) {
      other_seen.insert(response.text());
    }
    return other_seen.size() == 2;
  }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(WhoAmI(*echo), serving);
  // Not even when asked for by address: it is not a candidate.
  grpc::Status status;
  WhoAmI(*echo, sick, "", &status);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);

  // With health checks off, ZooKeeper alone decides.
  options.health_checks = false;
  auto unchecked = EchoService::NewStub(Channel(options));
  EXPECT_TRUE(WaitForServers(*unchecked, {serving, sick}));
}

TEST_F(ClusterChannelTest, KeepsServingWhileZooKeeperIsDown) {
  const std::string a = StartServer();
  const std::string b = StartServer();
  auto stub = EchoService::NewStub(Channel());
  ASSERT_TRUE(WaitForServers(*stub, {a, b}));
  zk_.reset();
  ASSERT_TRUE(zookeeper().StopNode(0).ok());
  // Past every session timeout (2 s): the servers' sessions expire too, but
  // the channel keeps the servers it knew.
  const absl::Time until = absl::Now() + absl::Seconds(5);
  int calls = 0;
  while (absl::Now() < until) {
    grpc::Status status;
    WhoAmI(*stub, "round_robin", "", &status);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ++calls;
  }
  ASSERT_TRUE(zookeeper().StartNode(0).ok());
  // Back: the servers re-register, and a new one is found.
  const std::string c = StartServer();
  EXPECT_TRUE(WaitForServers(*stub, {a, b, c}));
  std::cout << "measured: " << calls
            << " calls succeeded while ZooKeeper was down for 5 s" << std::endl;
}

TEST_F(ClusterChannelTest, ChannelSessionExpiryKeepsServersAndCatchesUp) {
  // The channel reaches ZooKeeper through a proxy that the test cuts for
  // longer than the session timeout, so its session (alone) expires.
  auto proxy = slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  const std::string a = StartServer();
  auto stub = EchoService::NewStub(Channel({}, (*proxy)->address()));
  ASSERT_TRUE(WaitForServers(*stub, {a}));
  (*proxy)->Cut();
  const std::string b = StartServer();  // Joins while the channel is cut off.
  const absl::Time until = absl::Now() + absl::Seconds(5);  // > 2 s timeout
  int calls = 0;
  while (absl::Now() < until) {
    grpc::Status status;
    EXPECT_EQ(WhoAmI(*stub, "", "", &status), a) << status.error_message();
    ++calls;
  }
  (*proxy)->Restore();
  // A new session: the view is read again and b is found.
  EXPECT_TRUE(WaitForServers(*stub, {a, b}));
  std::cout << "measured: " << calls
            << " calls to the known server while the channel's session "
               "expired"
            << std::endl;
}

TEST_F(ClusterChannelTest, MalformedNodesAreSkipped) {
  const std::string a = StartServer();
  const std::string ns_path = Layout().NamespacePath(kEchoNamespace);
  // A publisher whose name is not host:port, and a server node whose data is
  // not JSON (for a real address, which must stay usable).
  ASSERT_TRUE(zk_->Create(ns_path + "/not-an-address", "",
                          discovery::CreateMode::kPersistent)
                  .ok());
  ASSERT_TRUE(zk_->Set(Layout().ServerPath(a), "{{{ not json").ok());
  auto stub = EchoService::NewStub(Channel());
  ASSERT_TRUE(WaitForServers(*stub, {a}));
  const std::string b = StartServer("echo", R"({"weight": "heavy"})");
  EXPECT_TRUE(WaitForServers(*stub, {a, b}));
}

TEST_F(ClusterChannelTest, BadTargetsAreRefusedClearly) {
  auto bad_cluster = CreateClusterChannel(ConnectString(), "a/b");
  EXPECT_EQ(bad_cluster.status().code(), absl::StatusCode::kInvalidArgument);
  auto no_zk = CreateClusterChannel("", "test");
  EXPECT_EQ(no_zk.status().code(), absl::StatusCode::kInvalidArgument);
  ClusterChannelOptions bad_grouping;
  bad_grouping.grouping = "fastest";
  auto refused = CreateClusterChannel(ConnectString(), "test", bad_grouping);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "round_robin"))
      << refused.status();
  ClusterChannelOptions bad_config;
  bad_config.service_config_json = "{not json";
  EXPECT_EQ(
      CreateClusterChannel(ConnectString(), "test", bad_config).status().code(),
      absl::StatusCode::kInvalidArgument);
  // Through gRPC's own CreateChannel: calls fail, nothing crashes.
  for (const std::string target :
       {"zk:///test", "zk://127.0.0.1:1/", "zk://127.0.0.1:1/a/b",
        "zk://127.0.0.1:1/test?colour=red"}) {
    auto channel =
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
    auto stub = EchoService::NewStub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(2));
    Ping request, response;
    EXPECT_FALSE(stub->Echo(&context, request, &response).ok()) << target;
  }
  // ZooKeeper unreachable: the call fails, and says where it looked.
  auto channel =
      grpc::CreateChannel("zk://127.0.0.1:1/test?connect_timeout=200",
                          grpc::InsecureChannelCredentials());
  auto stub = EchoService::NewStub(channel);
  grpc::Status status;
  ASSERT_TRUE(Eventually([&] {
    WhoAmI(*stub, "", "", &status);
    return absl::StrContains(status.error_message(), "127.0.0.1:1");
  })) << status.error_message();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(ClusterChannelTest, PlainCreateChannelWithQuery) {
  const std::string a = StartServer();
  const std::string b = StartServer();
  auto channel = grpc::CreateChannel(
      absl::StrCat("zk://", ConnectString(), "/test?grouping=", a),
      grpc::InsecureChannelCredentials());
  auto stub = EchoService::NewStub(channel);
  ASSERT_TRUE(Eventually([&] { return WhoAmI(*stub) == a; }));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(WhoAmI(*stub), a);
}

TEST_F(ClusterChannelTest, AsyncAndCallbackStubsWork) {
  const std::string a = StartServer();
  auto stub = EchoService::NewStub(Channel());
  ASSERT_TRUE(WaitForServers(*stub, {a}));
  // Completion queue.
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  Ping request, response;
  request.set_text("whoami");
  grpc::Status status;
  auto rpc = stub->AsyncEcho(&context, request, &cq);
  rpc->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  ASSERT_TRUE(cq.Next(&tag, &ok));
  EXPECT_TRUE(ok);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), a);
  // Callback API.
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::ClientContext callback_context;
  Ping callback_response;
  grpc::Status callback_status;
  stub->async()->Echo(&callback_context, &request, &callback_response,
                      [&](grpc::Status s) {
                        std::lock_guard<std::mutex> lock(mu);
                        callback_status = s;
                        done = true;
                        done_cv.notify_all();
                      });
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(
      done_cv.wait_for(lock, std::chrono::seconds(10), [&] { return done; }));
  EXPECT_TRUE(callback_status.ok()) << callback_status.error_message();
  EXPECT_EQ(callback_response.text(), a);
}

TEST_F(ClusterChannelTest, ServerDataChangesReachTheHandlerAndStats) {
  std::mutex mu;
  std::vector<ServerDataChange> changes;
  ClusterChannelOptions options;
  options.on_server_data_change = [&](const ServerDataChange& change) {
    std::lock_guard<std::mutex> lock(mu);
    changes.push_back(change);
  };
  auto stub = EchoService::NewStub(Channel(options));
  const std::string a = StartServer("echo", R"({"zone":"z1"})", 0, "",
                                    /*manager=*/true);
  ASSERT_TRUE(WaitForServers(*stub, {a}));
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return !changes.empty();
  }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(changes.front().address, a);
    EXPECT_EQ(changes.front().old_data, "");
    EXPECT_TRUE(absl::StrContains(changes.front().new_data, "z1"));
  }
  // A new version of the server's node is read again (the view parses each
  // version once). The server writes it (through its manager): a foreign
  // write of its node would be undone by the server, which repairs it.
  const std::string node = Layout().ServerPath(a);
  auto info = zk_->Get(node);
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_TRUE(absl::StrContains(info->data, "z1")) << info->data;
  {
    auto manager = slacker::cluster::ClusterManager::NewStub(
        grpc::CreateChannel(a, grpc::InsecureChannelCredentials()));
    google::protobuf::Value data;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(R"({"zone":"z2"})", &data)
            .ok());
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    google::protobuf::Empty empty;
    grpc::Status set = manager->SetServerData(&context, data, &empty);
    ASSERT_TRUE(set.ok()) << set.error_message();
  }
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return changes.size() >= 2 &&
           absl::StrContains(changes.back().new_data, "z2");
  }));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(absl::StrContains(changes.back().old_data, "z1"));
  }
  DiscoveryStats stats =
      GetDiscoveryStats(ClusterTarget(ConnectString(), kCluster));
  EXPECT_GT(stats.updates, 0);
  EXPECT_GE(stats.max_propagation, stats.last_propagation);
  std::cout << "measured: ZooKeeper event to picker, last "
            << stats.last_propagation << ", max " << stats.max_propagation
            << " over " << stats.updates << " updates" << std::endl;
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
