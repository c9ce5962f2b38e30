// Cluster channels over the announcement formats of JVM shops
// (ClusterChannelOptions::announcement): a C++ channel calls gRPC servers in
// child processes (testing/programs:cluster_server) that are announced only
// as Curator service instances or only as ServerSet members, in a real
// ZooKeeper, under a steady stream of calls from a few caller threads.
//
// - Curator: our cluster servers with ClusterOptions::curator; plain gRPC
//   servers registered by real JVM processes through Curator's
//   ServiceDiscovery (Debian's Curator 5.4 jars; the registrar
//   tests/curator/CuratorRegister.java is compiled here) and by the test as
//   the JVM writes them. A kill -9 of one server: 0 failed calls with the
//   default retry policy. Instances the channel must not use (malformed, or
//   announcing only an sslPort) get no call.
// - ServerSets: members written by the test in ServerSet's JSON, one
//   ZooKeeper session per member as each ServerSet process holds its own;
//   the same kill -9; malformed and non-ALIVE members get no call.
// - The channel's view through a ZooKeeper restart and through the expiry of
//   its own session (a partition longer than the session): it keeps calling
//   what it knew and then follows the members as they are now.
// The tests count calls and wait for conditions; they assert no times.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <iostream>
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
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"
#include "framework/call_results.h"
#include "framework/cluster_channel.h"
#include "framework/fan_out.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");
ABSL_FLAG(std::string, curator_register_source, "",
          "path of tests/curator/CuratorRegister.java");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::EchoService;
using ::slacker::testing::Ping;

constexpr int kCallers = 4;
constexpr absl::Duration kDeadline = absl::Seconds(2);

// What the caller threads saw.
struct Tally {
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<grpc::Status> failures;      // Guarded by mu.
  std::map<std::string, int> answered_by;  // Guarded by mu.

  int Answered(const std::string& address) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = answered_by.find(address);
    return it == answered_by.end() ? 0 : it->second;
  }
  void Reset() {
    std::lock_guard<std::mutex> lock(mu);
    failures.clear();
    answered_by.clear();
  }
};

// Each caller makes one call after the other until stopped; joined by the
// destructor.
class Callers {
 public:
  Callers(EchoService::Stub* stub, Tally* tally) {
    for (int t = 0; t < kCallers; ++t) {
      threads_.emplace_back([this, stub, tally] {
        while (!stop_.load()) {
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
          Ping request;
          request.set_text("whoami");
          Ping response;
          grpc::Status status = stub->Echo(&context, request, &response);
          std::lock_guard<std::mutex> lock(tally->mu);
          if (status.ok()) {
            tally->ok.fetch_add(1);
            ++tally->answered_by[response.text()];
          } else {
            tally->failures.push_back(status);
          }
        }
      });
    }
  }
  ~Callers() { Stop(); }
  void Stop() {
    stop_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

std::string Port(const std::string& address) {
  return address.substr(address.rfind(':') + 1);
}

// A member's JSON as ServerSetImpl (Twitter commons, Aurora) writes it.
std::string ServerSetJson(const std::string& address,
                          const std::string& status = "ALIVE") {
  return absl::StrCat(R"({"serviceEndpoint":{"host":"127.0.0.1","port":)",
                      Port(address),
                      R"(},"additionalEndpoints":{"admin":{"host":"127.0.0.1",)"
                      R"("port":1}},"status":")",
                      status, R"(","shard":0})");
}

// An instance's JSON as Curator 5.4's JsonInstanceSerializer writes a
// ServiceInstance<Map> (the field order and the payload's type id included).
std::string CuratorJson(const std::string& id, const std::string& address,
                        bool ssl_only = false) {
  const std::string port = Port(address);
  return absl::StrCat(
      R"({"name":"api","id":")", id, R"(","address":"127.0.0.1","port":)",
      ssl_only ? "null" : port, R"(,"sslPort":)", ssl_only ? port : "null",
      R"(,"payload":{"@class":"java.util.HashMap","zone":"test"},)"
      R"("registrationTimeUTC":1764633600000,"serviceType":"DYNAMIC",)"
      R"("uriSpec":null})");
}

class ForeignChannelTest : public slacker::testing::ZooKeeperTest {
 protected:
  // A 500 ms tick lets sessions of 1 s to 10 s.
  slacker::testing::ZooKeeperClusterOptions ClusterOptions() const override {
    slacker::testing::ZooKeeperClusterOptions options;
    options.tick_time = absl::Milliseconds(500);
    return options;
  }

  void TearDown() override {
    jvms_.clear();
    servers_.clear();
    sessions_.clear();
    ZooKeeperTest::TearDown();
  }

  // A server in a child process; its address, "" on failure.
  std::string StartServer(std::vector<std::string> flags) {
    std::vector<std::string> args = {absl::GetFlag(FLAGS_server_program),
                                     "--drain_ms=200", "--delay_ms=20"};
    args.insert(args.end(), flags.begin(), flags.end());
    auto child = std::make_unique<Child>(args);
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }
  std::string StartPlainServer() { return StartServer({"--plain"}); }

  // A ZooKeeper session of the test's own (one per announced member, as
  // each ServerSet process holds its own).
  discovery::ZooKeeperClient* NewSession(
      absl::Duration timeout = absl::Seconds(10)) {
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = timeout;
    auto client = discovery::ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    sessions_.push_back(std::move(*client));
    return sessions_.back().get();
  }

  // Writes `data` as a ServerSet member under `path`, in a session of its
  // own (returned).
  discovery::ZooKeeperClient* AddMember(const std::string& path,
                                        const std::string& data) {
    discovery::ZooKeeperClient* session = NewSession();
    if (session == nullptr) return nullptr;
    absl::StatusOr<std::string> created = session->Create(
        path + "/member_", data, discovery::CreateMode::kEphemeralSequential,
        /*create_parents=*/true);
    EXPECT_TRUE(created.ok()) << created.status();
    return session;
  }

  // Compiles the JVM registrar once per test.
  std::string JvmClassPath() {
    if (!classes_.empty()) return classes_;
    std::string jars;
    for (const char* jar :
         {"curator-x-discovery", "curator-framework", "curator-client",
          "zookeeper", "zookeeper-jute", "guava", "jackson-databind",
          "jackson-core", "jackson-annotations", "slf4j-api", "slf4j-nop"}) {
      absl::StrAppend(&jars, "/usr/share/java/", jar, ".jar:");
    }
    const char* tmp = getenv("TEST_TMPDIR");
    const std::string classes =
        absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/jvm_classes");
    Child javac({"/usr/bin/javac", "-d", classes, "-cp", jars,
                 absl::GetFlag(FLAGS_curator_register_source)});
    const int status = javac.Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "javac of CuratorRegister.java failed: is default-jdk-headless "
           "installed (tools/setup.sh)?";
    classes_ = absl::StrCat(classes, ":", jars);
    return classes_;
  }

  // A JVM registering `address` as an instance of Curator service "api"
  // under /services, with a 2 s session; its instance id.
  std::string RegisterFromJvm(const std::string& address) {
    auto jvm = std::make_unique<Child>(std::vector<std::string>{
        "/usr/bin/java", "-cp", JvmClassPath(), "CuratorRegister",
        ConnectString(), "/services", "api", "127.0.0.1", Port(address),
        "2000"});
    std::optional<std::string> id =
        jvm->WaitForLine("registered ", absl::Seconds(60));
    EXPECT_TRUE(id.has_value()) << "the JVM did not register " << address;
    jvms_[address] = std::move(jvm);
    return id.value_or("");
  }

  std::unique_ptr<EchoService::Stub> Stub(
      const std::string& zookeeper, const std::string& cluster,
      const ClusterChannelOptions& options) {
    auto channel = CreateClusterChannel(zookeeper, cluster, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? EchoService::NewStub(*channel) : nullptr;
  }

  // Under the callers' stream, once every one of `servers` has answered:
  // kill -9 of `victim` (then `after_kill`, e.g. ending its announcement),
  // and 600 more calls answered (past the 2 s sessions of the
  // announcements a killed process leaves). Returns the calls that failed after
  // the kill; the servers that answered are in tally.answered_by.
  int KillOneUnderLoad(EchoService::Stub* stub,
                       const std::vector<std::string>& servers,
                       const std::string& victim, Tally& tally,
                       const std::function<void()>& after_kill = {}) {
    Callers callers(stub, &tally);
    EXPECT_TRUE(Eventually([&] {
      for (const std::string& server : servers) {
        if (tally.Answered(server) == 0) return false;
      }
      return true;
    })) << "not every announced server answered";
    {
      std::lock_guard<std::mutex> lock(tally.mu);
      tally.failures.clear();
    }
    servers_[victim]->Kill(SIGKILL);
    if (after_kill) after_kill();
    const int before = tally.ok.load();
    EXPECT_TRUE(Eventually([&] { return tally.ok.load() > before + 600; }));
    callers.Stop();
    std::lock_guard<std::mutex> lock(tally.mu);
    for (const grpc::Status& failure : tally.failures) {
      ADD_FAILURE() << "failed call: " << failure.error_code() << " "
                    << failure.error_message();
    }
    std::cout << "measured: kill -9 of " << victim << ": "
              << tally.failures.size() << " failed of "
              << tally.ok.load() - before + tally.failures.size()
              << " calls after the kill" << std::endl;
    return static_cast<int>(tally.failures.size());
  }

  std::map<std::string, std::unique_ptr<Child>> servers_;
  std::map<std::string, std::unique_ptr<Child>> jvms_;
  std::vector<std::unique_ptr<discovery::ZooKeeperClient>> sessions_;
  std::string classes_;
};

ClusterChannelOptions CuratorOptions() {
  ClusterChannelOptions options;
  options.announcement = ClusterChannelOptions::Announcement::kCurator;
  options.root = "/services";
  return options;
}

ClusterChannelOptions ServerSetOptions() {
  ClusterChannelOptions options;
  options.announcement = ClusterChannelOptions::Announcement::kServerSet;
  options.root = "/aurora/www-data/prod";
  return options;
}

TEST_F(ForeignChannelTest, OurServersRegisteredOnlyForCuratorSurviveAKill) {
  std::vector<std::string> servers;
  for (int i = 0; i < 3; ++i) {
    // Their Slacker layout is under another root, which the channel does not
    // read: it finds them by their Curator instances only.
    servers.push_back(StartServer(
        {"--zookeeper=" + ConnectString(), "--cluster=elsewhere",
         "--root=/not/read", "--session_timeout_ms=2000",
         "--curator_service=api", "--curator_base_path=/services"}));
  }
  ClusterChannelOptions options = CuratorOptions();
  options.announced_services = {"slacker.testing.EchoService"};
  auto stub = Stub(ConnectString(), "api", options);
  ASSERT_NE(stub, nullptr);
  Tally tally;
  EXPECT_EQ(KillOneUnderLoad(stub.get(), servers, servers[2], tally), 0);
}

TEST_F(ForeignChannelTest, JvmRegisteredInstancesSurviveAKill) {
  const std::string jvm_a = StartPlainServer();
  const std::string jvm_b = StartPlainServer();
  const std::string written = StartPlainServer();
  const std::string ssl_only = StartPlainServer();
  RegisterFromJvm(jvm_a);
  RegisterFromJvm(jvm_b);
  discovery::ZooKeeperClient* session = NewSession();
  ASSERT_NE(session, nullptr);
  // Written by the test as the JVM writes them; the last two must get no
  // call (only an sslPort, which the channel was not asked to use; not an
  // instance at all).
  ASSERT_TRUE(
      session
          ->Create("/services/api/6f1c1b2e-6c4d-4a43-9a0e-3f0b8e1d2c7a",
                   CuratorJson("6f1c1b2e-6c4d-4a43-9a0e-3f0b8e1d2c7a", written),
                   discovery::CreateMode::kEphemeral, true)
          .ok());
  ASSERT_TRUE(session
                  ->Create("/services/api/ssl-only",
                           CuratorJson("ssl-only", ssl_only, true),
                           discovery::CreateMode::kEphemeral)
                  .ok());
  ASSERT_TRUE(session
                  ->Create("/services/api/garbage", "{\"address\":[[[[",
                           discovery::CreateMode::kEphemeral)
                  .ok());
  auto stub = Stub(ConnectString(), "api", CuratorOptions());
  ASSERT_NE(stub, nullptr);
  Tally tally;
  // The JVM's process ends with its server, as a JVM service's would.
  EXPECT_EQ(KillOneUnderLoad(stub.get(), {jvm_a, jvm_b, written}, jvm_a, tally,
                             [&] { jvms_[jvm_a]->Kill(SIGKILL); }),
            0);
  EXPECT_EQ(tally.Answered(ssl_only), 0);
}

TEST_F(ForeignChannelTest, ServerSetMembersSurviveAKillAndBadMembersGetNoCall) {
  const std::string path = "/aurora/www-data/prod/api";
  std::vector<std::string> servers;
  std::map<std::string, discovery::ZooKeeperClient*> sessions;
  for (int i = 0; i < 3; ++i) {
    servers.push_back(StartPlainServer());
    sessions[servers.back()] = AddMember(path, ServerSetJson(servers.back()));
  }
  // A live server that must get no call (it is STARTING), and members that
  // are not valid announcements.
  const std::string starting = StartPlainServer();
  AddMember(path, ServerSetJson(starting, "STARTING"));
  AddMember(path, "not json at all");
  AddMember(path, std::string(50000, '[') + std::string(50000, ']'));
  AddMember(path, R"({"serviceEndpoint":{"host":"127.0.0.1","port":99999}})");
  AddMember(path, R"({"serviceEndpoint":{"host":"127.0.0.1 x","port":1}})");
  AddMember(path, std::string(900 * 1024, ' ') + "{}");
  discovery::ZooKeeperClient* other = NewSession();
  ASSERT_NE(other, nullptr);
  // Not a member (ServerSets keep other nodes beside them): not read.
  ASSERT_TRUE(other->Create(path + "/leader", "x").ok());
  auto stub = Stub(ConnectString(), "api", ServerSetOptions());
  ASSERT_NE(stub, nullptr);
  Tally tally;
  // The member's session ends after the kill, as a killed process's does.
  EXPECT_EQ(KillOneUnderLoad(stub.get(), servers, servers[0], tally,
                             [&] { sessions[servers[0]]->Close(); }),
            0);
  EXPECT_EQ(tally.Answered(starting), 0);
  std::lock_guard<std::mutex> lock(tally.mu);
  for (const auto& [address, calls] : tally.answered_by) {
    EXPECT_TRUE(address == servers[0] || address == servers[1] ||
                address == servers[2])
        << address << " answered " << calls << " calls";
  }
}

// One call, waiting for a server, on grpc::CreateChannel(target); the
// answering server's address, or the error.
std::string WhoAnswers(const std::string& target) {
  auto stub = EchoService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  Ping request;
  request.set_text("whoami");
  Ping response;
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  grpc::Status status = stub->Echo(&context, request, &response);
  return status.ok() ? response.text() : status.error_message();
}

TEST_F(ForeignChannelTest, TargetsOfEachForm) {
  ASSERT_TRUE(InitClusterChannels().ok());
  const std::string member = StartPlainServer();
  AddMember("/ss/api", ServerSetJson(member));
  const std::string instance = StartPlainServer();
  discovery::ZooKeeperClient* session = NewSession();
  ASSERT_NE(session, nullptr);
  ASSERT_TRUE(session
                  ->Create("/base/path/api/one", CuratorJson("one", instance),
                           discovery::CreateMode::kEphemeral, true)
                  .ok());
  EXPECT_EQ(WhoAnswers(absl::StrCat("zk://", ConnectString(),
                                    "/api?root=/ss&announcement=serverset")),
            member);
  EXPECT_EQ(
      WhoAnswers(absl::StrCat("serverset://", ConnectString(), "/ss/api")),
      member);
  // Any namespace: the plain server's health service knows only "" (the
  // whole server); a listed service would be health-checked by its name.
  EXPECT_EQ(
      WhoAnswers(absl::StrCat("curator://", ConnectString(), "/base/path/api")),
      instance);
}

// The `all` grouping and ReadyServers find a foreign channel's servers under
// any namespace, as the LB policy does.
TEST_F(ForeignChannelTest, AllGroupingCallsEveryServerSetMember) {
  const std::string path = "/aurora/www-data/prod/api";
  const std::string a = StartPlainServer();
  const std::string b = StartPlainServer();
  AddMember(path, ServerSetJson(a));
  AddMember(path, ServerSetJson(b));
  auto channel =
      CreateClusterChannel(ConnectString(), "api", ServerSetOptions());
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = EchoService::NewStub(*channel);
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    Ping request, response;
    request.set_text("whoami");
    stub->Echo(&context, request, &response);
    return ReadyServers(*channel, "slacker.testing.EchoService").size() == 2;
  }));
  grpc::ClientContext context;
  SetGrouping(&context, "all");
  CallResults<Ping> results(&context);
  Ping request, response;
  request.set_text("whoami");
  grpc::Status status = stub->Echo(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  absl::StatusOr<std::map<std::string, Ping>> map = results.Map();
  ASSERT_TRUE(map.ok()) << map.status();
  std::set<std::string> answered;
  for (const auto& [address, reply] : *map) answered.insert(reply.text());
  EXPECT_EQ(answered, (std::set<std::string>{a, b}));
}

TEST_F(ForeignChannelTest, NoAnnouncedServerFailsNamingThePath) {
  ClusterChannelOptions options = ServerSetOptions();
  options.announced_services = {"slacker.testing.OtherEchoService"};
  const std::string server = StartPlainServer();
  AddMember("/aurora/www-data/prod/api", ServerSetJson(server));
  auto stub = Stub(ConnectString(), "api", options);
  ASSERT_NE(stub, nullptr);
  // EchoService is not among the announced services: no server for it, ever.
  grpc::Status status;
  EXPECT_TRUE(Eventually([&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    Ping request, response;
    status = stub->Echo(&context, request, &response);
    return status.error_message().find("/aurora/www-data/prod/api") !=
           std::string::npos;
  })) << status.error_message();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
}

// The channel's view through the expiry of its own ZooKeeper session (a
// partition between it and ZooKeeper longer than the session) and through a
// ZooKeeper restart: calls go on to the servers it knew, and afterwards it
// follows the members as they are.
TEST_F(ForeignChannelTest, ViewRecoversFromSessionExpiryAndZooKeeperRestart) {
  const std::string path = "/aurora/www-data/prod/api";
  const std::string first = StartPlainServer();
  const std::string second = StartPlainServer();
  const std::string third = StartPlainServer();
  discovery::ZooKeeperClient* first_member =
      AddMember(path, ServerSetJson(first));
  auto proxy = slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
  ASSERT_TRUE(proxy.ok()) << proxy.status();
  ClusterChannelOptions options = ServerSetOptions();
  options.session_timeout = absl::Seconds(2);
  auto stub = Stub((*proxy)->address(), "api", options);
  ASSERT_NE(stub, nullptr);
  Tally tally;
  Callers callers(stub.get(), &tally);
  ASSERT_TRUE(Eventually([&] { return tally.Answered(first) > 0; }));

  // Cut off past its session's end; meanwhile the membership changes.
  (*proxy)->Cut();
  AddMember(path, ServerSetJson(second));
  first_member->Close();
  absl::SleepFor(absl::Seconds(5));  // The channel's 2 s session expires.
  (*proxy)->Restore();
  EXPECT_TRUE(Eventually([&] { return tally.Answered(second) > 0; }))
      << "the view did not recover from its session's expiry";
  // Over a second of calls, none to the server no longer announced.
  EXPECT_TRUE(Eventually([&] {
    tally.Reset();
    absl::SleepFor(absl::Seconds(1));
    return tally.Answered(first) == 0 && tally.Answered(second) > 0;
  })) << "the server no longer announced still gets calls";

  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  AddMember(path, ServerSetJson(third));
  EXPECT_TRUE(Eventually([&] { return tally.Answered(third) > 0; }))
      << "the view did not follow the members after ZooKeeper restarted";
  callers.Stop();
  std::lock_guard<std::mutex> lock(tally.mu);
  for (const grpc::Status& failure : tally.failures) {
    ADD_FAILURE() << "failed call: " << failure.error_code() << " "
                  << failure.error_message();
  }
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
