// NodeCache against real ZooKeeper: it reports a node's creation, changes,
// deletion and re-creation, and stays current across session expiry, restart,
// kill -9 and the loss of an ensemble's leader.

#include "discovery/node_cache.h"

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "discovery/zookeeper_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::slacker::testing::ZooKeeperEnsembleTest;
using ::slacker::testing::ZooKeeperTest;
using ::testing::ElementsAre;

constexpr absl::Duration kEventTimeout = absl::Seconds(30);

std::unique_ptr<ZooKeeperClient> NewClient(const std::string& connect) {
  ZooKeeperOptions options;
  options.connect_string = connect;
  options.session_timeout = absl::Seconds(4);
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// The events a listener heard, as "created one", "changed two", ...
class EventLog {
 public:
  NodeCache::Listener Listener() {
    return [this](const NodeCacheEvent& event) {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(absl::StrCat(NodeCacheEventTypeName(event.type), " ",
                                     event.node.data));
      cv_.notify_all();
    };
  }
  // Waits until `count` events have been heard; returns all heard by then.
  std::vector<std::string> WaitFor(size_t count) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, absl::ToChronoNanoseconds(kEventTimeout),
                 [&] { return events_.size() >= count; });
    return events_;
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

// Holds a client's event thread until Open() or destruction, as a slow event
// thread would: what ZooKeeper reports meanwhile waits in its queue. The held
// task shares its state, so it may start after this is gone.
class EventThreadHold {
 public:
  explicit EventThreadHold(ZooKeeperClient& client)
      : gate_(std::make_shared<Gate>()) {
    client.RunOnEventThread([gate = gate_] {
      std::unique_lock<std::mutex> lock(gate->mu);
      gate->cv.wait(lock, [&] { return gate->open; });
    });
  }
  ~EventThreadHold() { Open(); }
  void Open() {
    std::lock_guard<std::mutex> lock(gate_->mu);
    gate_->open = true;
    gate_->cv.notify_all();
  }

 private:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  };
  std::shared_ptr<Gate> gate_;
};

// A condition for Eventually: retries a write while ZooKeeper is unreachable
// (restart, failover). A write lost with the connection may have been
// applied: AlreadyExists after a create and NotFound after a delete count as
// done.
std::function<bool()> Applied(std::function<absl::Status()> write) {
  return [write = std::move(write)] {
    const absl::Status status = write();
    return status.ok() || absl::IsAlreadyExists(status) ||
           absl::IsNotFound(status);
  };
}

std::string DataOf(const NodeCache& cache) {
  std::optional<NodeData> node = cache.Current();
  return node.has_value() ? node->data : "(absent)";
}

class NodeCacheTest : public ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    if (HasFatalFailure()) return;
    writer_ = NewClient(ConnectString());
    watcher_ = NewClient(ConnectString());
    ASSERT_NE(writer_, nullptr);
    ASSERT_NE(watcher_, nullptr);
  }
  void TearDown() override {
    watcher_.reset();
    writer_.reset();
    ZooKeeperTest::TearDown();
  }

  // Expires watcher_'s session; `change` runs once it is dead and before the
  // watcher can hear of it, so only a re-read in the new session shows it.
  void ExpireWhile(const std::function<void()>& change) {
    const int64_t old_session = watcher_->session_id();
    {
      EventThreadHold hold(*watcher_);
      auto [id, password] = watcher_->session_credentials();
      ASSERT_TRUE(zookeeper().ExpireSession(id, password).ok());
      change();
    }
    ASSERT_TRUE(Eventually([&] {
      return watcher_->state() == ConnectionState::kNewSession &&
             watcher_->session_id() != old_session;
    })) << ConnectionStateName(watcher_->state());
  }

  std::unique_ptr<ZooKeeperClient> writer_;
  std::unique_ptr<ZooKeeperClient> watcher_;
  EventLog log_;
};

TEST_F(NodeCacheTest, SeesCreateChangeDeleteAndRecreate) {
  EXPECT_TRUE(absl::IsInvalidArgument(
      NodeCache::Create(watcher_.get(), "/trailing/").status()));

  const std::string path = "/views/node";
  absl::StatusOr<std::unique_ptr<NodeCache>> cache =
      NodeCache::Create(watcher_.get(), path);
  ASSERT_TRUE(cache.ok()) << cache.status();
  NodeCache& node = **cache;
  node.AddListener(log_.Listener());
  ASSERT_TRUE(node.WaitUntilInitialized(kEventTimeout));
  EXPECT_FALSE(node.Current().has_value());

  ASSERT_TRUE(writer_->Create(path, "one", CreateMode::kPersistent, true).ok());
  EXPECT_THAT(log_.WaitFor(1), ElementsAre("created one"));
  ASSERT_TRUE(writer_->Set(path, "two").ok());
  EXPECT_THAT(log_.WaitFor(2), ElementsAre("created one", "changed two"));
  ASSERT_TRUE(writer_->Delete(path).ok());
  EXPECT_THAT(log_.WaitFor(3),
              ElementsAre("created one", "changed two", "deleted two"));
  EXPECT_EQ(DataOf(node), "(absent)");
  ASSERT_TRUE(writer_->Create(path, "three").ok());
  EXPECT_THAT(log_.WaitFor(4), ElementsAre("created one", "changed two",
                                           "deleted two", "created three"));
  EXPECT_EQ(DataOf(node), "three");
  EXPECT_EQ(node.Current()->stat.version, 0);

  {
    // Deleted and created again before the cache reads it: the new creation
    // zxid shows it, as a deletion and a creation.
    EventThreadHold hold(*watcher_);
    ASSERT_TRUE(writer_->Delete(path).ok());
    ASSERT_TRUE(writer_->Create(path, "four").ok());
  }
  EXPECT_THAT(log_.WaitFor(6),
              ElementsAre("created one", "changed two", "deleted two",
                          "created three", "deleted three", "created four"));
  {
    // Two sets between reads are one change, to the last data.
    EventThreadHold hold(*watcher_);
    ASSERT_TRUE(writer_->Set(path, "five").ok());
    ASSERT_TRUE(writer_->Set(path, "six").ok());
  }
  EXPECT_EQ(log_.WaitFor(7).back(), "changed six");
  EXPECT_EQ(node.Current()->stat.version, 2);

  // A listener added late hears the current state first.
  EventLog late;
  node.AddListener(late.Listener());
  EXPECT_THAT(late.WaitFor(1), ElementsAre("created six"));
  node.Close();
  EXPECT_EQ(log_.events().size(), 7u);
}

TEST_F(NodeCacheTest, SurvivesExpiryRestartAndKill) {
  const std::string path = "/views/survivor";
  ASSERT_TRUE(writer_->Create(path, "v1", CreateMode::kPersistent, true).ok());
  absl::StatusOr<std::unique_ptr<NodeCache>> cache =
      NodeCache::Create(watcher_.get(), path);
  ASSERT_TRUE(cache.ok()) << cache.status();
  NodeCache& node = **cache;
  node.AddListener(log_.Listener());
  EXPECT_THAT(log_.WaitFor(1), ElementsAre("created v1"));

  ExpireWhile([&] { ASSERT_TRUE(writer_->Set(path, "v2").ok()); });
  EXPECT_THAT(log_.WaitFor(2), ElementsAre("created v1", "changed v2"));
  ExpireWhile([&] { ASSERT_TRUE(writer_->Delete(path).ok()); });
  EXPECT_THAT(log_.WaitFor(3),
              ElementsAre("created v1", "changed v2", "deleted v2"));
  ExpireWhile([&] { ASSERT_TRUE(writer_->Create(path, "v3").ok()); });
  EXPECT_THAT(log_.WaitFor(4), ElementsAre("created v1", "changed v2",
                                           "deleted v2", "created v3"));

  ASSERT_TRUE(zookeeper().StopNode(0).ok());
  EXPECT_EQ(DataOf(node), "v3");  // Kept while ZooKeeper is down.
  ASSERT_TRUE(zookeeper().StartNode(0).ok());
  EXPECT_TRUE(
      Eventually(Applied([&] { return writer_->Set(path, "v4").status(); })));
  EXPECT_EQ(log_.WaitFor(5).back(), "changed v4");

  ASSERT_TRUE(zookeeper().KillNode(0).ok());
  ASSERT_TRUE(zookeeper().StartNode(0).ok());
  EXPECT_TRUE(Eventually(Applied([&] { return writer_->Delete(path); })));
  EXPECT_EQ(log_.WaitFor(6).back(), "deleted v4");
  EXPECT_TRUE(Eventually(
      Applied([&] { return writer_->Create(path, "v5").status(); })));
  EXPECT_THAT(
      log_.WaitFor(7),
      ElementsAre("created v1", "changed v2", "deleted v2", "created v3",
                  "changed v4", "deleted v4", "created v5"));
  EXPECT_EQ(DataOf(node), "v5");
}

class NodeCacheEnsembleTest : public ZooKeeperEnsembleTest {};

TEST_F(NodeCacheEnsembleTest, LeaderLossKeepsSessionAndData) {
  std::unique_ptr<ZooKeeperClient> writer = NewClient(ConnectString());
  std::unique_ptr<ZooKeeperClient> watcher = NewClient(ConnectString());
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(watcher, nullptr);
  const std::string path = "/views/leader";
  ASSERT_TRUE(
      writer->Create(path, "before", CreateMode::kPersistent, true).ok());
  EventLog log;
  absl::StatusOr<std::unique_ptr<NodeCache>> cache =
      NodeCache::Create(watcher.get(), path);
  ASSERT_TRUE(cache.ok()) << cache.status();
  (*cache)->AddListener(log.Listener());
  EXPECT_THAT(log.WaitFor(1), ElementsAre("created before"));
  const int64_t session = watcher->session_id();

  absl::StatusOr<int> leader = zookeeper().LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(zookeeper().StopNode(*leader).ok());
  EXPECT_EQ(DataOf(**cache), "before");
  EXPECT_TRUE(
      Eventually(Applied([&] { return writer->Set(path, "after").status(); })));
  EXPECT_THAT(log.WaitFor(2), ElementsAre("created before", "changed after"));
  std::cout << "measured: change after failover seen "
            << absl::FormatDuration(absl::Now() - stopped)
            << " after stopping the leader" << std::endl;
  EXPECT_EQ(watcher->session_id(), session);
}

}  // namespace
}  // namespace slacker::discovery
