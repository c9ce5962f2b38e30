// The Curator read side against a real ZooKeeper: queries list what is
// registered (and skip hostile nodes), the cache and its listeners follow
// changes, a session expiry of the reader and a ZooKeeper restart, a writer's
// session ending takes its instance out, and the provider's NoteError skips
// an instance until the policy's time has passed. JVM-registered instances:
// tests/curator:curator_read_interop_test.

#include "discovery/curator_service_discovery.h"

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/curator_service_instance.h"
#include "discovery/zookeeper_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::discovery {
namespace {

using ::slacker::testing::ZooKeeperTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Ids(const std::vector<CuratorInstance>& instances) {
  std::vector<std::string> ids;
  for (const CuratorInstance& instance : instances) ids.push_back(instance.id);
  return ids;
}

// What a listener heard, replayed into a map by id.
class Heard {
 public:
  CuratorServiceCache::Listener Listener() {
    return [this](const CuratorServiceCacheEvent& event) {
      std::lock_guard<std::mutex> lock(mu_);
      switch (event.type) {
        case CuratorServiceCacheEventType::kAdded:
          if (!by_id_.emplace(event.instance.id, event.instance.payload_json)
                   .second) {
            errors_.push_back("kAdded of a known id " + event.instance.id);
          }
          break;
        case CuratorServiceCacheEventType::kUpdated:
          if (!by_id_.count(event.instance.id)) {
            errors_.push_back("kUpdated of an unknown id " + event.instance.id);
          }
          by_id_[event.instance.id] = event.instance.payload_json;
          break;
        case CuratorServiceCacheEventType::kRemoved:
          if (by_id_.erase(event.instance.id) == 0) {
            errors_.push_back("kRemoved of an unknown id " + event.instance.id);
          }
          break;
        case CuratorServiceCacheEventType::kInitialized:
          ++initialized_;
          break;
      }
    };
  }
  std::map<std::string, std::string> by_id() const {
    std::lock_guard<std::mutex> lock(mu_);
    return by_id_;
  }
  std::vector<std::string> errors() const {
    std::lock_guard<std::mutex> lock(mu_);
    return errors_;
  }
  int initialized() const {
    std::lock_guard<std::mutex> lock(mu_);
    return initialized_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> by_id_;
  std::vector<std::string> errors_;
  int initialized_ = 0;
};

class CuratorServiceDiscoveryTest : public ZooKeeperTest {
 protected:
  std::unique_ptr<ZooKeeperClient> NewClient() {
    ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(2);
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  static std::unique_ptr<CuratorServiceInstance> Register(
      ZooKeeperClient* client, std::string name, int port,
      std::string payload = "") {
    CuratorServiceInstanceOptions options;
    options.uri_spec = "{scheme}://{address}:{port}";
    options.service_name = std::move(name);
    options.address = "127.0.0.1";
    options.port = port;
    options.payload_json = std::move(payload);
    absl::StatusOr<std::unique_ptr<CuratorServiceInstance>> instance =
        CuratorServiceInstance::Start(client, options);
    EXPECT_TRUE(instance.ok()) << instance.status();
    if (!instance.ok()) return nullptr;
    EXPECT_TRUE((*instance)->WaitForRegistration(absl::Seconds(20)).ok());
    return *std::move(instance);
  }
};

TEST_F(CuratorServiceDiscoveryTest, QueriesListNamesAndInstancesSkipHostile) {
  auto writer = NewClient();
  auto reader = NewClient();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  // Nothing registered yet: empty answers, not errors.
  absl::StatusOr<std::vector<std::string>> names =
      QueryCuratorServiceNames(reader.get(), "/services");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(names->empty());
  EXPECT_TRUE(QueryCuratorInstances(reader.get(), "/services", "api")->empty());

  auto a = Register(writer.get(), "api", 1001, R"({"zone":"a"})");
  auto b = Register(writer.get(), "api", 1002, R"("plain text")");
  auto c = Register(writer.get(), "web", 1003);
  ASSERT_TRUE(a && b && c);
  // Hostile nodes among them: not JSON, too deep, too large, wrong types.
  for (const auto& [name, data] :
       std::vector<std::pair<std::string, std::string>>{
           {"junk", "\x01\x02not json"},
           {"deep",
            absl::StrCat(R"({"name":"api","id":"deep","payload":)",
                         std::string(5000, '['), std::string(5000, ']'), "}")},
           {"large", absl::StrCat(R"({"name":"api","id":"large","payload":")",
                                  std::string(600 * 1024, 'x'), "\"}")},
           {"port", R"({"name":"api","id":"port","port":"80"})"},
           {"empty", ""}}) {
    ASSERT_TRUE(writer->Create("/services/api/" + name, data).ok()) << name;
  }

  names = QueryCuratorServiceNames(reader.get(), "/services");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("api", "web"));
  absl::StatusOr<std::vector<CuratorInstance>> instances =
      QueryCuratorInstances(reader.get(), "/services", "api");
  ASSERT_TRUE(instances.ok()) << instances.status();
  EXPECT_THAT(Ids(*instances), ElementsAre("127.0.0.1:1001", "127.0.0.1:1002"));
  EXPECT_EQ((*instances)[0].payload_value_json, R"({"zone":"a"})");
  EXPECT_EQ((*instances)[0].payload_class, "java.util.LinkedHashMap");
  EXPECT_EQ((*instances)[1].payload_json, R"("plain text")");
  EXPECT_EQ((*instances)[1].Uri(), "http://127.0.0.1:1002");

  absl::StatusOr<std::optional<CuratorInstance>> one =
      QueryCuratorInstance(reader.get(), "/services", "api", "127.0.0.1:1001");
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->port, 1001);
  one = QueryCuratorInstance(reader.get(), "/services", "api", "missing");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_FALSE(one->has_value());
  one = QueryCuratorInstance(reader.get(), "/services", "api", "port");
  EXPECT_EQ(one.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(one.status().message(), HasSubstr("/services/api/port"));

  EXPECT_EQ(
      QueryCuratorInstances(reader.get(), "services", "api").status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      QueryCuratorInstances(reader.get(), "/services", "a/b").status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(QueryCuratorServiceNames(nullptr, "/services").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CuratorServiceDiscoveryTest, CacheFollowsChangesExpiryAndRestart) {
  auto writer = NewClient();
  auto reader = NewClient();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  Heard heard;  // Outlives the cache, whose listener it is.
  absl::StatusOr<std::unique_ptr<CuratorServiceCache>> cache =
      CuratorServiceCache::Create(reader.get(), "/services", "api");
  ASSERT_TRUE(cache.ok()) << cache.status();
  (*cache)->AddListener(heard.Listener());
  ASSERT_TRUE((*cache)->WaitUntilInitialized(absl::Seconds(30)));
  EXPECT_TRUE((*cache)->Instances().empty());

  auto a = Register(writer.get(), "api", 1001, R"({"v":1})");
  auto b = Register(writer.get(), "api", 1002);
  ASSERT_TRUE(a && b);
  auto sees = [&](std::vector<std::string> ids) {
    return Eventually([&] {
      return Ids((*cache)->Instances()) == ids &&
             heard.by_id().size() == ids.size();
    });
  };
  ASSERT_TRUE(sees({"127.0.0.1:1001", "127.0.0.1:1002"}));

  // A payload update is kUpdated with the new text.
  ASSERT_TRUE(a->SetPayload(R"({"v":2})").ok());
  EXPECT_TRUE(Eventually([&] {
    return heard.by_id()["127.0.0.1:1001"] ==
           R"({"@class":"java.util.LinkedHashMap","v":2})";
  }));
  // A node overwritten with junk leaves; restored, it is back.
  ASSERT_TRUE(writer->Set("/services/api/127.0.0.1:1002", "{junk").ok());
  ASSERT_TRUE(sees({"127.0.0.1:1001"}));
  ASSERT_TRUE(b->SetPayload("").ok());  // Rewrites the node's JSON.
  ASSERT_TRUE(sees({"127.0.0.1:1001", "127.0.0.1:1002"}));

  // The writer's session expires: its instances go, and come back as
  // CuratorServiceInstance re-registers them.
  {
    auto [id, password] = writer->session_credentials();
    ASSERT_TRUE(zookeeper().ExpireSession(id, password).ok());
  }
  ASSERT_TRUE(Eventually([&] {
    return a->registered() && b->registered() &&
           Ids((*cache)->Instances()).size() == 2;
  }));

  // The reader's session expires, and a third instance registers meanwhile.
  {
    auto [id, password] = reader->session_credentials();
    ASSERT_TRUE(zookeeper().ExpireSession(id, password).ok());
  }
  auto c = Register(writer.get(), "api", 1003);
  ASSERT_TRUE(sees({"127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"}));

  // ZooKeeper restarts. Once the writer is back (Close needs ZooKeeper to
  // delete), c unregisters, and the cache, reconnected, sees it go.
  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  ASSERT_TRUE(Eventually([&] { return writer->Exists(c->path()).ok(); }));
  ASSERT_TRUE(c->Close().ok());
  ASSERT_TRUE(sees({"127.0.0.1:1001", "127.0.0.1:1002"}));
  EXPECT_THAT(heard.errors(), ::testing::IsEmpty());
  EXPECT_EQ(heard.initialized(), 1);
}

TEST_F(CuratorServiceDiscoveryTest, EndedWriterSessionTakesItsInstanceOut) {
  auto reader = NewClient();
  auto writer = NewClient();
  ASSERT_NE(reader, nullptr);
  ASSERT_NE(writer, nullptr);
  // The node as a crashed process leaves it: ephemeral, no recipe to bring
  // it back.
  CuratorServiceInstanceOptions options;
  options.service_name = "api";
  options.address = "127.0.0.1";
  options.port = 1001;
  absl::StatusOr<std::string> json =
      CuratorServiceInstance::ToJson(options, absl::Now());
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_TRUE(writer
                  ->Create(CuratorServiceInstance::PathFor(options), *json,
                           CreateMode::kEphemeral, /*create_parents=*/true)
                  .ok());
  absl::StatusOr<std::unique_ptr<CuratorServiceProvider>> provider =
      CuratorServiceProvider::Create(reader.get(), "/services", "api");
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_TRUE((*provider)->cache().WaitUntilInitialized(absl::Seconds(30)));
  ASSERT_TRUE(Eventually([&] { return (*provider)->GetInstance().ok(); }));
  auto [id, password] = writer->session_credentials();
  ASSERT_TRUE(zookeeper().ExpireSession(id, password).ok());
  ASSERT_TRUE(Eventually([&] { return !(*provider)->GetInstance().ok(); }));
  EXPECT_THAT((*provider)->GetInstance().status().message(),
              HasSubstr("0 listed"));
}

TEST_F(CuratorServiceDiscoveryTest, NoteErrorSkipsAnInstanceForThePolicysTime) {
  auto writer = NewClient();
  auto reader = NewClient();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  auto a = Register(writer.get(), "api", 1001);
  auto b = Register(writer.get(), "api", 1002);
  ASSERT_TRUE(a && b);
  CuratorServiceProviderOptions options;
  options.strategy = CuratorProviderStrategy::kRoundRobin;
  options.down_instance_policy.timeout = absl::Seconds(2);
  options.down_instance_policy.error_threshold = 2;
  absl::StatusOr<std::unique_ptr<CuratorServiceProvider>> provider =
      CuratorServiceProvider::Create(reader.get(), "/services", "api", options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_TRUE(
      Eventually([&] { return (*provider)->GetAllInstances().size() == 2; }));

  (*provider)->NoteError("127.0.0.1:1001");
  (*provider)->NoteError("127.0.0.1:1001");
  const absl::Time down_at = absl::Now();
  std::set<std::string> picked;
  for (int i = 0; i < 20 && absl::Now() - down_at < absl::Seconds(1); ++i) {
    absl::StatusOr<CuratorInstance> instance = (*provider)->GetInstance();
    ASSERT_TRUE(instance.ok()) << instance.status();
    picked.insert(instance->id);
  }
  EXPECT_THAT(picked, ElementsAre("127.0.0.1:1002"));
  EXPECT_EQ((*provider)->GetAllInstances().size(), 2u);  // Still listed.
  // Back once 2 s have passed since the first error.
  EXPECT_TRUE(Eventually(
      [&] { return (*provider)->GetInstance()->id == "127.0.0.1:1001"; }));
  EXPECT_GE(absl::Now() - down_at, absl::Seconds(1));

  // With a window that cannot pass during the test: both down is
  // Unavailable, saying why.
  options.down_instance_policy.timeout = absl::Hours(1);
  provider =
      CuratorServiceProvider::Create(reader.get(), "/services", "api", options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_TRUE(
      Eventually([&] { return (*provider)->GetAllInstances().size() == 2; }));
  for (const char* id : {"127.0.0.1:1001", "127.0.0.1:1002"}) {
    (*provider)->NoteError(id);
    (*provider)->NoteError(id);
  }
  absl::StatusOr<CuratorInstance> none = (*provider)->GetInstance();
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(none.status().message(), HasSubstr("2 listed, 2 down"));

  // A filter (Curator's additionalFilter) keeps only port 1002.
  options.filter = [](const CuratorInstance& instance) {
    return instance.port == 1002;
  };
  provider =
      CuratorServiceProvider::Create(reader.get(), "/services", "api", options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_TRUE(
      Eventually([&] { return (*provider)->GetAllInstances().size() == 2; }));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*provider)->GetInstance()->id, "127.0.0.1:1002");
  }
  (*provider)->NoteError("127.0.0.1:1002");
  (*provider)->NoteError("127.0.0.1:1002");
  EXPECT_THAT((*provider)->GetInstance().status().message(),
              HasSubstr("2 listed, 1 down after errors (back 1h after their "
                        "first error), 1 refused by the provider's filter"));
}

}  // namespace
}  // namespace slacker::discovery
