// The ZooKeeper client against real servers: operations and their errors,
// watches, connection states through restarts, kill -9 and session expiry,
// ensembles that lose their leader or change, and clean shutdown.

#include "discovery/zookeeper_client.h"

#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "discovery/internal/zookeeper_client_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::slacker::testing::ZooKeeperEnsembleTest;
using ::slacker::testing::ZooKeeperTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Records what a client reports, for tests to wait on.
class Recorder {
 public:
  void Add(std::string event) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  // Waits until `event` has been recorded (at least `count` times).
  bool WaitFor(const std::string& event, int count = 1,
               absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] {
      return std::count(events_.begin(), events_.end(), event) >= count;
    });
  }
  std::vector<std::string> events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

class ZooKeeperClientTest : public ZooKeeperTest {
 protected:
  std::unique_ptr<ZooKeeperClient> NewClient(ZooKeeperOptions options = {}) {
    if (options.connect_string.empty())
      options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Records every connection state of `client` as its name.
  static void RecordStates(ZooKeeperClient& client, Recorder& recorder) {
    client.AddConnectionListener([&recorder](ConnectionState state) {
      recorder.Add(std::string(ConnectionStateName(state)));
    });
  }
};

TEST_F(ZooKeeperClientTest, CreatesReadsUpdatesAndDeletes) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state(), ConnectionState::kConnected);
  EXPECT_NE(client->session_id(), 0);
  EXPECT_GT(client->negotiated_session_timeout(), absl::ZeroDuration());

  EXPECT_EQ(*client->Create("/a", "one"), "/a");
  absl::StatusOr<NodeData> read = client->Get("/a");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, "one");
  EXPECT_EQ(read->stat.version, 0);

  absl::StatusOr<NodeStat> set = client->Set("/a", "two", 0);
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->version, 1);
  EXPECT_EQ(client->Get("/a")->data, "two");

  absl::Status stale = client->Set("/a", "three", 0).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(stale)) << stale;
  EXPECT_THAT(stale.message(), HasSubstr("ZBADVERSION"));

  ASSERT_TRUE(client->Create("/a/x", "").ok());
  ASSERT_TRUE(client->Create("/a/y", "").ok());
  absl::StatusOr<NodeChildren> children = client->GetChildren("/a");
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(children->names, UnorderedElementsAre("x", "y"));
  EXPECT_EQ(children->stat.num_children, 2);

  absl::Status not_empty = client->Delete("/a");
  EXPECT_TRUE(absl::IsFailedPrecondition(not_empty)) << not_empty;
  EXPECT_THAT(not_empty.message(), HasSubstr("ZNOTEMPTY"));

  ASSERT_TRUE(client->Delete("/a/x").ok());
  ASSERT_TRUE(client->Delete("/a/y").ok());
  ASSERT_TRUE(client->Delete("/a").ok());
  EXPECT_EQ(*client->Exists("/a"), std::nullopt);

  absl::Status missing = client->Get("/a").status();
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_THAT(missing.message(), HasSubstr("get /a: ZNONODE"));
  absl::Status exists = client->Create("/", "").status();
  EXPECT_TRUE(absl::IsAlreadyExists(exists)) << exists;
}

TEST_F(ZooKeeperClientTest, CreatesParentsAndSequentialNodes) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  absl::Status no_parent = client->Create("/p/q/r", "x").status();
  EXPECT_TRUE(absl::IsNotFound(no_parent)) << no_parent;
  EXPECT_EQ(*client->Create("/p/q/r", "x", CreateMode::kPersistent, true),
            "/p/q/r");
  EXPECT_EQ(client->Get("/p/q/r")->data, "x");
  EXPECT_EQ(client->Get("/p/q")->data, "");

  absl::StatusOr<std::string> first =
      client->Create("/p/seq-", "", CreateMode::kEphemeralSequential);
  absl::StatusOr<std::string> second =
      client->Create("/p/seq-", "", CreateMode::kEphemeralSequential);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_THAT(*first, ::testing::MatchesRegex("/p/seq-[0-9]{10}"));
  EXPECT_LT(*first, *second);
  EXPECT_NE(client->Exists(*first)->value().ephemeral_owner, 0);
}

TEST_F(ZooKeeperClientTest, MultiIsAllOrNothing) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Create("/m", "0").ok());
  absl::StatusOr<std::vector<OpResult>> done = client->Multi(
      {Op::Create("/m/a", "a"), Op::Set("/m", "1", 0), Op::Check("/m/a", 0)});
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_EQ(done->size(), 3u);
  EXPECT_EQ((*done)[0].created_path, "/m/a");
  EXPECT_EQ((*done)[1].stat.version, 1);

  absl::Status failed =
      client->Multi({Op::Create("/m/b", "b"), Op::Delete("/m/missing")})
          .status();
  EXPECT_TRUE(absl::IsNotFound(failed)) << failed;
  EXPECT_THAT(failed.message(), HasSubstr("/m/missing"));
  EXPECT_EQ(*client->Exists("/m/b"), std::nullopt) << "the multi half-applied";
}

TEST_F(ZooKeeperClientTest, AsyncCallbacksRunOnTheEventThread) {
  Recorder recorder;
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  client->CreateAsync("/async", "v", CreateMode::kPersistent, false,
                      [&](absl::StatusOr<std::string> created) {
                        recorder.Add(client->IsEventThread() && created.ok()
                                         ? "created on event thread"
                                         : "wrong");
                        // A synchronous call here would deadlock: refused.
                        absl::Status sync = client->Get("/async").status();
                        recorder.Add(absl::IsFailedPrecondition(sync)
                                         ? "sync refused"
                                         : sync.ToString());
                      });
  EXPECT_TRUE(recorder.WaitFor("created on event thread"));
  EXPECT_TRUE(recorder.WaitFor("sync refused"));
}

TEST_F(ZooKeeperClientTest, WatchesFireOnceOnTheEventThread) {
  Recorder recorder;
  auto client = NewClient();
  auto other = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(other, nullptr);
  auto record = [&](WatchEventType type, const std::string& path) {
    recorder.Add(absl::StrCat(WatchEventTypeName(type), " ", path,
                              client->IsEventThread() ? "" : " off-thread"));
  };
  EXPECT_EQ(*client->Exists("/w", record), std::nullopt);
  ASSERT_TRUE(other->Create("/w", "1").ok());
  EXPECT_TRUE(recorder.WaitFor("CREATED /w"));

  ASSERT_TRUE(client->Get("/w", record).ok());
  ASSERT_TRUE(client->GetChildren("/w", record).ok());
  ASSERT_TRUE(other->Set("/w", "2").ok());
  ASSERT_TRUE(other->Set("/w", "3").ok());  // The data watch was used up.
  ASSERT_TRUE(other->Create("/w/c", "").ok());
  EXPECT_TRUE(recorder.WaitFor("DATA_CHANGED /w"));
  EXPECT_TRUE(recorder.WaitFor("CHILDREN_CHANGED /w"));
  ASSERT_TRUE(client->Exists("/w/c", record).ok());
  ASSERT_TRUE(other->Delete("/w/c").ok());
  EXPECT_TRUE(recorder.WaitFor("DELETED /w/c"));
  EXPECT_THAT(recorder.events(), ElementsAre("CREATED /w", ::testing::_,
                                             ::testing::_, "DELETED /w/c"));
}

TEST_F(ZooKeeperClientTest, SuspendedThenReconnectedAcrossARestart) {
  Recorder states;
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  RecordStates(*client, states);
  ASSERT_TRUE(client->Create("/e", "", CreateMode::kEphemeral).ok());
  const int64_t session = client->session_id();

  ASSERT_TRUE(zookeeper().StopNode(0).ok());
  EXPECT_TRUE(states.WaitFor("SUSPENDED"));
  absl::Status down = client->Get("/e").status();
  EXPECT_TRUE(absl::IsUnavailable(down) || absl::IsDeadlineExceeded(down))
      << down;

  ASSERT_TRUE(zookeeper().StartNode(0).ok());
  EXPECT_TRUE(states.WaitFor("RECONNECTED"));
  EXPECT_EQ(client->session_id(), session);
  EXPECT_TRUE(client->Exists("/e")->has_value()) << "the ephemeral was lost";
  EXPECT_THAT(states.events(), ElementsAre("SUSPENDED", "RECONNECTED"));
}

TEST_F(ZooKeeperClientTest, SurvivesAKillNineOfZooKeeper) {
  Recorder states;
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  RecordStates(*client, states);
  ASSERT_TRUE(client->Create("/k", "v").ok());
  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  EXPECT_TRUE(states.WaitFor("SUSPENDED"));
  ASSERT_TRUE(zookeeper().StartNode(0).ok());
  // The session survives a quick restart; if the restart took longer than
  // the session timeout, the client makes a new session. Either way it works.
  EXPECT_TRUE(ZooKeeperTest::Eventually([&] {
    absl::StatusOr<NodeData> read = client->Get("/k");
    return read.ok() && read->data == "v";
  }));
  EXPECT_NE(client->state(), ConnectionState::kSuspended);
}

TEST_F(ZooKeeperClientTest, ExpiryMakesANewSessionAndTellsSubscribersFirst) {
  Recorder states;
  Recorder subscriber;
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  RecordStates(*client, states);
  client->Subscribe([&](ConnectionState state) {
    subscriber.Add(std::string(ConnectionStateName(state)));
  });
  ASSERT_TRUE(client->Create("/eph", "", CreateMode::kEphemeral).ok());
  const auto [old_session, password] = client->session_credentials();

  ASSERT_TRUE(zookeeper().ExpireSession(old_session, password).ok());

  EXPECT_TRUE(states.WaitFor("NEW_SESSION"));
  EXPECT_TRUE(subscriber.WaitFor("NEW_SESSION"));
  // Before it ends, the session may bounce (SUSPENDED, RECONNECTED) while the
  // test's second handle steals it; then it expires exactly once.
  const std::vector<std::string> seen = states.events();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_THAT(std::vector<std::string>(seen.end() - 2, seen.end()),
              ElementsAre("EXPIRED", "NEW_SESSION"));
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "EXPIRED"), 1);
  EXPECT_NE(client->session_id(), old_session);
  EXPECT_NE(client->session_id(), 0);
  EXPECT_EQ(*client->Exists("/eph"), std::nullopt) << "ephemeral outlived";
  EXPECT_TRUE(client->Create("/after", "").ok());
}

// The start-up race, forced: the C client's threads deliver the first session
// event before Connect's thread has made the handle its current one. The
// client recorded its session as 0 then (seen by chance under load), and
// took its own ephemeral nodes for another session's.
TEST_F(ZooKeeperClientTest, SessionIsRecordedWhenItsEventBeatsConnect) {
  internal::SetSessionEventBeforeHandleForTesting(true);
  auto client = NewClient();
  internal::SetSessionEventBeforeHandleForTesting(false);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state(), ConnectionState::kConnected);
  EXPECT_NE(client->session_id(), 0);
  EXPECT_EQ(client->session_credentials().first, client->session_id());
  EXPECT_GT(client->negotiated_session_timeout(), absl::ZeroDuration());
  ASSERT_TRUE(client->Create("/mine", "", CreateMode::kEphemeral).ok());
  absl::StatusOr<NodeData> mine = client->Get("/mine");
  ASSERT_TRUE(mine.ok()) << mine.status();
  EXPECT_EQ(mine->stat.ephemeral_owner, client->session_id());
}

TEST_F(ZooKeeperClientTest, CloseRemovesEphemeralsAtOnceAndEndsCallbacks) {
  Recorder states;
  Recorder watch;
  auto observer = NewClient();
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(observer, nullptr);
  ASSERT_TRUE(client->Create("/gone", "", CreateMode::kEphemeral).ok());
  RecordStates(*client, states);
  ASSERT_TRUE(
      client
          ->Get("/gone",
                [&](WatchEventType, const std::string&) { watch.Add("fired"); })
          .ok());

  client->Close();
  EXPECT_THAT(states.events(), ElementsAre("CLOSED"));
  // Gone now, not after the session timeout.
  EXPECT_EQ(*observer->Exists("/gone"), std::nullopt);
  EXPECT_TRUE(absl::IsCancelled(client->Get("/gone").status()));
  EXPECT_TRUE(watch.events().empty()) << "a watch fired after Close";
  client->Close();  // Idempotent.
}

// Close() joins the client's threads: on one of them it would wait for itself.
// Broken REQUIRES: end the process at once, saying what was done wrong. Each
// death test re-runs this test in a child process ("threadsafe" style), which
// starts its own ZooKeeper: the parent has threads, so no bare fork.
class ZooKeeperClientDeathTest : public ZooKeeperClientTest {};

TEST_F(ZooKeeperClientDeathTest, CloseOnItsOwnThreadsFailsFastWithAMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        std::unique_ptr<ZooKeeperClient> client = NewClient();
        ZooKeeperClient* raw = client.get();
        raw->RunOnEventThread([raw] { raw->Close(); });
        absl::SleepFor(absl::Seconds(30));
      },
      "ZooKeeperClient::Close\\(\\) called on the client's own event "
      "thread.*from a thread of your own");
  EXPECT_DEATH(
      {
        std::unique_ptr<ZooKeeperClient> client = NewClient();
        client->RunOnListenerThread([&client] { client.reset(); });
        absl::SleepFor(absl::Seconds(30));
      },
      "ZooKeeperClient destroyed on the client's own listener thread");
}

// The C client (3.8) can drop completions queued while it closes (its
// completion thread may already have stopped; ZOOKEEPER-3868): every `done`
// must still run. Counted here, not left to LSan: the asan config suppresses
// the C client's lost memory, and LSan counts call state reachable only from
// it into that suppression (see bazel/asan_defaults.cc).
TEST_F(ZooKeeperClientTest, CloseCompletesEveryCallInFlight) {
  auto writer = NewClient();
  ASSERT_NE(writer, nullptr);
  ASSERT_TRUE(writer->Create("/busy", "", CreateMode::kPersistent).ok());
  constexpr int kRounds = 40;
  constexpr int kCallsPerRound = 200;
  for (int round = 0; round < kRounds; ++round) {
    auto client = NewClient();
    ASSERT_NE(client, nullptr);
    std::atomic<int> done{0};
    for (int i = 0; i < kCallsPerRound; ++i) {
      // Watches too: the writer's changes make the server send events while
      // the client closes.
      client->GetAsync(
          "/busy", [](WatchEventType, const std::string&) {},
          [&](absl::StatusOr<NodeData>) { ++done; });
      writer->SetAsync("/busy", absl::StrCat(i), -1,
                       [](absl::StatusOr<NodeStat>) {});
    }
    client->Close();
    // Close() returns after every completion ran: no waiting here.
    ASSERT_EQ(done.load(), kCallsPerRound) << "round " << round;
  }
  std::cout << "measured: " << kRounds * kCallsPerRound
            << " calls closed in flight, every one completed\n";
}

TEST_F(ZooKeeperClientTest, ChrootScopesEveryPath) {
  Recorder watch;
  auto root = NewClient();
  ASSERT_NE(root, nullptr);
  ASSERT_TRUE(
      root->Create("/apps/one", "", CreateMode::kPersistent, true).ok());
  ZooKeeperOptions options;
  options.connect_string = ConnectString() + "/apps/one";
  auto scoped = NewClient(options);
  ASSERT_NE(scoped, nullptr);
  ASSERT_TRUE(scoped->Create("/x/y", "in", CreateMode::kPersistent, true).ok());
  EXPECT_EQ(root->Get("/apps/one/x/y")->data, "in");
  ASSERT_TRUE(
      scoped
          ->Get("/x/y", [&](WatchEventType,
                            const std::string& path) { watch.Add(path); })
          .ok());
  ASSERT_TRUE(root->Set("/apps/one/x/y", "changed").ok());
  EXPECT_TRUE(watch.WaitFor("/x/y")) << "watch paths are chroot-relative";
}

TEST_F(ZooKeeperClientTest, RefusesBadPathsAndOversizedData) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  for (const char* path :
       {"", "no-slash", "/trailing/", "/a//b", "/a/./b", "/a/../b"}) {
    absl::Status status = client->Create(path, "").status();
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << path << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr("invalid ZooKeeper path"));
  }
  const std::string big(ZooKeeperClient::kMaxDataBytes + 1, 'x');
  absl::Status too_big = client->Create("/big", big).status();
  EXPECT_TRUE(absl::IsInvalidArgument(too_big)) << too_big;
  EXPECT_THAT(too_big.message(), HasSubstr("/big"));
  EXPECT_THAT(too_big.message(), HasSubstr("jute.maxbuffer"));
  // Well over 1 MB, refused before it reaches the server: the connection and
  // the session are untouched.
  const std::string huge(3 * 1024 * 1024, 'x');
  EXPECT_TRUE(absl::IsInvalidArgument(client->Create("/huge", huge).status()));
  EXPECT_TRUE(client->Create("/fine", std::string(100 * 1024, 'x')).ok());
  EXPECT_EQ(client->state(), ConnectionState::kConnected);
}

TEST_F(ZooKeeperClientTest, MalformedConnectStringsAreClearErrors) {
  for (const char* bad : {"", "localhost", "127.0.0.1:", "127.0.0.1:99999",
                          "127.0.0.1:2181,", "127.0.0.1:2181/a//b", ":2181"}) {
    ZooKeeperOptions options;
    options.connect_string = bad;
    const absl::Time start = absl::Now();
    absl::Status status = ZooKeeperClient::Connect(options).status();
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << bad << ": " << status;
    EXPECT_THAT(status.message(), HasSubstr("connect string"));
    EXPECT_LT(absl::Now() - start, absl::Seconds(5)) << bad;
  }
  ZooKeeperOptions unresolvable;
  unresolvable.connect_string = "no-such-host.invalid:2181";
  absl::Status status = ZooKeeperClient::Connect(unresolvable).status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("no-such-host.invalid:2181"));
}

TEST_F(ZooKeeperClientTest, UnreachableZooKeeperFailsWithinTheConnectTimeout) {
  // A port where nothing listens: ZooKeeper's own, once stopped.
  const std::string address = zookeeper().NodeAddress(0);
  ASSERT_TRUE(zookeeper().StopNode(0).ok());
  ZooKeeperOptions options;
  options.connect_string = address;
  options.connect_timeout = absl::Seconds(2);
  const absl::Time start = absl::Now();
  absl::Status status = ZooKeeperClient::Connect(options).status();
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr(address));
  EXPECT_LT(took, absl::Seconds(10)) << "Connect hung";
  std::cout << "measured: unreachable ZooKeeper reported after "
            << absl::FormatDuration(took) << " (connect timeout 2s)\n";
}

TEST_F(ZooKeeperClientTest, WrongCredentialsArePermissionDenied) {
  ZooKeeperOptions owner_options;
  owner_options.digest = "alice:secret";
  owner_options.acl = AclPolicy::kCreatorAll;
  auto owner = NewClient(owner_options);
  ASSERT_NE(owner, nullptr);
  ASSERT_TRUE(owner->Create("/private", "mine").ok());
  EXPECT_EQ(owner->Get("/private")->data, "mine");

  ZooKeeperOptions wrong;
  wrong.digest = "alice:guess";
  auto intruder = NewClient(wrong);
  ASSERT_NE(intruder, nullptr);
  absl::Status denied = intruder->Get("/private").status();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("ZNOAUTH"));
  EXPECT_THAT(denied.message(), HasSubstr("digest user 'alice'"));

  auto anonymous = NewClient();
  ASSERT_NE(anonymous, nullptr);
  EXPECT_TRUE(absl::IsPermissionDenied(anonymous->Get("/private").status()));

  ZooKeeperOptions malformed;
  malformed.connect_string = ConnectString();
  malformed.digest = "no-colon";
  EXPECT_TRUE(
      absl::IsInvalidArgument(ZooKeeperClient::Connect(malformed).status()));
  ZooKeeperOptions acl_without_digest;
  acl_without_digest.connect_string = ConnectString();
  acl_without_digest.acl = AclPolicy::kCreatorAll;
  EXPECT_TRUE(absl::IsInvalidArgument(
      ZooKeeperClient::Connect(acl_without_digest).status()));
}

TEST_F(ZooKeeperClientTest, SharedPathsStayOpenToCreateUnder) {
  ZooKeeperOptions owner_options;
  owner_options.digest = "alice:secret";
  owner_options.acl = AclPolicy::kCreatorAllWorldRead;
  owner_options.admin_id = "ops:c2VjcmV0IGhhc2g=";
  owner_options.shared_paths = {"/shared/root"};
  auto owner = NewClient(owner_options);
  ASSERT_NE(owner, nullptr);
  ASSERT_TRUE(owner
                  ->Create("/shared/root/mine/leaf", "",
                           CreateMode::kPersistent,
                           /*create_parents=*/true)
                  .ok());
  for (const std::string path : {"/shared", "/shared/root"}) {
    auto acl = owner->GetAcl(path);
    ASSERT_TRUE(acl.ok()) << acl.status();
    EXPECT_EQ(AclToString(acl->first), "world:anyone:cdr") << path;
  }
  auto own = owner->GetAcl("/shared/root/mine");
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_THAT(AclToString(own->first), HasSubstr("digest:alice:"));
  EXPECT_THAT(AclToString(own->first),
              HasSubstr("digest:ops:c2VjcmV0IGhhc2g=:cdrwa"));
  EXPECT_THAT(AclToString(own->first), HasSubstr("world:anyone:r"));
  EXPECT_EQ(AclToString(owner->AclFor("/shared")), "world:anyone:cdr");
  EXPECT_EQ(AclToString(owner->AclFor("/shared/root/mine")),
            "auth::cdrwa, digest:ops:c2VjcmV0IGhhc2g=:cdrwa, world:anyone:r");

  auto anonymous = NewClient();
  ASSERT_NE(anonymous, nullptr);
  EXPECT_TRUE(anonymous->Create("/shared/root/theirs", "").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(
      anonymous->Create("/shared/root/mine/theirs", "").status()));
  EXPECT_TRUE(
      absl::IsPermissionDenied(anonymous->Delete("/shared/root/mine/leaf")));
  EXPECT_TRUE(
      absl::IsPermissionDenied(anonymous->Set("/shared/root", "x").status()));
  EXPECT_TRUE(absl::IsPermissionDenied(anonymous->SetAcl(
      "/shared/root", {AclEntry{kPermAll, "world", "anyone"}})));
  EXPECT_TRUE(anonymous->Get("/shared/root/mine").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(owner->SetAcl("/shared/root/mine", {})));
  // The owner may re-ACL its own node, e.g. open it again.
  EXPECT_TRUE(
      owner
          ->SetAcl("/shared/root/mine", {AclEntry{kPermAll, "world", "anyone"}})
          .ok());
  EXPECT_TRUE(anonymous->Create("/shared/root/mine/theirs", "").ok());

  ZooKeeperOptions admin_when_open;
  admin_when_open.connect_string = ConnectString();
  admin_when_open.admin_id = "ops:c2VjcmV0IGhhc2g=";
  EXPECT_TRUE(absl::IsInvalidArgument(
      ZooKeeperClient::Connect(admin_when_open).status()));
}

TEST_F(ZooKeeperClientTest, ListenersThatBlockDoNotStallTheEventThread) {
  Recorder watch;
  // Declared before the clients, which use them until closed.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  auto client = NewClient();
  auto other = NewClient();
  ASSERT_NE(client, nullptr);
  client->RunOnListenerThread([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return release; });
  });
  ASSERT_TRUE(
      client
          ->Exists("/late", [&](WatchEventType,
                                const std::string&) { watch.Add("created"); })
          .ok());
  ASSERT_TRUE(other->Create("/late", "").ok());
  EXPECT_TRUE(watch.WaitFor("created")) << "a blocked listener stalled watches";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
}

TEST_F(ZooKeeperClientTest, ARemovedListenerIsNotCalledAgain) {
  Recorder recorder;
  Recorder states;
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  const int id = client->AddConnectionListener(
      [&](ConnectionState state) { recorder.Add("called"); });
  client->RemoveConnectionListener(id);
  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  RecordStates(*client, states);
  ASSERT_TRUE(
      ZooKeeperTest::Eventually([&] { return client->Exists("/").ok(); }));
  client->Close();
  EXPECT_TRUE(recorder.events().empty());
}

class ZooKeeperClientEnsembleTest : public ZooKeeperEnsembleTest {
 protected:
  std::unique_ptr<ZooKeeperClient> NewClient(ZooKeeperOptions options) {
    options.session_timeout = absl::Seconds(4);
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }
};

TEST_F(ZooKeeperClientEnsembleTest, LosingTheLeaderKeepsSessionsAndNodes) {
  Recorder states;
  ZooKeeperOptions options;
  options.connect_string = ConnectString();
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  client->AddConnectionListener([&](ConnectionState state) {
    states.Add(std::string(ConnectionStateName(state)));
  });
  ASSERT_TRUE(client->Create("/svc/a", "", CreateMode::kEphemeral, true).ok());
  const int64_t session = client->session_id();

  const absl::StatusOr<int> leader = zookeeper().LeaderIndex();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(zookeeper().StopNode(*leader).ok());
  EXPECT_TRUE(ZooKeeperTest::Eventually([&] {
    return client->Create("/svc/b", "", CreateMode::kEphemeral).ok();
  }));
  EXPECT_EQ(client->session_id(), session);
  EXPECT_TRUE(client->Exists("/svc/a")->has_value());
  for (const std::string& state : states.events()) {
    EXPECT_NE(state, "EXPIRED");
  }
}

TEST_F(ZooKeeperClientEnsembleTest, FollowsTheEnsembleConfig) {
  // The client is told of one server only; /zookeeper/config names all three.
  ZooKeeperOptions options;
  options.connect_string = zookeeper().NodeAddress(0);
  options.follow_ensemble_config = true;
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(ZooKeeperTest::Eventually([&] {
    const std::vector<std::string> hosts = absl::StrSplit(client->hosts(), ',');
    return hosts.size() == 3;
  })) << "hosts: "
      << client->hosts();
  ASSERT_TRUE(client->Create("/kept", "", CreateMode::kEphemeral).ok());
  const int64_t session = client->session_id();

  // Without the other two, losing node 0 would leave it nowhere to go.
  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  EXPECT_TRUE(ZooKeeperTest::Eventually([&] {
    return client->Create("/moved", "", CreateMode::kEphemeral).ok();
  }));
  EXPECT_EQ(client->session_id(), session);
  EXPECT_TRUE(client->Exists("/kept")->has_value());
}

TEST_F(ZooKeeperClientEnsembleTest, UpdateEnsembleMovesTheSession) {
  ZooKeeperOptions options;
  options.connect_string = zookeeper().NodeAddress(0);
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(client->UpdateEnsemble("nonsense")));
  EXPECT_EQ(client->hosts(), zookeeper().NodeAddress(0));
  const std::string others =
      absl::StrCat(zookeeper().NodeAddress(1), ",", zookeeper().NodeAddress(2));
  ASSERT_TRUE(client->UpdateEnsemble(others).ok());
  EXPECT_EQ(client->hosts(), others);
  const int64_t session = client->session_id();
  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  EXPECT_TRUE(
      ZooKeeperTest::Eventually([&] { return client->Exists("/").ok(); }));
  EXPECT_EQ(client->session_id(), session);
}

TEST_F(ZooKeeperClientEnsembleTest, AnEnsembleProviderIsAskedOnDisconnection) {
  std::mutex mu;
  std::string provided;
  ZooKeeperOptions options;
  options.connect_string = zookeeper().NodeAddress(0);
  options.ensemble_provider = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return provided;
  };
  auto client = NewClient(options);
  ASSERT_NE(client, nullptr);
  {
    std::lock_guard<std::mutex> lock(mu);
    provided = absl::StrCat(zookeeper().NodeAddress(1), ",",
                            zookeeper().NodeAddress(2));
  }
  const int64_t session = client->session_id();
  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  EXPECT_TRUE(
      ZooKeeperTest::Eventually([&] { return client->Exists("/").ok(); }));
  EXPECT_EQ(client->session_id(), session);
  EXPECT_EQ(client->hosts(), provided);
}

}  // namespace
}  // namespace slacker::discovery
