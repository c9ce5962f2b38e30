#include "discovery/recursive_tree_cache.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <atomic>
#include <map>
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

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kRoot[] = "/slacker/cluster/demo";

// Replays every batch a listener hears.
class Replay {
 public:
  RecursiveTreeCache::Listener Listener() {
    return [this](const std::vector<TreeChange>& batch) {
      std::lock_guard<std::mutex> lock(mu_);
      ++batches_;
      for (const TreeChange& c : batch) {
        log_.push_back(absl::StrCat(TreeChangeTypeName(c.type), " ", c.path));
        if (c.type == TreeChangeType::kRemoved) {
          EXPECT_EQ(map_.erase(c.path), 1u) << c.path;
        } else if (c.type == TreeChangeType::kAdded) {
          EXPECT_TRUE(map_.emplace(c.path, c.node.data).second) << c.path;
        } else {
          ASSERT_EQ(map_.count(c.path), 1u) << c.path;
          map_[c.path] = c.node.data;
        }
      }
    };
  }
  std::map<std::string, std::string> map() {
    std::lock_guard<std::mutex> lock(mu_);
    return map_;
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  int batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> map_;
  std::vector<std::string> log_;
  int batches_ = 0;
};

std::map<std::string, std::string> Data(
    const std::map<std::string, NodeData>& snapshot) {
  std::map<std::string, std::string> data;
  for (const auto& [path, node] : snapshot) data[path] = node.data;
  return data;
}

class RecursiveTreeCacheTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    raw_ = Connect();
    ASSERT_NE(raw_, nullptr);
    for (const char* p : {"/slacker", "/slacker/cluster", kRoot}) {
      Create(p, "");
    }
  }

  void Create(const std::string& path, const std::string& data, int flags = 0) {
    ASSERT_EQ(zoo_create(raw_->handle(), path.c_str(), data.data(),
                         static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE,
                         flags, nullptr, 0),
              ZOK)
        << path;
  }
  void Set(const std::string& path, const std::string& data) {
    ASSERT_EQ(zoo_set(raw_->handle(), path.c_str(), data.data(),
                      static_cast<int>(data.size()), -1),
              ZOK)
        << path;
  }
  void Delete(const std::string& path) {
    ASSERT_EQ(zoo_delete(raw_->handle(), path.c_str(), -1), ZOK) << path;
  }
  std::string P(absl::string_view rest) { return absl::StrCat(kRoot, rest); }

  // The tree as ZooKeeper has it now, read with the C client.
  void ReadTree(const std::string& path,
                std::map<std::string, std::string>* out) {
    char buffer[65536];
    int length = sizeof buffer;
    if (zoo_get(raw_->handle(), path.c_str(), 0, buffer, &length, nullptr) !=
        ZOK) {
      return;
    }
    (*out)[path] = std::string(buffer, length < 0 ? 0 : length);
    String_vector children{};
    if (zoo_get_children(raw_->handle(), path.c_str(), 0, &children) != ZOK) {
      return;
    }
    for (int i = 0; i < children.count; ++i) {
      ReadTree(path + "/" + children.data[i], out);
    }
    deallocate_String_vector(&children);
  }
  std::map<std::string, std::string> Truth() {
    std::map<std::string, std::string> tree;
    ReadTree(kRoot, &tree);
    return tree;
  }

  // A layout like a cluster's: one server, one namespace, one candidate.
  void CreateCluster() {
    Create(P("/servers"), "");
    Create(P("/servers/h1:1"), "{\"server\":1}");
    Create(P("/namespaces"), "");
    Create(P("/namespaces/ns"), "");
    Create(P("/namespaces/ns/h1:1"), "");
    Create(P("/namespaces/ns/_leader"), "h1:1");
    Create(P("/namespaces/ns/_leader/_c_a-latch-0000000001"), "h1:1");
  }

  std::unique_ptr<RecursiveTreeCache> StartCache(
      std::string connect_string = "", RecursiveTreeCacheOptions options = {}) {
    options.session.connect_string =
        connect_string.empty() ? ConnectString() : connect_string;
    options.session.session_timeout = absl::Seconds(4);
    options.root = kRoot;
    auto cache = RecursiveTreeCache::Start(options);
    EXPECT_TRUE(cache.ok()) << cache.status();
    if (!cache.ok()) return nullptr;
    absl::Status ready = (*cache)->WaitUntilInitialized(absl::Seconds(20));
    EXPECT_TRUE(ready.ok()) << ready;
    return *std::move(cache);
  }

  // Waits until the cache and a listener's replay both equal ZooKeeper's.
  bool Converges(RecursiveTreeCache& cache, Replay& replay) {
    return Eventually([&] {
      std::map<std::string, std::string> truth = Truth();
      return Data(cache.Snapshot()) == truth && replay.map() == truth;
    });
  }

  std::unique_ptr<slacker::testing::ZooKeeperRawSession> raw_;
};

TEST_F(RecursiveTreeCacheTest, LoadsTheTreeThenFollowsEvents) {
  CreateCluster();
  auto cache = StartCache();
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(Data(cache->Snapshot()), Truth());
  EXPECT_EQ(cache->syncs(), 1);
  Replay replay;
  cache->AddListener(replay.Listener());
  ASSERT_TRUE(Converges(*cache, replay));

  Create(P("/servers/h2:2"), "{\"server\":2}");
  Set(P("/servers/h1:1"), "{\"server\":11}");
  Create(P("/namespaces/ns/h2:2"), "", ZOO_EPHEMERAL);
  ASSERT_TRUE(Converges(*cache, replay));
  std::optional<NodeData> member = cache->Get(P("/namespaces/ns/h2:2"));
  ASSERT_TRUE(member.has_value());
  // The stat carries the owner that the trust rules compare.
  EXPECT_EQ(member->stat.ephemeral_owner, raw_->client_id().client_id);

  Delete(P("/namespaces/ns/h2:2"));
  Delete(P("/servers/h2:2"));
  ASSERT_TRUE(Converges(*cache, replay));
  EXPECT_THAT(replay.log(), Contains("removed " + P("/servers/h2:2")));
  EXPECT_EQ(cache->syncs(), 1);  // No re-sync was needed.
}

TEST_F(RecursiveTreeCacheTest, ACostsOneEventAndAtMostOneReadPerChange) {
  CreateCluster();
  for (int i = 0; i < 200; ++i) {
    Create(P(absl::StrCat("/servers/s", i, ":1")), std::string(60, 'x'));
  }
  auto cache = StartCache();
  ASSERT_NE(cache, nullptr);
  Replay replay;
  cache->AddListener(replay.Listener());
  ASSERT_TRUE(Converges(*cache, replay));
  const ZooKeeperWireSession::Counters before = cache->counters();
  Create(P("/servers/new:1"), "{}");  // A join: one event, one getData.
  ASSERT_TRUE(Converges(*cache, replay));
  const ZooKeeperWireSession::Counters joined = cache->counters();
  Delete(P("/servers/new:1"));  // A leave: one event, no read.
  ASSERT_TRUE(Converges(*cache, replay));
  const ZooKeeperWireSession::Counters after = cache->counters();
  EXPECT_EQ(after.events - before.events, 2);
  // One getData, and perhaps a ping; never a re-listing of 200 servers.
  EXPECT_LE(after.requests - before.requests, 3);
  EXPECT_LT(after.bytes_received - before.bytes_received, 1000);
  RecordProperty("join_bytes",
                 absl::StrCat(joined.bytes_received - before.bytes_received +
                              joined.bytes_sent - before.bytes_sent));
  RecordProperty("leave_bytes",
                 absl::StrCat(after.bytes_received - joined.bytes_received +
                              after.bytes_sent - joined.bytes_sent));
}

TEST_F(RecursiveTreeCacheTest, ACutConnectionReSyncsWhatWasMissed) {
  CreateCluster();
  Create(P("/servers/gone:1"), "");
  Create(P("/servers/flip:1"), "first");
  auto proxy = slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
  ASSERT_TRUE(proxy.ok());
  auto cache = StartCache((*proxy)->address());
  ASSERT_NE(cache, nullptr);
  Replay replay;
  cache->AddListener(replay.Listener());
  ASSERT_TRUE(Converges(*cache, replay));

  (*proxy)->Cut();
  // Unseen: a delete, a create, a create-delete-create of the same node, a
  // namespace deleted and created again, a leader candidate replaced.
  Delete(P("/servers/gone:1"));
  Create(P("/servers/new:1"), "n");
  Delete(P("/servers/flip:1"));
  Create(P("/servers/flip:1"), "second");
  Delete(P("/namespaces/ns/_leader/_c_a-latch-0000000001"));
  Create(P("/namespaces/ns/_leader/_c_b-latch-0000000002"), "h1:1");
  (*proxy)->Restore();
  ASSERT_TRUE(Eventually([&] { return cache->syncs() >= 2; }));
  ASSERT_TRUE(Converges(*cache, replay));
  const std::vector<std::string> log = replay.log();
  // The re-created node was seen as a new node (its creation zxid changed).
  const auto removed =
      std::find(log.begin(), log.end(), "removed " + P("/servers/flip:1"));
  ASSERT_NE(removed, log.end());
  EXPECT_NE(std::find(removed, log.end(), "added " + P("/servers/flip:1")),
            log.end());
  EXPECT_FALSE(cache->Get(P("/namespaces/ns/_leader/_c_a-latch-0000000001")));
  EXPECT_TRUE(cache->Get(P("/namespaces/ns/_leader/_c_b-latch-0000000002")));

  // The watch was set again on the new connection.
  Create(P("/servers/after:1"), "");
  ASSERT_TRUE(Converges(*cache, replay));
}

// Today's one-shot watches pass ZooKeeper's 1 MB frame on re-registration
// near 4,000 servers and never reconnect; this mode holds one watch whatever
// the size, so a cut connection and a restart both recover.
TEST_F(RecursiveTreeCacheTest, FiveThousandServersRecoverFromCutAndRestart) {
  constexpr int kServers = 5000;
  Create(P("/servers"), "");
  Create(P("/namespaces"), "");
  Create(P("/namespaces/slacker.example.Api"), "");
  struct Pending {
    std::atomic<int> waiting{0};
    std::atomic<int> failed{0};
  } pending;
  auto create_async = [&](const std::string& path, const std::string& data) {
    ++pending.waiting;
    ASSERT_EQ(zoo_acreate(
                  raw_->handle(), path.c_str(), data.data(),
                  static_cast<int>(data.size()), &ZOO_OPEN_ACL_UNSAFE, 0,
                  [](int rc, const char*, const void* context) {
                    auto* p = const_cast<Pending*>(
                        static_cast<const Pending*>(context));
                    if (rc != ZOK) ++p->failed;
                    --p->waiting;
                  },
                  &pending),
              ZOK);
  };
  for (int i = 0; i < kServers; ++i) {
    const std::string address =
        absl::StrCat("10.0.", i / 250, ".", i % 250, ":50051");
    create_async(P("/servers/" + address),
                 R"({"serverData":{"zone":"eu-west-1a"},"version":"1.0"})");
    create_async(P("/namespaces/slacker.example.Api/" + address), "");
  }
  ASSERT_TRUE(
      Eventually([&] { return pending.waiting == 0; }, absl::Seconds(120)));
  ASSERT_EQ(pending.failed, 0);

  auto proxy = slacker::testing::TcpProxy::Start(zookeeper().NodeAddress(0));
  ASSERT_TRUE(proxy.ok());
  auto cache = StartCache((*proxy)->address());
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->Snapshot().size(), 2u * kServers + 4);
  // 10,004 nodes in batches of up to 1,000: about 20 requests (connect,
  // addWatch, the 4 parents' reads and lists, batches growing from 16), not
  // one per node.
  const int64_t load_requests = cache->counters().requests;
  EXPECT_LT(load_requests, 40);
  RecordProperty("load_requests", absl::StrCat(load_requests));

  (*proxy)->Cut();
  Delete(P("/namespaces/slacker.example.Api/10.0.0.0:50051"));
  Delete(P("/servers/10.0.0.0:50051"));
  (*proxy)->Restore();
  ASSERT_TRUE(Eventually([&] { return cache->syncs() >= 2; }));
  EXPECT_EQ(Data(cache->Snapshot()), Truth());

  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  ASSERT_TRUE(Eventually([&] { return cache->syncs() >= 3; }));
  const std::string path = P("/servers/after-restart:1");
  ASSERT_TRUE(Eventually([&] {
    const int rc = zoo_create(raw_->handle(), path.c_str(), "", 0,
                              &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    return rc == ZOK || rc == ZNODEEXISTS;
  }));
  ASSERT_TRUE(Eventually([&] { return cache->Get(path).has_value(); }));
  EXPECT_EQ(Data(cache->Snapshot()), Truth());
  absl::StatusOr<std::string> wchs = zookeeper().FourLetterWord(0, "wchs");
  ASSERT_TRUE(wchs.ok());
  EXPECT_THAT(*wchs, HasSubstr("Total watches:1\n"));
}

TEST_F(RecursiveTreeCacheTest, ANamespaceDeletedAndCreatedAgainIsFollowed) {
  CreateCluster();
  auto cache = StartCache();
  ASSERT_NE(cache, nullptr);
  Replay replay;
  cache->AddListener(replay.Listener());
  ASSERT_TRUE(Converges(*cache, replay));
  Delete(P("/namespaces/ns/_leader/_c_a-latch-0000000001"));
  Delete(P("/namespaces/ns/_leader"));
  Delete(P("/namespaces/ns/h1:1"));
  Delete(P("/namespaces/ns"));
  Create(P("/namespaces/ns"), "again");
  Create(P("/namespaces/ns/h3:3"), "");
  ASSERT_TRUE(Converges(*cache, replay));
  EXPECT_EQ(cache->Get(P("/namespaces/ns"))->data, "again");
  EXPECT_FALSE(cache->Get(P("/namespaces/ns/h1:1")).has_value());
}

TEST_F(RecursiveTreeCacheTest, SessionExpiryReSyncsOnANewSession) {
  CreateCluster();
  auto cache = StartCache();
  ASSERT_NE(cache, nullptr);
  Replay replay;
  cache->AddListener(replay.Listener());
  const int64_t id = cache->session().session_id();
  ASSERT_TRUE(
      zookeeper().ExpireSession(id, cache->session().session_password()).ok());
  Create(P("/servers/during:1"), "");
  ASSERT_TRUE(Eventually([&] {
    return cache->session().connected() && cache->session().session_id() != id;
  }));
  Create(P("/servers/after:1"), "");
  ASSERT_TRUE(Converges(*cache, replay));
}

TEST_F(RecursiveTreeCacheTest, AZooKeeperRestartReSyncs) {
  CreateCluster();
  auto cache = StartCache();
  ASSERT_NE(cache, nullptr);
  Replay replay;
  cache->AddListener(replay.Listener());
  ASSERT_TRUE(Converges(*cache, replay));
  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  ASSERT_TRUE(Eventually([&] { return cache->syncs() >= 2; }));
  // The writer's C client reconnects on its own time.
  const std::string path = P("/servers/after-restart:1");
  ASSERT_TRUE(Eventually([&] {
    const int rc = zoo_create(raw_->handle(), path.c_str(), "r", 1,
                              &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
    return rc == ZOK || rc == ZNODEEXISTS;
  }));
  ASSERT_TRUE(Converges(*cache, replay));
}

TEST_F(RecursiveTreeCacheTest, MalformedAndTooDeepNodesAreLeftOut) {
  CreateCluster();
  Create(P("/servers/big:1"), std::string(5000, '['));
  Create(P("/a"), "");
  Create(P("/a/b"), "");
  Create(P("/a/b/c"), "too deep");
  RecursiveTreeCacheOptions options;
  options.max_node_bytes = 1000;
  options.max_depth = 2;
  auto cache = StartCache("", options);
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->Get(P("/servers/big:1")).has_value());
  EXPECT_FALSE(cache->Get(P("/a/b/c")).has_value());
  EXPECT_TRUE(cache->Get(P("/a/b")).has_value());
  EXPECT_TRUE(cache->Get(P("/servers/h1:1")).has_value());
  // The bad node does not stall the others.
  Create(P("/servers/h2:2"), "");
  Create(P("/a/b/d"), "");
  ASSERT_TRUE(
      Eventually([&] { return cache->Get(P("/servers/h2:2")).has_value(); }));
  EXPECT_FALSE(cache->Get(P("/a/b/d")).has_value());
}

TEST_F(RecursiveTreeCacheTest, NodesTooBigForOneAnswerAreReadInSmallerBatches) {
  Create(P("/servers"), "");
  for (int i = 0; i < 30; ++i) {
    Create(P(absl::StrCat("/servers/s", i, ":1")), std::string(20000, 'x'));
  }
  Create(P("/servers/huge:1"), std::string(100000, 'y'));
  RecursiveTreeCacheOptions options;
  // The first batch (16 nodes of 20 KB) is past the bound; halves fit. The
  // 100 KB node fits no answer at all.
  options.session.max_frame_bytes = 64 << 10;
  auto cache = StartCache("", options);
  ASSERT_NE(cache, nullptr);
  EXPECT_FALSE(cache->Get(P("/servers/huge:1")).has_value());
  std::map<std::string, std::string> expected = Truth();
  expected.erase(P("/servers/huge:1"));
  EXPECT_EQ(Data(cache->Snapshot()), expected);
  // One connection throughout: the answers too big were dropped, not the
  // connection.
  EXPECT_EQ(cache->syncs(), 1);
  Create(P("/servers/later:1"), "ok");
  ASSERT_TRUE(Eventually(
      [&] { return cache->Get(P("/servers/later:1")).has_value(); }));
  EXPECT_EQ(cache->syncs(), 1);
}

TEST_F(RecursiveTreeCacheTest, NodesNotAcceptedAreNeitherReadNorFollowed) {
  CreateCluster();
  Create(P("/functions"), "");
  Create(P("/functions/ns"), "");
  Create(P("/functions/ns/Call"), std::string(50000, 'd'));
  RecursiveTreeCacheOptions options;
  options.accept = [](absl::string_view path) {
    return path.find("/functions") == absl::string_view::npos;
  };
  auto cache = StartCache("", options);
  ASSERT_NE(cache, nullptr);
  EXPECT_TRUE(cache->Get(P("/servers/h1:1")).has_value());
  EXPECT_FALSE(cache->Get(P("/functions")).has_value());
  EXPECT_FALSE(cache->Get(P("/functions/ns/Call")).has_value());
  const int64_t received = cache->counters().bytes_received;
  EXPECT_LT(received, 50000);  // The descriptor was never read.
  Set(P("/functions/ns/Call"), std::string(50000, 'e'));
  Create(P("/servers/h2:2"), "");
  ASSERT_TRUE(
      Eventually([&] { return cache->Get(P("/servers/h2:2")).has_value(); }));
  EXPECT_LT(cache->counters().bytes_received - received, 2000);
  EXPECT_FALSE(cache->Get(P("/functions/ns/Call")).has_value());
}

TEST_F(RecursiveTreeCacheTest, KCachesHoldKWatchesOnZooKeeper) {
  CreateCluster();
  for (int i = 0; i < 50; ++i) {
    Create(P(absl::StrCat("/servers/s", i, ":1")), "");
  }
  std::vector<std::unique_ptr<RecursiveTreeCache>> caches;
  for (int k = 0; k < 3; ++k) {
    caches.push_back(StartCache());
    ASSERT_NE(caches.back(), nullptr);
  }
  absl::StatusOr<std::string> wchs = zookeeper().FourLetterWord(0, "wchs");
  ASSERT_TRUE(wchs.ok());
  EXPECT_THAT(*wchs, HasSubstr("3 connections watching 1 paths"));
  EXPECT_THAT(*wchs, HasSubstr("Total watches:3"));
}

TEST_F(RecursiveTreeCacheTest, AListenerAddedLaterHearsTheWholeTreeFirst) {
  CreateCluster();
  auto cache = StartCache();
  ASSERT_NE(cache, nullptr);
  Replay replay;
  cache->AddListener(replay.Listener());
  ASSERT_TRUE(Converges(*cache, replay));
  EXPECT_EQ(replay.batches(), 1);
  // Even over an empty tree, a first (empty) batch to build from.
  RecursiveTreeCacheOptions options;
  options.session.connect_string = ConnectString();
  options.root = "/nothing/here";
  auto empty = RecursiveTreeCache::Start(options);
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE((*empty)->WaitUntilInitialized(absl::Seconds(20)).ok());
  Replay nothing;
  (*empty)->AddListener(nothing.Listener());
  ASSERT_TRUE(Eventually([&] { return nothing.batches() == 1; }));
  EXPECT_TRUE(nothing.map().empty());
}

// A server older than 3.6 in the one way that matters: it answers addWatch
// with "unimplemented" (and every read with "no node").
TEST(RecursiveTreeCacheFallbackTest, AnOldServerIsReportedUnsupported) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(
      bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  listen(listener, 4);
  socklen_t length = sizeof address;
  getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  std::atomic<bool> stop{false};
  std::thread server([&] {
    auto be32 = [](uint32_t v) {
      return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
    };
    auto read_frame = [](int fd, std::string* frame) {
      unsigned char head[4];
      if (recv(fd, head, 4, MSG_WAITALL) != 4) return false;
      const uint32_t n =
          (head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3];
      if (n > 65536) return false;
      frame->resize(n);
      return n == 0 ||
             recv(fd, frame->data(), n, MSG_WAITALL) == static_cast<ssize_t>(n);
    };
    const int fd = accept(listener, nullptr, nullptr);
    if (fd < 0) return;
    std::string frame;
    if (read_frame(fd, &frame)) {
      std::string body = be32(0) + be32(4000) + be32(0) + be32(7) + be32(16) +
                         std::string(16, 'p') + std::string(1, '\0');
      std::string reply = be32(body.size()) + body;
      send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
      while (!stop && read_frame(fd, &frame)) {
        if (frame.size() < 8) break;
        const std::string xid = frame.substr(0, 4);
        const uint32_t op = (static_cast<unsigned char>(frame[4]) << 24) |
                            (static_cast<unsigned char>(frame[5]) << 16) |
                            (static_cast<unsigned char>(frame[6]) << 8) |
                            static_cast<unsigned char>(frame[7]);
        if (op == 11) continue;  // Ping: not answered, it is short-lived.
        const int32_t err = op == 106 ? -6 : -101;
        std::string r = xid + be32(0) + be32(1) + be32(err);
        r = be32(r.size()) + r;
        send(fd, r.data(), r.size(), MSG_NOSIGNAL);
      }
    }
    close(fd);
  });
  RecursiveTreeCacheOptions options;
  options.session.connect_string =
      absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  options.root = kRoot;
  auto cache = RecursiveTreeCache::Start(options);
  ASSERT_TRUE(cache.ok());
  absl::Status status = (*cache)->WaitUntilInitialized(absl::Seconds(20));
  EXPECT_TRUE(absl::IsUnimplemented(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("3.6"));
  stop = true;
  (*cache)->Close();
  shutdown(listener, SHUT_RDWR);
  close(listener);
  server.join();
}

}  // namespace
}  // namespace slacker::discovery
