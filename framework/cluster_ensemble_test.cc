// A running cluster follows an ensemble that is replaced node by node: two
// cluster servers and a cluster channel under a steady stream of calls, all
// given an ensemble provider (ClusterOptions::ensemble,
// ClusterChannelOptions::ensemble), while each of the three ZooKeeper nodes
// in turn moves to a new port (testing/zookeeper_cluster.h, MoveNode), until
// none of the first addresses is left. No call may fail, no registration may
// be lost (each server's node still belongs to its first session), and the
// channel must still see cluster changes afterwards. A third server without
// the provider is the control: it must lose its registration, which shows
// that the moves are real.
//
// The Exhibitor provider on both sides is in the second test. In the first,
// the provider is the test's own function answering the ensemble's
// current addresses, as Exhibitor would; the Exhibitor-style provider itself
// is tested against an HTTP stand-in in discovery/ensemble_provider_test.cc
// (Exhibitor's answer has one port for every server, which cannot describe
// three nodes on one loopback address).

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/ensemble_provider.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_channel.h"
#include "framework/cluster_server.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/echo_service.h"
#include "testing/http_stand_in.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::slacker::testing::EchoService;
using ::slacker::testing::Ping;

constexpr char kCluster[] = "moving-ensemble";

class ClusterEnsembleTest : public slacker::testing::ZooKeeperEnsembleTest {
 protected:
  // The ensemble's addresses as the test last published them (after each
  // move, once the node serves), as Exhibitor would report them. Shared with
  // the providers rather than read from the fixture: the clients' threads
  // may end after the test (a channel's resolver shuts down on gRPC's own
  // threads), and must not touch the fixture then.
  struct Published {
    std::mutex mu;
    std::string hosts;
  };
  void Publish(const std::string& hosts) {
    std::lock_guard<std::mutex> lock(published_->mu);
    published_->hosts = hosts;
  }

  discovery::EnsembleOptions Ensemble() {
    discovery::EnsembleOptions ensemble;
    ensemble.provider = [published = published_] {
      std::lock_guard<std::mutex> lock(published->mu);
      return published->hosts;
    };
    ensemble.check_interval = absl::Milliseconds(200);
    return ensemble;
  }

  std::unique_ptr<ClusterServer> StartServer(bool with_provider) {
    return StartServer(with_provider ? Ensemble()
                                     : discovery::EnsembleOptions());
  }

  std::unique_ptr<ClusterServer> StartServer(
      discovery::EnsembleOptions ensemble) {
    slacker::ClusterOptions options;
    options.cluster = kCluster;
    options.zookeeper = first_hosts_;
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(4);
    options.connect_timeout = absl::Seconds(20);
    options.drain_time = absl::Milliseconds(100);
    options.ensemble = std::move(ensemble);
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
    builder.RegisterService(&echo_);
    absl::StatusOr<std::unique_ptr<ClusterServer>> server =
        builder.BuildAndStart();
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  // The session that owns the server's node now, seen by a fresh client on
  // the current ensemble; 0 when the node is gone.
  int64_t OwnerOf(const std::string& address) {
    discovery::ZooKeeperOptions options;
    options.connect_string = zookeeper().ConnectString();
    auto client = discovery::ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return 0;
    auto stat = (*client)->Exists(
        discovery::RegistryLayout("/slacker/cluster", kCluster)
            .ServerPath(address));
    return stat.ok() && stat->has_value() ? (*stat)->ephemeral_owner : 0;
  }

  std::string first_hosts_;
  std::shared_ptr<Published> published_ = std::make_shared<Published>();
  slacker::testing::EchoServiceImpl echo_;
};

TEST_F(ClusterEnsembleTest, FollowsAnEnsembleReplacedNodeByNode) {
  first_hosts_ = ConnectString();
  Publish(first_hosts_);
  std::unique_ptr<ClusterServer> a = StartServer(true);
  std::unique_ptr<ClusterServer> b = StartServer(true);
  std::unique_ptr<ClusterServer> control = StartServer(false);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(control, nullptr);
  const int64_t session_a = a->zookeeper_session_for_testing().first;
  const int64_t session_b = b->zookeeper_session_for_testing().first;
  // (The control keeps serving calls: its gRPC server is not affected by
  // its ZooKeeper session, so calls routed to it succeed.)

  ClusterChannelOptions channel_options;
  channel_options.session_timeout = absl::Seconds(4);
  channel_options.ensemble = Ensemble();
  auto channel = CreateClusterChannel(first_hosts_, kCluster, channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = EchoService::NewStub(*channel);
  const std::string target = ClusterTarget(first_hosts_, kCluster);

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::mutex mu;
  std::vector<std::string> failures;
  std::vector<std::thread> callers;
  for (int t = 0; t < 2; ++t) {
    callers.emplace_back([&] {
      while (!stop.load()) {
        grpc::ClientContext context;
        context.set_deadline(
            absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
        context.set_wait_for_ready(true);
        Ping request, response;
        request.set_text("ensemble");
        const grpc::Status status = stub->Echo(&context, request, &response);
        if (status.ok()) {
          ok.fetch_add(1);
        } else {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back(
              absl::StrCat(status.error_code(), ": ", status.error_message()));
        }
        absl::SleepFor(absl::Milliseconds(5));
      }
    });
  }
  ASSERT_TRUE(Eventually([&] { return ok.load() > 20; }));

  for (int node = 0; node < zookeeper().size(); ++node) {
    SCOPED_TRACE(absl::StrCat("moving node ", node));
    const int before = ok.load();
    ASSERT_TRUE(zookeeper().MoveNode(node).ok());
    Publish(ConnectString());
    // Calls go on between the moves.
    EXPECT_TRUE(Eventually([&] { return ok.load() > before + 20; }));
  }
  // None of the first addresses is left.
  for (int node = 0; node < zookeeper().size(); ++node) {
    EXPECT_EQ(first_hosts_.find(zookeeper().NodeAddress(node)),
              std::string::npos);
  }

  // Registrations kept, by their first sessions; the control's is gone (its
  // session expired on the servers it can no longer reach).
  EXPECT_EQ(OwnerOf(a->address()), session_a);
  EXPECT_EQ(OwnerOf(b->address()), session_b);
  EXPECT_TRUE(Eventually([&] { return OwnerOf(control->address()) == 0; }));

  // The channel still follows the cluster: a server joining now is seen.
  const int64_t updates = GetDiscoveryStats(target).updates;
  std::unique_ptr<ClusterServer> late = StartServer(true);
  ASSERT_NE(late, nullptr);
  EXPECT_TRUE(
      Eventually([&] { return GetDiscoveryStats(target).updates > updates; }));

  stop.store(true);
  for (std::thread& caller : callers) caller.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(failures.empty())
      << failures.size() << " failed calls; the first: " << failures.front();
  EXPECT_GT(ok.load(), 60);
}

// The Exhibitor provider on both sides, against an HTTP stand-in serving
// Exhibitor's JSON (Exhibitor cannot run here): the server and the channel
// are given a connect string where nothing answers, so only the provider's
// first answer lets them start, register and call.
TEST_F(ClusterEnsembleTest, ExhibitorNamesTheFirstEnsembleOnBothSides) {
  const int port = zookeeper().ClientPort(0);
  auto exhibitor =
      slacker::testing::HttpStandIn::Start([port](const std::string&) {
        return slacker::testing::HttpStandIn::Reply{
            200,
            absl::StrCat(R"({"servers":["127.0.0.1"],"port":)", port, "}")};
      });
  ASSERT_TRUE(exhibitor.ok()) << exhibitor.status();
  discovery::ExhibitorOptions options;
  options.hosts = {"127.0.0.1"};
  options.port = (*exhibitor)->port();
  auto provider = discovery::ExhibitorEnsembleProvider::Start(options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_EQ((*provider)->Hosts(), zookeeper().NodeAddress(0));

  first_hosts_ = "127.0.0.1:1";  // Nothing listens there.
  discovery::EnsembleOptions ensemble;
  ensemble.provider = (*provider)->AsProvider();
  std::unique_ptr<ClusterServer> server = StartServer(ensemble);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(OwnerOf(server->address()),
            server->zookeeper_session_for_testing().first);

  ClusterChannelOptions channel_options;
  channel_options.ensemble = ensemble;
  auto channel = CreateClusterChannel(first_hosts_, kCluster, channel_options);
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = EchoService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  context.set_wait_for_ready(true);
  Ping request, response;
  request.set_text("exhibitor");
  const grpc::Status status = stub->Echo(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.text(), "exhibitor");
}

}  // namespace
}  // namespace slacker
