// The ZooKeeper process library and its fixtures, against real servers: what
// later tests rely on (stop, restart, kill -9, session expiry, elections).

#include "testing/zookeeper_cluster.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"
#include "testing/zookeeper_raw_session.h"

namespace slacker::testing {
namespace {

using ::testing::HasSubstr;

int Create(zhandle_t* zh, const std::string& path, const std::string& data,
           int flags = 0) {
  return zoo_create(zh, path.c_str(), data.data(), data.size(),
                    &ZOO_OPEN_ACL_UNSAFE, flags, nullptr, 0);
}

// The node's data, or "<zerror>" if it cannot be read.
std::string Read(zhandle_t* zh, const std::string& path) {
  char buffer[1024];
  int length = sizeof(buffer);
  const int rc = zoo_get(zh, path.c_str(), 0, buffer, &length, nullptr);
  if (rc != ZOK) return absl::StrCat("<", zerror(rc), ">");
  return std::string(buffer, length > 0 ? length : 0);
}

bool Exists(zhandle_t* zh, const std::string& path) {
  return zoo_exists(zh, path.c_str(), 0, nullptr) == ZOK;
}

TEST_F(ZooKeeperTest, ServesReadsAndWritesOnLoopback) {
  EXPECT_THAT(ConnectString(), ::testing::StartsWith("127.0.0.1:"));
  EXPECT_EQ(*zookeeper().FourLetterWord(0, "ruok"), "imok");
  EXPECT_THAT(*zookeeper().FourLetterWord(0, "srvr"),
              HasSubstr("Mode: standalone"));
  EXPECT_EQ(*zookeeper().LeaderIndex(), 0);
  auto session = Connect();
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(Create(session->handle(), "/greeting", "hello"), ZOK);
  EXPECT_EQ(Read(session->handle(), "/greeting"), "hello");
}

TEST_F(ZooKeeperTest, DataSurvivesACleanRestart) {
  {
    auto session = Connect();
    ASSERT_NE(session, nullptr);
    ASSERT_EQ(Create(session->handle(), "/kept", "yes"), ZOK);
  }
  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  auto session = Connect();
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(Read(session->handle(), "/kept"), "yes");
}

TEST_F(ZooKeeperTest, KillNineIsACrashThatARestartRecoversFrom) {
  auto session = Connect();
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(Create(session->handle(), "/before-crash", "x"), ZOK);
  const pid_t pid = zookeeper().Pid(0);
  ASSERT_GT(pid, 0);

  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  EXPECT_FALSE(zookeeper().IsRunning(0));
  EXPECT_EQ(zookeeper().Pid(0), 0);
  EXPECT_EQ(kill(pid, 0), -1) << "the killed JVM is still there";
  EXPECT_FALSE(zookeeper().FourLetterWord(0, "ruok").ok());
  EXPECT_EQ(session->WaitForState({ZOO_CONNECTING_STATE}, absl::Seconds(30)),
            ZOO_CONNECTING_STATE);

  ASSERT_TRUE(zookeeper().StartNode(0).ok());
  // The old session comes back (the server reloads sessions from its log) or,
  // if the restart took longer than its timeout, expires; never stays lost.
  const int state = session->WaitForState(
      {ZOO_CONNECTED_STATE, ZOO_EXPIRED_SESSION_STATE}, absl::Seconds(30));
  EXPECT_TRUE(state == ZOO_CONNECTED_STATE ||
              state == ZOO_EXPIRED_SESSION_STATE)
      << state;
  auto fresh = Connect();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(Read(fresh->handle(), "/before-crash"), "x");
}

TEST_F(ZooKeeperTest, StartNodeRefusesARunningNode) {
  EXPECT_TRUE(absl::IsFailedPrecondition(zookeeper().StartNode(0)));
  EXPECT_TRUE(zookeeper().StopNode(0).ok());
  EXPECT_TRUE(zookeeper().StopNode(0).ok()) << "stopping twice is fine";
  EXPECT_TRUE(zookeeper().KillNode(0).ok()) << "so is killing a stopped node";
}

TEST_F(ZooKeeperTest, ExpireSessionDeletesEphemeralsAndTellsTheHolder) {
  auto holder = Connect();
  auto observer = Connect();
  ASSERT_NE(holder, nullptr);
  ASSERT_NE(observer, nullptr);
  ASSERT_EQ(Create(holder->handle(), "/mine", "", ZOO_EPHEMERAL), ZOK);
  ASSERT_TRUE(Exists(observer->handle(), "/mine"));

  ASSERT_TRUE(zookeeper().ExpireSession(holder->client_id()).ok());

  EXPECT_EQ(
      holder->WaitForState({ZOO_EXPIRED_SESSION_STATE}, absl::Seconds(30)),
      ZOO_EXPIRED_SESSION_STATE);
  EXPECT_FALSE(Exists(observer->handle(), "/mine"));
  EXPECT_EQ(observer->state(), ZOO_CONNECTED_STATE) << "only one session ends";
}

TEST_F(ZooKeeperTest, ExpiringAnEndedSessionIsNotFound) {
  clientid_t id;
  {
    auto session = Connect();
    ASSERT_NE(session, nullptr);
    id = session->client_id();
  }  // Closed: the session ended.
  EXPECT_TRUE(absl::IsNotFound(zookeeper().ExpireSession(id)));
}

TEST_F(ZooKeeperEnsembleTest, ElectsANewLeaderWhenTheLeaderIsKilled) {
  ASSERT_EQ(zookeeper().size(), 3);
  const std::vector<std::string> hosts = absl::StrSplit(ConnectString(), ',');
  EXPECT_EQ(hosts.size(), 3u);
  auto session = Connect();
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(Create(session->handle(), "/before", "1"), ZOK);
  const absl::StatusOr<int> leader = zookeeper().LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();

  ASSERT_TRUE(zookeeper().KillNode(*leader).ok());
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<int> now = zookeeper().LeaderIndex();
    return now.ok() && *now != *leader;
  })) << "no new leader among the two survivors";
  // The same session carries on through another node.
  EXPECT_TRUE(Eventually(
      [&] { return Create(session->handle(), "/after", "2") == ZOK; }));
  EXPECT_EQ(Read(session->handle(), "/before"), "1");

  ASSERT_TRUE(zookeeper().StartNode(*leader).ok());
  EXPECT_THAT(*zookeeper().FourLetterWord(*leader, "srvr"),
              HasSubstr("Mode: follower"));
}

TEST_F(ZooKeeperEnsembleTest, StopsServingWithoutAQuorumAndRecovers) {
  {
    auto session = Connect();
    ASSERT_NE(session, nullptr);
    ASSERT_EQ(Create(session->handle(), "/durable", "d"), ZOK);
  }
  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  ASSERT_TRUE(zookeeper().KillNode(1).ok());
  EXPECT_TRUE(Eventually([&] {
    absl::StatusOr<std::string> srvr = zookeeper().FourLetterWord(2, "srvr");
    return srvr.ok() && !absl::StrContains(*srvr, "Mode:");
  })) << "a lone node of three must not serve";
  EXPECT_TRUE(absl::IsNotFound(zookeeper().LeaderIndex().status()));

  ASSERT_TRUE(zookeeper().StartNode(1).ok());
  auto session = Connect();
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(Read(session->handle(), "/durable"), "d");
}

TEST(ZooKeeperClusterTest, RejectsAnEvenNumberOfNodes) {
  ZooKeeperClusterOptions options;
  options.nodes = 2;
  absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> cluster =
      ZooKeeperCluster::Start(options);
  EXPECT_TRUE(absl::IsInvalidArgument(cluster.status()));
  EXPECT_THAT(cluster.status().message(), HasSubstr("odd number"));
}

TEST(ZooKeeperClusterTest, ATakenPortIsAClearError) {
  // Hold a listening socket on a free port, then ask for that port.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  ASSERT_EQ(listen(fd, 1), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  ZooKeeperClusterOptions options;
  options.first_client_port = ntohs(address.sin_port);
  absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> cluster =
      ZooKeeperCluster::Start(options);
  close(fd);
  EXPECT_TRUE(absl::IsFailedPrecondition(cluster.status())) << cluster.status();
  EXPECT_THAT(cluster.status().message(),
              HasSubstr(absl::StrCat("127.0.0.1:", options.first_client_port)));
  EXPECT_THAT(cluster.status().message(), HasSubstr("another process has it"));
}

TEST(ZooKeeperClusterTest, RemovesItsOwnDataButKeepsAGivenFolder) {
  std::string own_dir;
  {
    absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> cluster =
        ZooKeeperCluster::Start(ZooKeeperClusterOptions());
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    own_dir = (*cluster)->data_dir();
    EXPECT_TRUE(std::filesystem::exists(own_dir + "/node-0/zoo.cfg"));
  }
  EXPECT_FALSE(std::filesystem::exists(own_dir));

  const std::string given = absl::StrCat(std::getenv("TEST_TMPDIR"), "/given");
  ZooKeeperClusterOptions options;
  options.data_dir = given;
  {
    absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> cluster =
        ZooKeeperCluster::Start(options);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    auto session = ZooKeeperRawSession::Connect((*cluster)->ConnectString());
    ASSERT_TRUE(session.ok()) << session.status();
    ASSERT_EQ(Create((*session)->handle(), "/persisted", "p"), ZOK);
  }
  EXPECT_TRUE(std::filesystem::exists(given + "/node-0/data"));
  // A second run on the same folder sees the first run's data.
  absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> again =
      ZooKeeperCluster::Start(options);
  ASSERT_TRUE(again.ok()) << again.status();
  auto session = ZooKeeperRawSession::Connect((*again)->ConnectString());
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(Read((*session)->handle(), "/persisted"), "p");
}

TEST(ZooKeeperRawSessionTest, AMalformedAddressIsInvalidArgument) {
  auto session =
      ZooKeeperRawSession::Connect("", absl::Seconds(4), absl::Seconds(1));
  EXPECT_TRUE(absl::IsInvalidArgument(session.status())) << session.status();
}

TEST(ZooKeeperRawSessionTest, NoServerIsDeadlineExceeded) {
  // A free port that nothing listens on.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)),
            0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string hosts = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  auto session = ZooKeeperRawSession::Connect(hosts, absl::Seconds(4),
                                              absl::Milliseconds(500));
  close(fd);
  EXPECT_TRUE(absl::IsDeadlineExceeded(session.status())) << session.status();
  EXPECT_THAT(session.status().message(), HasSubstr(hosts));
}

}  // namespace
}  // namespace slacker::testing
