// Ensemble providers: the Exhibitor-style provider against a stand-in HTTP
// server in this test (testing/http_stand_in.h; Exhibitor itself, a JVM web
// application, is not packaged in Debian and cannot run here) serving
// Exhibitor's JSON, falling back to the backup connect string when it is
// down, and bounding hostile answers (huge, malformed, deep, slow, hung);
// and the ZooKeeper client asking its provider for the first ensemble and
// while connected, against a real ZooKeeper.

#include "discovery/ensemble_provider.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/http_stand_in.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::slacker::testing::HttpStandIn;
using ::testing::HasSubstr;

constexpr char kBackup[] = "10.0.0.1:2181,10.0.0.2:2181";

std::string ClusterList(const std::string& servers, int port) {
  return absl::StrCat("{\"servers\":[", servers, "],\"port\":", port, "}");
}

TEST(ParseExhibitorClusterListTest, ReadsServersAndPort) {
  absl::StatusOr<ExhibitorClusterList> list = ParseExhibitorClusterList(
      R"({"servers":["zk1.example","10.0.0.7"],"port":2181})", 1024);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->ConnectString(), "zk1.example:2181,10.0.0.7:2181");
}

TEST(ParseExhibitorClusterListTest, RefusesWhatIsNotAClusterList) {
  for (const char* body : {
           "",
           "[]",
           "not json",
           R"({"servers":[],"port":2181})",
           R"({"servers":["a"]})",
           R"({"servers":["a"],"port":0})",
           R"({"servers":["a"],"port":70000})",
           R"({"servers":["a"],"port":"2181"})",
           R"({"servers":[1],"port":2181})",
           R"({"servers":["a,b:1/x"],"port":2181})",
           R"({"servers":"a","port":2181})",
       }) {
    EXPECT_TRUE(
        absl::IsInvalidArgument(ParseExhibitorClusterList(body, 1024).status()))
        << body;
  }
  // Bounded before parsing: deep, large and many-item texts.
  EXPECT_THAT(ParseExhibitorClusterList(
                  std::string(10000, '[') + std::string(10000, ']'), 1 << 20)
                  .status()
                  .message(),
              HasSubstr("deep"));
  EXPECT_TRUE(absl::IsInvalidArgument(
      ParseExhibitorClusterList(std::string(2000, ' '), 1000).status()));
  std::string many = "\"a\"";
  for (int i = 0; i < 300; ++i) absl::StrAppend(&many, ",\"a\"");
  EXPECT_TRUE(absl::IsInvalidArgument(
      ParseExhibitorClusterList(ClusterList(many, 2181), 1 << 20).status()));
}

// The stand-in's answer, changed by the test while the provider polls.
class Answer {
 public:
  void Set(HttpStandIn::Reply reply) {
    std::lock_guard<std::mutex> lock(mu_);
    reply_ = std::move(reply);
  }
  HttpStandIn::Handler Handler() {
    return [this](const std::string& path) {
      std::lock_guard<std::mutex> lock(mu_);
      if (path != "/exhibitor/v1/cluster/list") {
        return HttpStandIn::Reply{404, "{}"};
      }
      return reply_;
    };
  }

 private:
  std::mutex mu_;
  HttpStandIn::Reply reply_;
};

ExhibitorOptions OptionsFor(int port) {
  ExhibitorOptions options;
  options.hosts = {"127.0.0.1"};
  options.port = port;
  options.backup_connect_string = kBackup;
  options.poll_interval = absl::Hours(1);  // Tests poll with PollNow.
  options.request_timeout = absl::Milliseconds(500);
  options.attempts_per_host = 2;
  options.retry_delay = absl::Milliseconds(10);
  return options;
}

TEST(ExhibitorEnsembleProviderTest, RefusesBadOptions) {
  ExhibitorOptions options = OptionsFor(8080);
  options.hosts.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(
      ExhibitorEnsembleProvider::Start(options).status()));
  options = OptionsFor(8080);
  options.hosts = {"127.0.0.1:8080"};
  EXPECT_TRUE(absl::IsInvalidArgument(
      ExhibitorEnsembleProvider::Start(options).status()));
  options = OptionsFor(0);
  EXPECT_TRUE(absl::IsInvalidArgument(
      ExhibitorEnsembleProvider::Start(options).status()));
  options = OptionsFor(8080);
  options.backup_connect_string = "zk1:2181/chroot";
  EXPECT_TRUE(absl::IsInvalidArgument(
      ExhibitorEnsembleProvider::Start(options).status()));
}

TEST(ExhibitorEnsembleProviderTest, FollowsTheListAndFallsBackToTheBackup) {
  Answer answer;
  answer.Set({200, ClusterList(R"("127.0.0.1")", 2181)});
  auto server = HttpStandIn::Start(answer.Handler());
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();

  auto provider = ExhibitorEnsembleProvider::Start(OptionsFor(port));
  ASSERT_TRUE(provider.ok()) << provider.status();
  // Start polled once already: the first session uses the answer.
  EXPECT_EQ((*provider)->Hosts(), "127.0.0.1:2181");
  EnsembleProvider function = (*provider)->AsProvider();
  EXPECT_EQ(function(), "127.0.0.1:2181");

  answer.Set({200, ClusterList(R"("127.0.0.1","localhost")", 2999)});
  ASSERT_TRUE((*provider)->PollNow().ok());
  EXPECT_EQ(function(), "127.0.0.1:2999,localhost:2999");

  // Exhibitor down: the backup, after every host (the configured one and
  // those the last answer named) was tried.
  server->reset();
  EXPECT_FALSE((*provider)->PollNow().ok());
  EXPECT_EQ(function(), kBackup);
  EXPECT_EQ((*provider)->stats().failed_polls, 1);
  EXPECT_THAT((*provider)->stats().last_error, HasSubstr("connect"));

  // Back on the same port: its answer again.
  answer.Set({200, ClusterList(R"("127.0.0.1")", 3000)});
  server = HttpStandIn::Start(answer.Handler(), port);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*provider)->PollNow().ok());
  EXPECT_EQ(function(), "127.0.0.1:3000");
}

TEST(ExhibitorEnsembleProviderTest, ItsOwnThreadPolls) {
  Answer answer;
  answer.Set({200, ClusterList(R"("127.0.0.1")", 2181)});
  auto server = HttpStandIn::Start(answer.Handler());
  ASSERT_TRUE(server.ok()) << server.status();
  ExhibitorOptions options = OptionsFor((*server)->port());
  options.poll_interval = absl::Milliseconds(50);
  auto provider = ExhibitorEnsembleProvider::Start(options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  answer.Set({200, ClusterList(R"("127.0.0.1")", 2182)});
  // Waits for the poll thread, with a generous deadline.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while ((*provider)->Hosts() != "127.0.0.1:2182" && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ((*provider)->Hosts(), "127.0.0.1:2182");
}

TEST(ExhibitorEnsembleProviderTest, NoBackupKeepsTheLastGoodAnswer) {
  Answer answer;
  answer.Set({200, ClusterList(R"("127.0.0.1")", 2181)});
  auto server = HttpStandIn::Start(answer.Handler());
  ASSERT_TRUE(server.ok()) << server.status();
  ExhibitorOptions options = OptionsFor((*server)->port());
  options.backup_connect_string.clear();
  auto provider = ExhibitorEnsembleProvider::Start(options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  answer.Set({500, "oops"});
  EXPECT_FALSE((*provider)->PollNow().ok());
  EXPECT_EQ((*provider)->Hosts(), "127.0.0.1:2181");
}

TEST(ExhibitorEnsembleProviderTest, HostileAnswersAreBoundedAndMeanTheBackup) {
  Answer answer;
  answer.Set({200, ClusterList(R"("127.0.0.1")", 2181)});
  auto server = HttpStandIn::Start(answer.Handler());
  ASSERT_TRUE(server.ok()) << server.status();
  ExhibitorOptions options = OptionsFor((*server)->port());
  options.max_response_bytes = 4096;
  auto provider = ExhibitorEnsembleProvider::Start(options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_EQ((*provider)->Hosts(), "127.0.0.1:2181");

  struct Case {
    const char* what;
    HttpStandIn::Reply reply;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {"huge",
       {200, std::string(8 << 20, ' ')},
       absl::StatusCode::kResourceExhausted},
      {"malformed", {200, "{\"servers\":"}, absl::StatusCode::kInvalidArgument},
      {"deep",
       {200, std::string(3000, '[') + std::string(3000, ']')},
       absl::StatusCode::kInvalidArgument},
      {"hostile host",
       {200, ClusterList(R"("evil:1,other")", 2181)},
       absl::StatusCode::kInvalidArgument},
      {"not 200", {503, "{}"}, absl::StatusCode::kUnavailable},
      // 1 byte per 100 ms: the answer would take minutes; the request's
      // deadline (500 ms) ends it.
      {"slow",
       {200, ClusterList(R"("127.0.0.1")", 2181), absl::Milliseconds(100)},
       absl::StatusCode::kDeadlineExceeded},
      {"hung",
       {200, "", absl::ZeroDuration(), /*hang=*/true},
       absl::StatusCode::kDeadlineExceeded},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    answer.Set({200, ClusterList(R"("127.0.0.1")", 2181)});
    ASSERT_TRUE((*provider)->PollNow().ok());
    ASSERT_EQ((*provider)->Hosts(), "127.0.0.1:2181");
    answer.Set(c.reply);
    const absl::Status polled = (*provider)->PollNow();
    EXPECT_EQ(polled.code(), c.code) << polled;
    EXPECT_EQ((*provider)->Hosts(), kBackup);
  }
}

// --- The ZooKeeper client and its provider, against a real ZooKeeper.

class EnsembleClientTest : public testing::ZooKeeperEnsembleTest {};

TEST_F(EnsembleClientTest, TheProviderNamesTheFirstEnsemble) {
  std::atomic<int> asked{0};
  ZooKeeperOptions options;
  // Nothing listens there: only the provider's answer can connect.
  options.connect_string = "127.0.0.1:1";
  options.connect_timeout = absl::Seconds(30);
  const std::string real = ConnectString();
  options.ensemble_provider = [&] {
    ++asked;
    return real;
  };
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_GE(asked.load(), 1);
  EXPECT_EQ((*client)->hosts(), real);
  EXPECT_TRUE((*client)->Exists("/").ok());
}

TEST_F(EnsembleClientTest, AMalformedFirstAnswerFallsBackToTheConnectString) {
  ZooKeeperOptions options;
  options.connect_string = ConnectString();
  options.ensemble_provider = [] { return std::string("not a host list/x"); };
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_EQ((*client)->hosts(), ConnectString());
}

TEST_F(EnsembleClientTest, AChangedAnswerIsPickedUpWhileConnected) {
  std::mutex mu;
  std::string provided = ConnectString();
  ZooKeeperOptions options;
  options.connect_string = ConnectString();
  options.ensemble_check_interval = absl::Milliseconds(50);
  options.ensemble_provider = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return provided;
  };
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const int64_t session = (*client)->session_id();
  const std::string two =
      absl::StrCat(zookeeper().NodeAddress(1), ",", zookeeper().NodeAddress(2));
  {
    std::lock_guard<std::mutex> lock(mu);
    provided = two;
  }
  EXPECT_TRUE(Eventually([&] { return (*client)->hosts() == two; }));
  // Node 0 leaves for a new port: the session stays, on the others.
  ASSERT_TRUE(zookeeper().MoveNode(0).ok());
  EXPECT_TRUE(Eventually([&] { return (*client)->Exists("/").ok(); }));
  EXPECT_EQ((*client)->session_id(), session);
}

TEST_F(EnsembleClientTest, ASessionFollowsEveryNodeMovingInTurn) {
  ZooKeeperOptions options;
  options.connect_string = ConnectString();
  options.session_timeout = absl::Seconds(4);
  options.ensemble_check_interval = absl::Milliseconds(100);
  options.ensemble_provider = [this] { return zookeeper().ConnectString(); };
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  const int64_t session = (*client)->session_id();
  for (int node = 0; node < zookeeper().size(); ++node) {
    SCOPED_TRACE(absl::StrCat("moving node ", node));
    ASSERT_TRUE(zookeeper().MoveNode(node).ok());
    EXPECT_TRUE(Eventually([&] {
      return (*client)->hosts() == zookeeper().ConnectString() &&
             (*client)->Exists("/").ok();
    }));
    EXPECT_EQ((*client)->session_id(), session);
  }
}

}  // namespace
}  // namespace slacker::discovery
