// ChildrenCache against real ZooKeeper: it must converge to exactly the live
// children (names, data, versions) after bursts of changes, session expiry,
// restarts, kill -9 and a leader's loss, and the events a listener hears,
// replayed on an empty map, must end in exactly that state.

#include "discovery/children_cache.h"

#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "discovery/zookeeper_client.h"
#include "discovery/zookeeper_paths.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::slacker::testing::ZooKeeperEnsembleTest;
using ::slacker::testing::ZooKeeperTest;
using ::testing::IsEmpty;

constexpr absl::Duration kConvergeTimeout = absl::Seconds(30);

std::unique_ptr<ZooKeeperClient> NewClient(const std::string& connect) {
  ZooKeeperOptions options;
  options.connect_string = connect;
  options.session_timeout = absl::Seconds(4);
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
      ZooKeeperClient::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

// One line per child, "name=data czxid/mzxid/version", so that a mismatch
// shows what differs.
std::string Describe(const std::map<std::string, NodeData>& children) {
  std::string out;
  for (const auto& [name, node] : children) {
    absl::StrAppend(&out, name, "=", node.data, " ", node.stat.czxid, "/",
                    node.stat.mzxid, "/", node.stat.version, "\n");
  }
  return out.empty() ? "(none)\n" : out;
}

// The children of `path` and their data, read directly. Call it only while
// nobody changes them.
std::map<std::string, NodeData> ReadLive(ZooKeeperClient& client,
                                         const std::string& path) {
  std::map<std::string, NodeData> live;
  absl::StatusOr<NodeChildren> children = client.GetChildren(path);
  if (absl::IsNotFound(children.status())) return live;
  EXPECT_TRUE(children.ok()) << children.status();
  if (!children.ok()) return live;
  for (const std::string& name : children->names) {
    absl::StatusOr<NodeData> node = client.Get(JoinPath(path, name));
    EXPECT_TRUE(node.ok()) << node.status();
    if (node.ok()) live.emplace(name, *std::move(node));
  }
  return live;
}

// A listener that replays every event on a map and records any event that
// does not fit it: a kAdded of a present name, a kUpdated or kRemoved of an
// absent one, an update that does not move a child's version forward, a
// second kInitialized.
class Replay {
 public:
  ChildrenCache::Listener Listener() {
    return [this](const ChildrenCacheEvent& event) { Apply(event); };
  }

  std::map<std::string, NodeData> map() const {
    std::lock_guard<std::mutex> lock(mu_);
    return map_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  int events() const {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  int initialized() const {
    std::lock_guard<std::mutex> lock(mu_);
    return initialized_;
  }

 private:
  void Apply(const ChildrenCacheEvent& event) {
    std::lock_guard<std::mutex> lock(mu_);
    ++events_;
    const std::string what =
        absl::StrCat(ChildrenCacheEventTypeName(event.type), " ", event.name);
    switch (event.type) {
      case ChildrenCacheEventType::kAdded:
        if (!map_.emplace(event.name, event.node).second) {
          errors_.push_back(absl::StrCat(what, ": already present"));
        }
        break;
      case ChildrenCacheEventType::kUpdated: {
        auto it = map_.find(event.name);
        if (it == map_.end()) {
          errors_.push_back(absl::StrCat(what, ": absent"));
        } else if (event.node.stat.mzxid <= it->second.stat.mzxid) {
          errors_.push_back(absl::StrCat(what, ": mzxid ",
                                         event.node.stat.mzxid, " after ",
                                         it->second.stat.mzxid));
        } else {
          it->second = event.node;
        }
        break;
      }
      case ChildrenCacheEventType::kRemoved:
        if (map_.erase(event.name) == 0) {
          errors_.push_back(absl::StrCat(what, ": absent"));
        }
        break;
      case ChildrenCacheEventType::kInitialized:
        if (++initialized_ > 1) errors_.push_back("initialized twice");
        break;
    }
  }

  mutable std::mutex mu_;
  std::map<std::string, NodeData> map_;
  std::vector<std::string> errors_;
  int events_ = 0;
  int initialized_ = 0;
};

// Counts asynchronous operations until all have answered.
class Pending {
 public:
  template <typename Result>
  std::function<void(Result)> Expect(std::string what) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    return [this, what](const Result& result) { Done(what, StatusOf(result)); };
  }
  // Waits for every answer; returns the errors.
  std::vector<std::string> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return outstanding_ == 0; });
    return errors_;
  }

 private:
  static absl::Status StatusOf(const absl::Status& status) { return status; }
  template <typename T>
  static absl::Status StatusOf(const absl::StatusOr<T>& result) {
    return result.status();
  }
  void Done(const std::string& what, const absl::Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status.ok())
      errors_.push_back(absl::StrCat(what, ": ", status.ToString()));
    if (--outstanding_ == 0) cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;
  std::vector<std::string> errors_;
};

// Applies `count` random changes to the children of `path`, pipelined (all
// sent before the first answer): creates, deletes, data sets, and deletes
// followed at once by a create of the same name, over 12 names. Returns the
// operations' errors.
std::vector<std::string> Burst(ZooKeeperClient& writer, const std::string& path,
                               int count, uint32_t seed) {
  std::mt19937 random(seed);
  std::set<std::string> present;
  absl::StatusOr<NodeChildren> children = writer.GetChildren(path);
  if (!children.ok()) return {children.status().ToString()};
  present.insert(children->names.begin(), children->names.end());
  Pending pending;
  for (int i = 0; i < count; ++i) {
    const std::string name = absl::StrCat("c", random() % 12);
    const std::string child = JoinPath(path, name);
    const std::string data = absl::StrCat("v", seed, "-", i);
    if (present.count(name) == 0) {
      writer.CreateAsync(child, data, CreateMode::kPersistent, false,
                         pending.Expect<absl::StatusOr<std::string>>(
                             absl::StrCat("create ", name)));
      present.insert(name);
      continue;
    }
    switch (random() % 3) {
      case 0:
        writer.DeleteAsync(
            child, -1,
            pending.Expect<absl::Status>(absl::StrCat("delete ", name)));
        present.erase(name);
        break;
      case 1:
        writer.SetAsync(child, data, -1,
                        pending.Expect<absl::StatusOr<NodeStat>>(
                            absl::StrCat("set ", name)));
        break;
      default:
        writer.DeleteAsync(
            child, -1,
            pending.Expect<absl::Status>(absl::StrCat("delete ", name)));
        writer.CreateAsync(child, data, CreateMode::kPersistent, false,
                           pending.Expect<absl::StatusOr<std::string>>(
                               absl::StrCat("re-create ", name)));
        break;
    }
  }
  return pending.Wait();
}

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

  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
  };

 private:
  std::shared_ptr<Gate> gate_;
};

// The connection states a client reports while this lives.
class States {
 public:
  explicit States(ZooKeeperClient& client)
      : client_(client),
        id_(client.AddConnectionListener([this](ConnectionState state) {
          std::lock_guard<std::mutex> lock(mu_);
          states_.push_back(state);
        })) {}
  ~States() { client_.RemoveConnectionListener(id_); }
  bool Saw(ConnectionState state) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(states_.begin(), states_.end(), state) != states_.end();
  }

 private:
  ZooKeeperClient& client_;
  mutable std::mutex mu_;
  std::vector<ConnectionState> states_;
  const int id_;  // Last: the listener may run once it is set.
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

class ChildrenCacheTest : public ZooKeeperTest {
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

  // Starts a cache of `path` on watcher_ with replay_ listening, and waits
  // for its first load.
  std::unique_ptr<ChildrenCache> StartCache(const std::string& path) {
    absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
        ChildrenCache::Create(watcher_.get(), path);
    EXPECT_TRUE(cache.ok()) << cache.status();
    if (!cache.ok()) return nullptr;
    (*cache)->AddListener(replay_.Listener());
    EXPECT_TRUE((*cache)->WaitUntilInitialized(kConvergeTimeout));
    return *std::move(cache);
  }

  // Expects the cache, then replay_, to reach exactly the live children of
  // `path` (read once: nobody may change them meanwhile).
  void ExpectConverges(const ChildrenCache& cache, const std::string& path,
                       const std::string& when) {
    const absl::Time start = absl::Now();
    const std::string live = Describe(ReadLive(*writer_, path));
    EXPECT_TRUE(Eventually([&] { return Describe(cache.Snapshot()) == live; },
                           kConvergeTimeout))
        << when << ": the cache holds\n"
        << Describe(cache.Snapshot()) << "but ZooKeeper holds\n"
        << live;
    // From the call (just after the test's last write was acknowledged, or
    // its reconnection), reading the live state included.
    std::cout << "measured: " << when << ": cache equal to ZooKeeper within "
              << absl::FormatDuration(absl::Now() - start) << std::endl;
    EXPECT_TRUE(Eventually([&] { return Describe(replay_.map()) == live; },
                           kConvergeTimeout))
        << when << ": replaying the events gives\n"
        << Describe(replay_.map()) << "but ZooKeeper holds\n"
        << live;
    EXPECT_THAT(replay_.errors(), IsEmpty()) << when;
    EXPECT_EQ(replay_.initialized(), 1) << when;
  }

  std::unique_ptr<ZooKeeperClient> writer_;
  std::unique_ptr<ZooKeeperClient> watcher_;
  Replay replay_;
};

TEST_F(ChildrenCacheTest, RejectsAnInvalidPath) {
  absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
      ChildrenCache::Create(watcher_.get(), "no/leading/slash");
  EXPECT_TRUE(absl::IsInvalidArgument(cache.status())) << cache.status();
}

TEST_F(ChildrenCacheTest, LoadsExistingChildrenThenInitialized) {
  const std::string path = "/views/initial";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  ASSERT_TRUE(writer_->Create(path + "/a", "alpha").ok());
  ASSERT_TRUE(writer_->Create(path + "/b", "").ok());
  std::vector<ChildrenCacheEvent> heard;
  std::mutex mu;
  absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
      ChildrenCache::Create(watcher_.get(), path);
  ASSERT_TRUE(cache.ok()) << cache.status();
  (*cache)->AddListener([&](const ChildrenCacheEvent& event) {
    std::lock_guard<std::mutex> lock(mu);
    heard.push_back(event);
  });
  ASSERT_TRUE((*cache)->WaitUntilInitialized(kConvergeTimeout));
  std::map<std::string, NodeData> snapshot = (*cache)->Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot["a"].data, "alpha");
  EXPECT_EQ(snapshot["b"].data, "");
  EXPECT_EQ((*cache)->Get("a")->data, "alpha");
  EXPECT_FALSE((*cache)->Get("c").has_value());
  // kAdded for each child, then kInitialized, whenever the listener was added.
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return heard.size() == 3;
  }));
  std::lock_guard<std::mutex> lock(mu);
  std::set<std::string> added;
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(heard[i].type, ChildrenCacheEventType::kAdded);
    added.insert(heard[i].name);
  }
  EXPECT_EQ(added, (std::set<std::string>{"a", "b"}));
  EXPECT_EQ(heard[2].type, ChildrenCacheEventType::kInitialized);
}

// Starts a cache of `path` with `reads` on `client`, `replay` listening, and
// waits for its first load.
std::unique_ptr<ChildrenCache> StartCacheReading(ZooKeeperClient* client,
                                                 const std::string& path,
                                                 ChildReads reads,
                                                 Replay* replay) {
  ChildrenCacheOptions options;
  options.reads = reads;
  absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
      ChildrenCache::Create(client, path, options);
  EXPECT_TRUE(cache.ok()) << cache.status();
  if (!cache.ok()) return nullptr;
  (*cache)->AddListener(replay->Listener());
  EXPECT_TRUE((*cache)->WaitUntilInitialized(kConvergeTimeout));
  return *std::move(cache);
}

TEST_F(ChildrenCacheTest, StatOnceReadsEachChildsStatAndNoData) {
  const std::string path = "/views/stat";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  ASSERT_TRUE(writer_->Create(path + "/a", "alpha").ok());
  ASSERT_TRUE(
      writer_->Create(path + "/b", "beta", CreateMode::kEphemeral).ok());
  std::unique_ptr<ChildrenCache> cache =
      StartCacheReading(watcher_.get(), path, ChildReads::kStatOnce, &replay_);
  ASSERT_NE(cache, nullptr);
  const absl::StatusOr<NodeData> a = writer_->Get(path + "/a");
  ASSERT_TRUE(a.ok());
  std::map<std::string, NodeData> snapshot = cache->Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot["a"].data, "");
  EXPECT_EQ(snapshot["a"].stat.czxid, a->stat.czxid);
  EXPECT_EQ(snapshot["b"].data, "");
  EXPECT_EQ(snapshot["b"].stat.ephemeral_owner, writer_->session_id());
  // New children are read, gone ones removed.
  ASSERT_TRUE(writer_->Create(path + "/c", "gamma").ok());
  ASSERT_TRUE(writer_->Delete(path + "/b").ok());
  EXPECT_TRUE(Eventually([&] {
    const std::map<std::string, NodeData> now = cache->Snapshot();
    return now.size() == 2 && now.count("c") == 1 &&
           now.at("c").stat.czxid != 0;
  }));
  // A data change is not watched; Refresh reads the stat again.
  auto set = writer_->Set(path + "/a", "alpha2");
  ASSERT_TRUE(set.ok());
  cache->Refresh("a");
  EXPECT_TRUE(Eventually([&] {
    return cache->Get("a").value_or(NodeData()).stat.mzxid == set->mzxid;
  }));
  EXPECT_TRUE(Eventually(
      [&] { return Describe(replay_.map()) == Describe(cache->Snapshot()); }));
  EXPECT_THAT(replay_.errors(), IsEmpty());
}

TEST_F(ChildrenCacheTest, OnRequestListsNamesAndReadsOnlyWhatIsAsked) {
  const std::string path = "/views/request";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  ASSERT_TRUE(writer_->Create(path + "/x", "one").ok());
  ASSERT_TRUE(writer_->Create(path + "/y", "two").ok());
  std::unique_ptr<ChildrenCache> cache =
      StartCacheReading(watcher_.get(), path, ChildReads::kOnRequest, &replay_);
  ASSERT_NE(cache, nullptr);
  // Both listed, neither read.
  std::map<std::string, NodeData> snapshot = cache->Snapshot();
  ASSERT_EQ(snapshot.size(), 2u);
  EXPECT_EQ(snapshot["x"].stat.czxid, 0);
  EXPECT_EQ(snapshot["y"].stat.czxid, 0);
  cache->Request("y");
  EXPECT_TRUE(Eventually(
      [&] { return cache->Get("y").value_or(NodeData()).data == "two"; }));
  EXPECT_EQ(cache->Get("x")->stat.czxid, 0);
  // What was asked for is kept current by its watch.
  ASSERT_TRUE(writer_->Set(path + "/y", "three").ok());
  EXPECT_TRUE(Eventually(
      [&] { return cache->Get("y").value_or(NodeData()).data == "three"; }));
  ASSERT_TRUE(writer_->Delete(path + "/y").ok());
  ASSERT_TRUE(writer_->Create(path + "/z", "four").ok());
  EXPECT_TRUE(Eventually([&] {
    const std::map<std::string, NodeData> now = cache->Snapshot();
    return now.size() == 2 && now.count("x") == 1 && now.count("z") == 1 &&
           now.at("z").stat.czxid == 0;
  }));
  EXPECT_TRUE(Eventually(
      [&] { return Describe(replay_.map()) == Describe(cache->Snapshot()); }));
  EXPECT_THAT(replay_.errors(), IsEmpty());
}

TEST_F(ChildrenCacheTest, ConvergesAfterBurstsOfChanges) {
  const std::string path = "/views/burst";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  ASSERT_TRUE(writer_->Create(path + "/c0", "start").ok());
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);

  EXPECT_THAT(Burst(*writer_, path, 200, 1), IsEmpty());
  ExpectConverges(*cache, path, "after 200 pipelined changes");

  // Synchronous changes interleave differently with the cache's reads.
  std::mt19937 random(2);
  for (int i = 0; i < 200; ++i) {
    const std::string child = JoinPath(path, absl::StrCat("c", random() % 12));
    const std::string data = absl::StrCat("s", i);
    switch (random() % 4) {
      case 0:
        writer_->Delete(child).IgnoreError();  // NotFound if absent.
        break;
      case 1:
        writer_->Set(child, data).IgnoreError();  // NotFound if absent.
        break;
      case 2:
        writer_->Delete(child).IgnoreError();
        ASSERT_TRUE(writer_->Create(child, data).ok());
        break;
      default:
        writer_->Create(child, data).IgnoreError();  // AlreadyExists.
        break;
    }
  }
  ExpectConverges(*cache, path, "after 200 synchronous changes");

  // Data alone, the list unchanged: only the children's own watches see it.
  for (int i = 0; i < 50; ++i) {
    for (const auto& [name, node] : cache->Snapshot()) {
      ASSERT_TRUE(
          writer_->Set(JoinPath(path, name), absl::StrCat("d", i)).ok());
    }
    if (i % 10 == 9) ExpectConverges(*cache, path, "after data changes");
  }
  std::cout << "measured: " << replay_.events() << " events heard" << std::endl;
}

TEST_F(ChildrenCacheTest, LeavesOutAChildItCannotRead) {
  const std::string path = "/views/acl";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  ASSERT_TRUE(writer_->Create(path + "/open", "readable").ok());
  ZooKeeperOptions options;
  options.connect_string = ConnectString();
  options.digest = "owner:secret";
  options.acl = AclPolicy::kCreatorAll;
  absl::StatusOr<std::unique_ptr<ZooKeeperClient>> owner =
      ZooKeeperClient::Connect(options);
  ASSERT_TRUE(owner.ok()) << owner.status();
  ASSERT_TRUE((*owner)->Create(path + "/private", "hidden").ok());

  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);
  std::map<std::string, NodeData> snapshot = cache->Snapshot();
  EXPECT_EQ(snapshot.size(), 1u);
  EXPECT_EQ(snapshot["open"].data, "readable");
  // The cache still follows the readable children.
  ASSERT_TRUE(writer_->Set(path + "/open", "changed").ok());
  EXPECT_TRUE(Eventually([&] {
    std::optional<NodeData> open = cache->Get("open");
    return open.has_value() && open->data == "changed";
  }));
  EXPECT_THAT(replay_.errors(), IsEmpty());
}

TEST_F(ChildrenCacheTest, FollowsTheParentBeingCreatedAndDeleted) {
  const std::string path = "/views/later/parent";
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);
  EXPECT_THAT(cache->Snapshot(), IsEmpty());

  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  ASSERT_TRUE(writer_->Create(path + "/a", "1").ok());
  ASSERT_TRUE(writer_->Create(path + "/b", "2").ok());
  ExpectConverges(*cache, path, "parent created");
  EXPECT_EQ(cache->Snapshot().size(), 2u);

  // A recursive delete: the children go first, then the parent.
  ASSERT_TRUE(writer_->Delete(path + "/a").ok());
  ASSERT_TRUE(writer_->Delete(path + "/b").ok());
  ASSERT_TRUE(writer_->Delete(path).ok());
  ExpectConverges(*cache, path, "parent deleted");
  EXPECT_THAT(cache->Snapshot(), IsEmpty());

  ASSERT_TRUE(writer_->Create(path, "").ok());
  ASSERT_TRUE(writer_->Create(path + "/a", "3").ok());
  ExpectConverges(*cache, path, "parent re-created");
  EXPECT_EQ(cache->Get("a")->data, "3");
}

TEST_F(ChildrenCacheTest, ConvergesAfterSessionExpiry) {
  const std::string path = "/views/expiry";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  for (const char* name : {"a", "b", "c", "d"}) {
    ASSERT_TRUE(writer_->Create(JoinPath(path, name), name).ok());
  }
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);
  States states(*watcher_);

  for (int round = 0; round < 2; ++round) {
    const int64_t old_session = watcher_->session_id();
    {
      // The watcher hears of the expiry only after the changes below, made
      // while its session is dead: no watch can report them, the cache must
      // read them again in its new session.
      EventThreadHold hold(*watcher_);
      auto [id, password] = watcher_->session_credentials();
      ASSERT_TRUE(zookeeper().ExpireSession(id, password).ok());
      ASSERT_TRUE(writer_->Delete(JoinPath(path, round == 0 ? "a" : "d")).ok());
      ASSERT_TRUE(writer_->Set(path + "/b", absl::StrCat("b", round)).ok());
      ASSERT_TRUE(writer_->Delete(path + "/c").ok());
      ASSERT_TRUE(writer_->Create(path + "/c", absl::StrCat("c", round)).ok());
      ASSERT_TRUE(
          writer_->Create(JoinPath(path, absl::StrCat("new", round)), "").ok());
      EXPECT_THAT(Burst(*writer_, path, 40, 10 + round), IsEmpty());
    }
    ASSERT_TRUE(Eventually([&] {
      return watcher_->state() == ConnectionState::kNewSession &&
             watcher_->session_id() != old_session;
    })) << ConnectionStateName(watcher_->state());
    ExpectConverges(*cache, path, absl::StrCat("expiry ", round + 1));
  }
  EXPECT_TRUE(states.Saw(ConnectionState::kExpired));
}

TEST_F(ChildrenCacheTest, ConvergesAfterRestartAndKill) {
  const std::string path = "/views/restart";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  EXPECT_THAT(Burst(*writer_, path, 30, 20), IsEmpty());
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);
  ExpectConverges(*cache, path, "before the restart");

  for (const bool kill : {false, true}) {
    const std::string before = Describe(cache->Snapshot());
    const std::string what = kill ? "kill -9 and start" : "stop and start";
    ASSERT_TRUE(
        (kill ? zookeeper().KillNode(0) : zookeeper().StopNode(0)).ok());
    // Nothing can change while ZooKeeper is down; the cache keeps its
    // contents meanwhile.
    EXPECT_EQ(Describe(cache->Snapshot()), before);
    ASSERT_TRUE(zookeeper().StartNode(0).ok());
    EXPECT_TRUE(Eventually(Applied(
        [&] { return writer_->Set(path + "/marker", what).status(); })));
    EXPECT_TRUE(Eventually(Applied(
        [&] { return writer_->Create(path + "/marker", what).status(); })));
    EXPECT_TRUE(Eventually(
        Applied([&] { return writer_->Delete(JoinPath(path, "c1")); })));
    std::vector<std::string> errors = Burst(*writer_, path, 60, kill ? 21 : 22);
    std::cout << "measured: " << errors.size()
              << " burst operations failed across the reconnection"
              << std::endl;
    ExpectConverges(*cache, path, absl::StrCat("after ", what));
    EXPECT_EQ(cache->Get("marker")->data, what);
  }
}

TEST_F(ChildrenCacheTest, BlockingListenerDoesNotDelayTheCache) {
  const std::string path = "/views/blocking";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  bool release = false;
  int calls = 0;
  int calls_when_blocked = 0;
  cache->AddListener([&](const ChildrenCacheEvent& event) {
    std::unique_lock<std::mutex> lock(mu);
    ++calls;
    if (event.type == ChildrenCacheEventType::kAdded && event.name == "first") {
      calls_when_blocked = calls;
      blocked = true;
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    }
  });
  ASSERT_TRUE(writer_->Create(path + "/first", "").ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(
        cv.wait_for(lock, std::chrono::seconds(30), [&] { return blocked; }));
  }

  // The listener thread is stuck; the cache must still follow ZooKeeper.
  EXPECT_THAT(Burst(*writer_, path, 100, 30), IsEmpty());
  const absl::Time start = absl::Now();
  const std::string live = Describe(ReadLive(*writer_, path));
  EXPECT_TRUE(Eventually([&] { return Describe(cache->Snapshot()) == live; },
                         kConvergeTimeout))
      << "the cache holds\n"
      << Describe(cache->Snapshot()) << "but ZooKeeper holds\n"
      << live;
  std::cout << "measured: snapshot current "
            << absl::FormatDuration(absl::Now() - start)
            << " after the burst (reading the live state included), with the "
               "listener blocked"
            << std::endl;
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(blocked);
    EXPECT_EQ(calls, calls_when_blocked);  // Still inside that call.
    release = true;
    cv.notify_all();
  }
  ExpectConverges(*cache, path, "listener released");
  cache->Close();  // Before the listener's state above goes.
}

// Runs everything queued on `client`'s listener thread so far, then returns.
void DrainListenerThread(ZooKeeperClient& client) {
  auto done = std::make_shared<EventThreadHold::Gate>();
  client.RunOnListenerThread([done] {
    std::lock_guard<std::mutex> lock(done->mu);
    done->open = true;
    done->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(done->mu);
  done->cv.wait(lock, [&] { return done->open; });
}

TEST_F(ChildrenCacheTest, CloseDropsQueuedEvents) {
  const std::string path = "/views/close";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);
  DrainListenerThread(*watcher_);
  const int heard = replay_.events();

  // Hold the listener thread (not in a listener of the cache), so that the
  // events below are applied and queued, not delivered.
  auto gate = std::make_shared<EventThreadHold::Gate>();
  watcher_->RunOnListenerThread([gate] {
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->open; });
  });
  ASSERT_TRUE(writer_->Create(path + "/a", "").ok());
  ASSERT_TRUE(writer_->Create(path + "/b", "").ok());
  ASSERT_TRUE(Eventually([&] { return cache->Snapshot().size() == 2; }));
  cache->Close();
  {
    std::lock_guard<std::mutex> lock(gate->mu);
    gate->open = true;
    gate->cv.notify_all();
  }
  DrainListenerThread(*watcher_);
  EXPECT_EQ(replay_.events(), heard);
  EXPECT_EQ(cache->Snapshot().size(), 2u);  // Still readable.
}

TEST_F(ChildrenCacheTest, CloseWaitsForARunningListener) {
  const std::string path = "/views/close";
  ASSERT_TRUE(writer_->Create(path, "", CreateMode::kPersistent, true).ok());
  std::unique_ptr<ChildrenCache> cache = StartCache(path);
  ASSERT_NE(cache, nullptr);

  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;
  bool release = false;
  bool close_returned = false;
  bool close_returned_while_running = false;
  // Its first call (kInitialized, replayed) blocks until released, then gives
  // a Close() that would not wait for it time to return.
  cache->AddListener([&](const ChildrenCacheEvent&) {
    std::unique_lock<std::mutex> lock(mu);
    if (blocked) return;
    blocked = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
    close_returned_while_running = cv.wait_for(
        lock, std::chrono::milliseconds(500), [&] { return close_returned; });
  });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(
        cv.wait_for(lock, std::chrono::seconds(30), [&] { return blocked; }));
  }
  std::thread closer([&] {
    cache->Close();
    std::lock_guard<std::mutex> lock(mu);
    close_returned = true;
    cv.notify_all();
  });
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  closer.join();
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_FALSE(close_returned_while_running);
}

class ChildrenCacheEnsembleTest : public ZooKeeperEnsembleTest {};

TEST_F(ChildrenCacheEnsembleTest, LeaderLossKeepsSessionAndContents) {
  std::unique_ptr<ZooKeeperClient> writer = NewClient(ConnectString());
  std::unique_ptr<ZooKeeperClient> watcher = NewClient(ConnectString());
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(watcher, nullptr);
  States states(*watcher);
  const std::string path = "/views/failover";
  ASSERT_TRUE(writer->Create(path, "", CreateMode::kPersistent, true).ok());
  EXPECT_THAT(Burst(*writer, path, 30, 40), IsEmpty());
  Replay replay;
  absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
      ChildrenCache::Create(watcher.get(), path);
  ASSERT_TRUE(cache.ok()) << cache.status();
  (*cache)->AddListener(replay.Listener());
  ASSERT_TRUE((*cache)->WaitUntilInitialized(kConvergeTimeout));
  const std::string before = Describe(ReadLive(*writer, path));
  ASSERT_TRUE(
      Eventually([&] { return Describe((*cache)->Snapshot()) == before; },
                 kConvergeTimeout));
  const int64_t session = watcher->session_id();

  absl::StatusOr<int> leader = zookeeper().LeaderIndex();
  ASSERT_TRUE(leader.ok()) << leader.status();
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(zookeeper().StopNode(*leader).ok());
  EXPECT_EQ(Describe((*cache)->Snapshot()), before);

  EXPECT_TRUE(Eventually(Applied(
      [&] { return writer->Create(path + "/after", "failover").status(); })));
  EXPECT_TRUE(Eventually(
      Applied([&] { return writer->Set(path + "/after", "seen").status(); })));
  const std::string live = Describe(ReadLive(*writer, path));
  EXPECT_TRUE(Eventually([&] { return Describe((*cache)->Snapshot()) == live; },
                         kConvergeTimeout))
      << "the cache holds\n"
      << Describe((*cache)->Snapshot()) << "but ZooKeeper holds\n"
      << live;
  std::cout << "measured: change after failover seen "
            << absl::FormatDuration(absl::Now() - stopped)
            << " after stopping the leader" << std::endl;
  EXPECT_TRUE(Eventually([&] { return Describe(replay.map()) == live; }));
  EXPECT_THAT(replay.errors(), IsEmpty());
  EXPECT_EQ((*cache)->Get("after")->data, "seen");
  EXPECT_EQ(watcher->session_id(), session);
  EXPECT_FALSE(states.Saw(ConnectionState::kExpired));
}

}  // namespace
}  // namespace slacker::discovery
