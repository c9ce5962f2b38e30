// slackerctl's describe, export-protoset, --version and bash completion, end
// to end: the built binary against a real ZooKeeper, a cluster server in this
// process carrying tools/testdata/describe.proto's service (nested types, a
// oneof, a map, imports) and a test server program in a child process; the
// exported protoset is read back by Debian's protoc and by this test's
// generated code, and the completion script is run by bash.

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/security/server_credentials.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_server.h"
#include "framework/version.h"
#include "gtest/gtest.h"
#include "protos/slacker/cluster/registry.pb.h"
#include "testing/child.h"
#include "testing/run_command.h"
#include "testing/zookeeper_fixture.h"
#include "tools/testdata/describe.grpc.pb.h"

ABSL_FLAG(std::string, slackerctl, "", "path of tools/slackerctl");
ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace slacker {
namespace {

using ::slacker::testing::Child;

constexpr char kOrders[] = "slacker.testing.describe.Orders";
constexpr char kEcho[] = "slacker.testing.EchoService";

using CtlRun = slacker::testing::CommandRun;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string TmpPath(const std::string& name) {
  return absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
}

// Runs `command` with /bin/sh; stdout and stderr captured.
CtlRun Shell(const std::string& command) {
  return slacker::testing::RunCommand(command);
}

int Count(const std::string& text, const std::string& part) {
  int count = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

// Single quotes for /bin/sh.
std::string Quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted += "'\\''";
    } else {
      quoted += c;
    }
  }
  return quoted + "'";
}

class SlackerctlDescribeTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    echo_ = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        "--cluster=demo", "--session_timeout_ms=2000", "--drain_ms=200",
        "--services=echo", "--delay_ms=0"});
    ASSERT_TRUE(echo_->WaitForLine("published ").has_value());

    slacker::ClusterOptions options;
    options.cluster = "demo";
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(2);
    options.connect_timeout = absl::Seconds(10);
    options.drain_time = absl::Milliseconds(100);
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
    builder.RegisterService(&orders_);
    absl::StatusOr<std::unique_ptr<ClusterServer>> server =
        builder.BuildAndStart();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    server_.reset();
    echo_.reset();
    ZooKeeperTest::TearDown();
  }

  std::string Ctl() const {
    return absl::StrCat(absl::GetFlag(FLAGS_slackerctl),
                        " --zk=", ConnectString(), " --cluster=demo");
  }

  // slackerctl with the cluster's flags and `args` (shell words).
  CtlRun Ctl(const std::string& args) { return Shell(Ctl() + " " + args); }

  // The completions bash's function offers for the line `line` (the cursor
  // at its end), `shell_words` being how bash splits its last word
  // (COMP_WORDS, which breaks at '=' and ':').
  std::vector<std::string> Complete(
      const std::string& script_path, const std::string& line,
      const std::vector<std::string>& shell_words) {
    std::string words;
    for (const std::string& word : shell_words) {
      absl::StrAppend(&words, " ", Quote(word));
    }
    const std::string program =
        absl::StrCat("source ", Quote(script_path), "; COMP_LINE=", Quote(line),
                     "; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(", words,
                     "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _slackerctl; "
                     "printf '%s\\n' \"${COMPREPLY[@]}\"");
    CtlRun run = Shell(absl::StrCat("/bin/bash -c ", Quote(program)));
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return absl::StrSplit(run.out, '\n', absl::SkipEmpty());
  }

  slacker::testing::describe::Orders::Service orders_;  // Unimplemented.
  std::unique_ptr<ClusterServer> server_;
  std::unique_ptr<Child> echo_;
};

TEST_F(SlackerctlDescribeTest, NamespaceShowsMethodsAndEveryTypeOnce) {
  CtlRun run = Ctl(absl::StrCat("describe ", kOrders));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string& out = run.out;
  EXPECT_TRUE(absl::StartsWith(out, absl::StrCat("namespace ", kOrders, "\n")))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out,
      "  rpc Follow(slacker.testing.describe.Receipt) returns "
      "(slacker.testing.describe.Order)  SERVER_STREAMING\n"
      "  rpc Place(slacker.testing.describe.Order) returns "
      "(slacker.testing.describe.Receipt)  UNARY\n"))
      << out;
  // Fields with labels, numbers and types; nested types; oneofs; maps.
  for (const std::string part : {
           "// slacker.testing.describe.Order (tools/testdata/describe.proto)\n"
           "message Order {\n",
           "  message Line {\n",
           "    enum Kind {\n",
           "      KIND_GIFT = 1;\n",
           "    .slacker.testing.describe.Order.Line.Kind kind = 3;\n",
           "  repeated .slacker.testing.describe.Order.Line lines = 2;\n",
           "  oneof payment {\n",
           "    string card = 3;\n",
           "    int64 voucher = 4;\n",
           "  map<string, .slacker.testing.Ping> notes = 5;\n",
           "  optional string comment = 8;\n",
           "// slacker.testing.describe.Receipt",
           "  string order_id = 1;\n",
           // The types the fields use, from the imported files.
           "// slacker.testing.describe.Priority "
           "(tools/testdata/describe.proto)\nenum Priority {\n",
           "// slacker.testing.Ping (protos/slacker/testing/ping.proto)\n"
           "message Ping {\n  string text = 1;\n  int64 sequence = 2;\n}\n",
           "// google.protobuf.Timestamp (google/protobuf/timestamp.proto)\n",
       }) {
    EXPECT_TRUE(absl::StrContains(out, part)) << part << "\nin:\n" << out;
  }
  // Order is both a request and a response; each definition appears once,
  // nested types only inside their message.
  EXPECT_EQ(Count(out, "message Order {"), 1) << out;
  EXPECT_EQ(Count(out, "message Line {"), 1) << out;
  EXPECT_EQ(Count(out, "enum Kind {"), 1) << out;
  EXPECT_EQ(Count(out, "message Ping {"), 1) << out;
  EXPECT_EQ(Count(out, "enum Priority {"), 1) << out;

  // The namespace of a child-process server, as before: its methods' lines.
  CtlRun echo = Ctl(absl::StrCat("describe ", kEcho));
  ASSERT_EQ(echo.exit_code, 0) << echo.err;
  EXPECT_TRUE(absl::StrContains(
      echo.out,
      "  rpc Echo(slacker.testing.Ping) returns (slacker.testing.Ping)  UNARY"))
      << echo.out;
  EXPECT_TRUE(absl::StrContains(echo.out, "// google.protobuf.Empty"))
      << echo.out;
}

TEST_F(SlackerctlDescribeTest, MethodMessageAndEnumByName) {
  CtlRun method = Ctl(absl::StrCat("describe ", kOrders, "/Place"));
  ASSERT_EQ(method.exit_code, 0) << method.err;
  EXPECT_TRUE(absl::StartsWith(
      method.out,
      absl::StrCat("method ", kOrders,
                   "/Place\n  rpc Place(slacker.testing.describe.Order) "
                   "returns (slacker.testing.describe.Receipt)  UNARY\n")))
      << method.out;
  EXPECT_TRUE(absl::StrContains(method.out, "message Order {")) << method.out;
  EXPECT_TRUE(absl::StrContains(method.out, "message Receipt {")) << method.out;

  // grpcurl's spelling of a method: SERVICE.METHOD.
  CtlRun dotted = Ctl(absl::StrCat("describe ", kOrders, ".Follow"));
  ASSERT_EQ(dotted.exit_code, 0) << dotted.err;
  EXPECT_TRUE(absl::StrContains(dotted.out, "SERVER_STREAMING")) << dotted.out;

  // A message: its definition and the types its fields use, not the types
  // that use it.
  CtlRun line = Ctl("describe slacker.testing.describe.Order.Line");
  ASSERT_EQ(line.exit_code, 0) << line.err;
  EXPECT_TRUE(absl::StartsWith(line.out,
                               "// slacker.testing.describe.Order.Line "
                               "(tools/testdata/describe.proto)\n"
                               "message Line {\n"))
      << line.out;
  EXPECT_TRUE(absl::StrContains(line.out, "  enum Kind {")) << line.out;
  EXPECT_FALSE(absl::StrContains(line.out, "message Order {")) << line.out;

  // A message of another server's namespace; an enum.
  CtlRun ping = Ctl("describe slacker.testing.Ping");
  ASSERT_EQ(ping.exit_code, 0) << ping.err;
  EXPECT_EQ(ping.out,
            "// slacker.testing.Ping (protos/slacker/testing/ping.proto)\n"
            "message Ping {\n  string text = 1;\n  int64 sequence = 2;\n}\n");
  CtlRun priority = Ctl("describe slacker.testing.describe.Priority");
  ASSERT_EQ(priority.exit_code, 0) << priority.err;
  EXPECT_TRUE(absl::StrContains(priority.out, "  PRIORITY_HIGH = 1;\n"))
      << priority.out;
}

TEST_F(SlackerctlDescribeTest, HintsNameWhatExistsInsteadOfAFailingCommand) {
  // Unknown everywhere: one line, exit 2, the namespaces there are.
  CtlRun unknown = Ctl("describe no.Such");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(Count(unknown.err, "\n"), 1) << unknown.err;
  EXPECT_TRUE(absl::StrContains(unknown.err, "unknown namespace no.Such"))
      << unknown.err;
  EXPECT_TRUE(absl::StrContains(
      unknown.err, absl::StrCat("its namespaces: ", kEcho, ", ", kOrders)))
      << unknown.err;

  // A call to a namespace nobody publishes used to send the user to
  // `describe NS`, which then failed; now it names what there is.
  CtlRun unpublished = Ctl("call no.Such/Method '{}'");
  EXPECT_EQ(unpublished.exit_code, 2);
  EXPECT_EQ(Count(unpublished.err, "\n"), 1) << unpublished.err;
  EXPECT_FALSE(absl::StrContains(unpublished.err, "slackerctl describe"))
      << unpublished.err;
  EXPECT_TRUE(absl::StrContains(unpublished.err, "its namespaces: "))
      << unpublished.err;
  CtlRun unknown_method = Ctl(absl::StrCat("describe ", kOrders, "/Nope"));
  EXPECT_EQ(unknown_method.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(unknown_method.err,
                                absl::StrCat(kOrders, " has: Follow, Place")))
      << unknown_method.err;
  // Each name a hint gives works.
  EXPECT_EQ(Ctl(absl::StrCat("describe ", kOrders, "/Follow")).exit_code, 0);

  // A cluster that does not exist: the clusters there are (as for every
  // command that reads a cluster).
  for (const std::string command :
       {"describe x.Y", "export-protoset", "__complete methods"}) {
    CtlRun no_cluster = Shell(
        absl::StrCat(absl::GetFlag(FLAGS_slackerctl), " --zk=", ConnectString(),
                     " --cluster=nope ", command, " > /dev/null"));
    EXPECT_EQ(no_cluster.exit_code, 3) << command;
    EXPECT_EQ(Count(no_cluster.err, "\n"), 1) << no_cluster.err;
    EXPECT_TRUE(absl::StrContains(no_cluster.err,
                                  "no cluster nope under /slacker/cluster; "
                                  "clusters there: demo"))
        << command << ": " << no_cluster.err;
  }
}

TEST_F(SlackerctlDescribeTest, ExportProtosetIsReadByProtoc) {
  const std::string protoset = TmpPath("orders.protoset");
  CtlRun exported =
      Ctl(absl::StrCat("export-protoset ", kOrders, " > ", protoset));
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(exported.err, "");
  google::protobuf::FileDescriptorSet set;
  ASSERT_TRUE(set.ParseFromString(ReadFile(protoset)));
  std::vector<std::string> names;
  for (const auto& file : set.file()) names.push_back(file.name());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "google/protobuf/timestamp.proto",
                       "protos/slacker/testing/ping.proto",
                       "tools/testdata/describe.proto",
                   }));

  // protoc reads it alone (no .proto on disk): a text Order encoded by it is
  // the Order of this test's generated code, and protoc decodes it back.
  const std::string text =
      R"(id: "o-1" lines { sku: "s-9" quantity: 2 kind: KIND_GIFT } )"
      R"(card: "visa" notes { key: "k" value { text: "t" sequence: 3 } } )"
      R"(priority: PRIORITY_HIGH comment: "")";
  const std::string protoc = absl::StrCat(
      "/usr/bin/protoc --descriptor_set_in=", protoset,
      " --encode=slacker.testing.describe.Order tools/testdata/describe.proto");
  const std::string encoded_path = TmpPath("order.bin");
  CtlRun encoded = Shell(
      absl::StrCat("echo ", Quote(text), " | ", protoc, " > ", encoded_path));
  ASSERT_EQ(encoded.exit_code, 0) << encoded.err;
  slacker::testing::describe::Order order;
  ASSERT_TRUE(order.ParseFromString(ReadFile(encoded_path)));
  EXPECT_EQ(order.id(), "o-1");
  ASSERT_EQ(order.lines_size(), 1);
  EXPECT_EQ(order.lines(0).kind(),
            slacker::testing::describe::Order::Line::KIND_GIFT);
  EXPECT_EQ(order.card(), "visa");
  EXPECT_EQ(order.notes().at("k").sequence(), 3);
  EXPECT_EQ(order.priority(), slacker::testing::describe::PRIORITY_HIGH);
  EXPECT_TRUE(order.has_comment());
  CtlRun decoded = Shell(absl::StrCat(
      "/usr/bin/protoc --descriptor_set_in=", protoset,
      " --decode=slacker.testing.describe.Order tools/testdata/describe.proto"
      " < ",
      encoded_path));
  ASSERT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_TRUE(absl::StrContains(decoded.out, "sku: \"s-9\"")) << decoded.out;
  EXPECT_TRUE(absl::StrContains(decoded.out, "priority: PRIORITY_HIGH"))
      << decoded.out;

  // Every namespace (none named): each file once, each after its imports.
  const std::string all = TmpPath("all.protoset");
  ASSERT_EQ(Ctl(absl::StrCat("export-protoset > ", all)).exit_code, 0);
  google::protobuf::FileDescriptorSet every;
  ASSERT_TRUE(every.ParseFromString(ReadFile(all)));
  std::set<std::string> seen;
  for (const auto& file : every.file()) {
    for (const std::string& dependency : file.dependency()) {
      EXPECT_EQ(seen.count(dependency), 1u)
          << file.name() << " before its import " << dependency;
    }
    EXPECT_TRUE(seen.insert(file.name()).second) << file.name() << " twice";
  }
  EXPECT_EQ(seen.count("protos/slacker/testing/echo.proto"), 1u);
  EXPECT_EQ(seen.count("tools/testdata/describe.proto"), 1u);
  EXPECT_EQ(every.file_size(), 5);  // + echo.proto, empty.proto.
  // protoc accepts the whole set too, every file resolved from it.
  CtlRun whole = Shell(absl::StrCat(
      "/usr/bin/protoc --descriptor_set_in=", all,
      " --descriptor_set_out=", TmpPath("again.protoset"),
      " tools/testdata/describe.proto protos/slacker/testing/echo.proto"));
  EXPECT_EQ(whole.exit_code, 0) << whole.err;

  // Binary is not written to a terminal (script(1) gives it one).
  CtlRun terminal = Shell(absl::StrCat(
      "/usr/bin/script -qec ",
      Quote(absl::StrCat(Ctl(), " export-protoset ", kOrders)), " /dev/null"));
  EXPECT_EQ(terminal.exit_code, 2) << terminal.out << terminal.err;
  EXPECT_TRUE(absl::StrContains(terminal.out, "redirect it to a file"))
      << terminal.out;

  // An unknown namespace: exit 2, one line, nothing on stdout.
  CtlRun unknown =
      Ctl(absl::StrCat("export-protoset no.Such > ", TmpPath("none.protoset")));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(Count(unknown.err, "\n"), 1) << unknown.err;
  EXPECT_EQ(ReadFile(TmpPath("none.protoset")), "");
}

TEST_F(SlackerctlDescribeTest, VersionIsWhatServersPublish) {
  CtlRun version =
      Shell(absl::StrCat(absl::GetFlag(FLAGS_slackerctl), " --version"));
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, absl::StrCat(kVersion, "\n"));

  discovery::ZooKeeperOptions options;
  options.connect_string = ConnectString();
  absl::StatusOr<std::unique_ptr<discovery::ZooKeeperClient>> zk =
      discovery::ZooKeeperClient::Connect(options);
  ASSERT_TRUE(zk.ok()) << zk.status();
  const discovery::RegistryLayout layout(discovery::kDefaultRegistryRoot,
                                         "demo");
  absl::StatusOr<discovery::NodeData> node =
      (*zk)->Get(layout.ServerPath(server_->address()));
  ASSERT_TRUE(node.ok()) << node.status();
  cluster::ServerInfo info;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(node->data, &info).ok())
      << node->data;
  EXPECT_EQ(absl::StrCat(info.version(), "\n"), version.out);
}

TEST_F(SlackerctlDescribeTest, BashCompletionFromTheCluster) {
  const std::string script = TmpPath("slackerctl.bash");
  CtlRun printed = Shell(absl::StrCat(absl::GetFlag(FLAGS_slackerctl),
                                      " completion bash > ", script));
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  CtlRun syntax = Shell(absl::StrCat("/bin/bash -n ", script));
  EXPECT_EQ(syntax.exit_code, 0) << syntax.err;
  EXPECT_EQ(
      Shell(absl::StrCat(absl::GetFlag(FLAGS_slackerctl), " completion zsh"))
          .exit_code,
      2);

  // The hidden command the script runs.
  CtlRun namespaces = Ctl("__complete namespaces");
  ASSERT_EQ(namespaces.exit_code, 0) << namespaces.err;
  EXPECT_EQ(namespaces.out, absl::StrCat(kEcho, "\n", kOrders, "\n"));
  CtlRun methods = Ctl("__complete methods");
  ASSERT_EQ(methods.exit_code, 0) << methods.err;
  EXPECT_EQ(methods.out,
            absl::StrCat(kEcho, "/Echo\n", kEcho, "/Nothing\n", kOrders,
                         "/Follow\n", kOrders, "/Place\n"));

  // The script itself, run by bash as the shell would on TAB.
  const std::string ctl = Ctl();
  EXPECT_EQ(Complete(script, ctl + " call slacker.testing.d",
                     {"x", "slacker.testing.d"}),
            (std::vector<std::string>{absl::StrCat(kOrders, "/Follow"),
                                      absl::StrCat(kOrders, "/Place")}));
  EXPECT_EQ(Complete(script, ctl + " describe slacker.testing.E",
                     {"x", "slacker.testing.E"}),
            (std::vector<std::string>{kEcho, absl::StrCat(kEcho, "/Echo"),
                                      absl::StrCat(kEcho, "/Nothing")}));
  EXPECT_EQ(Complete(script, ctl + " de", {"x", "de"}),
            (std::vector<std::string>{"describe"}));
  EXPECT_EQ(Complete(script, ctl + " ex", {"x", "ex"}),
            (std::vector<std::string>{"export-protoset"}));
  EXPECT_EQ(Complete(script, ctl + " --clu", {"x", "--clu"}),
            (std::vector<std::string>{"--cluster="}));
  EXPECT_EQ(Complete(script, ctl + " --js", {"x", "--js"}),
            (std::vector<std::string>{"--json"}));
  // bash splits "--grouping=ro" into "--grouping", "=", "ro".
  EXPECT_EQ(Complete(script, ctl + " call --grouping=ro",
                     {"x", "--grouping", "=", "ro"}),
            (std::vector<std::string>{"round_robin"}));
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
