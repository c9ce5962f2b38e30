// The cluster server's leadership of its namespaces, against a real
// ZooKeeper: ClusterOptions::on_leadership is told per namespace when the
// server becomes and stops being the leader (hand-over, Unpublish, an
// expired session), and ResignLeadership gives leadership up while the
// server stays published, until JoinLeaderElection (across Offline/Online).

#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "discovery/leader_election.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::testing::ElementsAre;

constexpr char kEcho[] = "slacker.testing.EchoService";
constexpr char kManager[] = "slacker.cluster.ClusterManager";
constexpr absl::Duration kWait = absl::Seconds(30);

discovery::RegistryLayout Layout() {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, "test");
}

// One server's on_leadership calls: "+ns" became leader, "-ns" stopped.
class LeadershipLog {
 public:
  void Add(const std::string& ns, bool leader) {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back((leader ? "+" : "-") + ns);
    cv_.notify_all();
  }
  bool WaitFor(const std::string& call, int count = 1) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(kWait), [&] {
      return std::count(calls_.begin(), calls_.end(), call) >= count;
    });
  }
  // The calls for `ns` in order: "+ -".
  std::string For(const std::string& ns) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> calls;
    for (const std::string& call : calls_) {
      if (call.substr(1) == ns) calls.push_back(call.substr(0, 1));
    }
    return absl::StrJoin(calls, " ");
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
};

class ClusterServerLeadershipTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    auto client = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    zk_ = *std::move(client);
  }
  void TearDown() override {
    zk_.reset();
    ZooKeeperTest::TearDown();
  }

  // A server of cluster "test" publishing kEcho and kManager, reporting into
  // `log`.
  std::unique_ptr<ClusterServer> Start(LeadershipLog& log) {
    slacker::ClusterOptions options;
    options.cluster = "test";
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(2);
    options.connect_timeout = absl::Seconds(10);
    options.drain_time = absl::Milliseconds(100);
    options.enable_manager = true;
    options.publish_manager = true;
    options.on_leadership = [&log](const std::string& ns, bool leader) {
      log.Add(ns, leader);
    };
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
    echoes_.push_back(std::make_unique<testing::EchoServiceImpl>());
    builder.RegisterService(echoes_.back().get());
    absl::StatusOr<std::unique_ptr<ClusterServer>> server =
        builder.BuildAndStart();
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  // The candidates of `ns`'s election, by their data (the server address),
  // in queue order.
  std::vector<std::string> Queue(const std::string& ns) {
    auto participants =
        discovery::LeaderElection::Participants(*zk_, Layout().LeaderPath(ns));
    std::vector<std::string> ids;
    if (!participants.ok()) return ids;
    for (const discovery::Participant& participant : *participants) {
      ids.push_back(participant.id);
    }
    return ids;
  }
  bool Published(const ClusterServer& server, const std::string& ns) {
    auto stat = zk_->Exists(Layout().MemberPath(ns, server.address()));
    return stat.ok() && stat->has_value();
  }

  std::vector<std::unique_ptr<testing::EchoServiceImpl>> echoes_;
  std::unique_ptr<discovery::ZooKeeperClient> zk_;
};

TEST_F(ClusterServerLeadershipTest, CallbacksFollowEachNamespacesElection) {
  LeadershipLog first_log;
  LeadershipLog second_log;
  auto first = Start(first_log);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first_log.WaitFor("+" + std::string(kEcho)));
  ASSERT_TRUE(first_log.WaitFor("+" + std::string(kManager)));
  auto second = Start(second_log);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(Eventually([&] { return Queue(kEcho).size() == 2; }, kWait));

  // Unpublishing one namespace hands that one over, not the other.
  ASSERT_TRUE(first->Unpublish(kEcho).ok());
  ASSERT_TRUE(first_log.WaitFor("-" + std::string(kEcho)));
  ASSERT_TRUE(second_log.WaitFor("+" + std::string(kEcho)));
  EXPECT_EQ(second_log.For(kManager), "");
  EXPECT_TRUE(first->IsLeader(kManager));
  EXPECT_EQ(first_log.For(kManager), "+");

  // Publishing again queues it at the back.
  ASSERT_TRUE(first->Publish(kEcho).ok());
  ASSERT_TRUE(Eventually(
      [&] {
        return Queue(kEcho) ==
               std::vector<std::string>{second->address(), first->address()};
      },
      kWait));
  EXPECT_EQ(first_log.For(kEcho), "+ -");
  EXPECT_EQ(second_log.For(kEcho), "+");
}

TEST_F(ClusterServerLeadershipTest, ResignedLeaderStaysPublishedUntilItJoins) {
  LeadershipLog first_log;
  LeadershipLog second_log;
  auto first = Start(first_log);
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first_log.WaitFor("+" + std::string(kEcho)));
  auto second = Start(second_log);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(Eventually([&] { return Queue(kEcho).size() == 2; }, kWait));
  EXPECT_TRUE(absl::IsNotFound(first->ResignLeadership("no.such.Service")));

  ASSERT_TRUE(first->ResignLeadership(kEcho).ok());
  ASSERT_TRUE(first_log.WaitFor("-" + std::string(kEcho)));
  ASSERT_TRUE(second_log.WaitFor("+" + std::string(kEcho)));
  EXPECT_FALSE(first->IsLeader(kEcho));
  EXPECT_FALSE(first->InLeaderElection(kEcho));
  EXPECT_TRUE(first->IsPublished(kEcho));
  EXPECT_TRUE(Published(*first, kEcho)) << "it stays published";
  ASSERT_TRUE(Eventually(
      [&] {
        return Queue(kEcho) == std::vector<std::string>{second->address()};
      },
      kWait));
  EXPECT_TRUE(first->IsLeader(kManager)) << "only kEcho was resigned";
  EXPECT_TRUE(first->ResignLeadership(kEcho).ok()) << "idempotent";

  // Out across Offline/Online.
  ASSERT_TRUE(first->Offline().ok());
  ASSERT_TRUE(first->Online().ok());
  EXPECT_TRUE(Published(*first, kEcho));
  EXPECT_FALSE(first->InLeaderElection(kEcho));
  EXPECT_EQ(Queue(kEcho), std::vector<std::string>{second->address()});

  // Back in, at the end of the queue; then the leader leaves and it leads.
  ASSERT_TRUE(first->JoinLeaderElection(kEcho).ok());
  EXPECT_TRUE(first->InLeaderElection(kEcho));
  ASSERT_TRUE(Eventually(
      [&] {
        return Queue(kEcho) ==
               std::vector<std::string>{second->address(), first->address()};
      },
      kWait));
  ASSERT_TRUE(first->JoinLeaderElection(kEcho).ok()) << "idempotent";
  second->Shutdown(absl::ZeroDuration());
  ASSERT_TRUE(first_log.WaitFor("+" + std::string(kEcho), 2));
  EXPECT_TRUE(first->IsLeader(kEcho));
  EXPECT_EQ(second_log.For(kEcho), "+ -");
}

// An expired session: the leader hears it lost, then leads again with its
// new session's candidate.
TEST_F(ClusterServerLeadershipTest, ExpiredSessionIsALossThenLeadsAgain) {
  LeadershipLog log;
  auto server = Start(log);
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(log.WaitFor("+" + std::string(kEcho)));
  const auto [session, password] = server->zookeeper_session_for_testing();
  ASSERT_TRUE(zookeeper().ExpireSession(session, password).ok());
  ASSERT_TRUE(log.WaitFor("-" + std::string(kEcho)));
  // The session is stolen back and forth before it ends (see
  // testing/zookeeper_cluster.h), so the server may lose and retake its
  // candidacy more than once; it ends leading, in its new session.
  ASSERT_TRUE(Eventually(
      [&] {
        const std::string calls = log.For(kEcho);
        return calls.back() == '+' && server->IsLeader(kEcho) &&
               server->zookeeper_session_for_testing().first != session;
      },
      kWait))
      << log.For(kEcho);
  const std::string calls = log.For(kEcho);
  for (size_t i = 0; i < calls.size(); i += 2) {
    EXPECT_EQ(calls[i], i % 4 == 0 ? '+' : '-') << "they alternate: " << calls;
  }
}

}  // namespace
}  // namespace slacker
