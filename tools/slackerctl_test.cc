// slackerctl end to end: the built binary against a real ZooKeeper and real
// cluster servers in child processes, every command, its JSON output and its
// exit code, and each error case.

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/http_stand_in.h"
#include "testing/run_command.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, slackerctl, "", "path of tools/slackerctl");
ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace slacker {
namespace {

using ::slacker::testing::Child;

using CtlRun = slacker::testing::CommandRun;

// Lines of `text` (each ending in a line break; a last one without counts).
int Lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines + (!text.empty() && text.back() != '\n');
}

// Whether every stderr line is slackerctl's own "waiting for" line: what a
// call that succeeds may print (when its wait lasted), and nothing else.
bool OnlyWaitLines(const std::string& err) {
  for (absl::string_view line : absl::StrSplit(err, '\n', absl::SkipEmpty())) {
    if (!absl::StartsWith(line, "slackerctl: waiting for ")) return false;
  }
  return true;
}

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
    return slacker::testing::RunCommand(absl::StrCat(
        absl::GetFlag(FLAGS_slackerctl),
        with_cluster
            ? absl::StrCat(" --zk=", ConnectString(), " --cluster=demo")
            : "",
        " ", args));
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

// --exhibitor names the ensemble (a stand-in HTTP server serves Exhibitor's
// JSON: Exhibitor cannot run here), for the command's session and for the
// channel of `call`, even when --zk names nothing that answers; with no
// Exhibitor answering, --zk is the backup.
TEST_F(SlackerctlTest, ExhibitorNamesTheEnsembleAndZkIsTheBackup) {
  const std::string a = StartServer("echo");
  ASSERT_FALSE(a.empty());
  const int zookeeper_port = zookeeper().ClientPort(0);
  auto exhibitor = slacker::testing::HttpStandIn::Start(
      [zookeeper_port](const std::string&) {
        return slacker::testing::HttpStandIn::Reply{
            200, absl::StrCat(R"({"servers":["127.0.0.1"],"port":)",
                              zookeeper_port, "}")};
      });
  ASSERT_TRUE(exhibitor.ok()) << exhibitor.status();
  const std::string via_exhibitor = absl::StrCat(
      "--zk=127.0.0.1:1 --exhibitor=127.0.0.1:", (*exhibitor)->port(),
      " --cluster=demo ");
  CtlRun ls = Ctl(via_exhibitor + "ls --json", /*with_cluster=*/false);
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(absl::StrContains(ls.out, a)) << ls.out;
  EXPECT_GE((*exhibitor)->requests(), 1);
  CtlRun call = Ctl(via_exhibitor +
                        "call slacker.testing.EchoService/Echo "
                        "'{\"text\":\"whoami\"}'",
                    /*with_cluster=*/false);
  ASSERT_EQ(call.exit_code, 0) << call.err;
  EXPECT_TRUE(absl::StrContains(call.out, a)) << call.out;

  // Nothing answers at the Exhibitor port: --zk, the backup, is used.
  CtlRun backup = Ctl("--exhibitor=127.0.0.1:1 ls --json");
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  EXPECT_TRUE(absl::StrContains(backup.out, a)) << backup.out;

  EXPECT_EQ(Ctl("--exhibitor=no-port ls").exit_code, 2);
  EXPECT_EQ(Ctl("--exhibitor=bad/host:8080 ls").exit_code, 2);
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
  // One line: the ZooKeeper client's own warnings stay out of the terminal,
  // unless --verbose lets them through.
  EXPECT_EQ(Lines(unreachable.err), 1) << unreachable.err;
  CtlRun verbose =
      Ctl("--zk=127.0.0.1:1 --cluster=demo --connect_timeout=1s --verbose ls",
          /*with_cluster=*/false);
  EXPECT_EQ(verbose.exit_code, 3);
  EXPECT_GT(Lines(verbose.err), 1) << verbose.err;
  // The other failures above are one line each too.
  EXPECT_EQ(Lines(no_server.err), 1) << no_server.err;
  EXPECT_EQ(Lines(bad_json.err), 1) << bad_json.err;
  EXPECT_EQ(Lines(failed.err), 1) << failed.err;
}

TEST_F(SlackerctlTest, UsageErrorsExitTwoInOneLineNamingTheFlag) {
  CtlRun help = Ctl("--help", /*with_cluster=*/false);
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_TRUE(absl::StrContains(help.out, "--connect_timeout")) << help.out;
  EXPECT_TRUE(absl::StrContains(help.out, "Exit codes")) << help.out;
  EXPECT_EQ(help.err, "");
  EXPECT_EQ(Ctl("help", /*with_cluster=*/false).exit_code, 0);
  // A misspelt flag: exit 2, one line, the flag named and the right one
  // suggested. No server is needed to tell.
  CtlRun misspelt = Ctl("--conect_timeout=1s ls");
  EXPECT_EQ(misspelt.exit_code, 2);
  EXPECT_EQ(Lines(misspelt.err), 1) << misspelt.err;
  EXPECT_TRUE(absl::StrContains(misspelt.err, "--conect_timeout"))
      << misspelt.err;
  EXPECT_TRUE(absl::StrContains(misspelt.err, "did you mean --connect_timeout"))
      << misspelt.err;
  CtlRun bad_value = Ctl("--deadline=soon call a.B/C");
  EXPECT_EQ(bad_value.exit_code, 2);
  EXPECT_EQ(Lines(bad_value.err), 1) << bad_value.err;
  EXPECT_TRUE(absl::StrContains(bad_value.err, "--deadline")) << bad_value.err;
  CtlRun no_value = Ctl("ls --root");
  EXPECT_EQ(no_value.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(no_value.err, "--root needs a value"))
      << no_value.err;
  // Call flags, checked before anything connects, in slackerctl's words.
  const std::string method = "slacker.testing.EchoService/Echo '{}'";
  CtlRun bogus = Ctl(absl::StrCat("call ", method, " --grouping=bogus"));
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(Lines(bogus.err), 1) << bogus.err;
  EXPECT_TRUE(
      absl::StrContains(bogus.err, "--grouping=bogus is not a grouping"))
      << bogus.err;
  EXPECT_TRUE(absl::StrContains(bogus.err, "round_robin")) << bogus.err;
  CtlRun no_key = Ctl(absl::StrCat("call ", method, " --grouping=hash"));
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_EQ(Lines(no_key.err), 1) << no_key.err;
  EXPECT_TRUE(absl::StrContains(no_key.err, "--hash_key")) << no_key.err;
  EXPECT_FALSE(absl::StrContains(no_key.err, "SetHashKey")) << no_key.err;
  CtlRun header = Ctl(absl::StrCat("call ", method, " -H nocolon"));
  EXPECT_EQ(header.exit_code, 2);
  EXPECT_EQ(Lines(header.err), 1) << header.err;
  EXPECT_TRUE(absl::StrContains(header.err, "-H 'nocolon'")) << header.err;
  for (const std::string flags :
       {"--count=-1", "--rate=-1", "--errors=some", "--results=list",
        "--grouping=all --count=3"}) {
    CtlRun run = Ctl(absl::StrCat("call ", method, " ", flags));
    EXPECT_EQ(run.exit_code, 2) << flags;
    EXPECT_EQ(Lines(run.err), 1) << flags << ": " << run.err;
  }
  CtlRun twice = Ctl(absl::StrCat("call ", method, " -d '{}'"));
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_EQ(Lines(twice.err), 1) << twice.err;
}

TEST_F(SlackerctlTest, JsonSyntaxErrorIsOneLine) {
  StartServer("echo");
  CtlRun run = Ctl(R"(call slacker.testing.EchoService/Echo '{"text":')");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "not JSON of slacker.testing.Ping"))
      << run.err;
  CtlRun missing = Ctl(
      "call slacker.testing.EchoService/Echo -d @/nonexistent/request.json");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(Lines(missing.err), 1) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, "/nonexistent/request.json"))
      << missing.err;
}

TEST_F(SlackerctlTest, UnknownClusterNamesTheClustersThere) {
  StartServer("echo");
  CtlRun ls = Ctl(absl::StrCat("--zk=", ConnectString(), " --cluster=nope ls"),
                  /*with_cluster=*/false);
  EXPECT_EQ(ls.exit_code, 3);
  EXPECT_EQ(ls.err,
            "slackerctl: no cluster nope under /slacker/cluster; clusters "
            "there: demo\n");
  EXPECT_EQ(ls.out, "");
  CtlRun empty = Ctl(
      absl::StrCat("--zk=", ConnectString(), " --cluster=nope --root=/none ls"),
      /*with_cluster=*/false);
  EXPECT_EQ(empty.exit_code, 3);
  EXPECT_EQ(empty.err,
            "slackerctl: no cluster nope under /none; clusters there: none\n");
  // describe and call check it too.
  CtlRun describe =
      Ctl(absl::StrCat("--zk=", ConnectString(),
                       " --cluster=nope describe slacker.testing.EchoService"),
          /*with_cluster=*/false);
  EXPECT_EQ(describe.exit_code, 3);
  EXPECT_EQ(Lines(describe.err), 1) << describe.err;
}

TEST_F(SlackerctlTest, FanOutFailureIsOneLineWithDetailOnStdout) {
  const std::string a = StartServer("echo");
  const std::string b = StartServer("echo", "", "--fail=14");
  CtlRun run = Ctl(
      "call slacker.testing.EchoService/Echo '{}' --grouping=all --errors=any");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "1 of 2 servers failed")) << run.err;
  EXPECT_EQ(Lines(run.out), 1) << run.out;
  EXPECT_TRUE(absl::StrContains(
      run.out, absl::StrCat("\"", b,
                            "\":{\"code\":\"UNAVAILABLE\",\"message\":"
                            "\"failing as asked by --fail\"}")))
      << run.out;
  EXPECT_TRUE(
      absl::StrContains(run.out, absl::StrCat("\"", a, "\":{\"code\":\"OK\"")))
      << run.out;
}

TEST_F(SlackerctlTest, WaitsSayWhatTheyWaitForAndWaitBoundsThem) {
  const std::string a = StartServer("echo");
  const std::string b = StartServer("echo");
  // kill -9: b's nodes stay until its session ends (2 s), so a call sees
  // two publishers, one of which never becomes ready.
  servers_[b]->Kill(SIGKILL);
  CtlRun partial = Ctl(
      R"(call slacker.testing.EchoService/Echo '{"text":"whoami"}' --wait=1s)");
  EXPECT_EQ(partial.exit_code, 0) << partial.err;
  EXPECT_EQ(partial.out, absl::StrCat("{\"text\":\"", a, "\"}\n"));
  EXPECT_EQ(partial.err,
            "slackerctl: waiting for 2 publishers of "
            "slacker.testing.EchoService: 1 ready; 1 of 2 ready after 1s "
            "(--wait); calling those\n");
  // None ready within --wait: exit 3, one line.
  servers_[a]->Kill(SIGKILL);
  CtlRun none = Ctl("call slacker.testing.EchoService/Echo '{}' --wait=500ms");
  EXPECT_EQ(none.exit_code, 3) << none.err;
  EXPECT_EQ(Lines(none.err), 1) << none.err;
  // b's node may be gone by now (its 2 s session can end first on a slow
  // machine): two publishers or one, none of them ready.
  EXPECT_TRUE(
      absl::StartsWith(none.err, "slackerctl: waiting for 2 publishers") ||
      absl::StartsWith(none.err, "slackerctl: waiting for 1 publisher "))
      << none.err;
  EXPECT_TRUE(absl::StrContains(
      none.err,
      " of slacker.testing.EchoService: 0 ready; no publisher of "
      "slacker.testing.EchoService became ready within 500ms"))
      << none.err;
}

TEST_F(SlackerctlTest, CountGoesOnThroughFailures) {
  const std::string a = StartServer("echo");
  const std::string b = StartServer("echo", "", "--fail=13");
  CtlRun run =
      Ctl("call slacker.testing.EchoService/Echo '{}' --grouping=round_robin "
          "--count=10");
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(Lines(run.err), 1) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "5 of 10 calls failed (INTERNAL 5)"))
      << run.err;
  EXPECT_TRUE(absl::StrContains(run.out, "\"calls\":10,\"ok\":5,\"failed\":5"))
      << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, absl::StrCat("\"", a, "\":5")))
      << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, absl::StrCat("\"", b, "\":5")))
      << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "\"codes\":{\"INTERNAL\":5,\"OK\":5}"))
      << run.out;
}

TEST_F(SlackerctlTest, RateAndDurationMakeALoadRun) {
  StartServer("echo");
  CtlRun run = Ctl(
      "call slacker.testing.EchoService/Echo '{}' --rate=20 --duration=1500ms");
  EXPECT_EQ(run.exit_code, 0) << run.err;
  // Paced: calls start at i/20 s for i/20 < 1.5, so at most 30.
  int calls = -1;
  const size_t at = run.out.find("\"calls\":");
  ASSERT_NE(at, std::string::npos) << run.out;
  calls = std::atoi(run.out.c_str() + at + 8);
  EXPECT_GE(calls, 2) << run.out;
  EXPECT_LE(calls, 30) << run.out;
  EXPECT_TRUE(absl::StrContains(run.out, "\"p99_ms\":")) << run.out;
  // A summary line per second on stderr: p50/p99, ok and failed by code.
  EXPECT_TRUE(absl::StrContains(run.err, "slackerctl: 1s: ")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, "failed 0 (none); p50 ")) << run.err;
  EXPECT_TRUE(absl::StrContains(run.err, " p99 ")) << run.err;
}

TEST_F(SlackerctlTest, RequestsFromFilesAndStdinWithHeaders) {
  const std::string a = StartServer("echo,other");
  const std::string dir = getenv("TEST_TMPDIR");
  std::ofstream(dir + "/whoami.json") << R"({"text":"whoami"})"
                                      << "\n";
  CtlRun file = Ctl(absl::StrCat("call slacker.testing.EchoService/Echo -d @",
                                 dir, "/whoami.json"));
  EXPECT_EQ(file.exit_code, 0) << file.err;
  EXPECT_EQ(file.out, absl::StrCat("{\"text\":\"", a, "\"}\n"));
  CtlRun stdin_run = Ctl(absl::StrCat(
      "call slacker.testing.EchoService/Echo -d @- < ", dir, "/whoami.json"));
  EXPECT_EQ(stdin_run.out, absl::StrCat("{\"text\":\"", a, "\"}\n"));
  // Server streaming: one request per line.
  std::ofstream(dir + "/counts.json") << R"({"text":"x","sequence":2})"
                                      << "\n\n"
                                      << R"({"text":"y","sequence":1})"
                                      << "\n";
  CtlRun stream =
      Ctl(absl::StrCat("call slacker.testing.OtherEchoService/Count -d @- < ",
                       dir, "/counts.json"));
  EXPECT_EQ(stream.exit_code, 0) << stream.err;
  EXPECT_EQ(stream.out,
            "{\"text\":\"x\",\"sequence\":\"1\"}\n"
            "{\"text\":\"x\",\"sequence\":\"2\"}\n"
            "{\"text\":\"y\",\"sequence\":\"1\"}\n");
  std::ofstream(dir + "/bad.json") << R"({"text":"x"})"
                                   << "\n{\n";
  CtlRun bad_line = Ctl(absl::StrCat(
      "call slacker.testing.OtherEchoService/Count -d @", dir, "/bad.json"));
  EXPECT_EQ(bad_line.exit_code, 2);
  EXPECT_EQ(Lines(bad_line.err), 1) << bad_line.err;
  EXPECT_TRUE(absl::StrContains(bad_line.err, "on line 2")) << bad_line.err;
  // Metadata: the server answers "context:KEY" with its address and KEY's
  // value in the call's metadata.
  CtlRun header = Ctl(
      R"(call slacker.testing.EchoService/Echo -d '{"text":"context:x-trace"}')"
      R"( -H 'X-Trace: abc' -H 'x-other: 1')");
  EXPECT_EQ(header.exit_code, 0) << header.err;
  EXPECT_TRUE(absl::StrContains(header.out, absl::StrCat(a, "|abc")))
      << header.out;
  // --emit-defaults: fields at their default value too.
  CtlRun plain = Ctl(R"(call slacker.testing.EchoService/Echo '{"text":"x"}')");
  EXPECT_EQ(plain.out, "{\"text\":\"x\"}\n");
  CtlRun defaults = Ctl(
      R"(call slacker.testing.EchoService/Echo '{"text":"x"}' --emit-defaults)");
  EXPECT_EQ(defaults.out, "{\"text\":\"x\",\"sequence\":\"0\"}\n");
  EXPECT_TRUE(OnlyWaitLines(file.err + stdin_run.err + plain.err))
      << file.err << stdin_run.err << plain.err;
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

TEST_F(SlackerctlTest, ManagerCommandsSendTheToken) {
  const std::string a = StartServer("echo", R"({"zone":"z1"})",
                                    "--manager_token=t0ken-for-tests");
  const std::string server = absl::StrCat("--server=", a, " ");
  // Without the token (or with a wrong one) the manager refuses, saying what
  // to send, and the server stays published.
  CtlRun none = Ctl(server + "offline", false);
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_TRUE(absl::StrContains(none.out + none.err, "UNAUTHENTICATED"))
      << none.out << none.err;
  EXPECT_TRUE(absl::StrContains(none.out + none.err, "--token"))
      << none.out << none.err;
  CtlRun wrong = Ctl(server + "--token=guess shutdown", false);
  EXPECT_EQ(wrong.exit_code, 1) << wrong.out << wrong.err;
  EXPECT_TRUE(absl::StrContains(wrong.out + wrong.err, "PERMISSION_DENIED"))
      << wrong.out << wrong.err;
  CtlRun data = Ctl(server + "--token=t0ken-for-tests server-data", false);
  ASSERT_EQ(data.exit_code, 0) << data.err;
  EXPECT_EQ(data.out, "{\"zone\":\"z1\"}\n");
  ASSERT_EQ(Ctl(server + "--token=t0ken-for-tests shutdown", false).exit_code,
            0);
  EXPECT_TRUE(servers_[a]->WaitForLine("stopped").has_value());
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

TEST_F(SlackerctlTest, WatchJsonAndNoEmptyDataLineOnKill) {
  const std::string a = StartServer("echo,other", R"({"zone":"z1"})");
  std::mutex mu;
  std::vector<std::string> lines;
  auto seen = [&](const std::string& part) {
    std::lock_guard<std::mutex> lock(mu);
    for (const std::string& line : lines) {
      if (absl::StrContains(line, part)) return true;
    }
    return false;
  };
  Child watch({absl::GetFlag(FLAGS_slackerctl), "--zk=" + ConnectString(),
               "--cluster=demo", "watch", "--json"},
              [&](std::string line) {
                std::lock_guard<std::mutex> lock(mu);
                lines.push_back(std::move(line));
              });
  const std::string server = absl::StrCat("\"server\":\"", a, "\"");
  ASSERT_TRUE(Eventually(
      [&] { return seen(absl::StrCat("\"event\":\"joined\",", server)); }));
  // A data change is an event with the data as JSON.
  ASSERT_EQ(Ctl(absl::StrCat("--server=", a, R"( server-data '{"zone":"z2"}')"),
                /*with_cluster=*/false)
                .exit_code,
            0);
  EXPECT_TRUE(Eventually([&] {
    return seen(absl::StrCat("\"event\":\"data\",", server,
                             ",\"data\":{\"zone\":\"z2\"}"));
  }));
  servers_[a]->Kill(SIGKILL);
  EXPECT_TRUE(Eventually(
      [&] { return seen(absl::StrCat("\"event\":\"left\",", server)); }));
  const int status = watch.Kill(SIGINT);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(lines.empty());
  int data_events = 0;
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "{\"time\":\"20")) << line;
    EXPECT_TRUE(absl::EndsWith(line, "}")) << line;
    data_events += absl::StrContains(line, "\"event\":\"data\"");
  }
  // The kill -9 is "left" alone: no data event with the data gone before it.
  EXPECT_EQ(data_events, 1) << absl::StrJoin(lines, "\n");
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
