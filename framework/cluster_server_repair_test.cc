// A cluster server repairs what it owns against a foreign ZooKeeper session:
// an overwrite of its server node, a deleted or garbled method metadata
// record, a node squatting at its path before it starts. And the start-up
// race of the ZooKeeper client, forced, leaves its registration intact.
// Real ZooKeeper; servers in this process.

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/security/server_credentials.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "discovery/internal/zookeeper_client_testing.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/slacker/cluster/registry.pb.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kEcho[] = "slacker.testing.EchoService";

discovery::RegistryLayout Layout() {
  return discovery::RegistryLayout(discovery::kDefaultRegistryRoot, "test");
}

// A TCP port that nothing listens on (bound, then closed).
int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// The framework's warnings while it lives (the log sink is process-wide).
class Warnings {
 public:
  Warnings() {
    slacker::SetLogSink([this](LogLevel level, absl::string_view message) {
      if (level < LogLevel::kWarning) return;
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(message);
      cv_.notify_all();
    });
  }
  ~Warnings() { slacker::SetLogSink(nullptr); }

  // Waits until `count` warnings contain every one of `parts`; false after
  // `timeout`.
  bool WaitFor(const std::vector<std::string>& parts, int count = 1,
               absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
      return std::count_if(lines_.begin(), lines_.end(),
                           [&](const std::string& line) {
                             for (const std::string& part : parts) {
                               if (!absl::StrContains(line, part)) return false;
                             }
                             return true;
                           }) >= count;
    });
  }
  std::string All() {
    std::lock_guard<std::mutex> lock(mu_);
    return absl::StrJoin(lines_, "\n");
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

std::string Hex(int64_t id) { return absl::StrCat("0x", absl::Hex(id)); }

class ClusterServerRepairTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    zk_ = NewClient();
    ASSERT_NE(zk_, nullptr);
  }
  void TearDown() override {
    zk_.reset();
    ZooKeeperTest::TearDown();
  }

  // A ZooKeeper session of its own: the foreign client of these tests.
  std::unique_ptr<discovery::ZooKeeperClient> NewClient() {
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    auto client = discovery::ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  slacker::ClusterOptions Options() {
    slacker::ClusterOptions options;
    options.cluster = "test";
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(2);
    options.connect_timeout = absl::Seconds(10);
    options.drain_time = absl::Milliseconds(100);
    return options;
  }

  absl::StatusOr<std::unique_ptr<ClusterServer>> Start(
      slacker::ClusterOptions options,
      const std::string& listen = "127.0.0.1:0") {
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort(listen, grpc::InsecureServerCredentials());
    builder.RegisterService(&echo_);
    return builder.BuildAndStart();
  }

  std::optional<discovery::NodeData> Node(const std::string& path) {
    auto node = zk_->Get(path);
    if (!node.ok()) return std::nullopt;
    return *std::move(node);
  }
  std::optional<cluster::ServerInfo> ServerInfoAt(const std::string& address) {
    std::optional<discovery::NodeData> node =
        Node(Layout().ServerPath(address));
    cluster::ServerInfo info;
    if (!node.has_value() ||
        !google::protobuf::util::JsonStringToMessage(node->data, &info).ok()) {
      return std::nullopt;
    }
    return info;
  }

  slacker::testing::EchoServiceImpl echo_;
  std::unique_ptr<discovery::ZooKeeperClient> zk_;
};

TEST_F(ClusterServerRepairTest, ForeignOverwriteOfTheServerNodeIsUndone) {
  Warnings warnings;
  slacker::ClusterOptions options = Options();
  options.server_data = R"({"weight":10})";
  auto server = Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  const std::string path = Layout().ServerPath(address);
  // The node is made first, then lists the namespaces once they are
  // published.
  ASSERT_TRUE(Eventually([&] {
    std::optional<cluster::ServerInfo> info = ServerInfoAt(address);
    return info.has_value() && info->namespaces_size() == 1;
  }));
  std::optional<discovery::NodeData> mine = Node(path);
  ASSERT_TRUE(mine.has_value());

  // Weight 1000 and no namespaces, written by another session.
  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  const std::string poisoned = absl::StrCat(
      R"({"address":")", address, R"(","serverData":{"weight":1000}})");
  const absl::Time overwriting = absl::Now();
  absl::StatusOr<discovery::NodeStat> written = foreign->Set(path, poisoned);
  ASSERT_TRUE(written.ok()) << written.status();

  ASSERT_TRUE(Eventually([&] {
    std::optional<discovery::NodeData> now = Node(path);
    return now.has_value() && now->stat.version > written->version &&
           now->data == mine->data;
  })) << "the foreign ServerInfo stayed: "
      << (Node(path).has_value() ? Node(path)->data : "<gone>");
  std::cout << "measured: foreign overwrite of the server node to restored: "
            << absl::Now() - overwriting << " (polled every 10 ms)\n";
  std::optional<cluster::ServerInfo> info = ServerInfoAt(address);
  ASSERT_TRUE(info.has_value());
  EXPECT_THAT(info->namespaces(), ElementsAre(kEcho));
  EXPECT_EQ(Node(path)->stat.ephemeral_owner,
            (*server)->zookeeper_session_for_testing().first);
  EXPECT_TRUE(
      warnings.WaitFor({path, absl::StrCat("version ", written->version),
                        absl::StrCat("mzxid ", Hex(written->mzxid))}))
      << warnings.All();

  // Its own later changes still land.
  ASSERT_TRUE((*server)->SetServerData(R"({"weight":20})").ok());
  ASSERT_TRUE(Eventually([&] {
    std::optional<discovery::NodeData> now = Node(path);
    return now.has_value() && absl::StrContains(now->data, "20");
  }));
}

TEST_F(ClusterServerRepairTest,
       DeletedOrGarbledFunctionRecordsAreWrittenAgain) {
  Warnings warnings;
  auto server = Start(Options());
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string echo = Layout().FunctionPath(kEcho, "Echo");
  const std::string nothing = Layout().FunctionPath(kEcho, "Nothing");
  std::optional<discovery::NodeData> echo_record = Node(echo);
  std::optional<discovery::NodeData> nothing_record = Node(nothing);
  ASSERT_TRUE(echo_record.has_value());
  ASSERT_TRUE(nothing_record.has_value());

  auto foreign = NewClient();
  ASSERT_NE(foreign, nullptr);
  const absl::Time deleting = absl::Now();
  ASSERT_TRUE(foreign->Delete(echo).ok());
  absl::StatusOr<discovery::NodeStat> garbled =
      foreign->Set(nothing, "not a MethodInfo");
  ASSERT_TRUE(garbled.ok()) << garbled.status();

  ASSERT_TRUE(Eventually([&] {
    std::optional<discovery::NodeData> now = Node(echo);
    return now.has_value() && now->data == echo_record->data;
  })) << "the deleted record was not written again";
  std::cout << "measured: deleted method record to written again: "
            << absl::Now() - deleting << " (polled every 10 ms)\n";
  ASSERT_TRUE(Eventually([&] {
    std::optional<discovery::NodeData> now = Node(nothing);
    return now.has_value() && now->data == nothing_record->data;
  })) << "the garbled record was not written again";
  EXPECT_TRUE(warnings.WaitFor({echo, "deleted"})) << warnings.All();
  EXPECT_TRUE(
      warnings.WaitFor({nothing, absl::StrCat("mzxid ", Hex(garbled->mzxid))}))
      << warnings.All();

  // Another build's MethodInfo of the same method is left alone.
  cluster::MethodInfo other_build;
  other_build.set_path("/slacker.testing.EchoService/Echo");
  other_build.set_request_type("slacker.testing.Ping");
  other_build.set_response_type("slacker.testing.Ping");
  std::string other_json;
  ASSERT_TRUE(
      google::protobuf::util::MessageToJsonString(other_build, &other_json)
          .ok());
  ASSERT_TRUE(foreign->Set(echo, other_json).ok());
  // A later garbling of the other record is repaired, and by then the server
  // has judged the first write too (one listener, in order).
  absl::StatusOr<discovery::NodeStat> again = foreign->Set(nothing, "{}");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE(Eventually([&] {
    std::optional<discovery::NodeData> now = Node(nothing);
    return now.has_value() && now->stat.version > again->version;
  }));
  EXPECT_EQ(Node(echo)->data, other_json);
}

TEST_F(ClusterServerRepairTest, SquatterIsNamedAndWaitedOut) {
  Warnings warnings;
  const int port = UnusedPort();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  const std::string path = Layout().ServerPath(address);
  auto squatter = NewClient();
  ASSERT_NE(squatter, nullptr);
  ASSERT_TRUE(squatter
                  ->Create(path, "squatting", discovery::CreateMode::kEphemeral,
                           /*create_parents=*/true)
                  .ok());
  const std::string owner = Hex(squatter->session_id());

  slacker::ClusterOptions options = Options();
  // Short, so that the server outlives several of them while it waits.
  options.connect_timeout = absl::Seconds(1);
  std::optional<absl::StatusOr<std::unique_ptr<ClusterServer>>> started;
  std::mutex started_mu;
  std::thread starter([&] {
    auto server = Start(options, address);
    std::lock_guard<std::mutex> lock(started_mu);
    started = std::move(server);
  });
  // Named, with what to do, and told again after connect_timeout: it keeps
  // trying rather than failing as it did after one connect_timeout.
  const bool told_twice =
      warnings.WaitFor({path, owner, "Stop that process", "keeps trying"}, 2);
  bool returned;
  {
    std::lock_guard<std::mutex> lock(started_mu);
    returned = started.has_value();
  }
  squatter.reset();  // The squatter's session ends: its node goes.
  starter.join();
  EXPECT_TRUE(told_twice) << warnings.All();
  EXPECT_FALSE(returned) << "BuildAndStart gave up while the squatter stayed";
  ASSERT_TRUE(started.has_value());
  ASSERT_TRUE(started->ok()) << started->status();
  std::optional<discovery::NodeData> node = Node(path);
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(node->stat.ephemeral_owner,
            (**started)->zookeeper_session_for_testing().first);
  std::optional<cluster::ServerInfo> info = ServerInfoAt(address);
  ASSERT_TRUE(info.has_value());
  EXPECT_THAT(info->namespaces(), ElementsAre(kEcho));
}

TEST_F(ClusterServerRepairTest, SquatterWaitGivesUpWithTheOwnersName) {
  const int port = UnusedPort();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  ASSERT_TRUE(zk_->Create(Layout().ServerPath(address), "squatting",
                          discovery::CreateMode::kEphemeral,
                          /*create_parents=*/true)
                  .ok());
  slacker::ClusterOptions options = Options();
  options.squatter_wait = absl::Seconds(1);
  auto server = Start(options, address);
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(server.status())) << server.status();
  EXPECT_THAT(server.status().message(), HasSubstr(Hex(zk_->session_id())));
  EXPECT_THAT(server.status().message(), HasSubstr("squatter_wait"));
}

// The start-up race of the ZooKeeper client, forced: before its fix, the
// server recorded its session as 0, took its own nodes for another session's
// (its server node kept no namespaces, its server data updates were lost)
// and drained for 0 s.
TEST_F(ClusterServerRepairTest,
       SessionEventBeforeHandleLeavesRegistrationIntact) {
  discovery::internal::SetSessionEventBeforeHandleForTesting(true);
  slacker::ClusterOptions options = Options();
  options.drain_time.reset();  // The negotiated session timeout.
  auto server = Start(options);
  discovery::internal::SetSessionEventBeforeHandleForTesting(false);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string address = (*server)->address();
  const int64_t session = (*server)->zookeeper_session_for_testing().first;
  ASSERT_NE(session, 0);

  const std::string path = Layout().ServerPath(address);
  ASSERT_TRUE(Eventually([&] {
    std::optional<cluster::ServerInfo> info = ServerInfoAt(address);
    return info.has_value() && info->namespaces_size() == 1;
  })) << "server node: "
      << (Node(path).has_value() ? Node(path)->data : "<gone>");
  EXPECT_EQ(Node(path)->stat.ephemeral_owner, session);
  EXPECT_EQ(Node(Layout().MemberPath(kEcho, address))->stat.ephemeral_owner,
            session);
  ASSERT_TRUE((*server)->SetServerData(R"({"weight":7})").ok());
  ASSERT_TRUE(Eventually([&] {
    std::optional<discovery::NodeData> now = Node(path);
    return now.has_value() && absl::StrContains(now->data, "7");
  })) << "the server data update was lost";

  // The drain is the granted session timeout, not 0: a lower bound only.
  const absl::Time shutting_down = absl::Now();
  (*server)->Shutdown();
  EXPECT_GE(absl::Now() - shutting_down, absl::Seconds(1))
      << "drained for less than the session timeout";
}

}  // namespace
}  // namespace slacker
