// slackerctl: inspect a Slacker cluster and call any of its methods from the
// shell. See README.md, "slackerctl", for every command and flag.
//
//   slackerctl --zk=HOSTS --cluster=NAME [--root=PATH] COMMAND ...
//
// Exit codes: 0 success; 1 the call failed (its status printed as JSON on
// stdout); 2 usage error; 3 cluster or ZooKeeper unreachable. Errors go to
// stderr in one line.
//
// This file parses the flags and picks the command; each command is its own
// file in tools/slackerctl/ (commands.h), over the shared cluster.h and
// output.h. It keeps the name <program>_main.cc so that --help lists its
// flags.

#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "discovery/registry_layout.h"
#include "tools/slackerctl/cluster.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

ABSL_FLAG(std::string, zk, "",
          "ZooKeeper connect string host:port[,host:port]");
ABSL_FLAG(std::string, cluster, "", "cluster name");
ABSL_FLAG(std::string, root,
          std::string(slacker::discovery::kDefaultRegistryRoot),
          "root path of clusters");
ABSL_FLAG(bool, json, false, "ls: print JSON");
ABSL_FLAG(std::string, grouping, "random",
          "call: random|round_robin|first|sticky|leader|least_in_flight|"
          "weighted|hash|all|HOST:PORT");
ABSL_FLAG(std::string, hash_key, "", "call: the key of grouping=hash");
ABSL_FLAG(std::string, results, "single",
          "call --grouping=all: single|vector|map");
ABSL_FLAG(std::string, errors, "all", "call --grouping=all: all|any");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(10), "call: deadline");
ABSL_FLAG(int, count, 1, "call: how many calls (prints calls per server)");
ABSL_FLAG(std::string, server, "",
          "offline|online|server-data|shutdown: HOST:PORT");
ABSL_FLAG(int, port, 8080, "dashboard: HTTP port (0: a free one, printed)");
ABSL_FLAG(std::string, listen, "127.0.0.1",
          "dashboard: address to serve on (0.0.0.0: every interface)");
ABSL_FLAG(std::string, metrics_histogram,
          "slacker_server_call_duration_seconds",
          "dashboard: the servers' latency histogram its charts read");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "how long to wait for ZooKeeper");

namespace slacker::slackerctl {
namespace {

CallOptions CallOptionsFromFlags() {
  CallOptions options;
  options.grouping = absl::GetFlag(FLAGS_grouping);
  options.hash_key = absl::GetFlag(FLAGS_hash_key);
  options.results = absl::GetFlag(FLAGS_results);
  options.errors = absl::GetFlag(FLAGS_errors);
  options.deadline = absl::GetFlag(FLAGS_deadline);
  options.count = absl::GetFlag(FLAGS_count);
  return options;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "slackerctl --zk=HOSTS --cluster=NAME [--root=PATH] COMMAND ...\n"
      "  ls [--json] | describe NAMESPACE | call NAMESPACE/METHOD 'JSON' "
      "[--grouping=..] [--hash_key=..] [--results=single|vector|map] "
      "[--errors=all|any] [--deadline=10s] [--count=N] | watch |\n"
      "  dashboard [--port=8080] [--listen=127.0.0.1] |\n"
      "  offline [NS] | online [NS] | server-data [JSON] | shutdown "
      "(with --server=HOST:PORT)");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (args.empty()) return Fail(kUsage, "no command (see --help)");
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "offline" || command == "online" || command == "server-data" ||
      command == "shutdown") {
    return Manage(command, args, absl::GetFlag(FLAGS_server),
                  absl::GetFlag(FLAGS_deadline));
  }
  const std::set<std::string> known = {"ls", "describe", "call", "watch",
                                       "dashboard"};
  if (known.count(command) == 0) {
    return Fail(kUsage,
                absl::StrCat("unknown command '", command, "' (see --help)"));
  }
  Cluster c(absl::GetFlag(FLAGS_zk), absl::GetFlag(FLAGS_root),
            absl::GetFlag(FLAGS_cluster));
  if (c.zookeeper().empty() || c.name().empty()) {
    return Fail(kUsage, "--zk and --cluster are required");
  }
  if (absl::Status valid = c.Validate(); !valid.ok()) {
    return Fail(kUsage, valid.message());
  }
  if (command == "watch") return Watch(c);
  if (command == "dashboard") {
    DashboardOptions options;
    options.port = absl::GetFlag(FLAGS_port);
    options.listen = absl::GetFlag(FLAGS_listen);
    options.metrics_histogram = absl::GetFlag(FLAGS_metrics_histogram);
    options.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
    return Dashboard(c, options);
  }
  if (command == "describe" && args.size() != 1) {
    return Fail(kUsage, "describe takes one NAMESPACE");
  }
  if (command == "call" && (args.empty() || args.size() > 2)) {
    return Fail(kUsage,
                "call takes NAMESPACE/METHOD and an optional JSON request");
  }
  if (absl::Status connected = c.Connect(absl::GetFlag(FLAGS_connect_timeout));
      !connected.ok()) {
    return Fail(absl::IsInvalidArgument(connected) ? kUsage : kUnreachable,
                connected.message());
  }
  if (command == "ls") return Ls(c, absl::GetFlag(FLAGS_json));
  if (command == "describe") return Describe(c, args[0]);
  return Call(c, args[0], args.size() > 1 ? args[1] : "",
              CallOptionsFromFlags());
}

}  // namespace
}  // namespace slacker::slackerctl

int main(int argc, char** argv) {
  return slacker::slackerctl::Main(argc, argv);
}
