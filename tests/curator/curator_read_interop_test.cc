// The Curator read side against the JVM: a Java program using Apache
// Curator's ServiceDiscovery (Debian's libcurator-discovery-java 5.4, compiled
// here at test time) registers instances with string, map and Long payloads;
// C++ lists them, caches them and picks them with each strategy; NoteError
// skips one until the policy's time has passed; a JVM killed with SIGKILL
// leaves the cache when its session expires; a SIGSTOP'd JVM leaves and,
// continued, comes back; the cache follows a ZooKeeper restart and the
// expiry of its own session. The other direction: the JVM
// reads C++-registered string, Long, list and map payloads as the matching
// Java types, with their uriSpec, byte for byte as Curator writes them.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/curator_service_discovery.h"
#include "discovery/curator_service_instance.h"
#include "discovery/zookeeper_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, java_source, "",
          "path of CuratorRegistrar.java (the test compiles it)");

namespace slacker::discovery {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::ZooKeeperTest;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The JVM's session timeout: within the launcher's cap (20 ticks of 200 ms).
constexpr int kJvmSessionMs = 2000;

std::string ClassPath() {
  std::vector<std::string> jars;
  for (const char* jar :
       {"curator-x-discovery", "curator-framework", "curator-client",
        "zookeeper", "zookeeper-jute", "guava", "jackson-databind",
        "jackson-core", "jackson-annotations", "slf4j-api", "slf4j-nop"}) {
    const std::string path = absl::StrCat("/usr/share/java/", jar, ".jar");
    if (access(path.c_str(), R_OK) != 0) {
      ADD_FAILURE() << path
                    << " is missing: run tools/setup.sh (it installs "
                       "libcurator-discovery-java and what it needs)";
    }
    jars.push_back(path);
  }
  return absl::StrJoin(jars, ":");
}

// Compiles CuratorRegistrar.java once per test process; the classes' folder.
const std::string& Classes() {
  static const std::string* classes = [] {
    auto* dir = new std::string(absl::StrCat(
        getenv("TEST_TMPDIR") != nullptr ? getenv("TEST_TMPDIR") : "/tmp",
        "/curator_registrar_classes"));
    Child javac({"/usr/bin/javac", "-d", *dir, "-cp", ClassPath(),
                 absl::GetFlag(FLAGS_java_source)});
    const int status = javac.Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "javac of " << absl::GetFlag(FLAGS_java_source)
        << " failed (its errors are above); is default-jdk-headless "
           "installed (tools/setup.sh)?";
    return dir;
  }();
  return *classes;
}

std::vector<std::string> Ids(const std::vector<CuratorInstance>& instances) {
  std::vector<std::string> ids;
  for (const CuratorInstance& instance : instances) ids.push_back(instance.id);
  return ids;
}

class CuratorReadInteropTest : public ZooKeeperTest {
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

  // A JVM registering `specs` ("<id>:<port>:<kind>") under /services/api.
  std::unique_ptr<Child> StartJvm(const std::vector<std::string>& specs) {
    std::vector<std::string> args = {
        "/usr/bin/java",    "-cp",      ClassPath() + ":" + Classes(),
        "CuratorRegistrar", "register", ConnectString(),
        "/services",        "api",      absl::StrCat(kJvmSessionMs)};
    args.insert(args.end(), specs.begin(), specs.end());
    auto jvm = std::make_unique<Child>(args);
    EXPECT_TRUE(jvm->WaitForLine("READY", absl::Seconds(60)).has_value())
        << "the JVM did not register its instances";
    return jvm;
  }
};

TEST_F(CuratorReadInteropTest,
       JvmInstancesListedCachedAndPickedByEachStrategy) {
  auto jvm = StartJvm({"s1:7001:string", "m1:7002:map", "l1:7003:long"});
  auto reader = NewClient();
  ASSERT_NE(reader, nullptr);

  absl::StatusOr<std::vector<std::string>> names =
      QueryCuratorServiceNames(reader.get(), "/services");
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, ElementsAre("api"));
  absl::StatusOr<std::vector<CuratorInstance>> instances =
      QueryCuratorInstances(reader.get(), "/services", "api");
  ASSERT_TRUE(instances.ok()) << instances.status();
  ASSERT_THAT(Ids(*instances), ElementsAre("l1", "m1", "s1"));
  // As Jackson wrote them: the Long in a wrapper array, the Map's Long past
  // 2^53 with all its digits, the String with its escapes resolved.
  EXPECT_EQ((*instances)[0].payload_json, R"(["java.lang.Long",5000000000])");
  EXPECT_EQ((*instances)[0].payload_value_json, "5000000000");
  EXPECT_EQ((*instances)[1].payload_class, "java.util.LinkedHashMap");
  EXPECT_EQ((*instances)[1].payload_value_json,
            R"({"zone":"a","big":9007199254740993})");
  EXPECT_EQ((*instances)[2].payload_json, "\"hello \\\"jvm\\\" \xC3\xA9\"");
  EXPECT_EQ((*instances)[2].payload_class, "");
  EXPECT_EQ((*instances)[2].address, "127.0.0.1");
  EXPECT_EQ((*instances)[2].port, 7001);
  EXPECT_EQ((*instances)[2].Uri(), "http://127.0.0.1:7001");
  EXPECT_EQ((*instances)[2].service_type, CuratorServiceType::kDynamic);

  for (CuratorProviderStrategy strategy :
       {CuratorProviderStrategy::kRoundRobin, CuratorProviderStrategy::kRandom,
        CuratorProviderStrategy::kSticky}) {
    SCOPED_TRACE(CuratorProviderStrategyName(strategy));
    CuratorServiceProviderOptions options;
    options.strategy = strategy;
    absl::StatusOr<std::unique_ptr<CuratorServiceProvider>> provider =
        CuratorServiceProvider::Create(reader.get(), "/services", "api",
                                       options);
    ASSERT_TRUE(provider.ok()) << provider.status();
    ASSERT_TRUE((*provider)->cache().WaitUntilInitialized(absl::Seconds(30)));
    ASSERT_EQ((*provider)->GetAllInstances().size(), 3u);
    std::vector<std::string> picked;
    for (int i = 0; i < 300; ++i) {
      absl::StatusOr<CuratorInstance> instance = (*provider)->GetInstance();
      ASSERT_TRUE(instance.ok()) << instance.status();
      picked.push_back(instance->id);
    }
    const std::set<std::string> distinct(picked.begin(), picked.end());
    switch (strategy) {
      case CuratorProviderStrategy::kRoundRobin:
        EXPECT_THAT(
            std::vector<std::string>(picked.begin(), picked.begin() + 6),
            ElementsAre("l1", "m1", "s1", "l1", "m1", "s1"));
        break;
      case CuratorProviderStrategy::kRandom:
        EXPECT_EQ(distinct.size(), 3u);  // Each missed: (2/3)^300.
        break;
      case CuratorProviderStrategy::kSticky:
        EXPECT_EQ(distinct.size(), 1u);
        break;
    }
  }
}

TEST_F(CuratorReadInteropTest, NoteErrorSkipsAJvmInstanceUntilThePolicysTime) {
  auto jvm = StartJvm({"a:7001:string", "b:7002:string"});
  auto reader = NewClient();
  ASSERT_NE(reader, nullptr);
  CuratorServiceProviderOptions options;
  options.down_instance_policy.timeout = absl::Seconds(3);
  options.down_instance_policy.error_threshold = 2;
  absl::StatusOr<std::unique_ptr<CuratorServiceProvider>> provider =
      CuratorServiceProvider::Create(reader.get(), "/services", "api", options);
  ASSERT_TRUE(provider.ok()) << provider.status();
  ASSERT_TRUE((*provider)->cache().WaitUntilInitialized(absl::Seconds(30)));
  ASSERT_EQ((*provider)->GetAllInstances().size(), 2u);

  (*provider)->NoteError("a");
  EXPECT_FALSE((*provider)->picker().IsDown("a", absl::Now()));  // 1 < 2.
  (*provider)->NoteError("a");
  const absl::Time down_at = absl::Now();
  std::set<std::string> picked;
  while (absl::Now() - down_at < absl::Seconds(1)) {
    absl::StatusOr<CuratorInstance> instance = (*provider)->GetInstance();
    ASSERT_TRUE(instance.ok()) << instance.status();
    picked.insert(instance->id);
  }
  EXPECT_THAT(picked, ElementsAre("b"));
  absl::Time back_at;
  ASSERT_TRUE(Eventually([&] {
    absl::StatusOr<CuratorInstance> instance = (*provider)->GetInstance();
    back_at = absl::Now();
    return instance.ok() && instance->id == "a";
  }));
  std::cout << "measured: the instance noted down twice came back "
            << absl::FormatDuration(back_at - down_at)
            << " after its second error (policy: 3s after the first)\n";
}

TEST_F(CuratorReadInteropTest, KilledJvmLeavesTheCacheWithinItsSession) {
  auto survivor = StartJvm({"stays:7001:map"});
  auto victim = StartJvm({"killed:7002:string"});
  auto reader = NewClient();
  ASSERT_NE(reader, nullptr);
  // What the listener heard: declared first, to outlive the cache.
  std::mutex mu;
  std::optional<absl::Time> removed_at;
  std::vector<std::string> removed;
  absl::StatusOr<std::unique_ptr<CuratorServiceCache>> cache =
      CuratorServiceCache::Create(reader.get(), "/services", "api");
  ASSERT_TRUE(cache.ok()) << cache.status();
  (*cache)->AddListener([&](const CuratorServiceCacheEvent& event) {
    if (event.type != CuratorServiceCacheEventType::kRemoved) return;
    std::lock_guard<std::mutex> lock(mu);
    removed.push_back(event.instance.id);
    if (!removed_at.has_value()) removed_at = absl::Now();
  });
  ASSERT_TRUE(
      Eventually([&] { return Ids((*cache)->Instances()).size() == 2; }));

  const absl::Time killed_at = absl::Now();
  victim->Kill(SIGKILL);
  // The map changes first; its listeners hear of it after, on the client's
  // listener thread.
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard<std::mutex> lock(mu);
    return Ids((*cache)->Instances()) == std::vector<std::string>{"stays"} &&
           removed_at.has_value();
  }));
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_THAT(removed, ElementsAre("killed"));
  ASSERT_TRUE(removed_at.has_value());
  const absl::Duration gone = *removed_at - killed_at;
  std::cout << "measured: the kill -9'd JVM instance left the C++ cache "
            << absl::FormatDuration(gone) << " after the kill (session "
            << kJvmSessionMs << " ms)\n";
  // Not sooner than a session can expire: the node went because the session
  // did, not because something else deleted it.
  EXPECT_GE(gone, absl::Milliseconds(kJvmSessionMs / 2));
}

TEST_F(CuratorReadInteropTest, CacheFollowsJvmThroughStopRestartAndExpiry) {
  auto jvm = StartJvm({"j1:7001:map"});
  auto reader = NewClient();
  ASSERT_NE(reader, nullptr);
  absl::StatusOr<std::unique_ptr<CuratorServiceCache>> cache =
      CuratorServiceCache::Create(reader.get(), "/services", "api");
  ASSERT_TRUE(cache.ok()) << cache.status();
  auto listed = [&] { return Ids((*cache)->Instances()); };
  const std::vector<std::string> j1 = {"j1"};
  ASSERT_TRUE(Eventually([&] { return listed() == j1; }));

  // SIGSTOP: the JVM stops pinging, its session expires, its node goes.
  // SIGCONT: Curator finds its session lost and registers again.
  ASSERT_EQ(kill(jvm->pid(), SIGSTOP), 0);
  EXPECT_TRUE(Eventually([&] { return listed().empty(); }))
      << "the stopped JVM's instance is still listed";
  ASSERT_EQ(kill(jvm->pid(), SIGCONT), 0);
  EXPECT_TRUE(Eventually([&] { return listed() == j1; }, absl::Seconds(60)))
      << "the JVM's instance did not come back after SIGCONT";

  // ZooKeeper restarts (the JVM's and the reader's sessions may expire
  // meanwhile; Curator registers again, the cache re-reads). A JVM that
  // registers after the restart is seen, and j1 is listed in the end.
  ASSERT_TRUE(zookeeper().RestartNode(0).ok());
  auto late = StartJvm({"j2:7002:string"});
  const std::vector<std::string> both = {"j1", "j2"};
  EXPECT_TRUE(Eventually([&] { return listed() == both; }, absl::Seconds(60)));

  // The reader's own session expires and j2 is killed meanwhile: the cache,
  // in its new session, reads everything again and drops j2.
  auto [id, password] = reader->session_credentials();
  ASSERT_TRUE(zookeeper().ExpireSession(id, password).ok());
  late->Kill(SIGKILL);
  EXPECT_TRUE(Eventually([&] { return listed() == j1; }, absl::Seconds(60)));
}

TEST_F(CuratorReadInteropTest, JvmReadsCppPayloadsOfEachKindByteForByte) {
  auto writer = NewClient();
  ASSERT_NE(writer, nullptr);
  std::vector<std::unique_ptr<CuratorServiceInstance>> registered;
  const struct {
    const char* id;
    const char* payload;
  } kinds[] = {
      {"cpp-string", R"("from \"c++\"")"},
      {"cpp-long", "5000000000"},
      {"cpp-list", R"([1,"two"])"},
      {"cpp-map", R"({"zone":"b","big":9007199254740993})"},
      {"cpp-int", "7"},
      {"cpp-bigint", "123456789012345678901234"},
      {"cpp-double", "1.5"},
  };
  int port = 8000;
  for (const auto& kind : kinds) {
    CuratorServiceInstanceOptions options;
    options.service_name = "api";
    options.id = kind.id;
    options.address = "127.0.0.1";
    options.port = ++port;
    options.payload_json = kind.payload;
    options.uri_spec = "{scheme}://{address}:{port}";
    absl::StatusOr<std::unique_ptr<CuratorServiceInstance>> instance =
        CuratorServiceInstance::Start(writer.get(), options);
    ASSERT_TRUE(instance.ok()) << instance.status();
    ASSERT_TRUE((*instance)->WaitForRegistration(absl::Seconds(20)).ok());
    registered.push_back(*std::move(instance));
  }
  Child list({"/usr/bin/java", "-cp", ClassPath() + ":" + Classes(),
              "CuratorRegistrar", "list", ConnectString(), "/services", "api"});
  const std::map<std::string, std::string> expected = {
      {"cpp-string",
       R"(java.lang.String "from \"c++\"" same http://127.0.0.1:8001)"},
      {"cpp-long", "java.lang.Long 5000000000 same http://127.0.0.1:8002"},
      {"cpp-list",
       R"(java.util.ArrayList [1,"two"] same http://127.0.0.1:8003)"},
      {"cpp-map",
       R"(java.util.LinkedHashMap {"zone":"b","big":9007199254740993} same http://127.0.0.1:8004)"},
      {"cpp-int", "java.lang.Integer 7 same http://127.0.0.1:8005"},
      {"cpp-bigint",
       "java.math.BigInteger 123456789012345678901234 same "
       "http://127.0.0.1:8006"},
      {"cpp-double", "java.lang.Double 1.5 same http://127.0.0.1:8007"},
  };
  for (const auto& [id, line] : expected) {
    std::optional<std::string> seen =
        list.WaitForLine(absl::StrCat("INSTANCE ", id, " "), absl::Seconds(60));
    ASSERT_TRUE(seen.has_value()) << "the JVM did not list " << id;
    EXPECT_EQ(*seen, line) << id;
  }
  EXPECT_EQ(list.WaitForLine("DONE "), "7");
  list.Wait();
}

}  // namespace
}  // namespace slacker::discovery

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
