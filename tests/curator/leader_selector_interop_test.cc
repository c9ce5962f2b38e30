// Interop with Apache Curator's LeaderSelector (Debian's curator-recipes
// jar): JVM participants (LeaderSelectorProbe.java, compiled at test time)
// and C++ LeaderSelectors on one election path, against a real ZooKeeper.
// Both sides agree on who leads and on the participant list after every
// hand-over, leadership passes between JVM and C++ in queue order, and a JVM
// leader killed with kill -9 is replaced by the C++ participant next in line.
//
// Takes --probe=<LeaderSelectorProbe.java>.

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "discovery/leader_selector.h"
#include "discovery/zookeeper_client.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, probe, "", "Path of LeaderSelectorProbe.java.");

namespace slacker::discovery {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::ZooKeeperTest;

constexpr char kElection[] = "/interop/leader";
constexpr absl::Duration kWait = absl::Seconds(60);  // JVMs start slowly.
constexpr int kJvmSessionMs = 2000;

std::string ClassPath() {
  std::string path;
  for (const char* jar :
       {"curator-recipes", "curator-framework", "curator-client", "zookeeper",
        "zookeeper-jute", "guava", "slf4j-api", "slf4j-nop"}) {
    absl::StrAppend(&path, path.empty() ? "" : ":", "/usr/share/java/", jar,
                    ".jar");
  }
  return path;
}

std::string TempDir() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : "/tmp";
}

// A JVM participant, told what to do through its command file.
class JvmParticipant {
 public:
  JvmParticipant(const std::string& connect, const std::string& id)
      : id_(id), commands_(absl::StrCat(TempDir(), "/", id, ".commands")) {
    std::ofstream(commands_, std::ios::trunc).flush();
    child_ = std::make_unique<Child>(std::vector<std::string>{
        "/usr/bin/java", "-cp",
        absl::StrCat(TempDir(), "/classes:", ClassPath()),
        "LeaderSelectorProbe", connect, kElection, id,
        absl::StrCat(kJvmSessionMs), commands_});
  }
  void Send(const std::string& command) {
    std::ofstream out(commands_, std::ios::app);
    out << command << "\n";
  }
  bool Saw(const std::string& line, absl::Duration wait = kWait) {
    return child_->WaitForLine(line, wait).has_value();
  }
  // The participants as Curator lists them: "a*,b,c".
  std::string Participants() {
    const std::string request = absl::StrCat(++requests_);
    Send("participants " + request);
    return child_->WaitForLine("PARTICIPANTS " + request + " ", kWait)
        .value_or("<no answer>");
  }
  Child& child() { return *child_; }

 private:
  const std::string id_;
  const std::string commands_;
  int requests_ = 0;
  std::unique_ptr<Child> child_;
};

// A C++ participant whose function holds leadership until released.
struct CppParticipant {
  std::string id;
  std::unique_ptr<ZooKeeperClient> client;
  std::mutex mu;
  std::condition_variable cv;
  bool leading = false;
  bool release = false;
  int times = 0;
  std::unique_ptr<LeaderSelector> selector;  // Destroyed first.

  bool WaitLeading(int count) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, absl::ToChronoNanoseconds(kWait),
                       [&] { return times >= count && leading; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
};

class LeaderSelectorInteropTest : public ZooKeeperTest {
 protected:
  static void SetUpTestSuite() {
    const std::string probe = absl::GetFlag(FLAGS_probe);
    ASSERT_FALSE(probe.empty()) << "pass --probe=<LeaderSelectorProbe.java>";
    for (const std::string& jar :
         std::vector<std::string>(absl::StrSplit(ClassPath(), ':'))) {
      ASSERT_EQ(access(jar.c_str(), R_OK), 0)
          << jar
          << " is missing: run tools/setup.sh (it installs "
             "libcurator-recipes-java and what it needs)";
    }
    const std::string command =
        absl::StrCat("javac -d ", TempDir(), "/classes -cp ", ClassPath(), " ",
                     probe, " 2>&1");
    ASSERT_EQ(std::system(command.c_str()), 0)
        << "javac failed (is default-jdk-headless installed?): " << command;
  }

  std::unique_ptr<CppParticipant> JoinCpp(const std::string& id) {
    auto member = std::make_unique<CppParticipant>();
    member->id = id;
    ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    member->client = *std::move(client);
    CppParticipant* raw = member.get();
    LeaderSelectorOptions selector_options;
    selector_options.take_leadership = [raw](LeadershipToken& token) {
      std::unique_lock<std::mutex> lock(raw->mu);
      ++raw->times;
      raw->leading = true;
      raw->cv.notify_all();
      while (!raw->release && !token.stop_requested()) {
        raw->cv.wait_for(lock, std::chrono::milliseconds(20));
      }
      raw->release = false;
      raw->leading = false;
      raw->cv.notify_all();
    };
    absl::StatusOr<std::unique_ptr<LeaderSelector>> selector =
        LeaderSelector::Create(member->client.get(), kElection, id,
                               std::move(selector_options));
    EXPECT_TRUE(selector.ok()) << selector.status();
    if (!selector.ok()) return nullptr;
    member->selector = *std::move(selector);
    EXPECT_TRUE(member->selector->Start().ok());
    EXPECT_TRUE(WaitQueued(id));
    return member;
  }

  // "a*,b,c" as this side reads the election.
  std::string CppView() {
    absl::StatusOr<std::vector<Participant>> participants =
        LeaderSelector::Participants(*observer_, kElection);
    if (!participants.ok()) return participants.status().ToString();
    std::vector<std::string> ids;
    for (const Participant& participant : *participants) {
      ids.push_back(participant.id + (participant.is_leader ? "*" : ""));
    }
    return absl::StrJoin(ids, ",");
  }

  bool WaitQueued(const std::string& id) {
    return Eventually(
        [&] {
          for (absl::string_view queued : absl::StrSplit(CppView(), ',')) {
            if (absl::StripSuffix(queued, "*") == id) return true;
          }
          return false;
        },
        kWait);
  }

  // Both sides list `expected`.
  void ExpectAgree(JvmParticipant& jvm, const std::string& expected) {
    EXPECT_TRUE(Eventually([&] { return CppView() == expected; }, kWait))
        << "C++ reads " << CppView() << ", expected " << expected;
    EXPECT_EQ(jvm.Participants(), expected) << "as Curator reads it";
  }

  void SetUp() override {
    ZooKeeperTest::SetUp();
    ZooKeeperOptions options;
    options.connect_string = ConnectString();
    absl::StatusOr<std::unique_ptr<ZooKeeperClient>> client =
        ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    observer_ = *std::move(client);
  }

  std::unique_ptr<ZooKeeperClient> observer_;
};

TEST_F(LeaderSelectorInteropTest, JvmAndCppParticipantsShareOneElection) {
  auto c1 = JoinCpp("c1");
  ASSERT_NE(c1, nullptr);
  ASSERT_TRUE(c1->WaitLeading(1));
  JvmParticipant j1(ConnectString(), "j1");
  ASSERT_TRUE(j1.Saw("STARTED j1"));
  ASSERT_TRUE(WaitQueued("j1"));
  auto c2 = JoinCpp("c2");
  ASSERT_NE(c2, nullptr);
  JvmParticipant j2(ConnectString(), "j2");
  ASSERT_TRUE(j2.Saw("STARTED j2"));
  ASSERT_TRUE(WaitQueued("j2"));

  // One queue, in joining order, the same from both sides.
  ExpectAgree(j1, "c1*,j1,c2,j2");
  EXPECT_EQ(j2.Participants(), "c1*,j1,c2,j2");
  EXPECT_FALSE(j1.Saw("TAKEN", absl::ZeroDuration()));

  // C++ hands over to the JVM...
  c1->Release();
  ASSERT_TRUE(j1.Saw("TAKEN j1"));
  ExpectAgree(j1, "j1*,c2,j2");
  absl::StatusOr<bool> requeued = c1->selector->Requeue();
  ASSERT_TRUE(requeued.ok() && *requeued);
  ASSERT_TRUE(WaitQueued("c1"));
  ExpectAgree(j2, "j1*,c2,j2,c1");

  // ...and the JVM to C++.
  j1.Send("release");
  ASSERT_TRUE(j1.Saw("RELEASED j1"));
  ASSERT_TRUE(c2->WaitLeading(1));
  ExpectAgree(j2, "c2*,j2,c1");
  c2->Release();
  ASSERT_TRUE(j2.Saw("TAKEN j2"));
  ExpectAgree(j2, "j2*,c1");

  // A JVM leader killed -9: the C++ participant next in line takes over
  // once the JVM's session has expired.
  const absl::Time killed = absl::Now();
  j2.child().Kill(SIGKILL);
  ASSERT_TRUE(c1->WaitLeading(2));
  const absl::Duration takeover = absl::Now() - killed;
  std::cout << "measured: kill -9 of the JVM leader to the C++ successor "
               "leading: "
            << takeover << " (JVM session timeout " << kJvmSessionMs << " ms)"
            << std::endl;
  EXPECT_LE(takeover, absl::Milliseconds(3 * kJvmSessionMs));
  ExpectAgree(j1, "c1*");
  EXPECT_EQ(c1->times, 2);
  EXPECT_EQ(c2->times, 1);
  j1.Send("close");
  EXPECT_TRUE(j1.Saw("CLOSED j1"));
}

}  // namespace
}  // namespace slacker::discovery

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
