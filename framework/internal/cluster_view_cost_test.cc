// What a ClusterView costs ZooKeeper, counted (not timed) with ZooKeeper's own
// four-letter words: requests the view's connection sent (`cons`, "recved")
// and watches it holds (`wchs`), over 1,000 registered servers, for a fresh
// view and for one server joining and leaving (each writing what a cluster
// server writes: servers/<hp>, a namespace member, a leader candidate).
// The figures are printed; the bounds below are what the view's design
// promises (see cluster_view.cc, "What the view reads").

#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/cluster_view.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::internal {
namespace {

constexpr char kCluster[] = "cost";
constexpr char kNamespace[] = "slacker.testing.EchoService";
constexpr int kServers = 1000;

std::string Address(int i) {
  return absl::StrCat("10.0.", i / 250, ".", i % 250, ":50051");
}

// A candidate name as LeaderElection makes them, before its sequence.
std::string CandidatePrefix(int i) {
  return absl::StrFormat("_c_%08x-0000-4000-8000-%012x-latch-", i, i);
}

class ClusterViewCostTest : public testing::ZooKeeperTest {
 protected:
  // Sessions of 20 s: a ping every ~7 s, rarely inside a measurement.
  testing::ZooKeeperClusterOptions ClusterOptions() const override {
    testing::ZooKeeperClusterOptions options;
    options.tick_time = absl::Seconds(1);
    return options;
  }

  void SetUp() override {
    testing::ZooKeeperTest::SetUp();
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(20);
    auto registrar = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(registrar.ok()) << registrar.status();
    registrar_ = *std::move(registrar);
    for (const std::string& parent :
         {layout_.ServersPath(), layout_.LeaderPath(kNamespace)}) {
      ASSERT_TRUE(registrar_
                      ->Create(parent, "", discovery::CreateMode::kPersistent,
                               /*create_parents=*/true)
                      .ok());
    }
  }

  void TearDown() override {
    view_.reset();
    if (registrar_ != nullptr) registrar_->Close();
    testing::ZooKeeperTest::TearDown();
  }

  void Join(int i) {
    const std::string address = Address(i);
    const std::string info =
        absl::StrCat(R"({"address":")", address, R"(","namespaces":[")",
                     kNamespace, R"("],"version":"test"})");
    ASSERT_TRUE(registrar_
                    ->Create(layout_.ServerPath(address), info,
                             discovery::CreateMode::kEphemeral)
                    .ok());
    ASSERT_TRUE(registrar_
                    ->Create(layout_.MemberPath(kNamespace, address), "",
                             discovery::CreateMode::kEphemeral)
                    .ok());
    auto candidate = registrar_->Create(
        absl::StrCat(layout_.LeaderPath(kNamespace), "/", CandidatePrefix(i)),
        address, discovery::CreateMode::kEphemeralSequential);
    ASSERT_TRUE(candidate.ok()) << candidate.status();
    candidates_[i] = *candidate;
    expected_.insert(address);
  }

  void Leave(int i) {
    const std::string address = Address(i);
    ASSERT_TRUE(registrar_->Delete(candidates_.at(i)).ok());
    ASSERT_TRUE(
        registrar_->Delete(layout_.MemberPath(kNamespace, address)).ok());
    ASSERT_TRUE(registrar_->Delete(layout_.ServerPath(address)).ok());
    expected_.erase(address);
  }

  void StartView() {
    ClusterViewOptions options;
    options.zookeeper = ConnectString();
    options.cluster = kCluster;
    options.session_timeout = absl::Seconds(20);
    auto view = ClusterView::Start(
        options, [this](const absl::StatusOr<ClusterSnapshot>& snapshot) {
          if (!snapshot.ok()) return;
          std::set<std::string> seen;
          std::string leader;
          for (const ClusterServer& server : snapshot->servers) {
            seen.insert(server.address);
            if (!server.leads.empty()) leader = server.address;
          }
          std::lock_guard<std::mutex> lock(mu_);
          seen_ = std::move(seen);
          leader_ = leader;
        });
    ASSERT_TRUE(view.ok()) << view.status();
    view_ = *std::move(view);
  }

  bool ViewShows(const std::string& leader) {
    return Eventually([&] {
      std::lock_guard<std::mutex> lock(mu_);
      return seen_ == expected_ && leader_ == leader;
    });
  }

  // Requests received from the view's session so far (`cons`: the one
  // connection with a session that is not the registrar's).
  std::optional<int64_t> ViewRequests() {
    auto cons = zookeeper().FourLetterWord(0, "cons");
    if (!cons.ok()) return std::nullopt;
    const std::string registrar =
        absl::StrCat("sid=0x", absl::Hex(registrar_->session_id()));
    for (absl::string_view line : absl::StrSplit(*cons, '\n')) {
      if (!absl::StrContains(line, "sid=0x") ||
          absl::StrContains(line, registrar + ",")) {
        continue;
      }
      const size_t at = line.find("recved=");
      if (at == absl::string_view::npos) continue;
      absl::string_view count = line.substr(at + 7);
      count = count.substr(0, count.find(','));
      int64_t requests = 0;
      if (absl::SimpleAtoi(count, &requests)) return requests;
    }
    return std::nullopt;
  }

  int64_t Watches() {
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

  // Requests of the view for one change, once it shows it (and its reads
  // have settled: a read answered after the snapshot is counted too).
  int64_t RequestsFor(const std::function<void()>& change,
                      const std::string& leader) {
    const std::optional<int64_t> before = ViewRequests();
    change();
    EXPECT_TRUE(ViewShows(leader));
    absl::SleepFor(absl::Milliseconds(500));
    const std::optional<int64_t> after = ViewRequests();
    if (!before.has_value() || !after.has_value()) return -1;
    return *after - *before;
  }

  const discovery::RegistryLayout layout_{
      std::string(discovery::kDefaultRegistryRoot), kCluster};
  std::unique_ptr<discovery::ZooKeeperClient> registrar_;
  std::map<int, std::string> candidates_;
  std::set<std::string> expected_;

  std::mutex mu_;
  std::set<std::string> seen_;
  std::string leader_;
  // Last, so destroyed first: its listener writes the members above
  // until the view is gone.
  std::unique_ptr<ClusterView> view_;
};

TEST_F(ClusterViewCostTest, RequestsAndWatchesPerChange) {
  for (int i = 0; i < kServers; ++i) Join(i);
  StartView();
  ASSERT_TRUE(ViewShows(Address(0)));
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t fresh = ViewRequests().value_or(-1);
  const int64_t watches = Watches();
  const int64_t join = RequestsFor([&] { Join(kServers); }, Address(0));
  const int64_t leave = RequestsFor([&] { Leave(kServers); }, Address(0));
  // The leader leaves: the next candidate is read.
  const int64_t leader_leaves = RequestsFor([&] { Leave(0); }, Address(1));
  std::printf(
      "cluster view over %d servers: fresh view %lld requests, %lld watches; "
      "per change: join %lld, leave %lld, leader leaves %lld requests\n",
      kServers, static_cast<long long>(fresh), static_cast<long long>(watches),
      static_cast<long long>(join), static_cast<long long>(leave),
      static_cast<long long>(leader_leaves));
  // One data watch per server, a list watch per parent, the candidates read.
  EXPECT_LE(watches, kServers + 10);
  // A fresh view: the lists, each server's data, each member's stat, the
  // leading candidate (and the session's own requests: a handful).
  EXPECT_LE(fresh, 2 * kServers + 20);
  // Join: 3 lists, the new server's data and its member's stat; one more
  // for a ping that may fall in the window.
  EXPECT_LE(join, 6);
  // Leave: the 3 lists, no read of a deleted node.
  EXPECT_LE(leave, 4);
  // The leader's leave also reads the next candidate.
  EXPECT_LE(leader_leaves, 5);
}

}  // namespace
}  // namespace slacker::internal
