// Cluster servers in child processes (testing/programs:cluster_server),
// so that one can be killed with SIGKILL or stopped with SIGTERM: the leader
// of a namespace killed -9 is replaced within the session timeout, and
// SIGTERM (ShutdownOnSignal) shuts a server down gracefully.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/leader_election.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace slacker {
namespace {

using ::slacker::testing::Child;

constexpr char kEcho[] = "slacker.testing.EchoService";

// The cluster the tests' servers register in (default root).
discovery::RegistryLayout Layout() {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, "test");
}

class ClusterServerProcessTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    auto client = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    zk_ = *std::move(client);
  }
  void TearDown() override {
    zk_.reset();
    ZooKeeperTest::TearDown();
  }

  std::unique_ptr<Child> StartServer() {
    const std::string program = absl::GetFlag(FLAGS_server_program);
    EXPECT_FALSE(program.empty()) << "pass --server_program=<program>";
    return std::make_unique<Child>(std::vector<std::string>{
        program, "--zookeeper=" + ConnectString(), "--session_timeout_ms=2000",
        "--drain_ms=300"});
  }
  std::string Data(const std::string& path) {
    auto data = zk_->Get(path);
    return data.ok() ? data->data : "";
  }
  bool Exists(const std::string& path) {
    auto stat = zk_->Exists(path);
    return stat.ok() && stat->has_value();
  }
  std::string Leader() {
    auto leader = discovery::LeaderElection::CurrentLeader(
        *zk_, Layout().LeaderPath(kEcho));
    return leader.ok() ? *leader : "";
  }

  std::unique_ptr<discovery::ZooKeeperClient> zk_;
};

TEST_F(ClusterServerProcessTest, KilledLeaderIsReplacedWithinSessionTimeout) {
  std::unique_ptr<Child> first = StartServer();
  const std::optional<std::string> first_address =
      first->WaitForLine("published ");
  ASSERT_TRUE(first_address.has_value());
  ASSERT_TRUE(Eventually([&] {
    return Leader() == *first_address &&
           Data(Layout().LeaderPath(kEcho)) == *first_address;
  }));
  std::unique_ptr<Child> second = StartServer();
  const std::optional<std::string> second_address =
      second->WaitForLine("published ");
  ASSERT_TRUE(second_address.has_value());
  auto participants =
      discovery::LeaderElection::Participants(*zk_, Layout().LeaderPath(kEcho));
  ASSERT_TRUE(Eventually([&] {
    participants = discovery::LeaderElection::Participants(
        *zk_, Layout().LeaderPath(kEcho));
    return participants.ok() && participants->size() == 2;
  }));
  EXPECT_EQ(Leader(), *first_address);  // Exactly one leader: the first.
  // A server binary that links only the generated service still describes
  // its methods (their descriptors are linked in; see cc_grpc_library).
  EXPECT_TRUE(Exists(Layout().FunctionPath(kEcho, "Echo")));

  const absl::Time killed = absl::Now();
  first->Kill(SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    return Leader() == *second_address &&
           Data(Layout().LeaderPath(kEcho)) == *second_address;
  }));
  const absl::Duration takeover = absl::Now() - killed;
  std::cout << "measured: kill -9 of the leader to the other leading, with "
               "_leader's data following: "
            << takeover << " (session timeout 2s)" << std::endl;
  // The session ends 2 s (one timeout) after the last heartbeat, checked on
  // ZooKeeper's ticks; the margin covers a loaded machine.
  EXPECT_LT(takeover, absl::Seconds(6));
  EXPECT_FALSE(Exists(Layout().MemberPath(kEcho, *first_address)));
  EXPECT_FALSE(Exists(Layout().ServerPath(*first_address)));
}

TEST_F(ClusterServerProcessTest, SigtermShutsDownGracefully) {
  std::unique_ptr<Child> server = StartServer();
  const std::optional<std::string> address = server->WaitForLine("published ");
  ASSERT_TRUE(address.has_value());
  const std::string server_path = Layout().ServerPath(*address);
  ASSERT_TRUE(Exists(server_path));
  const int status = server->Kill(SIGTERM);
  // Exited by itself, after the graceful path, and unregistered at once (not
  // after the session timeout: the session was closed).
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(server->WaitForLine("stopped").has_value());
  EXPECT_FALSE(Exists(server_path));
  EXPECT_FALSE(Exists(Layout().MemberPath(kEcho, *address)));
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
