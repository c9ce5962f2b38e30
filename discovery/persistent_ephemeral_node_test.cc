// PersistentEphemeralNode against real ZooKeeper: the node is there, comes
// back after everything that removes an ephemeral node (session expiry,
// restarts, kill -9, deletion by others, a lost ensemble leader) with the
// latest data, and goes at once on Close. Recovery times are printed.

#include "discovery/persistent_ephemeral_node.h"

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "discovery/zookeeper_client.h"
#include "discovery/zookeeper_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::slacker::testing::ZooKeeperEnsembleTest;
using ::slacker::testing::ZooKeeperTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Every on_created call, with when it came.
class Creations {
 public:
  struct Entry {
    std::string path;
    absl::Time time;
  };

  std::function<void(const std::string&)> Listener() {
    return [this](const std::string& path) {
      std::lock_guard<std::mutex> lock(mu_);
      entries_.push_back({path, absl::Now()});
      cv_.notify_all();
    };
  }

  // The `n`th creation (from 1), once it has happened; nullopt after
  // `timeout`.
  std::optional<Entry> WaitFor(size_t n,
                               absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                      [&] { return entries_.size() >= n; })) {
      return std::nullopt;
    }
    return entries_[n - 1];
  }

  size_t count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

std::string SessionName(int64_t id) {
  return absl::StrCat("0x", absl::Hex(id));
}

// Whether `reader` sees the node at `path` with `data`, owned by `owner`.
bool Holds(ZooKeeperClient& reader, const std::string& path,
           const std::string& data, int64_t owner) {
  absl::StatusOr<NodeData> node = reader.Get(path);
  return node.ok() && node->data == data && node->stat.ephemeral_owner == owner;
}

// The most bytes waiting unread in one established TCP connection whose local
// port is `port` (the server's end, when `port` is ZooKeeper's), from the
// kernel's tables.
int64_t MostUnreadBytes(int port) {
  int64_t most = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // The header.
    while (std::getline(in, line)) {
      // sl local_address rem_address st tx_queue:rx_queue ...
      std::vector<std::string> fields =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (fields.size() < 5 || fields[3] != "01") continue;  // ESTABLISHED.
      const size_t colon = fields[1].rfind(':');
      if (colon == std::string::npos ||
          std::stoi(fields[1].substr(colon + 1), nullptr, 16) != port) {
        continue;
      }
      const std::string unread = fields[4].substr(fields[4].find(':') + 1);
      most = std::max<int64_t>(most, std::stoll(unread, nullptr, 16));
    }
  }
  return most;
}

// Whether every thread of process `pid` is stopped (SIGSTOP takes effect
// thread by thread, after kill() returns).
bool AllThreadsStopped(pid_t pid) {
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(
           absl::StrCat("/proc/", pid, "/task"), error)) {
    std::ifstream in(task.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "tid (comm) S ...": the state follows the last ')'.
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size() ||
        stat[paren + 2] != 'T') {
      return false;
    }
  }
  return !error;
}

// Continues a stopped process group when it goes out of scope.
class Resume {
 public:
  explicit Resume(pid_t group) : group_(group) {}
  ~Resume() { kill(-group_, SIGCONT); }
  Resume(const Resume&) = delete;
  Resume& operator=(const Resume&) = delete;

 private:
  const pid_t group_;
};

class PersistentEphemeralNodeTest : public ZooKeeperTest {
 protected:
  std::unique_ptr<ZooKeeperClient> NewClient() {
    ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  // Starts a recipe that reports to `creations`; nullptr on failure.
  static std::unique_ptr<PersistentEphemeralNode> Keep(
      ZooKeeperClient* client, const std::string& path, const std::string& data,
      Creations& creations, PersistentEphemeralNodeOptions options = {}) {
    options.on_created = creations.Listener();
    absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> node =
        PersistentEphemeralNode::Start(client, path, data, options);
    EXPECT_TRUE(node.ok()) << node.status();
    return node.ok() ? *std::move(node) : nullptr;
  }

  // Stops (or kills) ZooKeeper while the node exists, sets data while it is
  // down, starts it, and checks the node is back with that data.
  void CheckBackAfterRestart(bool kill) {
    auto client = NewClient();
    ASSERT_NE(client, nullptr);
    Creations creations;
    const std::string path = "/app/servers/restarted";
    auto node = Keep(client.get(), path, "before", creations);
    ASSERT_NE(node, nullptr);
    ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());

    ASSERT_TRUE(
        (kill ? zookeeper().KillNode(0) : zookeeper().StopNode(0)).ok());
    ASSERT_TRUE(node->SetData("after").ok());
    ASSERT_TRUE(zookeeper().StartNode(0).ok()) << zookeeper().LogTail(0);
    const absl::Time started = absl::Now();

    auto reader = NewClient();
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(Eventually([&] {
      return Holds(*reader, path, "after", client->session_id());
    })) << "the node is not back with the latest data";
    std::cout << "measured: ZooKeeper " << (kill ? "kill -9" : "stop")
              << " + start: node back with the latest data "
              << absl::Now() - started << " after the server was up\n";
    EXPECT_TRUE(Eventually([&] { return node->exists(); }));
  }
  // Makes ZooKeeper apply the recipe's first create but the client never get
  // the answer: ZooKeeper is frozen (SIGSTOP) while the request reaches its
  // socket, then the client's connection is cut, then ZooKeeper resumes, reads
  // the request and applies it in the still-live session. Checks that the
  // recipe adopts that node instead of leaving it behind or waiting it out.
  void CheckLostAnswerIsAdopted(bool sequential) {
    absl::StatusOr<std::unique_ptr<slacker::testing::TcpProxy>> proxy =
        slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    ZooKeeperOptions options;
    options.connect_string = (*proxy)->address();
    options.session_timeout = absl::Seconds(4);
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    auto reader = NewClient();
    ASSERT_NE(reader, nullptr);
    ASSERT_TRUE(reader->Create("/lost", "").ok());
    // Large enough to tell the create from a ping in the socket's queue.
    const std::string data(8000, 'd');
    Creations creations;
    PersistentEphemeralNodeOptions node_options;
    node_options.sequential = sequential;
    const std::string path = sequential ? "/lost/n_" : "/lost/node";

    const pid_t server = zookeeper().Pid(0);
    ASSERT_NE(server, 0);
    std::unique_ptr<PersistentEphemeralNode> node;
    {
      ASSERT_EQ(kill(-server, SIGSTOP), 0);
      Resume resume(server);
      ASSERT_TRUE(Eventually([&] { return AllThreadsStopped(server); },
                             absl::Seconds(5)))
          << "ZooKeeper did not stop";
      node = Keep(client->get(), path, data, creations, node_options);
      ASSERT_NE(node, nullptr);
      ASSERT_TRUE(Eventually(
          [&] {
            return MostUnreadBytes(zookeeper().ClientPort(0)) >=
                   static_cast<int64_t>(data.size());
          },
          absl::Seconds(2)))
          << "the create did not reach ZooKeeper's socket (most unread: "
          << MostUnreadBytes(zookeeper().ClientPort(0)) << " bytes)";
      (*proxy)->Cut();  // The answer cannot come back now.
    }
    // Differs from what the lost create wrote: a node with other data than
    // ours is only taken as ours if its owner is this session.
    ASSERT_TRUE(node->SetData("newer").ok());
    (*proxy)->Restore();

    ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(20)).ok());
    std::optional<Creations::Entry> created = creations.WaitFor(1);
    ASSERT_TRUE(created.has_value());
    const std::string expected =
        sequential ? "/lost/n_0000000000" : "/lost/node";
    EXPECT_EQ(created->path, expected) << "the lost create's node was not "
                                          "adopted";
    EXPECT_TRUE(Eventually([&] {
      return Holds(*reader, expected, "newer", (*client)->session_id());
    }));
    absl::StatusOr<NodeChildren> children = reader->GetChildren("/lost");
    ASSERT_TRUE(children.ok()) << children.status();
    EXPECT_THAT(children->names, ElementsAre(std::string(NodeName(expected))))
        << "a node was left behind";
    ASSERT_TRUE(node->Close().ok());
    children = reader->GetChildren("/lost");
    ASSERT_TRUE(children.ok()) << children.status();
    EXPECT_THAT(children->names, IsEmpty());
  }
};

TEST_F(PersistentEphemeralNodeTest, CreatedWithParentsUpdatedAndGoneOnClose) {
  auto client = NewClient();
  auto reader = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(reader, nullptr);
  Creations creations;
  const std::string path = "/app/servers/h:1";
  auto node = Keep(client.get(), path, "v1", creations);
  ASSERT_NE(node, nullptr);

  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  EXPECT_TRUE(node->exists());
  EXPECT_EQ(node->actual_path(), path);
  absl::StatusOr<NodeData> seen = reader->Get(path);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->data, "v1");
  EXPECT_EQ(seen->stat.ephemeral_owner, client->session_id());
  absl::StatusOr<NodeData> parent = reader->Get("/app/servers");
  ASSERT_TRUE(parent.ok()) << parent.status();
  EXPECT_EQ(parent->stat.ephemeral_owner, 0) << "parents must be persistent";
  std::optional<Creations::Entry> created = creations.WaitFor(1);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->path, path);

  ASSERT_TRUE(node->SetData("v2").ok());
  EXPECT_EQ(node->data(), "v2");
  EXPECT_TRUE(Eventually(
      [&] { return Holds(*reader, path, "v2", client->session_id()); }));

  ASSERT_TRUE(node->Close().ok());
  // At once: the session lives on, so only the delete can explain it.
  absl::StatusOr<std::optional<NodeStat>> after = reader->Exists(path);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(after->has_value()) << "still there right after Close()";
  EXPECT_EQ(client->state(), ConnectionState::kConnected);
  EXPECT_FALSE(node->exists());
  EXPECT_EQ(creations.count(), 1u);
  EXPECT_EQ(node->SetData("v3").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(node->Close().ok()) << "Close() is idempotent";
}

TEST_F(PersistentEphemeralNodeTest, DestructorRemovesTheNodeAtOnce) {
  auto client = NewClient();
  auto reader = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(reader, nullptr);
  Creations creations;
  auto node = Keep(client.get(), "/app/gone", "x", creations);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  node.reset();
  absl::StatusOr<std::optional<NodeStat>> after = reader->Exists("/app/gone");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_FALSE(after->has_value());
}

TEST_F(PersistentEphemeralNodeTest, BackAfterSessionExpiryWithTheLatestData) {
  auto client = NewClient();
  auto reader = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(reader, nullptr);
  Creations creations;
  const std::string path = "/app/servers/expiring";
  auto node = Keep(client.get(), path, "v1", creations);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  ASSERT_TRUE(node->SetData("v2").ok());
  ASSERT_TRUE(Eventually(
      [&] { return Holds(*reader, path, "v2", client->session_id()); }));

  const auto [old_session, password] = client->session_credentials();
  const absl::Time expiring = absl::Now();
  ASSERT_TRUE(zookeeper().ExpireSession(old_session, password).ok());
  const absl::Time expired = absl::Now();  // The node is gone from here on.

  std::optional<Creations::Entry> back = creations.WaitFor(2);
  ASSERT_TRUE(back.has_value()) << "not re-created after the session expired";
  std::cout << "measured: session expiry to node re-created: "
            << back->time - expired << " after ExpireSession returned, "
            << back->time - expiring << " after it was called\n";
  EXPECT_LT(back->time - expiring, absl::Seconds(15));
  absl::StatusOr<NodeData> seen = reader->Get(path);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->data, "v2");
  EXPECT_NE(seen->stat.ephemeral_owner, old_session);
  EXPECT_EQ(seen->stat.ephemeral_owner, client->session_id());
  EXPECT_TRUE(node->exists());
}

TEST_F(PersistentEphemeralNodeTest, BackAfterZooKeeperStopAndStart) {
  CheckBackAfterRestart(/*kill=*/false);
}

TEST_F(PersistentEphemeralNodeTest, BackAfterZooKeeperKillNineAndStart) {
  CheckBackAfterRestart(/*kill=*/true);
}

TEST_F(PersistentEphemeralNodeTest, DataSetWhileDisconnectedWinsAfterwards) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  Creations creations;
  const std::string path = "/app/servers/offline-update";
  auto node = Keep(client.get(), path, "v1", creations);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());

  ASSERT_TRUE(zookeeper().StopNode(0).ok());
  ASSERT_TRUE(Eventually(
      [&] { return client->state() == ConnectionState::kSuspended; }));
  ASSERT_TRUE(node->SetData("offline-1").ok());
  ASSERT_TRUE(node->SetData("offline-2").ok());
  EXPECT_EQ(node->data(), "offline-2");
  EXPECT_TRUE(node->exists()) << "merely disconnected: still ours";
  ASSERT_TRUE(zookeeper().StartNode(0).ok()) << zookeeper().LogTail(0);

  auto reader = NewClient();
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(Eventually(
      [&] { return Holds(*reader, path, "offline-2", client->session_id()); }));
}

TEST_F(PersistentEphemeralNodeTest, BackAfterAnotherClientDeletesIt) {
  auto client = NewClient();
  auto other = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(other, nullptr);
  Creations creations;
  const std::string path = "/app/servers/deleted";
  auto node = Keep(client.get(), path, "mine", creations);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(creations.WaitFor(1).has_value());

  const absl::Time deleting = absl::Now();
  ASSERT_TRUE(other->Delete(path).ok());
  std::optional<Creations::Entry> back = creations.WaitFor(2);
  ASSERT_TRUE(back.has_value()) << "not re-created after a delete";
  std::cout << "measured: deletion by another client to node re-created: "
            << back->time - deleting << "\n";
  EXPECT_LT(back->time - deleting, absl::Seconds(10));
  EXPECT_TRUE(Holds(*other, path, "mine", client->session_id()));
}

TEST_F(PersistentEphemeralNodeTest, RestoresDataAnotherClientWrote) {
  std::mutex log_mu;
  std::vector<std::string> warnings;
  slacker::SetLogSink([&](LogLevel level, absl::string_view message) {
    std::lock_guard<std::mutex> lock(log_mu);
    if (level == LogLevel::kWarning) warnings.emplace_back(message);
  });
  struct ResetSink {
    ~ResetSink() { slacker::SetLogSink(nullptr); }
  } reset_sink;
  auto client = NewClient();
  auto other = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(other, nullptr);
  Creations creations;
  const std::string path = "/app/servers/overwritten";
  PersistentEphemeralNodeOptions options;
  options.restore_data = true;
  auto node = Keep(client.get(), path, "mine", creations, options);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(creations.WaitFor(1).has_value());

  absl::StatusOr<NodeStat> theirs = other->Set(path, "theirs");
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  auto restored_after = [&](int32_t version, const std::string& data) {
    absl::StatusOr<NodeData> now = other->Get(path);
    return now.ok() && now->stat.version > version && now->data == data &&
           now->stat.ephemeral_owner == client->session_id();
  };
  ASSERT_TRUE(Eventually([&] {
    return restored_after(theirs->version, "mine");
  })) << "a foreign write was not undone";
  {
    std::lock_guard<std::mutex> lock(log_mu);
    bool named = false;
    for (const std::string& warning : warnings) {
      named |= absl::StrContains(warning, path) &&
               absl::StrContains(warning,
                                 absl::StrCat("version ", theirs->version)) &&
               absl::StrContains(
                   warning, absl::StrCat("mzxid 0x", absl::Hex(theirs->mzxid)));
    }
    EXPECT_TRUE(named) << "no warning names the write's version and mzxid";
  }

  // The recipe's own writes are not taken for foreign ones, and a later
  // foreign write is undone too.
  ASSERT_TRUE(node->SetData("newer").ok());
  ASSERT_TRUE(Eventually(
      [&] { return Holds(*other, path, "newer", client->session_id()); }));
  theirs = other->Set(path, "theirs again");
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  ASSERT_TRUE(
      Eventually([&] { return restored_after(theirs->version, "newer"); }));
  EXPECT_EQ(creations.count(), 1u) << "restored by a write, not a re-creation";
}

TEST_F(PersistentEphemeralNodeTest, SequentialModeTracksTheActualPath) {
  auto client = NewClient();
  auto reader = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(reader, nullptr);
  Creations creations;
  PersistentEphemeralNodeOptions options;
  options.sequential = true;
  auto node = Keep(client.get(), "/election/n_", "me", creations, options);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  EXPECT_EQ(node->path(), "/election/n_");
  const std::string first = node->actual_path();
  EXPECT_THAT(first, StartsWith("/election/n_"));
  ASSERT_TRUE(SequenceNumber(NodeName(first)).has_value()) << first;
  EXPECT_TRUE(Holds(*reader, first, "me", client->session_id()));

  // Deleted: a new node with a higher sequence, and only that one.
  ASSERT_TRUE(reader->Delete(first).ok());
  std::optional<Creations::Entry> second = creations.WaitFor(2);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->path, node->actual_path());
  EXPECT_GT(*SequenceNumber(NodeName(second->path)),
            *SequenceNumber(NodeName(first)));
  absl::StatusOr<NodeChildren> children = reader->GetChildren("/election");
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(children->names,
              ElementsAre(std::string(NodeName(second->path))));

  // Session expired: likewise.
  const auto [session, password] = client->session_credentials();
  ASSERT_TRUE(zookeeper().ExpireSession(session, password).ok());
  std::optional<Creations::Entry> third = creations.WaitFor(3);
  ASSERT_TRUE(third.has_value());
  EXPECT_NE(third->path, second->path);
  children = reader->GetChildren("/election");
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(children->names, ElementsAre(std::string(NodeName(third->path))));

  ASSERT_TRUE(node->Close().ok());
  children = reader->GetChildren("/election");
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_THAT(children->names, IsEmpty());
}

TEST_F(PersistentEphemeralNodeTest, SomeoneElsesNodeIsLeftAloneAndWaitedOut) {
  auto client = NewClient();
  auto other = NewClient();
  ASSERT_NE(client, nullptr);
  ASSERT_NE(other, nullptr);
  const std::string path = "/app/servers/contested";
  ASSERT_TRUE(other->Create(path, "theirs", CreateMode::kEphemeral, true).ok());
  Creations creations;
  auto node = Keep(client.get(), path, "ours", creations);
  ASSERT_NE(node, nullptr);

  // A bounded wait for what must not happen.
  absl::Status waited = node->WaitForInitialCreate(absl::Seconds(2));
  EXPECT_EQ(waited.code(), absl::StatusCode::kDeadlineExceeded) << waited;
  EXPECT_THAT(waited.message(), HasSubstr(SessionName(other->session_id())));
  EXPECT_FALSE(node->exists());
  EXPECT_TRUE(Holds(*other, path, "theirs", other->session_id()))
      << "someone else's node was changed";

  other->Close();  // Its ephemeral node goes now.
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  auto reader = NewClient();
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(Holds(*reader, path, "ours", client->session_id()));

  // A persistent node is someone else's too, whatever its data.
  const std::string fixed = "/app/servers/persistent";
  ASSERT_TRUE(reader->Create(fixed, "ours", CreateMode::kPersistent).ok());
  Creations fixed_creations;
  auto second = Keep(client.get(), fixed, "ours", fixed_creations);
  ASSERT_NE(second, nullptr);
  waited = second->WaitForInitialCreate(absl::Seconds(2));
  EXPECT_EQ(waited.code(), absl::StatusCode::kDeadlineExceeded) << waited;
  EXPECT_THAT(waited.message(), HasSubstr("persistent"));
  ASSERT_TRUE(reader->Delete(fixed).ok());
  ASSERT_TRUE(second->WaitForInitialCreate(absl::Seconds(10)).ok());
  EXPECT_TRUE(Holds(*reader, fixed, "ours", client->session_id()));
}

TEST_F(PersistentEphemeralNodeTest, ALeftoverWithTheSameDataIsTakenOver) {
  // `earlier` stands for an earlier run of this program whose session has not
  // timed out yet.
  auto earlier = NewClient();
  auto client = NewClient();
  ASSERT_NE(earlier, nullptr);
  ASSERT_NE(client, nullptr);
  const std::string path = "/app/servers/restarted-server";
  ASSERT_TRUE(earlier->Create(path, "same", CreateMode::kEphemeral, true).ok());
  Creations creations;
  auto node = Keep(client.get(), path, "same", creations);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  EXPECT_EQ(earlier->state(), ConnectionState::kConnected);
  EXPECT_TRUE(Holds(*earlier, path, "same", client->session_id()))
      << "not taken over: it would vanish with the earlier session";
}

TEST_F(PersistentEphemeralNodeTest, TheHolderDoesNotTakeItBackFromANewcomer) {
  auto a_client = NewClient();
  auto b_client = NewClient();
  ASSERT_NE(a_client, nullptr);
  ASSERT_NE(b_client, nullptr);
  const std::string path = "/app/servers/twin";
  Creations a_creations, b_creations;
  auto a = Keep(a_client.get(), path, "same", a_creations);
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->WaitForInitialCreate(absl::Seconds(10)).ok());

  auto b = Keep(b_client.get(), path, "same", b_creations);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->WaitForInitialCreate(absl::Seconds(10)).ok());
  ASSERT_TRUE(Eventually([&] { return !a->exists(); }));
  EXPECT_TRUE(Holds(*a_client, path, "same", b_client->session_id()));
  // A bounded wait for what must not happen: the two taking it in turns.
  EXPECT_FALSE(b_creations.WaitFor(2, absl::Seconds(1)).has_value());
  EXPECT_EQ(a_creations.count(), 1u);

  // Once the newcomer lets go, the waiting one has it again.
  ASSERT_TRUE(b->Close().ok());
  ASSERT_TRUE(a_creations.WaitFor(2, absl::Seconds(10)).has_value());
  EXPECT_TRUE(Holds(*b_client, path, "same", a_client->session_id()));
}

TEST_F(PersistentEphemeralNodeTest, ALostCreateAnswerIsAdopted) {
  CheckLostAnswerIsAdopted(/*sequential=*/false);
}

TEST_F(PersistentEphemeralNodeTest, ALostSequentialCreateAnswerIsAdopted) {
  CheckLostAnswerIsAdopted(/*sequential=*/true);
}

TEST_F(PersistentEphemeralNodeTest, BadInputIsAClearError) {
  auto client = NewClient();
  ASSERT_NE(client, nullptr);
  for (const std::string path : {"", "relative", "/trailing/", "/a//b", "/"}) {
    absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> node =
        PersistentEphemeralNode::Start(client.get(), path, "x");
    EXPECT_EQ(node.status().code(), absl::StatusCode::kInvalidArgument)
        << "path \"" << path << "\": " << node.status();
  }
  EXPECT_THAT(PersistentEphemeralNode::Start(client.get(), "/a//b", "x")
                  .status()
                  .message(),
              HasSubstr("empty segment"));
  EXPECT_EQ(PersistentEphemeralNode::Start(nullptr, "/a", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  PersistentEphemeralNodeOptions no_delay;
  no_delay.min_retry_delay = absl::ZeroDuration();
  EXPECT_EQ(PersistentEphemeralNode::Start(client.get(), "/a", "x", no_delay)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);

  const std::string too_big(ZooKeeperClient::kMaxDataBytes + 1, 'x');
  absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> big =
      PersistentEphemeralNode::Start(client.get(), "/big", too_big);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(big.status().message(), HasSubstr("kMaxDataBytes"));

  // The limit itself is fine, at Start and in SetData.
  Creations creations;
  const std::string largest(ZooKeeperClient::kMaxDataBytes, 'y');
  auto node = Keep(client.get(), "/largest", largest, creations);
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->WaitForInitialCreate(absl::Seconds(10)).ok());
  absl::Status refused = node->SetData(too_big);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("kMaxDataBytes"));
  EXPECT_EQ(node->data(), largest) << "a refused SetData changed the data";

  // One recipe per path and client.
  absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> twin =
      PersistentEphemeralNode::Start(client.get(), "/largest", "z");
  EXPECT_EQ(twin.status().code(), absl::StatusCode::kAlreadyExists);

  // Close() on the event thread would deadlock: refused, recipe unharmed.
  std::promise<absl::Status> closed;
  client->RunOnEventThread([&] { closed.set_value(node->Close()); });
  EXPECT_EQ(closed.get_future().get().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(node->exists());
  EXPECT_TRUE(node->Close().ok());
}

class PersistentEphemeralNodeEnsembleTest : public ZooKeeperEnsembleTest {};

TEST_F(PersistentEphemeralNodeEnsembleTest, KillingTheLeaderKeepsTheNode) {
  ZooKeeperOptions options;
  options.connect_string = ConnectString();
  options.session_timeout = absl::Seconds(4);
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> reader =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(reader.ok()) << reader.status();

  Creations creations;
  PersistentEphemeralNodeOptions node_options;
  node_options.on_created = creations.Listener();
  const std::string path = "/app/servers/ha";
  absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> node =
      PersistentEphemeralNode::Start(client->get(), path, "v1", node_options);
  ASSERT_TRUE(node.ok()) << node.status();
  ASSERT_TRUE((*node)->WaitForInitialCreate(absl::Seconds(10)).ok());

  absl::StatusOr<int> leader = zookeeper().LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(zookeeper().KillNode(*leader).ok());
  const absl::Time killed = absl::Now();
  ASSERT_TRUE((*node)->SetData("v2").ok());

  ASSERT_TRUE(Eventually(
      [&] { return Holds(**reader, path, "v2", (*client)->session_id()); },
      absl::Seconds(60)))
      << "the node or its latest data was lost with the leader";
  std::cout << "measured: leader kill -9 to node present with new data: "
            << absl::Now() - killed << " (re-created " << creations.count() - 1
            << " times)\n";
  EXPECT_TRUE(Eventually([&] { return (*node)->exists(); }));
}

}  // namespace
}  // namespace slacker::discovery
