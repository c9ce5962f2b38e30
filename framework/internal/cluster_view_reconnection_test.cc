// A ClusterView over a cluster large enough that its watches once passed
// ZooKeeper's 1 MB frame limit (jute.maxbuffer) keeps a correct picture across
// a ZooKeeper restart and a cut connection.
//
// On every reconnection the ZooKeeper C client re-sends all the watches of
// its session in one frame (SetWatches: each a 4-byte length and the path).
// ZooKeeper drops a connection whose frame is over jute.maxbuffer; the C
// client then retries forever, each try renewing the session, and the view
// was never refreshed again. Two cases, with long server names (240 bytes) so
// that the sizes stay small:
//   - 1,900 servers: the view used to hold a data watch on every servers/
//     node and every member node, about 1.1 MB to re-send; now only the
//     servers/ nodes are watched (about 530 KB), and the view reconnects in
//     its own session.
//   - 4,000 servers: even those watches are about 1.1 MB; ZooKeeper refuses
//     the re-registration, and the ZooKeeper layer must notice, say so in
//     one log line, and make a fresh session that re-reads everything.
// Correct afterwards means: later joins and leaves are seen, i.e. the
// watches are back, not just the old picture kept.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/cluster_view.h"
#include "gtest/gtest.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::internal {
namespace {

constexpr char kCluster[] = "reconnect";
constexpr char kNamespace[] = "slacker.testing.EchoService";
// Long, as a fully qualified host name can be: it makes each watch path big
// enough that a few thousand servers fill ZooKeeper's frame.
constexpr size_t kHostBytes = 220;
constexpr absl::Duration kWait = absl::Seconds(120);

std::string Address(int i) {
  return absl::StrCat("server-", i, "-", std::string(kHostBytes, 'x'),
                      ".example:50051");
}

class ClusterViewReconnectionTest : public testing::ZooKeeperTest {
 protected:
  // A one-second tick lets sessions last 20 s: the registering session (and
  // the view's) outlive a ZooKeeper restart, so that the only thing that
  // could break the view is its own reconnection.
  testing::ZooKeeperClusterOptions ClusterOptions() const override {
    testing::ZooKeeperClusterOptions options;
    options.tick_time = absl::Seconds(1);
    return options;
  }

  void SetUp() override {
    testing::ZooKeeperTest::SetUp();
    SetLogSink([this](LogLevel level, absl::string_view message) {
      if (absl::StrContains(message, "jute.maxbuffer") &&
          absl::StrContains(message, "giving up this session")) {
        std::lock_guard<std::mutex> lock(mu_);
        ++refusals_logged_;
      }
      if (level >= LogLevel::kWarning) {
        std::fprintf(stderr, "slacker %s %.*s\n",
                     std::string(LogLevelName(level)).c_str(),
                     static_cast<int>(message.size()), message.data());
      }
    });
    auto proxy = testing::TcpProxy::Start(zookeeper().NodeAddress(0));
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(20);
    auto registrar = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    registrar_ = *std::move(registrar);
  }

  void TearDown() override {
    view_.reset();
    if (registrar_ != nullptr) registrar_->Close();
    proxy_.reset();
    SetLogSink(nullptr);
    testing::ZooKeeperTest::TearDown();
  }

  const discovery::RegistryLayout& layout() const { return layout_; }

  // Registers servers [first, first + count) the way a cluster server does
  // (servers/<hp> with ServerInfo JSON and namespaces/<ns>/<hp>, both
  // ephemeral, in one session), pipelined.
  void Register(int first, int count) {
    for (const std::string& parent :
         {layout_.ServersPath(), layout_.NamespacePath(kNamespace)}) {
      auto made =
          registrar_->Create(parent, "", discovery::CreateMode::kPersistent,
                             /*create_parents=*/true);
      ASSERT_TRUE(made.ok() || absl::IsAlreadyExists(made.status()))
          << made.status();
    }
    std::mutex mu;
    std::condition_variable done;
    int in_flight = 0;
    absl::Status failure;
    for (int i = first; i < first + count; ++i) {
      const std::string address = Address(i);
      const std::string info =
          absl::StrCat(R"({"address":")", address, R"(","namespaces":[")",
                       kNamespace, R"("],"version":"test"})");
      for (const auto& [path, data] :
           {std::pair(layout_.ServerPath(address), info),
            std::pair(layout_.MemberPath(kNamespace, address),
                      std::string())}) {
        {
          // Keeps the C client's queue bounded.
          std::unique_lock<std::mutex> lock(mu);
          done.wait(lock, [&] { return in_flight < 1000; });
          ++in_flight;
        }
        registrar_->CreateAsync(path, data, discovery::CreateMode::kEphemeral,
                                /*create_parents=*/false,
                                [&](absl::StatusOr<std::string> created) {
                                  std::lock_guard<std::mutex> lock(mu);
                                  if (!created.ok() && failure.ok())
                                    failure = created.status();
                                  --in_flight;
                                  done.notify_all();
                                });
      }
    }
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return in_flight == 0; });
    ASSERT_TRUE(failure.ok()) << failure;
    for (int i = first; i < first + count; ++i) expected_.insert(Address(i));
  }

  void Unregister(int i) {
    const std::string address = Address(i);
    ASSERT_TRUE(
        registrar_->Delete(layout_.MemberPath(kNamespace, address)).ok());
    ASSERT_TRUE(registrar_->Delete(layout_.ServerPath(address)).ok());
    expected_.erase(address);
  }

  // Starts the view through the proxy.
  void StartView() {
    ClusterViewOptions options;
    options.zookeeper = proxy_->address();
    options.cluster = kCluster;
    options.session_timeout = absl::Seconds(20);
    auto view = ClusterView::Start(
        options, [this](const absl::StatusOr<ClusterSnapshot>& snapshot) {
          if (!snapshot.ok()) return;
          std::set<std::string> seen;
          bool published = true;
          for (const ClusterServer& server : snapshot->servers) {
            seen.insert(server.address);
            published &= server.namespaces.size() == 1 &&
                         server.namespaces[0] == kNamespace;
          }
          std::lock_guard<std::mutex> lock(mu_);
          seen_ = std::move(seen);
          all_published_ = published;
        });
    ASSERT_TRUE(view.ok()) << view.status();
    view_ = *std::move(view);
  }

  // Whether the view's last snapshot is exactly the registered servers, each
  // publishing the namespace.
  bool ViewIsCorrect() {
    return Eventually(
        [&] {
          std::lock_guard<std::mutex> lock(mu_);
          return seen_ == expected_ && all_published_;
        },
        kWait);
  }

  int RefusalsLogged() {
    std::lock_guard<std::mutex> lock(mu_);
    return refusals_logged_;
  }

  // ZooKeeper's count of watches over all sessions (`wchs`: "Total
  // watches:N"); -1 if it cannot be read.
  int64_t WatchesOnZooKeeper() {
    auto wchs = zookeeper().FourLetterWord(0, "wchs");
    if (!wchs.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(*wchs, '\n')) {
      int64_t count = 0;
      if (absl::ConsumePrefix(&line, "Total watches:") &&
          absl::SimpleAtoi(line, &count)) {
        return count;
      }
    }
    return -1;
  }

  // Joins and leaves after a reconnection must be seen: the watches are
  // back, not just the picture kept from before.
  void ExpectLaterChangesSeen(int join, int leave) {
    // The registering session's own reconnection may take a few seconds.
    ASSERT_TRUE(Eventually(
        [&] {
          const discovery::ConnectionState state = registrar_->state();
          return state == discovery::ConnectionState::kConnected ||
                 state == discovery::ConnectionState::kReconnected;
        },
        kWait));
    Register(join, 1);
    Unregister(leave);
    EXPECT_TRUE(ViewIsCorrect())
        << "server " << join << " joined, " << leave << " left";
  }

  // Restarts ZooKeeper, then cuts the view's connection for a second.
  void RestartThenCut(int servers) {
    ASSERT_TRUE(zookeeper().RestartNode(0).ok());
    ExpectLaterChangesSeen(servers, 0);
    proxy_->Cut();
    absl::SleepFor(absl::Seconds(1));
    proxy_->Restore();
    ExpectLaterChangesSeen(servers + 1, 1);
  }

  const discovery::RegistryLayout layout_{
      std::string(discovery::kDefaultRegistryRoot), kCluster};
  std::unique_ptr<testing::TcpProxy> proxy_;
  std::unique_ptr<discovery::ZooKeeperClient> registrar_;
  std::set<std::string> expected_;  // Test thread only.

  std::mutex mu_;
  std::set<std::string> seen_;
  bool all_published_ = false;
  int refusals_logged_ = 0;
  // Last, so destroyed first: its listener writes the members above
  // until the view is gone.
  std::unique_ptr<ClusterView> view_;
};

TEST_F(ClusterViewReconnectionTest,
       KeepsItsSessionWhereMemberWatchesOverflowed) {
  constexpr int kServers = 1900;
  Register(0, kServers);
  StartView();
  ASSERT_TRUE(ViewIsCorrect());
  // One watch per server (its servers/ node) and a few more: not three.
  const int64_t watches = WatchesOnZooKeeper();
  EXPECT_GE(watches, kServers);
  EXPECT_LE(watches, kServers + 10);
  RestartThenCut(kServers);
  // The re-registration fit in one frame: no session was given up.
  EXPECT_EQ(RefusalsLogged(), 0);
}

TEST_F(ClusterViewReconnectionTest, GivesUpASessionZooKeeperWillNotLetBackIn) {
  constexpr int kServers = 4000;
  Register(0, kServers);
  StartView();
  ASSERT_TRUE(ViewIsCorrect());
  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  ExpectLaterChangesSeen(kServers, 0);
  const int after_restart = RefusalsLogged();
  EXPECT_GE(after_restart, 1);
  proxy_->Cut();
  absl::SleepFor(absl::Seconds(1));
  proxy_->Restore();
  ExpectLaterChangesSeen(kServers + 1, 1);
  EXPECT_GT(RefusalsLogged(), after_restart);
}

}  // namespace
}  // namespace slacker::internal
