// The trust rules (discovery/cluster_rules.h) against a real ZooKeeper, real
// cluster servers in child processes (testing/programs:cluster_server) and a
// foreign ZooKeeper session writing poisoned registry data:
//   - deeply nested JSON in a servers/ node (issue 17, fault 2) stalls no
//     channel and is refused at once by a server;
//   - foreign children of _leader (fault 3) do not move leader calls off the
//     real leader;
//   - publishers without a servers/ node of their own session (fault 4) are
//     never routed to; slackerctl marks them ignored, with the reason.
// Assertions are on routing and counts, never on absolute times.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json_bounds.h"
#include "discovery/cluster_rules.h"
#include "discovery/leader_election.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_channel.h"
#include "framework/cluster_server.h"
#include "framework/internal/cluster_view.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/run_command.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");
ABSL_FLAG(std::string, slackerctl, "", "path of tools/slackerctl");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::EchoService;
using ::slacker::testing::Ping;

constexpr char kCluster[] = "test";
constexpr char kEcho[] = "slacker.testing.EchoService";
// The issue's payload: arrays nested 30,000 deep, 60 KB.
constexpr int kDeep = 30000;

discovery::RegistryLayout Layout(const std::string& cluster = kCluster) {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, cluster);
}

std::string Nested(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

double ThreadCpuMs() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return now.tv_sec * 1e3 + now.tv_nsec / 1e6;
}

using CtlRun = slacker::testing::CommandRun;

class RegistryTrustTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    ASSERT_TRUE(InitClusterChannels().ok());
    foreign_ = ConnectClient();
    ASSERT_NE(foreign_, nullptr);
  }
  void TearDown() override {
    servers_.clear();
    foreign_.reset();
    ZooKeeperTest::TearDown();
  }

  // A ZooKeeper session of its own: the foreign writer.
  std::unique_ptr<discovery::ZooKeeperClient> ConnectClient() {
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    auto client = discovery::ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Starts a server of `cluster`; returns its address once it is published.
  std::string StartServer(const std::string& cluster = kCluster) {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        "--cluster=" + cluster, "--session_timeout_ms=2000", "--drain_ms=200",
        "--services=echo"});
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }

  std::unique_ptr<EchoService::Stub> Stub() {
    ClusterChannelOptions options;
    options.session_timeout = absl::Seconds(2);
    auto channel = CreateClusterChannel(ConnectString(), kCluster, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return EchoService::NewStub(*channel);
  }

  static std::string WhoAmI(EchoService::Stub& stub,
                            const std::string& grouping) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    SetGrouping(&context, grouping);
    Ping request;
    request.set_text("whoami");
    Ping response;
    return stub.Echo(&context, request, &response).ok() ? response.text() : "";
  }

  static std::map<std::string, int> Count(EchoService::Stub& stub,
                                          const std::string& grouping,
                                          int calls) {
    std::map<std::string, int> counts;
    for (int i = 0; i < calls; ++i) ++counts[WhoAmI(stub, grouping)];
    return counts;
  }

  // Waits until round-robin calls reach exactly `expected`.
  bool WaitForServers(EchoService::Stub& stub,
                      const std::map<std::string, int>::size_type size,
                      const std::vector<std::string>& expected) {
    return Eventually([&] {
      std::map<std::string, int> seen =
          Count(stub, "round_robin", 20 * static_cast<int>(size));
      if (seen.size() != expected.size()) return false;
      for (const std::string& server : expected) {
        if (seen.count(server) == 0) return false;
      }
      return true;
    });
  }

  CtlRun Ctl(const std::string& args) {
    const std::string command =
        absl::StrCat(absl::GetFlag(FLAGS_slackerctl), " --zk=", ConnectString(),
                     " --cluster=", kCluster, " ", args);
    return slacker::testing::RunCommand(command);
  }

  std::unique_ptr<discovery::ZooKeeperClient> foreign_;
  std::map<std::string, std::unique_ptr<Child>> servers_;
};

TEST_F(RegistryTrustTest, DeeplyNestedServerDataStallsNoChannel) {
  // What one node costs a channel: the bound refuses it before parsing.
  const std::string poison = absl::StrCat(
      R"({"address":"127.0.0.1:1","serverData":)", Nested(kDeep), "}");
  internal::ClusterServer parsed;
  const double before = ThreadCpuMs();
  const absl::Status refused = internal::ParseServerInfo(poison, &parsed);
  const double spent = ThreadCpuMs() - before;
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(refused.message(), "nests")) << refused;
  std::cout << "measured: " << spent << " ms of CPU to refuse a "
            << poison.size() << "-byte ServerInfo nested " << kDeep << " deep"
            << std::endl;

  // The dearest node a channel does parse: as many items as the bounds
  // allow, in arrays as deep as they allow.
  const int inner = discovery::kServerInfoBounds.max_depth - 1;
  const std::string unit =
      std::string(inner - 1, '[') + "1" + std::string(inner - 1, ']');
  std::string largest = R"({"address":"127.0.0.1:1","serverData":[)";
  while (internal::JsonItems(largest) + inner + 2 <
         discovery::kServerInfoBounds.max_items) {
    if (largest.back() != '[') largest += ',';
    largest += unit;
  }
  largest += "]}";
  const double parse_before = ThreadCpuMs();
  const absl::Status accepted = internal::ParseServerInfo(largest, &parsed);
  const double parse_spent = ThreadCpuMs() - parse_before;
  EXPECT_TRUE(accepted.ok()) << accepted;
  std::cout << "measured: " << parse_spent << " ms of CPU to parse a "
            << largest.size() << "-byte ServerInfo of "
            << internal::JsonItems(largest) << " items nested " << inner + 1
            << " deep (the bounds' worst case)" << std::endl;

  const std::string a = StartServer();
  auto running = Stub();
  ASSERT_TRUE(WaitForServers(*running, 1, {a}));
  // A foreign session overwrites a's server node, and publishes a node of
  // its own with the same payload.
  ASSERT_TRUE(foreign_->Set(Layout().ServerPath(a), poison).ok());
  ASSERT_TRUE(foreign_
                  ->Create(Layout().ServerPath("127.0.0.1:1"), poison,
                           discovery::CreateMode::kEphemeral)
                  .ok());
  ASSERT_TRUE(foreign_
                  ->Create(Layout().MemberPath(kEcho, "127.0.0.1:1"), "",
                           discovery::CreateMode::kEphemeral)
                  .ok());
  // A server that joins now is applied by the running channel, and found by
  // a fresh one; a (whose data is skipped) keeps its calls.
  const std::string b = StartServer();
  EXPECT_TRUE(
      Eventually([&] { return Count(*running, "round_robin", 40)[b] > 0; }));
  auto fresh = Stub();
  EXPECT_TRUE(Eventually([&] {
    std::map<std::string, int> seen = Count(*fresh, "round_robin", 40);
    return seen[a] > 0 && seen[b] > 0;
  }));
  // slackerctl still lists the cluster and calls it.
  CtlRun ls = Ctl("ls --json");
  EXPECT_EQ(ls.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(ls.out, b)) << ls.out;
  CtlRun call = Ctl(absl::StrCat("call ", kEcho, R"(/Echo '{"text":"x"}')",
                                 " --grouping=", b));
  EXPECT_EQ(call.exit_code, 0) << call.out;

  // A server refuses such data at once, saying what is wrong: before it
  // binds a port or touches ZooKeeper.
  slacker::ClusterOptions options;
  options.zookeeper = ConnectString();
  options.cluster = kCluster;
  options.server_data = Nested(discovery::kServerDataBounds.max_depth + 1);
  auto server = ClusterServerBuilder(options).BuildAndStart();
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(server.status().message(), "server data nests"))
      << server.status();
}

TEST_F(RegistryTrustTest, ForeignLeaderChildrenDoNotMoveLeaderCalls) {
  // Sequences of _leader's children start above 1: a foreign candidate
  // numbered 1 is then the lowest by name.
  const std::string election = Layout().LeaderPath(kEcho);
  ASSERT_TRUE(foreign_
                  ->Create(election, "", discovery::CreateMode::kPersistent,
                           /*create_parents=*/true)
                  .ok());
  for (int i = 0; i < 3; ++i) {
    auto made = foreign_->Create(election + "/bump-", "",
                                 discovery::CreateMode::kPersistentSequential);
    ASSERT_TRUE(made.ok()) << made.status();
    ASSERT_TRUE(foreign_->Delete(*made).ok());
  }
  const std::string a = StartServer();
  const std::string b = StartServer();
  auto running = Stub();
  ASSERT_TRUE(WaitForServers(*running, 2, {a, b}));
  auto leader = discovery::LeaderElection::CurrentLeader(*foreign_, election);
  ASSERT_TRUE(leader.ok()) << leader.status();
  const std::string real = *leader;
  const std::string other = real == a ? b : a;
  ASSERT_TRUE(
      Eventually([&] { return Count(*running, "leader", 10)[real] == 10; }));

  // A child that is no candidate, and a candidate of a foreign session that
  // names the other server.
  ASSERT_TRUE(foreign_
                  ->Create(election + "/evil0000000000", real,
                           discovery::CreateMode::kEphemeral)
                  .ok());
  const std::string bogus =
      "_c_0f8e3c1a-94b2-4d6e-8a7b-123456789abc-latch-0000000001";
  ASSERT_TRUE(foreign_
                  ->Create(election + "/" + bogus, other,
                           discovery::CreateMode::kEphemeral)
                  .ok());
  // By name alone, the bogus candidate would lead now.
  ASSERT_EQ(discovery::LeaderElection::CurrentLeader(*foreign_, election)
                .value_or(""),
            other);
  // Both channels keep sending leader calls to the real leader: once the
  // running one has certainly seen the nodes (a later join is applied),
  // every leader call still goes there.
  const std::string c = StartServer();
  ASSERT_TRUE(WaitForServers(*running, 3, {a, b, c}));
  EXPECT_EQ(Count(*running, "leader", 50)[real], 50);
  auto fresh = Stub();
  ASSERT_TRUE(WaitForServers(*fresh, 3, {a, b, c}));
  EXPECT_EQ(Count(*fresh, "leader", 50)[real], 50);
  // slackerctl shows that leader, and why the others are ignored.
  CtlRun ls = Ctl("ls --json");
  ASSERT_EQ(ls.exit_code, 0);
  EXPECT_TRUE(
      absl::StrContains(ls.out, absl::StrCat("\"leader\":\"", real, "\"")))
      << ls.out;
  EXPECT_TRUE(absl::StrContains(
      ls.out, "_leader/evil0000000000\",\"reason\":\"not named _c_<uuid>"))
      << ls.out;
  EXPECT_TRUE(absl::StrContains(
      ls.out, absl::StrCat("_leader/", bogus, "\",\"reason\":\"its session ")))
      << ls.out;
  CtlRun call = Ctl(absl::StrCat(
      "call ", kEcho, R"(/Echo '{"text":"whoami"}' --grouping=leader)"));
  EXPECT_EQ(call.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(call.out, real)) << call.out;
}

TEST_F(RegistryTrustTest, UntrustedPublishersAreNeverRoutedTo) {
  const std::string a = StartServer();
  // A server of another cluster, which a fake publisher points at.
  const std::string stranger = StartServer("other");
  auto running = Stub();
  ASSERT_TRUE(WaitForServers(*running, 1, {a}));
  std::unique_ptr<discovery::ZooKeeperClient> second = ConnectClient();
  ASSERT_NE(second, nullptr);
  const discovery::RegistryLayout layout = Layout();
  // A member with no servers/ node, a member whose servers/ node is another
  // session's, a dead member, names that are no address, and many bogus ones.
  ASSERT_TRUE(foreign_
                  ->Create(layout.MemberPath(kEcho, stranger), "",
                           discovery::CreateMode::kEphemeral)
                  .ok());
  ASSERT_TRUE(second
                  ->Create(layout.ServerPath(stranger), "{}",
                           discovery::CreateMode::kEphemeral)
                  .ok());
  for (const std::string name : {"127.0.0.1:1", "127.0.0.1:0"}) {
    ASSERT_TRUE(foreign_
                    ->Create(layout.MemberPath(kEcho, name), "",
                             discovery::CreateMode::kEphemeral)
                    .ok());
  }
  ASSERT_TRUE(foreign_
                  ->Create(layout.MemberPath(kEcho, "not-a-host"), "",
                           discovery::CreateMode::kPersistent)
                  .ok());
  constexpr int kBogus = 2000;
  for (int start = 0; start < kBogus; start += 500) {
    std::vector<discovery::Op> ops;
    for (int i = start; i < start + 500; ++i) {
      ops.push_back(discovery::Op::Create(
          layout.MemberPath(kEcho, absl::StrCat("bogus", i)), "",
          discovery::CreateMode::kEphemeral));
    }
    ASSERT_TRUE(foreign_->Multi(ops).ok());
  }
  // slackerctl watch reports them as ignored, never as joined.
  std::mutex mu;
  std::vector<std::string> lines;
  Child watch({absl::GetFlag(FLAGS_slackerctl), "--zk=" + ConnectString(),
               absl::StrCat("--cluster=", kCluster), "watch"},
              [&](std::string line) {
                std::lock_guard<std::mutex> lock(mu);
                lines.push_back(std::move(line));
              });
  auto seen = [&](const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& line : lines) {
      if (absl::StrContains(line, text)) return true;
    }
    return false;
  };
  // Once a later join is applied, every untrusted node has been seen.
  const std::string b = StartServer();
  ASSERT_TRUE(WaitForServers(*running, 2, {a, b}));
  std::map<std::string, int> calls = Count(*running, "round_robin", 200);
  EXPECT_EQ(calls[a] + calls[b], 200);
  EXPECT_EQ(calls[stranger], 0);
  auto fresh = Stub();
  ASSERT_TRUE(WaitForServers(*fresh, 2, {a, b}));
  calls = Count(*fresh, "random", 200);
  EXPECT_EQ(calls[a] + calls[b], 200);

  EXPECT_TRUE(Eventually([&] { return seen(absl::StrCat("joined ", b)); }));
  EXPECT_TRUE(Eventually([&] {
    return seen("/127.0.0.1:1: no servers/ node of that address exists");
  }));
  EXPECT_TRUE(seen("/not-a-host: its name is not host:port"));
  EXPECT_TRUE(seen(
      absl::StrCat("/", stranger, ": its servers/ node belongs to session")));
  EXPECT_FALSE(seen("joined 127.0.0.1:1"));
  EXPECT_FALSE(seen(absl::StrCat("joined ", stranger)));
  const int status = watch.Kill(SIGINT);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  // ls: what the channel uses, and every ignored node with its reason.
  CtlRun ls = Ctl("ls --json");
  ASSERT_EQ(ls.exit_code, 0);
  const std::string used = a < b ? absl::StrCat("\"", a, "\",\"", b, "\"")
                                 : absl::StrCat("\"", b, "\",\"", a, "\"");
  EXPECT_TRUE(
      absl::StrContains(ls.out, absl::StrCat("\"servers\":[", used, "]")))
      << ls.out.substr(0, 2000);
  for (const std::string& name :
       {std::string("not-a-host"), std::string("127.0.0.1:0"),
        std::string("127.0.0.1:1"), stranger, std::string("bogus1999")}) {
    EXPECT_TRUE(absl::StrContains(
        ls.out, absl::StrCat("{\"name\":\"", name, "\",\"reason\":\"")))
        << name;
  }
  CtlRun text = Ctl("ls");
  ASSERT_EQ(text.exit_code, 0);
  const std::vector<std::string> text_lines = absl::StrSplit(text.out, '\n');
  EXPECT_LT(text_lines.size(), 60u) << text.out;
  EXPECT_TRUE(absl::StrContains(
      text.out, "ignored 127.0.0.1:0: its name is not host:port"))
      << text.out;
  EXPECT_TRUE(absl::StrContains(text.out, "more (ls --json lists them)"))
      << text.out;
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
