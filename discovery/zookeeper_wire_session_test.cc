#include "discovery/zookeeper_wire_session.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Records what a session reports, for waiting on it.
struct Recorder {
  std::mutex mu;
  std::vector<WireSessionState> states;
  std::vector<std::pair<WatchEventType, std::string>> events;

  ZooKeeperWireSession::StateHandler OnState() {
    return [this](WireSessionState s) {
      std::lock_guard<std::mutex> lock(mu);
      states.push_back(s);
    };
  }
  ZooKeeperWireSession::EventHandler OnEvent() {
    return [this](WatchEventType t, const std::string& p) {
      std::lock_guard<std::mutex> lock(mu);
      events.emplace_back(t, p);
    };
  }
  std::vector<WireSessionState> States() {
    std::lock_guard<std::mutex> lock(mu);
    return states;
  }
  std::vector<std::pair<WatchEventType, std::string>> Events() {
    std::lock_guard<std::mutex> lock(mu);
    return events;
  }
};

absl::StatusOr<NodeData> GetData(ZooKeeperWireSession& s,
                                 const std::string& path) {
  std::promise<absl::StatusOr<NodeData>> p;
  s.GetData(path, false, [&](absl::StatusOr<NodeData> r) { p.set_value(r); });
  return p.get_future().get();
}

absl::StatusOr<NodeChildren> GetChildren(ZooKeeperWireSession& s,
                                         const std::string& path) {
  std::promise<absl::StatusOr<NodeChildren>> p;
  s.GetChildren(path, false,
                [&](absl::StatusOr<NodeChildren> r) { p.set_value(r); });
  return p.get_future().get();
}

absl::StatusOr<std::optional<NodeStat>> Exists(ZooKeeperWireSession& s,
                                               const std::string& path) {
  std::promise<absl::StatusOr<std::optional<NodeStat>>> p;
  s.Exists(path, false,
           [&](absl::StatusOr<std::optional<NodeStat>> r) { p.set_value(r); });
  return p.get_future().get();
}

absl::StatusOr<std::vector<absl::StatusOr<NodeData>>> GetDataMany(
    ZooKeeperWireSession& s, std::vector<std::string> paths) {
  std::promise<absl::StatusOr<std::vector<absl::StatusOr<NodeData>>>> p;
  s.GetDataMany(std::move(paths),
                [&](absl::StatusOr<std::vector<absl::StatusOr<NodeData>>> r) {
                  p.set_value(std::move(r));
                });
  return p.get_future().get();
}

absl::Status AddWatch(ZooKeeperWireSession& s, const std::string& path) {
  std::promise<absl::Status> p;
  s.AddWatch(path, AddWatchMode::kPersistentRecursive,
             [&](absl::Status r) { p.set_value(r); });
  return p.get_future().get();
}

class WireSessionTest : public slacker::testing::ZooKeeperTest {
 protected:
  void Create(zhandle_t* zh, const std::string& path, const std::string& data,
              const ACL_vector* acl = &ZOO_OPEN_ACL_UNSAFE, int flags = 0) {
    ASSERT_EQ(zoo_create(zh, path.c_str(), data.data(),
                         static_cast<int>(data.size()), acl, flags, nullptr, 0),
              ZOK)
        << path;
  }

  std::unique_ptr<ZooKeeperWireSession> StartSession(
      Recorder* recorder, std::string connect_string = "",
      std::string digest = "", absl::Duration timeout = absl::Seconds(4)) {
    ZooKeeperWireSessionOptions options;
    options.connect_string =
        connect_string.empty() ? ConnectString() : connect_string;
    options.digest = digest;
    options.session_timeout = timeout;
    auto session = ZooKeeperWireSession::Start(options, recorder->OnState(),
                                               recorder->OnEvent());
    EXPECT_TRUE(session.ok()) << session.status();
    if (!session.ok()) return nullptr;
    EXPECT_TRUE((*session)->WaitUntilConnected(absl::Seconds(20)));
    return *std::move(session);
  }
};

TEST_F(WireSessionTest, ReadsWhatTheCClientWrote) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  Create(raw->handle(), "/a", "root data");
  Create(raw->handle(), "/a/x", "1");
  Create(raw->handle(), "/a/y", "");
  Recorder recorder;
  auto session = StartSession(&recorder);
  ASSERT_NE(session, nullptr);
  EXPECT_THAT(recorder.States(), ElementsAre(WireSessionState::kConnected));
  EXPECT_NE(session->session_id(), 0);

  absl::StatusOr<NodeData> a = GetData(*session, "/a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->data, "root data");
  EXPECT_EQ(a->stat.num_children, 2);
  EXPECT_EQ(a->stat.ephemeral_owner, 0);

  absl::StatusOr<NodeChildren> children = GetChildren(*session, "/a");
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(children->names, UnorderedElementsAre("x", "y"));

  absl::StatusOr<std::optional<NodeStat>> x = Exists(*session, "/a/x");
  ASSERT_TRUE(x.ok());
  ASSERT_TRUE(x->has_value());
  EXPECT_EQ((*x)->data_length, 1);
  absl::StatusOr<std::optional<NodeStat>> missing = Exists(*session, "/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_TRUE(absl::IsNotFound(GetData(*session, "/nope").status()));
  EXPECT_TRUE(absl::IsNotFound(GetChildren(*session, "/nope").status()));
}

TEST_F(WireSessionTest, EphemeralOwnerIsTheWritersSession) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  Create(raw->handle(), "/e", "", &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL);
  Recorder recorder;
  auto session = StartSession(&recorder);
  ASSERT_NE(session, nullptr);
  absl::StatusOr<NodeData> e = GetData(*session, "/e");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->stat.ephemeral_owner, raw->client_id().client_id);
}

TEST_F(WireSessionTest, RecursiveWatchReportsEveryChangeBelowItsRoot) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  Recorder recorder;
  auto session = StartSession(&recorder);
  ASSERT_NE(session, nullptr);
  // The root need not exist yet.
  ASSERT_TRUE(AddWatch(*session, "/w").ok());
  Create(raw->handle(), "/w", "");
  Create(raw->handle(), "/w/a", "");
  Create(raw->handle(), "/w/a/b", "");
  ASSERT_EQ(zoo_set(raw->handle(), "/w/a", "new", 3, -1), ZOK);
  ASSERT_EQ(zoo_delete(raw->handle(), "/w/a/b", -1), ZOK);
  Create(raw->handle(), "/other", "");  // Outside the watch.
  ASSERT_TRUE(Eventually([&] { return recorder.Events().size() >= 5; },
                         absl::Seconds(10)));
  // One round trip after the last write: nothing more is on its way.
  ASSERT_TRUE(Exists(*session, "/w").ok());
  EXPECT_THAT(recorder.Events(),
              ElementsAre(std::make_pair(WatchEventType::kCreated, "/w"),
                          std::make_pair(WatchEventType::kCreated, "/w/a"),
                          std::make_pair(WatchEventType::kCreated, "/w/a/b"),
                          std::make_pair(WatchEventType::kDataChanged, "/w/a"),
                          std::make_pair(WatchEventType::kDeleted, "/w/a/b")));
  EXPECT_EQ(session->counters().events, 5);

  // One watch on the server for this session.
  absl::StatusOr<std::string> wchs = zookeeper().FourLetterWord(0, "wchs");
  ASSERT_TRUE(wchs.ok());
  EXPECT_THAT(*wchs, HasSubstr("1 connections watching 1 paths"));
}

TEST_F(WireSessionTest, PathsAreRelativeToTheChroot) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  Create(raw->handle(), "/app", "");
  Create(raw->handle(), "/app/n", "in chroot");
  Recorder recorder;
  auto session = StartSession(&recorder, ConnectString() + "/app");
  ASSERT_NE(session, nullptr);
  absl::StatusOr<NodeData> n = GetData(*session, "/n");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->data, "in chroot");
  ASSERT_TRUE(AddWatch(*session, "/").ok());
  Create(raw->handle(), "/app/m", "");
  ASSERT_TRUE(Eventually([&] { return !recorder.Events().empty(); }));
  EXPECT_THAT(recorder.Events(),
              ElementsAre(std::make_pair(WatchEventType::kCreated, "/m")));
}

TEST_F(WireSessionTest, DigestAuthReadsWhatOnlyItsIdentityMay) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  ASSERT_EQ(zoo_add_auth(raw->handle(), "digest", "user:secret", 11, nullptr,
                         nullptr),
            ZOK);
  // Let the auth land before the create that relies on it.
  ASSERT_EQ(zoo_exists(raw->handle(), "/", 0, nullptr), ZOK);
  Create(raw->handle(), "/private", "mine", &ZOO_CREATOR_ALL_ACL);

  Recorder with_recorder;
  auto with = StartSession(&with_recorder, "", "user:secret");
  ASSERT_NE(with, nullptr);
  absl::StatusOr<NodeData> read = GetData(*with, "/private");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->data, "mine");

  Recorder wrong_recorder;
  auto wrong = StartSession(&wrong_recorder, "", "user:guess");
  ASSERT_NE(wrong, nullptr);
  absl::Status refused = GetData(*wrong, "/private").status();
  EXPECT_TRUE(absl::IsPermissionDenied(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("digest"));
}

TEST_F(WireSessionTest, PingsKeepAnIdleSessionAlive) {
  Recorder recorder;
  // The fixture's tick (200 ms) gives a 1 s session 5 ticks.
  auto session = StartSession(&recorder, "", "", absl::Seconds(1));
  ASSERT_NE(session, nullptr);
  const int64_t id = session->session_id();
  absl::SleepFor(absl::Seconds(4));  // Four session timeouts, idle.
  EXPECT_TRUE(session->connected());
  EXPECT_EQ(session->session_id(), id);
  EXPECT_THAT(recorder.States(), ElementsAre(WireSessionState::kConnected));
  EXPECT_GE(session->counters().requests, 4);  // The pings.
  EXPECT_TRUE(Exists(*session, "/").ok());
}

TEST_F(WireSessionTest, ExpiryGivesANewSession) {
  Recorder recorder;
  auto session = StartSession(&recorder);
  ASSERT_NE(session, nullptr);
  const int64_t id = session->session_id();
  ASSERT_TRUE(zookeeper().ExpireSession(id, session->session_password()).ok());
  ASSERT_TRUE(Eventually([&] {
    std::vector<WireSessionState> s = recorder.States();
    return !s.empty() && s.back() == WireSessionState::kNewSession;
  }));
  // The fixture's expiry takes the session over from another client first,
  // which steals it back and forth a few times: disconnections and
  // reconnections, then the expiry and one new session.
  std::vector<WireSessionState> states = recorder.States();
  ASSERT_GE(states.size(), 4u);
  EXPECT_EQ(states.front(), WireSessionState::kConnected);
  EXPECT_THAT(
      std::vector<WireSessionState>(states.end() - 2, states.end()),
      ElementsAre(WireSessionState::kExpired, WireSessionState::kNewSession));
  EXPECT_EQ(
      std::count(states.begin(), states.end(), WireSessionState::kNewSession),
      1);
  EXPECT_NE(session->session_id(), id);
  EXPECT_TRUE(Exists(*session, "/").ok());
}

TEST_F(WireSessionTest, ACutConnectionReconnectsToTheSameSession) {
  auto proxy = slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
  ASSERT_TRUE(proxy.ok());
  Recorder recorder;
  auto session = StartSession(&recorder, (*proxy)->address());
  ASSERT_NE(session, nullptr);
  const int64_t id = session->session_id();
  (*proxy)->Cut();
  ASSERT_TRUE(Eventually([&] { return !session->connected(); }));
  // Not connected: a request fails at once, saying to retry.
  absl::Status offline = Exists(*session, "/").status();
  EXPECT_TRUE(absl::IsUnavailable(offline)) << offline;
  (*proxy)->Restore();
  ASSERT_TRUE(session->WaitUntilConnected(absl::Seconds(20)));
  EXPECT_EQ(session->session_id(), id);
  EXPECT_THAT(recorder.States(), ElementsAre(WireSessionState::kConnected,
                                             WireSessionState::kDisconnected,
                                             WireSessionState::kReconnected));
}

TEST_F(WireSessionTest, MovesToTheNextHostWhenOneIsDown) {
  // A first host that refuses connections (a port nobody listens on).
  const int dead = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(dead, reinterpret_cast<sockaddr*>(&address), sizeof address),
            0);
  socklen_t length = sizeof address;
  getsockname(dead, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string dead_host =
      absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  Recorder recorder;
  auto session =
      StartSession(&recorder, dead_host + "," + zookeeper().NodeAddress(0));
  ASSERT_NE(session, nullptr);
  EXPECT_EQ(session->server(), zookeeper().NodeAddress(0));
  close(dead);
}

TEST_F(WireSessionTest, ManyReadsInOneRequestAnswerEachInOrder) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  Create(raw->handle(), "/m", "");
  for (int i = 0; i < 300; ++i) {
    Create(raw->handle(), absl::StrCat("/m/n", i), absl::StrCat("data ", i));
  }
  Recorder recorder;
  auto session = StartSession(&recorder);
  ASSERT_NE(session, nullptr);
  std::vector<std::string> paths;
  for (int i = 0; i < 300; ++i) paths.push_back(absl::StrCat("/m/n", i));
  paths.insert(paths.begin() + 7, "/m/missing");
  const int64_t requests = session->counters().requests;
  auto answers = GetDataMany(*session, paths);
  ASSERT_TRUE(answers.ok()) << answers.status();
  EXPECT_EQ(session->counters().requests - requests, 1);  // One multiRead.
  ASSERT_EQ(answers->size(), 301u);
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i == 7) {
      EXPECT_TRUE(absl::IsNotFound((*answers)[i].status()))
          << (*answers)[i].status();
      EXPECT_THAT((*answers)[i].status().message(), HasSubstr("/m/missing"));
      continue;
    }
    ASSERT_TRUE((*answers)[i].ok()) << paths[i];
    const int n = static_cast<int>(i < 7 ? i : i - 1);
    EXPECT_EQ((*answers)[i]->data, absl::StrCat("data ", n));
    EXPECT_GT((*answers)[i]->stat.czxid, 0);
  }
  EXPECT_TRUE(absl::IsInvalidArgument(GetDataMany(*session, {}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      GetDataMany(*session, std::vector<std::string>(
                                ZooKeeperWireSession::kMaxBatchReads + 1, "/m"))
          .status()));
}

TEST_F(WireSessionTest, AnAnswerTooBigFailsItsBatchAndKeepsTheConnection) {
  auto raw = Connect();
  ASSERT_NE(raw, nullptr);
  Create(raw->handle(), "/big", "");
  for (int i = 0; i < 8; ++i) {
    Create(raw->handle(), absl::StrCat("/big/n", i), std::string(20000, 'x'));
  }
  Recorder recorder;
  ZooKeeperWireSessionOptions options;
  options.connect_string = ConnectString();
  options.max_frame_bytes = 64 << 10;  // Three nodes fit an answer, not 8.
  auto started = ZooKeeperWireSession::Start(options, recorder.OnState(),
                                             recorder.OnEvent());
  ASSERT_TRUE(started.ok());
  ZooKeeperWireSession& session = **started;
  ASSERT_TRUE(session.WaitUntilConnected(absl::Seconds(20)));
  const int64_t id = session.session_id();
  std::vector<std::string> paths;
  for (int i = 0; i < 8; ++i) paths.push_back(absl::StrCat("/big/n", i));
  auto too_big = GetDataMany(session, paths);
  EXPECT_TRUE(absl::IsResourceExhausted(too_big.status())) << too_big.status();
  EXPECT_THAT(too_big.status().message(), HasSubstr("max_frame_bytes"));
  // The connection is the same one, and the next answers are whole.
  auto fewer = GetDataMany(session, {paths[0], paths[1]});
  ASSERT_TRUE(fewer.ok()) << fewer.status();
  ASSERT_EQ(fewer->size(), 2u);
  EXPECT_EQ((*fewer)[1]->data.size(), 20000u);
  absl::StatusOr<NodeData> one = GetData(session, "/big/n7");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(session.session_id(), id);
  EXPECT_THAT(recorder.States(), ElementsAre(WireSessionState::kConnected));
}

// A fake "ZooKeeper" on loopback that answers each connection with `script`.
class FakeServer {
 public:
  explicit FakeServer(std::function<void(int fd)> script)
      : script_(std::move(script)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    listen(listener_, 16);
    socklen_t length = sizeof address;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] {
      while (true) {
        const int fd = accept(listener_, nullptr, nullptr);
        if (fd < 0 || stopping_) {
          if (fd >= 0) close(fd);
          return;
        }
        ++connections_;
        script_(fd);
        close(fd);
      }
    });
  }
  ~FakeServer() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  int connections() const { return connections_; }

 private:
  std::function<void(int)> script_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

void SendAll(int fd, const std::string& bytes) {
  (void)!send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

// Reads and discards what the client sent (its ConnectRequest), briefly.
void Drain(int fd) {
  char buffer[4096];
  timeval tv{0, 200000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  (void)!recv(fd, buffer, sizeof buffer, 0);
}

std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

// A valid ConnectResponse frame: version 0, 4 s, session 42, 16-byte password.
std::string ConnectResponse() {
  std::string body = Be32(0) + Be32(4000) + Be32(0) + Be32(42) + Be32(16) +
                     std::string(16, 'p') + std::string(1, '\0');
  return Be32(body.size()) + body;
}

void ExpectSurvives(FakeServer& fake, bool expect_connected) {
  Recorder recorder;
  ZooKeeperWireSessionOptions options;
  options.connect_string = fake.address();
  options.session_timeout = absl::Seconds(2);
  auto session = ZooKeeperWireSession::Start(options, recorder.OnState(),
                                             recorder.OnEvent());
  ASSERT_TRUE(session.ok());
  // It keeps trying (a backoff between tries), never crashes.
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  while (fake.connections() < 3 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GE(fake.connections(), 3);
  if (!expect_connected) {
    EXPECT_FALSE((*session)->connected());
  }
  std::promise<absl::Status> answered;
  (*session)->GetChildren("/", false, [&](absl::StatusOr<NodeChildren> r) {
    answered.set_value(r.status());
  });
  auto future = answered.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(20)),
            std::future_status::ready);
  EXPECT_FALSE(future.get().ok());
  const absl::Time before = absl::Now();
  (*session)->Close();
  EXPECT_LT(absl::Now() - before, absl::Seconds(5));
}

TEST(WireSessionHostileServerTest, AnOversizeFrameLengthIsRefused) {
  FakeServer fake([](int fd) {
    Drain(fd);
    SendAll(fd, Be32(0x7fffffff));  // "2 GB follow".
    Drain(fd);
  });
  ExpectSurvives(fake, /*expect_connected=*/false);
}

TEST(WireSessionHostileServerTest, GarbageIsRefused) {
  FakeServer fake([](int fd) {
    Drain(fd);
    SendAll(fd, Be32(9) + "garbage!!");  // Too short for a ConnectResponse.
    Drain(fd);
  });
  ExpectSurvives(fake, /*expect_connected=*/false);
}

TEST(WireSessionHostileServerTest, AHugeChildCountInAReplyIsRefused) {
  FakeServer fake([](int fd) {
    Drain(fd);
    SendAll(fd, ConnectResponse());
    Drain(fd);  // The request.
    // A reply to xid 1 claiming 10^9 children in a 24-byte frame.
    std::string body = Be32(1) + Be32(0) + Be32(5) + Be32(0) + Be32(1000000000);
    SendAll(fd, Be32(body.size()) + body);
    Drain(fd);
  });
  ExpectSurvives(fake, /*expect_connected=*/true);
}

TEST(WireSessionHostileServerTest, ASilentServerIsLeft) {
  FakeServer fake([](int fd) {
    // Accepts, reads, never answers: the connect times out.
    Drain(fd);
    absl::SleepFor(absl::Milliseconds(1500));
  });
  ExpectSurvives(fake, /*expect_connected=*/false);
}

}  // namespace
}  // namespace slacker::discovery
