// Metrics scraped over HTTP from slacker::Metrics::Expose, with a real
// ZooKeeper and real servers:
// - N calls over 3 servers: the channel's per-server, per-code counts are
//   exactly what each server answered, and a server's own counts are too;
// - a server killed with SIGKILL (a child process) while serving a call
//   shows as one server left, a set-aside of it, and known servers 3 -> 2;
// - a server whose ZooKeeper session expires shows one expiry and one
//   re-registration, and stays published.

#include "framework/metrics.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "framework/cluster_channel.h"
#include "framework/cluster_server.h"
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
using ::slacker::testing::Ping;

constexpr char kEcho[] = "slacker.testing.EchoService";
constexpr char kNotFoundText[] = "fail";

// The body of GET /metrics on 127.0.0.1:port ("" if it cannot be read).
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) ==
      0) {
    const std::string request =
        "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) {
        response.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// The sum of the samples of `name` whose labels include all of `labels`, or
// nullopt if there is none.
std::optional<double> Sample(const std::string& text, const std::string& name,
                             const std::map<std::string, std::string>& labels) {
  std::optional<double> sum;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::StartsWith(line, name + "{") &&
        !absl::StartsWith(line, name + " ")) {
      continue;
    }
    bool match = true;
    for (const auto& [key, value] : labels) {
      match &= absl::StrContains(line, absl::StrCat(key, "=\"", value, "\""));
    }
    if (!match) continue;
    double value = 0;
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos ||
        !absl::SimpleAtod(line.substr(space + 1), &value)) {
      continue;
    }
    sum = sum.value_or(0) + value;
  }
  return sum;
}

// An Echo that fails with NOT_FOUND for kNotFoundText and counts what it
// answered, by code.
class CountingEcho final : public EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext*, const Ping* request,
                    Ping* response) override {
    if (request->text() == kNotFoundText) {
      not_found.fetch_add(1);
      return grpc::Status(grpc::StatusCode::NOT_FOUND, "asked to fail");
    }
    ok.fetch_add(1);
    *response = *request;
    return grpc::Status::OK;
  }
  std::atomic<int> ok{0};
  std::atomic<int> not_found{0};
};

class MetricsTest : public slacker::testing::ZooKeeperTest {
 protected:
  std::shared_ptr<Metrics> Exposed() {
    auto metrics = std::make_shared<Metrics>();
    absl::Status exposed = metrics->Expose(0, "127.0.0.1");
    EXPECT_TRUE(exposed.ok()) << exposed;
    EXPECT_GT(metrics->port(), 0);
    return metrics;
  }

  // The scraped value (nullopt: no such sample yet).
  static std::optional<double> Read(
      const Metrics& metrics, const std::string& name,
      const std::map<std::string, std::string>& labels) {
    return Sample(Scrape(metrics.port()), name, labels);
  }

  static bool Is(const Metrics& metrics, const std::string& name,
                 const std::map<std::string, std::string>& labels,
                 double value) {
    return Read(metrics, name, labels) == value;
  }
};

TEST_F(MetricsTest, CountsPerServerAndCodeAreExact) {
  constexpr char kCluster[] = "metrics-counts";
  constexpr int kOkCalls = 30;
  constexpr int kFailedCalls = 9;
  std::vector<std::unique_ptr<CountingEcho>> services;
  std::vector<std::unique_ptr<ClusterServer>> servers;
  std::shared_ptr<Metrics> server_metrics = Exposed();
  for (int i = 0; i < 3; ++i) {
    slacker::ClusterOptions options;
    options.cluster = kCluster;
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.drain_time = absl::ZeroDuration();
    if (i == 0) options.metrics = server_metrics;
    services.push_back(std::make_unique<CountingEcho>());
    ClusterServerBuilder builder(options);
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
    builder.RegisterService(services.back().get());
    auto server = builder.BuildAndStart();
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(*std::move(server));
  }
  EXPECT_TRUE(Is(*server_metrics, "slacker_server_namespace_published",
                 {{"cluster", kCluster}, {"namespace", kEcho}}, 1));
  EXPECT_TRUE(Is(*server_metrics, "slacker_server_phase",
                 {{"cluster", kCluster}, {"phase", "serving"}}, 1));

  std::shared_ptr<Metrics> metrics = Exposed();
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  options.metrics = metrics;
  auto channel = CreateClusterChannel(ConnectString(), kCluster, options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = EchoService::NewStub(*channel);
  (*channel)->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Is(*metrics, "slacker_client_servers",
              {{"cluster", kCluster}, {"namespace", kEcho}, {"state", "ready"}},
              3);
  })) << Scrape(metrics->port());
  EXPECT_TRUE(
      Is(*metrics, "slacker_client_servers",
         {{"cluster", kCluster}, {"namespace", kEcho}, {"state", "known"}}, 3));
  EXPECT_TRUE(Is(*metrics, "slacker_client_server_changes_total",
                 {{"cluster", kCluster}, {"change", "joined"}}, 3));
  EXPECT_TRUE(Is(*metrics, "slacker_client_zookeeper_connected",
                 {{"cluster", kCluster}}, 1));
  EXPECT_GE(Read(*metrics, "slacker_client_discovery_updates_total",
                 {{"cluster", kCluster}})
                .value_or(0),
            1);

  for (int i = 0; i < kOkCalls + kFailedCalls; ++i) {
    grpc::ClientContext context;
    Ping request;
    request.set_text(i < kOkCalls ? "hello" : kNotFoundText);
    Ping response;
    const grpc::Status status = stub->Echo(&context, request, &response);
    ASSERT_EQ(status.error_code(),
              i < kOkCalls ? grpc::StatusCode::OK : grpc::StatusCode::NOT_FOUND)
        << status.error_message();
  }

  const std::string text = Scrape(metrics->port());
  int ok_total = 0;
  int not_found_total = 0;
  for (size_t i = 0; i < servers.size(); ++i) {
    const std::map<std::string, std::string> labels = {
        {"cluster", kCluster},
        {"namespace", kEcho},
        {"method", "Echo"},
        {"server", servers[i]->address()}};
    auto with_code = [&](const char* code) {
      std::map<std::string, std::string> more = labels;
      more["code"] = code;
      return more;
    };
    const int ok = services[i]->ok.load();
    const int not_found = services[i]->not_found.load();
    ok_total += ok;
    not_found_total += not_found;
    EXPECT_EQ(
        Sample(text, "slacker_client_calls_total", with_code("0")).value_or(0),
        ok)
        << servers[i]->address() << "\n"
        << text;
    EXPECT_EQ(
        Sample(text, "slacker_client_calls_total", with_code("5")).value_or(0),
        not_found)
        << servers[i]->address();
    EXPECT_EQ(Sample(text, "slacker_client_calls_total", labels),
              ok + not_found)
        << "no other code: " << servers[i]->address();
    EXPECT_EQ(
        Sample(text, "slacker_client_calls_in_flight",
               {{"cluster", kCluster}, {"server", servers[i]->address()}}),
        0);
  }
  EXPECT_EQ(ok_total, kOkCalls);
  EXPECT_EQ(not_found_total, kFailedCalls);
  // Round robin over three READY servers: each had a share.
  for (const auto& service : services) EXPECT_GT(service->ok.load(), 0);
  EXPECT_EQ(
      Sample(text, "slacker_client_call_duration_seconds_count",
             {{"cluster", kCluster}, {"namespace", kEcho}, {"method", "Echo"}}),
      kOkCalls + kFailedCalls);

  // The first server's own view of the same calls.
  const std::string server_text = Scrape(server_metrics->port());
  const std::map<std::string, std::string> server_labels = {
      {"cluster", kCluster}, {"namespace", kEcho}, {"method", "Echo"}};
  auto server_code = [&](const char* code) {
    std::map<std::string, std::string> more = server_labels;
    more["code"] = code;
    return Sample(server_text, "slacker_server_calls_total", more).value_or(0);
  };
  EXPECT_EQ(server_code("0"), services[0]->ok.load()) << server_text;
  EXPECT_EQ(server_code("5"), services[0]->not_found.load());
  EXPECT_EQ(Sample(server_text, "slacker_server_call_duration_seconds_count",
                   server_labels),
            services[0]->ok.load() + services[0]->not_found.load());
  EXPECT_EQ(Sample(server_text, "slacker_server_calls_in_flight",
                   {{"cluster", kCluster}, {"namespace", kEcho}}),
            0);

  // Only one server leads; it says so once its election settled.
  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return servers[0]->IsLeader(kEcho) ==
           Is(*server_metrics, "slacker_server_namespace_leader",
              {{"cluster", kCluster}, {"namespace", kEcho}}, 1);
  }));

  servers[0]->Shutdown(absl::ZeroDuration());
  EXPECT_TRUE(Is(*server_metrics, "slacker_server_phase",
                 {{"cluster", kCluster}, {"phase", "stopped"}}, 1));
  EXPECT_TRUE(Is(*server_metrics, "slacker_server_namespace_published",
                 {{"cluster", kCluster}, {"namespace", kEcho}}, 0));
  EXPECT_TRUE(Is(*server_metrics, "slacker_server_namespace_leader",
                 {{"cluster", kCluster}, {"namespace", kEcho}}, 0));
}

TEST_F(MetricsTest, KilledServerShowsAsLeftAndSetAside) {
  constexpr char kCluster[] = "metrics-kill";
  std::map<std::string, std::unique_ptr<Child>> children;
  for (int i = 0; i < 3; ++i) {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        absl::StrCat("--cluster=", kCluster), "--session_timeout_ms=2000",
        "--delay_ms=3000"});
    std::optional<std::string> address = child->WaitForLine("published ");
    ASSERT_TRUE(address.has_value()) << "server did not start";
    children[*address] = std::move(child);
  }
  std::shared_ptr<Metrics> metrics = Exposed();
  ClusterChannelOptions options;
  options.grouping = "round_robin";
  options.set_aside_after = 1;
  options.set_aside_for = absl::Seconds(60);
  // The kill is seen from the connection's reset; keepalive's 1 s answer
  // window would also drop servers merely starved of CPU on a loaded
  // machine, and this test needs all three ready; so would the health
  // watches' streams.
  options.keepalive_time = absl::InfiniteDuration();
  options.health_checks = false;
  options.metrics = metrics;
  auto channel = CreateClusterChannel(ConnectString(), kCluster, options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = EchoService::NewStub(*channel);
  (*channel)->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  const std::map<std::string, std::string> known = {
      {"cluster", kCluster}, {"namespace", kEcho}, {"state", "known"}};
  const std::map<std::string, std::string> ready = {
      {"cluster", kCluster}, {"namespace", kEcho}, {"state", "ready"}};
  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Is(*metrics, "slacker_client_servers", ready, 3);
  })) << Scrape(metrics->port());
  EXPECT_TRUE(Is(*metrics, "slacker_client_servers", known, 3));
  EXPECT_TRUE(Is(*metrics, "slacker_client_server_changes_total",
                 {{"cluster", kCluster}, {"change", "left"}}, 0));

  // Two slow calls per server, in flight.
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&] {
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
      Ping request;
      request.set_text("slow");
      Ping response;
      if (stub->Echo(&context, request, &response).ok()) ok.fetch_add(1);
    });
  }
  const std::string victim = children.begin()->first;
  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Read(*metrics, "slacker_client_calls_in_flight",
                {{"cluster", kCluster}, {"server", victim}})
               .value_or(0) >= 1;
  })) << Scrape(metrics->port());
  children.begin()->second->Kill(SIGKILL);

  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Read(*metrics, "slacker_client_set_asides_total",
                {{"cluster", kCluster}, {"server", victim}})
               .value_or(0) >= 1;
  })) << Scrape(metrics->port());
  EXPECT_GE(Read(*metrics, "slacker_client_calls_total",
                 {{"cluster", kCluster}, {"server", victim}, {"code", "14"}})
                .value_or(0),
            1);
  // Its session expires: ZooKeeper reports it gone.
  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Is(*metrics, "slacker_client_server_changes_total",
              {{"cluster", kCluster}, {"change", "left"}}, 1);
  })) << Scrape(metrics->port());
  EXPECT_TRUE(Is(*metrics, "slacker_client_servers", known, 2));
  EXPECT_TRUE(Is(*metrics, "slacker_client_servers", ready, 2));
  for (std::thread& caller : callers) caller.join();
  // The victim's calls were retried on other servers.
  EXPECT_EQ(ok.load(), 6);
}

TEST_F(MetricsTest, SessionExpiryShowsAsExpiryAndReregistration) {
  constexpr char kCluster[] = "metrics-expiry";
  std::shared_ptr<Metrics> metrics = Exposed();
  CountingEcho service;
  slacker::ClusterOptions options;
  options.cluster = kCluster;
  options.zookeeper = ConnectString();
  options.address = "127.0.0.1";
  options.session_timeout = absl::Seconds(4);
  options.drain_time = absl::ZeroDuration();
  options.metrics = metrics;
  ClusterServerBuilder builder(options);
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  ASSERT_TRUE(server.ok()) << server.status();
  const std::map<std::string, std::string> cluster = {{"cluster", kCluster}};
  EXPECT_TRUE(Is(*metrics, "slacker_server_zookeeper_connected", cluster, 1));
  EXPECT_TRUE(Is(*metrics, "slacker_server_zookeeper_session_expiries_total",
                 cluster, 0));
  EXPECT_TRUE(Is(*metrics, "slacker_server_reregistrations_total", cluster, 0));
  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Is(*metrics, "slacker_server_namespace_leader",
              {{"cluster", kCluster}, {"namespace", kEcho}}, 1);
  }));

  const auto [session, password] = (*server)->zookeeper_session_for_testing();
  ASSERT_TRUE(zookeeper().ExpireSession(session, password).ok());

  ASSERT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Is(*metrics, "slacker_server_reregistrations_total", cluster, 1);
  })) << Scrape(metrics->port());
  EXPECT_TRUE(Is(*metrics, "slacker_server_zookeeper_session_expiries_total",
                 cluster, 1));
  EXPECT_TRUE(Is(*metrics, "slacker_server_zookeeper_connected", cluster, 1));
  EXPECT_TRUE(Is(*metrics, "slacker_server_namespace_published",
                 {{"cluster", kCluster}, {"namespace", kEcho}}, 1));
  // The election is joined again in the new session, and won (alone).
  EXPECT_TRUE(slacker::testing::ZooKeeperTest::Eventually([&] {
    return Is(*metrics, "slacker_server_namespace_leader",
              {{"cluster", kCluster}, {"namespace", kEcho}}, 1);
  }));
}

TEST_F(MetricsTest, ExposeRefusesABadOrBusyPort) {
  Metrics metrics;
  EXPECT_EQ(metrics.Expose(70000).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(metrics.port(), 0);
  std::shared_ptr<Metrics> first = Exposed();
  Metrics second;
  const absl::Status busy = second.Expose(first->port(), "127.0.0.1");
  EXPECT_EQ(busy.code(), absl::StatusCode::kUnavailable) << busy;
  EXPECT_EQ(first->Expose(0).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
