// Fan-out calls against a real ZooKeeper and real cluster servers in child
// processes (testing/programs:cluster_server): every server called
// once, parallelism, error policies, deadlines, the unavailable value, server
// choice by a function, option precedence, hooks, membership changes during
// a stream of fan-outs, the asynchronous form, and the caller's ClientContext
// (metadata, deadline, call credentials) on every server.

#include "framework/fan_out.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>

#include <atomic>
#include <chrono>
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
using ::slacker::testing::Ping;

constexpr char kEcho[] = "slacker.testing.EchoService/Echo";
constexpr char kEchoNamespace[] = "slacker.testing.EchoService";
constexpr char kOther[] = "slacker.testing.OtherEchoService/Echo";

Ping WhoAmI() {
  Ping request;
  request.set_text("whoami");
  return request;
}

class FanOutTest : public slacker::testing::ZooKeeperTest {
 protected:
  void TearDown() override {
    servers_.clear();
    ZooKeeperTest::TearDown();
  }

  std::string StartServer(int fail = 0, int delay_ms = 0) {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        "--cluster=test", "--session_timeout_ms=2000", "--drain_ms=300",
        absl::StrCat("--fail=", fail), absl::StrCat("--delay_ms=", delay_ms)});
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }

  std::shared_ptr<grpc::Channel> Channel() {
    ClusterChannelOptions options;
    options.session_timeout = absl::Seconds(2);
    auto channel = CreateClusterChannel(ConnectString(), "test", options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  // Waits until the channel would fan out to exactly `expected`.
  bool WaitForReady(const std::shared_ptr<grpc::Channel>& channel,
                    const std::set<std::string>& expected) {
    // Fan-outs, not just ReadyServers: a call drives the channel's
    // connections (see kConnectWait in fan_out.cc).
    std::vector<std::string> ready;
    const bool done = Eventually([&] {
      FanOut<Ping>(channel, kEcho, WhoAmI());
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

TEST_F(FanOutTest, AllCallsEveryServerExactlyOnce) {
  auto channel = Channel();
  std::set<std::string> servers;
  for (int target : {1, 3, 8}) {
    while (static_cast<int>(servers.size()) < target) {
      servers.insert(StartServer());
    }
    ASSERT_TRUE(WaitForReady(channel, servers)) << target << " servers";
    FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI());
    ASSERT_TRUE(result.status().ok()) << result.status();
    ASSERT_EQ(result.outcomes().size(), servers.size());
    absl::StatusOr<std::map<std::string, Ping>> by_server = result.Map();
    ASSERT_TRUE(by_server.ok());
    std::set<std::string> keys;
    for (const auto& [address, response] : *by_server) {
      keys.insert(address);
      EXPECT_EQ(response.text(), address);  // Each server answered itself.
    }
    EXPECT_EQ(keys, servers);
    absl::StatusOr<std::vector<Ping>> vector = result.Vector();
    ASSERT_TRUE(vector.ok());
    EXPECT_EQ(vector->size(), servers.size());
    EXPECT_EQ(vector->front().text(), *servers.begin());  // By address.
    absl::StatusOr<Ping> single = result.Single();
    ASSERT_TRUE(single.ok());
    EXPECT_EQ(single->text(), *servers.begin());
    absl::StatusOr<int> count =
        result.Reduce<int>([](const std::vector<ServerOutcome>& outcomes) {
          return static_cast<int>(outcomes.size());
        });
    EXPECT_EQ(*count, target);
  }
}

TEST_F(FanOutTest, ServersAreCalledInParallel) {
  const std::set<std::string> servers = {
      StartServer(0, 200), StartServer(0, 300), StartServer(0, 400)};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  const absl::Time start = absl::Now();
  FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI());
  const absl::Duration total = absl::Now() - start;
  ASSERT_TRUE(result.status().ok()) << result.status();
  absl::Duration sum = absl::ZeroDuration();
  absl::Duration slowest = absl::ZeroDuration();
  for (const ServerOutcome& outcome : result.outcomes()) {
    sum += outcome.latency;
    slowest = std::max(slowest, outcome.latency);
  }
  // The servers' own delays add up to 900 ms; in parallel the call takes
  // about the slowest one.
  EXPECT_LT(total, sum);
  EXPECT_GE(total, slowest);
  std::cout << "measured: fan-out to servers of 200/300/400 ms took " << total
            << " (sum of the sub-calls " << sum << ")" << std::endl;
}

TEST_F(FanOutTest, ErrorPoliciesAllAndAny) {
  const std::string good1 = StartServer();
  const std::string good2 = StartServer();
  const std::string bad = StartServer(/*fail=*/13);
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {good1, good2, bad}));

  FanOutOptions all;
  all.errors = FanOutErrors::kAll;
  FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI(), all);
  ASSERT_TRUE(result.status().ok()) << result.status();
  EXPECT_EQ(result.Vector()->size(), 2u);
  EXPECT_EQ(result.Map()->count(bad), 0u);

  FanOutOptions any;
  any.errors = FanOutErrors::kAny;
  result = FanOut<Ping>(channel, kEcho, WhoAmI(), any);
  ASSERT_FALSE(result.status().ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  absl::optional<absl::Cord> details =
      result.status().GetPayload(kFanOutDetailsUrl);
  ASSERT_TRUE(details.has_value());
  for (const std::string& server : {good1, good2, bad}) {
    EXPECT_TRUE(absl::StrContains(std::string(*details), server)) << server;
  }
  EXPECT_FALSE(result.Single().ok());

  // A custom policy: succeed when at least two servers answered.
  FanOutOptions quorum;
  quorum.error_policy = [](const std::vector<ServerOutcome>& outcomes) {
    int ok = 0;
    for (const ServerOutcome& outcome : outcomes) ok += outcome.status.ok();
    return ok >= 2 ? absl::OkStatus() : absl::UnavailableError("no quorum");
  };
  EXPECT_TRUE(FanOut<Ping>(channel, kEcho, WhoAmI(), quorum).status().ok());
}

TEST_F(FanOutTest, EveryServerFailingFailsBothPolicies) {
  // INTERNAL, not UNAVAILABLE: servers failing with UNAVAILABLE are set aside
  // by the channel (see cluster_channel.h), which would change the set.
  const std::set<std::string> servers = {StartServer(13), StartServer(13)};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  for (FanOutErrors errors : {FanOutErrors::kAll, FanOutErrors::kAny}) {
    FanOutOptions options;
    options.errors = errors;
    options.timeout = absl::Seconds(5);
    FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI(), options);
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal)
        << result.status();
  }
}

TEST_F(FanOutTest, ASlowServerCannotHoldTheCallPastItsDeadline) {
  const std::string fast1 = StartServer();
  const std::string fast2 = StartServer();
  const std::string slow = StartServer(0, /*delay_ms=*/3000);
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {fast1, fast2, slow}));
  FanOutOptions options;
  options.timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI(), options);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(result.status().ok()) << result.status();  // kAll: 2 answered.
  EXPECT_EQ(result.Map()->size(), 2u);
  for (const ServerOutcome& outcome : result.outcomes()) {
    if (outcome.address == slow) {
      EXPECT_EQ(outcome.status.error_code(),
                grpc::StatusCode::DEADLINE_EXCEEDED);
    }
  }
  EXPECT_LT(took, absl::Seconds(3));  // Not the slow server's 3 s.
}

TEST_F(FanOutTest, UnavailableValueStandsInForNoServer) {
  const std::string server = StartServer();
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {server}));
  FanOutResult<Ping> failed = FanOut<Ping>(channel, kOther, WhoAmI());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(absl::StrContains(failed.status().message(),
                                "slacker.testing.OtherEchoService"))
      << failed.status();
  FanOutOptions options;
  options.unavailable_value = R"({"text": "nobody"})";
  FanOutResult<Ping> result = FanOut<Ping>(channel, kOther, WhoAmI(), options);
  ASSERT_TRUE(result.status().ok()) << result.status();
  EXPECT_TRUE(result.unavailable());
  EXPECT_EQ(result.Single()->text(), "nobody");
}

TEST_F(FanOutTest, AFunctionChoosesTheServers) {
  static const absl::Status registered = RegisterGroupingFunction(
      "fan_out_test_first_two",
      [](const CallInfo&, const std::vector<Candidate>& candidates)
          -> absl::StatusOr<std::vector<size_t>> {
        return std::vector<size_t>{1, 0, 1};  // Duplicates too.
      });
  ASSERT_TRUE(registered.ok()) << registered;
  const std::set<std::string> servers = {StartServer(), StartServer(),
                                         StartServer()};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  FanOutOptions options;
  options.servers = "fan_out_test_first_two";
  FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI(), options);
  ASSERT_TRUE(result.status().ok()) << result.status();
  ASSERT_EQ(result.outcomes().size(), 2u);
  auto it = servers.begin();
  EXPECT_EQ(result.outcomes()[0].address, *it++);
  EXPECT_EQ(result.outcomes()[1].address, *it);
  options.servers = "no_such_function";
  EXPECT_EQ(FanOut<Ping>(channel, kEcho, WhoAmI(), options).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FanOutTest, OptionsPerCallBeatPerMethodBeatPerChannel) {
  const std::string good = StartServer();
  const std::string bad = StartServer(/*fail=*/13);
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {good, bad}));
  FanOutOptions any;
  any.errors = FanOutErrors::kAny;
  FanOutOptions all;
  all.errors = FanOutErrors::kAll;
  SetFanOutOptions(channel, any);
  EXPECT_FALSE(FanOut<Ping>(channel, kEcho, WhoAmI()).status().ok());
  SetFanOutOptions(channel, kEcho, all);
  EXPECT_TRUE(FanOut<Ping>(channel, kEcho, WhoAmI()).status().ok());
  EXPECT_FALSE(FanOut<Ping>(channel, kEcho, WhoAmI(), any).status().ok());
}

TEST_F(FanOutTest, HooksSeeAndRewriteTheOutcomes) {
  const std::set<std::string> servers = {StartServer(), StartServer()};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  FanOutOptions options;
  options.before_merge = [](std::vector<ServerOutcome>& outcomes) {
    for (ServerOutcome& outcome : outcomes) {
      static_cast<Ping*>(outcome.response)->set_sequence(42);
    }
  };
  int after_calls = 0;
  options.after_merge = [&](const absl::Status& status,
                            const std::vector<ServerOutcome>& outcomes) {
    ++after_calls;
    EXPECT_TRUE(status.ok());
    EXPECT_EQ(outcomes.size(), 2u);
  };
  FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI(), options);
  ASSERT_TRUE(result.status().ok());
  absl::StatusOr<std::vector<Ping>> pings = result.Vector();
  ASSERT_TRUE(pings.ok());
  for (const Ping& ping : *pings) EXPECT_EQ(ping.sequence(), 42);
  EXPECT_EQ(after_calls, 1);
}

TEST_F(FanOutTest, MembershipChangesDuringAStreamOfFanOuts) {
  std::set<std::string> initial = {StartServer(), StartServer()};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, initial));
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0};
  std::mutex mu;
  std::vector<std::string> problems;
  std::thread caller([&] {
    while (!stop.load()) {
      FanOutResult<Ping> result = FanOut<Ping>(channel, kEcho, WhoAmI());
      ++calls;
      std::set<std::string> seen;
      for (const ServerOutcome& outcome : result.outcomes()) {
        if (!seen.insert(outcome.address).second) {
          std::lock_guard<std::mutex> lock(mu);
          problems.push_back("server called twice: " + outcome.address);
        }
        if (outcome.response != nullptr &&
            static_cast<Ping*>(outcome.response)->text() != outcome.address) {
          std::lock_guard<std::mutex> lock(mu);
          problems.push_back("answer from the wrong server");
        }
      }
    }
  });
  const std::string joined = StartServer();
  servers_[*initial.begin()]->Kill(SIGKILL);
  servers_[*initial.rbegin()]->Kill(SIGTERM);
  const std::string joined2 = StartServer();
  EXPECT_TRUE(Eventually([&] {
    std::vector<std::string> ready = ReadyServers(channel, kEchoNamespace);
    return std::set<std::string>(ready.begin(), ready.end()) ==
           std::set<std::string>{joined, joined2};
  }));
  const int before = calls.load();
  EXPECT_TRUE(Eventually([&] { return calls.load() > before + 5; }));
  stop = true;
  caller.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(problems.empty()) << problems.front();
  FanOutResult<Ping> last = FanOut<Ping>(channel, kEcho, WhoAmI());
  EXPECT_TRUE(last.status().ok());
  EXPECT_EQ(last.outcomes().size(), 2u);
}

TEST_F(FanOutTest, AsyncFormAndCancel) {
  const std::string fast = StartServer();
  const std::string slow = StartServer(0, /*delay_ms=*/5000);
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, {fast, slow}));
  std::mutex mu;
  std::condition_variable done_cv;
  std::optional<FanOutResult<Ping>> done;
  std::shared_ptr<FanOutCall> call = FanOutAsync<Ping>(
      channel, kEcho, WhoAmI(), [&](FanOutResult<Ping> result) {
        std::lock_guard<std::mutex> lock(mu);
        done = std::move(result);
        done_cv.notify_all();
      });
  absl::SleepFor(absl::Milliseconds(200));
  call->Cancel();
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(done_cv.wait_for(lock, std::chrono::seconds(4),
                               [&] { return done.has_value(); }));
  ASSERT_TRUE(done->status().ok()) << done->status();  // kAll: fast answered.
  for (const ServerOutcome& outcome : done->outcomes()) {
    if (outcome.address == slow) {
      EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::CANCELLED);
    } else {
      EXPECT_TRUE(outcome.status.ok());
    }
  }
}

// Call credentials that add "x-credential: secret" (allowed on the tests'
// insecure channels).
std::shared_ptr<grpc::CallCredentials> Token() {
  class Plugin : public grpc::MetadataCredentialsPlugin {
   public:
    bool IsBlocking() const override { return false; }
    grpc::Status GetMetadata(
        grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
        std::multimap<grpc::string, grpc::string>* metadata) override {
      metadata->insert({"x-credential", "secret"});
      return grpc::Status::OK;
    }
  };
  return grpc::experimental::MetadataCredentialsFromPlugin(
      std::make_unique<Plugin>(), GRPC_SECURITY_NONE);
}

// Every server saw `value` for the key the request asked about, and a
// deadline about `deadline_ms` away (testing/programs/cluster_server's
// "context:KEY" answer): gRPC sends the deadline as a timeout rounded up, so
// a server may see a few milliseconds more; the tests' deadlines are far from
// the 10 s default timeout.
void ExpectEveryServerSaw(const std::vector<ServerOutcome>& outcomes,
                          const std::set<std::string>& servers,
                          const std::string& value, int deadline_ms) {
  std::set<std::string> seen;
  for (const ServerOutcome& outcome : outcomes) {
    ASSERT_TRUE(outcome.status.ok())
        << outcome.address << ": " << outcome.status.error_message();
    ASSERT_NE(outcome.response, nullptr);
    const Ping& ping = *static_cast<const Ping*>(outcome.response);
    EXPECT_EQ(ping.text(), outcome.address + "|" + value);
    EXPECT_GT(ping.sequence(), 0) << outcome.address;
    EXPECT_LE(ping.sequence(), deadline_ms + 500) << outcome.address;
    seen.insert(outcome.address);
  }
  EXPECT_EQ(seen, servers);
}

TEST_F(FanOutTest, TheCallersContextReachesEveryServer) {
  const std::set<std::string> servers = {StartServer(), StartServer(),
                                         StartServer()};
  auto channel = Channel();
  ASSERT_TRUE(WaitForReady(channel, servers));
  // 3 s: well below the options' default timeout of 10 s.
  auto prepare = [](grpc::ClientContext* context) {
    context->AddMetadata("x-fan-out-test", "hello");
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(3));
    context->set_credentials(Token());
  };
  for (const std::string key : {"x-fan-out-test", "x-credential"}) {
    const std::string value = key == "x-credential" ? "secret" : "hello";
    Ping request;
    request.set_text("context:" + key);
    {  // FanOut.
      grpc::ClientContext context;
      prepare(&context);
      FanOutResult<Ping> result =
          FanOut<Ping>(channel, &context, kEcho, request);
      ASSERT_TRUE(result.status().ok()) << result.status();
      ExpectEveryServerSaw(result.outcomes(), servers, value, 3000);
    }
    {  // FanOutAsync.
      grpc::ClientContext context;
      prepare(&context);
      std::mutex mu;
      std::condition_variable done_cv;
      std::optional<FanOutResult<Ping>> done;
      FanOutAsync<Ping>(channel, &context, kEcho, request,
                        [&](FanOutResult<Ping> result) {
                          std::lock_guard<std::mutex> lock(mu);
                          done = std::move(result);
                          done_cv.notify_all();
                        });
      std::unique_lock<std::mutex> lock(mu);
      done_cv.wait(lock, [&] { return done.has_value(); });
      ASSERT_TRUE(done->status().ok()) << done->status();
      ExpectEveryServerSaw(done->outcomes(), servers, value, 3000);
    }
    {  // A generated stub with grouping `all`: the same path.
      grpc::ClientContext context;
      prepare(&context);
      SetGrouping(&context, "all");
      CallResults<Ping> results(&context);
      Ping reply;
      grpc::Status status =
          slacker::testing::EchoService::NewStub(channel)->Echo(
              &context, request, &reply);
      ASSERT_TRUE(status.ok()) << status.error_message();
      ExpectEveryServerSaw(results.outcomes(), servers, value, 3000);
    }
  }
  {  // A context without a deadline gets the options' timeout.
    grpc::ClientContext context;
    context.AddMetadata("x-fan-out-test", "again");
    FanOutOptions options;
    options.timeout = absl::Seconds(2);
    Ping request;
    request.set_text("context:x-fan-out-test");
    FanOutResult<Ping> result =
        FanOut<Ping>(channel, &context, kEcho, request, options);
    ASSERT_TRUE(result.status().ok()) << result.status();
    ExpectEveryServerSaw(result.outcomes(), servers, "again", 2000);
  }
  {  // A grouping of the context's own: an error that says what to do.
    grpc::ClientContext context;
    SetGrouping(&context, "random");
    FanOutResult<Ping> result =
        FanOut<Ping>(channel, &context, kEcho, WhoAmI());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(result.status().message(), "SetGrouping"))
        << result.status();
  }
}

TEST_F(FanOutTest, BadInputIsAClearError) {
  auto plain =
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  FanOutOptions options;
  options.timeout = absl::Milliseconds(300);
  EXPECT_FALSE(FanOut<Ping>(plain, kEcho, WhoAmI(), options).status().ok());
  auto channel = Channel();
  EXPECT_EQ(FanOut<Ping>(channel, "NoSlash", WhoAmI()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
