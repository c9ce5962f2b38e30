// ClusterView in each discovery mode against a real ZooKeeper: the same
// picture and the same trust rules whether it follows one-shot watches or one
// persistent recursive watch.

#include "framework/internal/cluster_view.h"

#include <zookeeper/zookeeper.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kCluster[] = "/slacker/cluster/demo";

// "h1:1 [ns] leads [ns] weight 2" per server, in order.
std::vector<std::string> Describe(const ClusterSnapshot& snapshot) {
  std::vector<std::string> lines;
  for (const ClusterServer& s : snapshot.servers) {
    lines.push_back(absl::StrCat(
        s.address, " [", absl::StrJoin(s.namespaces, ","), "] leads [",
        absl::StrJoin(s.leads, ","), "] weight ", s.weight));
  }
  return lines;
}

class ClusterViewTest : public slacker::testing::ZooKeeperTest,
                        public ::testing::WithParamInterface<DiscoveryMode> {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    a_ = Connect();
    b_ = Connect();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    for (const std::string& p :
         {std::string("/slacker"), std::string("/slacker/cluster"),
          std::string(kCluster), P("/servers"), P("/namespaces"),
          P("/namespaces/ns"), P("/namespaces/ns/_leader")}) {
      Create(a_.get(), p, "", 0);
    }
  }

  std::string P(absl::string_view rest) { return absl::StrCat(kCluster, rest); }

  void Create(slacker::testing::ZooKeeperRawSession* session,
              const std::string& path, const std::string& data,
              int flags = ZOO_EPHEMERAL) {
    ASSERT_EQ(zoo_create(session->handle(), path.c_str(), data.data(),
                         static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE,
                         flags, nullptr, 0),
              ZOK)
        << path;
  }
  void Delete(slacker::testing::ZooKeeperRawSession* session,
              const std::string& path) {
    ASSERT_EQ(zoo_delete(session->handle(), path.c_str(), -1), ZOK) << path;
  }

  // A leader candidate's path: "_c_<uuid>-latch-<10 digits>", the uuid
  // made from `owner` (1 or 2).
  std::string Candidate(int owner, int sequence) {
    return P(absl::StrCat("/namespaces/ns/_leader/_c_00000000-0000-0000-0000-",
                          absl::Hex(owner, absl::kZeroPad12), "-latch-",
                          absl::Dec(sequence, absl::kZeroPad10)));
  }

  // What a server writes: its servers/ node, its member node, a candidate.
  void Register(slacker::testing::ZooKeeperRawSession* session, int owner,
                const std::string& address, const std::string& info,
                int sequence) {
    Create(session, P("/servers/" + address), info);
    Create(session, P("/namespaces/ns/" + address), "");
    Create(session, Candidate(owner, sequence), address);
  }

  void StartView(std::string connect_string = "") {
    ClusterViewOptions options;
    options.zookeeper =
        connect_string.empty() ? ConnectString() : connect_string;
    options.cluster = "demo";
    options.session_timeout = absl::Seconds(4);
    options.report_ignored = true;
    options.mode = GetParam();
    auto view = ClusterView::Start(
        options, [this](const absl::StatusOr<ClusterSnapshot>& snapshot) {
          std::lock_guard<std::mutex> lock(mu_);
          if (snapshot.ok()) last_ = *snapshot;
        });
    ASSERT_TRUE(view.ok()) << view.status();
    view_ = *std::move(view);
  }

  std::optional<ClusterSnapshot> Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }

  // Waits until the view describes the servers as `expected`.
  bool Shows(const std::vector<std::string>& expected) {
    const bool shown = Eventually(
        [&] {
          std::optional<ClusterSnapshot> s = Last();
          return s.has_value() && Describe(*s) == expected;
        },
        absl::Seconds(20));
    if (!shown) {
      std::optional<ClusterSnapshot> s = Last();
      ADD_FAILURE() << "view shows: "
                    << (s ? absl::StrJoin(Describe(*s), " | ") : "nothing");
    }
    return shown;
  }

  std::unique_ptr<slacker::testing::ZooKeeperRawSession> a_, b_;
  std::mutex mu_;
  std::optional<ClusterSnapshot> last_;
  // Last, so destroyed first: its listener writes mu_ and last_ until the
  // view is gone (TSan saw a delivery race their destruction).
  std::unique_ptr<ClusterView> view_;
};

TEST_P(ClusterViewTest, PublishersLeaderAndServerData) {
  StartView();
  ASSERT_TRUE(Shows({}));
  Register(a_.get(), 1, "h1:1", R"({"serverData":{"weight":2}})", 2);
  Register(b_.get(), 2, "h2:2", "{}", 1);
  ASSERT_TRUE(
      Shows({"h1:1 [ns] leads [] weight 2", "h2:2 [ns] leads [ns] weight 1"}));
  // The lowest candidate is replaced: the next one leads.
  Delete(b_.get(), Candidate(2, 1));
  Create(b_.get(), Candidate(2, 3), "h2:2");
  ASSERT_TRUE(
      Shows({"h1:1 [ns] leads [ns] weight 2", "h2:2 [ns] leads [] weight 1"}));
  // A server that leaves (its session ends) is gone with its roles.
  a_.reset();
  ASSERT_TRUE(Shows({"h2:2 [ns] leads [ns] weight 1"}));
}

TEST_P(ClusterViewTest, APublisherOfAnotherSessionDoesNotCount) {
  StartView();
  Create(a_.get(), P("/servers/h1:1"), "{}");
  Create(b_.get(), P("/namespaces/ns/h1:1"), "");  // Not h1's own session.
  Create(b_.get(), Candidate(2, 1), "h1:1");
  ASSERT_TRUE(Eventually([&] {
    std::optional<ClusterSnapshot> s = Last();
    return s.has_value() && s->ignored.size() == 2;
  }));
  const ClusterSnapshot s = *Last();
  EXPECT_TRUE(s.servers.empty());
  EXPECT_EQ(s.ignored[0].path, Candidate(2, 1));
  EXPECT_EQ(s.ignored[1].path, P("/namespaces/ns/h1:1"));
}

TEST_P(ClusterViewTest, ANamespaceDeletedAndCreatedAgain) {
  Register(a_.get(), 1, "h1:1", "{}", 1);
  StartView();
  ASSERT_TRUE(Shows({"h1:1 [ns] leads [ns] weight 1"}));
  Delete(a_.get(), Candidate(1, 1));
  Delete(a_.get(), P("/namespaces/ns/_leader"));
  Delete(a_.get(), P("/namespaces/ns/h1:1"));
  Delete(a_.get(), P("/namespaces/ns"));
  ASSERT_TRUE(Shows({}));
  Create(a_.get(), P("/namespaces/ns"), "", 0);
  Create(a_.get(), P("/namespaces/ns/h1:1"), "");
  ASSERT_TRUE(Shows({"h1:1 [ns] leads [] weight 1"}));
}

TEST_P(ClusterViewTest, ACutConnectionConvergesAfterwards) {
  auto proxy = slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
  ASSERT_TRUE(proxy.ok());
  Register(a_.get(), 1, "h1:1", "{}", 1);
  StartView((*proxy)->address());
  ASSERT_TRUE(Shows({"h1:1 [ns] leads [ns] weight 1"}));
  (*proxy)->Cut();
  Register(b_.get(), 2, "h2:2", "{}", 2);
  a_.reset();  // h1 leaves unseen.
  (*proxy)->Restore();
  ASSERT_TRUE(Shows({"h2:2 [ns] leads [ns] weight 1"}));
}

TEST_P(ClusterViewTest, WatchesOnZooKeeper) {
  Register(a_.get(), 1, "h1:1", "{}", 1);
  Register(b_.get(), 2, "h2:2", "{}", 2);
  StartView();
  ASSERT_TRUE(
      Shows({"h1:1 [ns] leads [ns] weight 1", "h2:2 [ns] leads [] weight 1"}));
  absl::StatusOr<std::string> wchs = zookeeper().FourLetterWord(0, "wchs");
  ASSERT_TRUE(wchs.ok());
  if (GetParam() == DiscoveryMode::kWatches) {
    EXPECT_THAT(*wchs, ::testing::Not(HasSubstr("Total watches:1\n")));
  } else {
    // ZooKeeper 3.8 supports it: auto chose the recursive watch too.
    EXPECT_THAT(*wchs, HasSubstr("Total watches:1\n"));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, ClusterViewTest,
    ::testing::Values(DiscoveryMode::kWatches,
                      DiscoveryMode::kPersistentRecursive,
                      DiscoveryMode::kAuto),
    [](const ::testing::TestParamInfo<DiscoveryMode>& info) {
      switch (info.param) {
        case DiscoveryMode::kWatches:
          return std::string("Watches");
        case DiscoveryMode::kPersistentRecursive:
          return std::string("PersistentRecursive");
        case DiscoveryMode::kAuto:
          return std::string("Auto");
      }
      return std::string("Unknown");
    });

}  // namespace
}  // namespace slacker::internal
