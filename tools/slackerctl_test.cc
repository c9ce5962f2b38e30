// slackerctl end to end: the built binary against a real ZooKeeper and real
// cluster servers in child processes, every command, its JSON output and its
// exit code, and each error case.

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, slackerctl, "", "path of tools/slackerctl");
ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace slacker {
namespace {

using ::slacker::testing::Child;

struct CtlRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

class SlackerctlTest : public slacker::testing::ZooKeeperTest {
 protected:
  void TearDown() override {
    servers_.clear();
    ZooKeeperTest::TearDown();
  }

  std::string StartServer(const std::string& services,
                          const std::string& server_data = "",
                          const std::string& extra_flag = "--delay_ms=0") {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        "--cluster=demo", "--session_timeout_ms=2000", "--drain_ms=200",
        "--manager", "--services=" + services, "--server_data=" + server_data,
        extra_flag});
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value());
    servers_[address.value_or("")] = std::move(child);
    return address.value_or("");
  }

  // Runs slackerctl with `args` (shell words, already quoted as needed).
  CtlRun Ctl(const std::string& args, bool with_cluster = true) {
    const std::string err_path =
        absl::StrCat(getenv("TEST_TMPDIR"), "/slackerctl.err");
    const std::string command = absl::StrCat(
        absl::GetFlag(FLAGS_slackerctl),
        with_cluster
            ? absl::StrCat(" --zk=", ConnectString(), " --cluster=demo")
            : "",
        " ", args, " 2>", err_path);
    CtlRun run;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return run;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
      run.out.append(buffer, n);
    }
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    FILE* err = fopen(err_path.c_str(), "r");
    if (err != nullptr) {
      while ((n = fread(buffer, 1, sizeof(buffer), err)) > 0) {
        run.err.append(buffer, n);
      }
      fclose(err);
    }
    return run;
  }

  std::map<std::string, std::unique_ptr<Child>> servers_;
};

TEST_F(SlackerctlTest, LsAndDescribe) {
  const std::string a = StartServer("echo,other", R"({"weight":2})");
  const std::string b = StartServer("echo");
  CtlRun ls = Ctl("ls --json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(
      absl::StrContains(ls.out, "\"name\":\"slacker.testing.EchoService\""))
      << ls.out;
  const std::string both = a < b ? absl::StrCat("\"", a, "\",\"", b, "\"")
                                 : absl::StrCat("\"", b, "\",\"", a, "\"");
  EXPECT_TRUE(
      absl::StrContains(ls.out, absl::StrCat("\"servers\":[", both, "]")))
      << ls.out;
  EXPECT_TRUE(absl::StrContains(
      ls.out, absl::StrCat("\"name\":\"slacker.testing.OtherEchoService\","
                           "\"servers\":[\"",
                           a, "\"],\"leader\":\"", a, "\"")))
      << ls.out;
  EXPECT_TRUE(
      absl::StrContains(ls.out, absl::StrCat("\"", a, "\":{\"weight\":2}")))
      << ls.out;
  CtlRun text = Ctl("ls");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_TRUE(
      absl::StrContains(text.out, "namespace slacker.testing.EchoService"));

  CtlRun describe = Ctl("describe slacker.testing.EchoService");
  ASSERT_EQ(describe.exit_code, 0) << describe.err;
  EXPECT_TRUE(absl::StrContains(
      describe.out,
      "rpc Echo(slacker.testing.Ping) returns (slacker.testing.Ping)  UNARY"))
      << describe.out;
  CtlRun unknown = Ctl("describe no.Such");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(unknown.err, "unknown namespace no.Such"))
      << unknown.err;
}

// A cluster only its digest reads: slackerctl reads it with --digest, and
// cannot without.
TEST_F(SlackerctlTest, DigestReadsAProtectedCluster) {
  const std::string a =
      StartServer("echo", "", "--digest_creator_only=alice:alice-secret");
  ASSERT_FALSE(a.empty());
  CtlRun ls = Ctl("--digest=alice:alice-secret ls --json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(absl::StrContains(
      ls.out, absl::StrCat("\"name\":\"slacker.testing.EchoService\","
                           "\"servers\":[\"",
                           a, "\"]")))
      << ls.out;
  CtlRun call =
      Ctl("--digest=alice:alice-secret call slacker.testing.EchoService/Echo "
          "'{\"text\":\"whoami\"}'");
  ASSERT_EQ(call.exit_code, 0) << call.err;
  EXPECT_TRUE(absl::StrContains(call.out, a)) << call.out;
  CtlRun blind = Ctl("ls --json");
  EXPECT_NE(blind.exit_code, 0) << blind.out;
  EXPECT_TRUE(absl::StrContains(blind.err, "ZNOAUTH")) << blind.err;
}

TEST_F(SlackerctlTest, CallWithEveryGroupingAndResult) {
  const std::string a = StartServer("echo");
  const std::string b = StartServer("echo");
  const std::string method = "slacker.testing.EchoService/Echo";
  const std::string whoami = R"('{"text":"whoami"}')";
  for (const std::string grouping : {"random", "round_robin", "first", "sticky",
                                     "leader", "least_in_flight", "weighted"}) {
    CtlRun run = Ctl(
        absl::StrCat("call ", method, " ", whoami, " --grouping=", grouping));
    EXPECT_EQ(run.exit_code, 0) << grouping << ": " << run.err;
    EXPECT_TRUE(absl::StrContains(run.out, a) || absl::StrContains(run.out, b))
        << grouping << ": " << run.out;
  }
  CtlRun first =
      Ctl(absl::StrCat("call ", method, " ", whoami, " --grouping=first"));
  EXPECT_EQ(first.out, absl::StrCat("{\"text\":\"", std::min(a, b), "\"}\n"));
  CtlRun pinned =
      Ctl(absl::StrCat("call ", method, " ", whoami, " --grouping=", b));
  EXPECT_EQ(pinned.out, absl::StrCat("{\"text\":\"", b, "\"}\n"));
  CtlRun hashed = Ctl(absl::StrCat("call ", method, " ", whoami,
                                   " --grouping=hash --hash_key=k1"));
  EXPECT_EQ(hashed.exit_code, 0) << hashed.err;
  EXPECT_EQ(Ctl(absl::StrCat("call ", method, " ", whoami,
                             " --grouping=hash --hash_key=k1"))
                .out,
            hashed.out);
  // --count: calls per server.
  CtlRun counted = Ctl(absl::StrCat("call ", method, R"( '{"text":"hi"}')",
                                    " --grouping=round_robin --count=10"));
  ASSERT_EQ(counted.exit_code, 0) << counted.err;
  EXPECT_TRUE(absl::StrContains(counted.out, "\"calls\":10")) << counted.out;
  EXPECT_TRUE(absl::StrContains(counted.out, absl::StrCat("\"", a, "\":5")))
      << counted.out;
  EXPECT_TRUE(absl::StrContains(counted.out, absl::StrCat("\"", b, "\":5")))
      << counted.out;
  // grouping=all with each results policy.
  CtlRun map = Ctl(absl::StrCat("call ", method, " ", whoami,
                                " --grouping=all --results=map"));
  ASSERT_EQ(map.exit_code, 0) << map.err;
  EXPECT_TRUE(absl::StrContains(
      map.out, absl::StrCat("\"", a, "\":{\"text\":\"", a, "\"}")))
      << map.out;
  EXPECT_TRUE(absl::StrContains(
      map.out, absl::StrCat("\"", b, "\":{\"text\":\"", b, "\"}")))
      << map.out;
  CtlRun vector =
      Ctl(absl::StrCat("call ", method, " ", whoami,
                       " --grouping=all --results=vector --errors=any"));
  ASSERT_EQ(vector.exit_code, 0) << vector.err;
  EXPECT_EQ(vector.out.front(), '[');
  CtlRun single = Ctl(absl::StrCat("call ", method, " ", whoami,
                                   " --grouping=all --results=single"));
  EXPECT_EQ(single.out, absl::StrCat("{\"text\":\"", std::min(a, b), "\"}\n"));
}

TEST_F(SlackerctlTest, ServerStreamingPrintsOneLinePerMessage) {
  StartServer("other");
  CtlRun run = Ctl(
      R"(call slacker.testing.OtherEchoService/Count '{"text":"x","sequence":3}')");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out,
            "{\"text\":\"x\",\"sequence\":\"1\"}\n"
            "{\"text\":\"x\",\"sequence\":\"2\"}\n"
            "{\"text\":\"x\",\"sequence\":\"3\"}\n");
}

TEST_F(SlackerctlTest, DeadlineAndRoot) {
  StartServer("echo", "", "--delay_ms=3000");
  const absl::Time start = absl::Now();
  CtlRun slow =
      Ctl("call slacker.testing.EchoService/Echo '{}' --deadline=300ms");
  EXPECT_EQ(slow.exit_code, 1) << slow.err;
  EXPECT_TRUE(absl::StrContains(slow.out, "\"code\":\"DEADLINE_EXCEEDED\""))
      << slow.out;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  const std::string other = StartServer("other", "", "--root=/elsewhere");
  CtlRun ls = Ctl("--root=/elsewhere ls --json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(absl::StrContains(ls.out, other)) << ls.out;
  EXPECT_FALSE(absl::StrContains(ls.out, "\"slacker.testing.EchoService\""))
      << ls.out;
  CtlRun call = Ctl(
      R"(--root=/elsewhere call slacker.testing.OtherEchoService/Echo '{"text":"whoami"}')");
  EXPECT_EQ(call.out, absl::StrCat("{\"text\":\"", other, "\"}\n"));
}

TEST_F(SlackerctlTest, FailuresHaveTheirExitCodes) {
  StartServer("echo");
  // The call fails: status JSON, exit 1 (no server publishes the namespace).
  CtlRun failed = Ctl("call slacker.testing.OtherEchoService/Echo '{}'");
  EXPECT_EQ(failed.exit_code, 2);  // No metadata: unknown method.
  CtlRun no_server =
      Ctl("call slacker.testing.EchoService/Echo '{}' --grouping=127.0.0.1:1");
  EXPECT_EQ(no_server.exit_code, 1) << no_server.err;
  EXPECT_TRUE(absl::StrContains(no_server.out, "\"code\":\"UNAVAILABLE\""))
      << no_server.out;
  // JSON that does not match the request type: the field is named.
  CtlRun bad_json =
      Ctl("call slacker.testing.EchoService/Echo '{\"colour\":1}'");
  EXPECT_EQ(bad_json.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bad_json.err, "colour")) << bad_json.err;
  // Usage errors.
  EXPECT_EQ(Ctl("frob").exit_code, 2);
  EXPECT_EQ(Ctl("call NoSlash").exit_code, 2);
  EXPECT_EQ(Ctl("ls", /*with_cluster=*/false).exit_code, 2);
  EXPECT_EQ(Ctl("offline", /*with_cluster=*/false).exit_code, 2);  // --server
  // ZooKeeper unreachable: exit 3 within the connect timeout, naming it.
  const absl::Time start = absl::Now();
  CtlRun unreachable =
      Ctl("--zk=127.0.0.1:1 --cluster=demo --connect_timeout=1s ls",
          /*with_cluster=*/false);
  EXPECT_EQ(unreachable.exit_code, 3);
  EXPECT_TRUE(absl::StrContains(unreachable.err, "127.0.0.1:1"))
      << unreachable.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(SlackerctlTest, ManagerCommands) {
  const std::string a = StartServer("echo", R"({"zone":"z1"})");
  const std::string b = StartServer("echo");
  const std::string server = absl::StrCat("--server=", a, " ");
  CtlRun data = Ctl(server + "server-data", false);
  ASSERT_EQ(data.exit_code, 0) << data.err;
  EXPECT_EQ(data.out, "{\"zone\":\"z1\"}\n");
  EXPECT_EQ(Ctl(server + R"(server-data '{"zone":"z2"}')", false).exit_code, 0);
  EXPECT_EQ(Ctl(server + "server-data", false).out, "{\"zone\":\"z2\"}\n");
  ASSERT_EQ(
      Ctl(server + "offline slacker.testing.EchoService", false).exit_code, 0);
  EXPECT_TRUE(Eventually([&] {
    CtlRun ls = Ctl("ls --json");
    return absl::StrContains(ls.out, absl::StrCat("\"servers\":[\"", b, "\"]"));
  }));
  ASSERT_EQ(Ctl(server + "online", false).exit_code, 0);
  EXPECT_TRUE(Eventually([&] {
    return absl::StrContains(Ctl("ls --json").out, absl::StrCat("\"", a, "\""));
  }));
  ASSERT_EQ(Ctl(server + "shutdown", false).exit_code, 0);
  EXPECT_TRUE(servers_[a]->WaitForLine("stopped").has_value());
  CtlRun gone = Ctl(server + "server-data", false);
  EXPECT_EQ(gone.exit_code, 3) << gone.out << gone.err;
}

TEST_F(SlackerctlTest, WatchPrintsChanges) {
  const std::string a = StartServer("echo");
  const std::string out_path =
      absl::StrCat(getenv("TEST_TMPDIR"), "/watch.out");
  Child watch({"/bin/sh", "-c",
               absl::StrCat("exec ", absl::GetFlag(FLAGS_slackerctl), " --zk=",
                            ConnectString(), " --cluster=demo watch")});
  ASSERT_TRUE(watch.WaitForLine("watching ").has_value());
  ASSERT_TRUE(watch.WaitForLine(absl::StrCat("joined ", a)).has_value());
  const std::string b = StartServer("echo");
  EXPECT_TRUE(watch.WaitForLine(absl::StrCat("joined ", b)).has_value());
  servers_[a]->Kill(SIGKILL);
  EXPECT_TRUE(watch.WaitForLine(absl::StrCat("left ", a)).has_value());
  EXPECT_TRUE(
      watch.WaitForLine(absl::StrCat("leader slacker.testing.EchoService ", b))
          .has_value());
  const int status = watch.Kill(SIGINT);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
