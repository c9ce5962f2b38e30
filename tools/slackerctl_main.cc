// slackerctl: inspect a Slacker cluster and call any of its methods from the
// shell. See README.md, "slackerctl", for every command and flag.
//
//   slackerctl --zk=HOSTS --cluster=NAME [--root=PATH] COMMAND ...
//
// Exit codes: 0 success (also --help); 1 the call failed (its status printed
// as JSON on stdout); 2 usage error (the flag or argument named); 3 cluster
// or ZooKeeper unreachable. Errors go to stderr in one line; the ZooKeeper
// client's and gRPC's own log lines only with --verbose.
//
// This file parses the flags (itself, so that every usage error is one line
// and exit code 2) and picks the command; each command is its own file in
// tools/slackerctl/ (commands.h), over the shared cluster.h and output.h. It
// keeps the name <program>_main.cc, as absl's --help expects.

#include <grpc/support/log.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "discovery/ensemble_provider.h"
#include "discovery/registry_layout.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/version.h"
#include "tools/slackerctl/cluster.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

ABSL_FLAG(std::string, zk, "",
          "ZooKeeper connect string host:port[,host:port]");
ABSL_FLAG(std::string, cluster, "", "cluster name");
ABSL_FLAG(std::string, root,
          std::string(slacker::discovery::kDefaultRegistryRoot),
          "root path of clusters");
ABSL_FLAG(bool, json, false,
          "ls: print JSON; watch: one JSON object per event");
ABSL_FLAG(std::string, grouping, "random",
          "call: random|round_robin|first|sticky|leader|least_in_flight|"
          "weighted|hash|all|HOST:PORT");
ABSL_FLAG(std::string, hash_key, "", "call: the key of grouping=hash");
ABSL_FLAG(std::string, results, "single",
          "call --grouping=all: single|vector|map");
ABSL_FLAG(std::string, errors, "all", "call --grouping=all: all|any");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(10), "call: deadline");
ABSL_FLAG(int, count, 0,
          "call: how many calls (default 1, or unbounded with --duration); "
          "above 1 prints calls per server and per status code");
ABSL_FLAG(double, rate, 0,
          "call: calls per second (0: one after another, as fast as they "
          "return); with --rate or --duration, a summary line per second on "
          "stderr");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(),
          "call: keep calling for this long (a small load generator)");
ABSL_FLAG(std::string, data, "",
          "call (-d): the request: JSON, @FILE or @- (stdin); for a "
          "server-streaming method, one request per line");
ABSL_FLAG(std::vector<std::string>, header, {},
          "call (-H, repeatable): metadata 'key: value'");
ABSL_FLAG(bool, emit_defaults, false,
          "call: print fields at their default value too");
ABSL_FLAG(absl::Duration, wait, absl::Seconds(2),
          "call: how long to wait for the namespace's publishers to be ready");
ABSL_FLAG(int, metrics_port, -1,
          "call: serve the channel's Prometheus metrics on this port while "
          "calling (0: any free port; -1: off)");
ABSL_FLAG(std::string, server, "",
          "offline|online|server-data|shutdown: HOST:PORT");
ABSL_FLAG(std::string, token, "",
          "offline|online|server-data|shutdown: the server's manager token "
          "(sent as \"authorization: Bearer <token>\")");
ABSL_FLAG(std::string, digest, "",
          "ZooKeeper digest credentials user:password, to read a cluster "
          "whose registrations are protected");
ABSL_FLAG(std::string, exhibitor, "",
          "HOST[,HOST...]:PORT of Exhibitor's REST API: take the ZooKeeper "
          "ensemble from its /exhibitor/v1/cluster/list (polled every 10 s), "
          "--zk being the backup connect string while no Exhibitor answers");
ABSL_FLAG(int, port, 8080, "dashboard: HTTP port (0: a free one, printed)");
ABSL_FLAG(std::string, listen, "127.0.0.1",
          "dashboard: address to serve on (0.0.0.0: every interface)");
ABSL_FLAG(std::string, metrics_histogram,
          "slacker_server_call_duration_seconds",
          "dashboard: the servers' latency histogram its charts read");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "how long to wait for ZooKeeper");
ABSL_FLAG(bool, verbose, false,
          "let the ZooKeeper client's and gRPC's own log lines through");
ABSL_FLAG(bool, tls, false,
          "call and manager commands: connect to servers with TLS");
ABSL_FLAG(std::string, cacert, "",
          "TLS: PEM file of the CA certificates to trust (default: the "
          "system's); implies --tls");
ABSL_FLAG(std::string, cert, "",
          "TLS: PEM file of a client certificate (mTLS, with --key)");
ABSL_FLAG(std::string, key, "",
          "TLS: PEM file of the client certificate's private key");
ABSL_FLAG(std::string, servername, "",
          "TLS: check every server's certificate against this name instead "
          "of the server's own (its published TLS name, or --server's host)");

namespace slacker::slackerctl {
namespace {

ConnectionSecurity SecurityFromFlags() {
  ConnectionSecurity security;
  security.tls = absl::GetFlag(FLAGS_tls);
  security.cacert = absl::GetFlag(FLAGS_cacert);
  security.cert = absl::GetFlag(FLAGS_cert);
  security.key = absl::GetFlag(FLAGS_key);
  security.servername = absl::GetFlag(FLAGS_servername);
  return security;
}

constexpr char kUsageMessage[] =
    "slackerctl --zk=HOSTS [--exhibitor=HOSTS:PORT] --cluster=NAME "
    "[--root=PATH]\n"
    "    COMMAND ...\n"
    "  ls [--json]\n"
    "  describe NAMESPACE | NAMESPACE/METHOD | TYPE\n"
    "  export-protoset [NAMESPACE...] > FILE.protoset\n"
    "  call NAMESPACE/METHOD ['JSON' | -d JSON|@FILE|@-] [-H 'key: value']\n"
    "       [--grouping=..] [--hash_key=..] [--results=single|vector|map]\n"
    "       [--errors=all|any] [--deadline=10s] [--wait=2s] [--count=N]\n"
    "       [--rate=CALLS_PER_S] [--duration=D] [--emit_defaults]\n"
    "       [--metrics_port=N]\n"
    "  watch [--json]\n"
    "  dashboard [--port=8080] [--listen=127.0.0.1]\n"
    "  offline [NS] | online [NS] | server-data [JSON] | shutdown "
    "(with --server=HOST:PORT [--token=T])\n"
    "  completion bash\n"
    "TLS for call and the server commands: --tls [--cacert=PEM] "
    "[--cert=PEM --key=PEM] [--servername=NAME]\n"
    "Exit codes: 0 ok, 1 the call failed, 2 usage error, 3 unreachable.";

// slackerctl's flags: every flag linked in but Abseil's own (--flagfile and
// the like, which slackerctl does not read).
bool Ours(const absl::CommandLineFlag& flag) {
  return !absl::StrContains(flag.Filename(), "absl/flags");
}

// Every flag, as --help lists them.
void PrintHelp() {
  std::cout << kUsageMessage << "\n\nFlags:\n";
  std::map<std::string, const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (Ours(*flag)) {
      flags[std::string(name)] = flag;
    }
  }
  for (const auto& [name, flag] : flags) {
    std::cout << "  --" << name << " (default "
              << (flag->DefaultValue().empty() ? "\"\"" : flag->DefaultValue())
              << ")\n      " << flag->Help() << "\n";
  }
  std::cout << std::flush;
}

// The closest flag name to `name`, for a hint ("" if none is close).
std::string Closest(absl::string_view name) {
  std::string best;
  size_t best_distance = 3;  // Suggest at most two edits away.
  for (const auto& [candidate, flag] : absl::GetAllFlags()) {
    if (!Ours(*flag)) continue;
    // Levenshtein distance.
    std::vector<size_t> row(candidate.size() + 1);
    for (size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= name.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= candidate.size(); ++j) {
        const size_t above = row[j];
        row[j] =
            std::min({row[j] + 1, row[j - 1] + 1,
                      diagonal + (name[i - 1] == candidate[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    if (row[candidate.size()] < best_distance) {
      best_distance = row[candidate.size()];
      best = std::string(candidate);
    }
  }
  return best;
}

// What the command line asks for, once its flags are set.
struct CommandLine {
  std::vector<std::string> args;     // The command and its arguments.
  std::vector<std::string> headers;  // Every -H / --header, in order.
  bool help = false;
  bool version = false;
};

// Parses argv: --flag=value, --flag value (not for booleans), --flag and
// --noflag (booleans), -d and -H as --data and --header, "--" ending the
// flags. Sets the flags; returns the usage error's message, or "".
std::string ParseArgs(int argc, char** argv, CommandLine* line) {
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      line->args.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    absl::string_view body = arg;
    body.remove_prefix(absl::StartsWith(body, "--") ? 2 : 1);
    std::string name(body.substr(0, body.find('=')));
    std::optional<std::string> value;
    if (body.find('=') != absl::string_view::npos) {
      value = std::string(body.substr(body.find('=') + 1));
    }
    std::replace(name.begin(), name.end(), '-', '_');  // --emit-defaults.
    if (name == "d") name = "data";
    if (name == "H") name = "header";
    if (name == "h" || name == "help" || name == "helpfull" ||
        name == "helpshort") {
      line->help = true;
      continue;
    }
    if (name == "version") {
      line->version = true;
      continue;
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    bool negated = false;
    if (flag == nullptr && absl::StartsWith(name, "no")) {
      flag = absl::FindCommandLineFlag(name.substr(2));
      negated = flag != nullptr && flag->IsOfType<bool>();
      if (!negated) flag = nullptr;
    }
    if (flag == nullptr || !Ours(*flag)) {
      const std::string closest = Closest(name);
      return absl::StrCat(
          "unknown flag --", name,
          closest.empty() ? ""
                          : absl::StrCat(" (did you mean --", closest, "?)"),
          "; see --help");
    }
    const std::string shown = absl::StrCat("--", flag->Name());
    if (negated) {
      if (value.has_value()) {
        return absl::StrCat("--no", flag->Name(), " takes no value");
      }
      value = "false";
    } else if (!value.has_value()) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        return absl::StrCat(shown, " needs a value; see --help");
      }
    }
    if (flag->Name() == "header") {
      line->headers.push_back(*value);
      continue;
    }
    std::string error;
    if (!flag->ParseFrom(*value, &error)) {
      return absl::StrCat("bad value '", *value, "' for ", shown, ": ", error);
    }
  }
  return "";
}

// The call flags, checked before anything connects: the usage error's
// message, or "".
std::string CheckCallFlags(const std::vector<std::string>& headers,
                           CallOptions* options) {
  options->grouping = absl::GetFlag(FLAGS_grouping);
  options->hash_key = absl::GetFlag(FLAGS_hash_key);
  options->results = absl::GetFlag(FLAGS_results);
  options->errors = absl::GetFlag(FLAGS_errors);
  options->deadline = absl::GetFlag(FLAGS_deadline);
  options->count = absl::GetFlag(FLAGS_count);
  options->rate = absl::GetFlag(FLAGS_rate);
  options->duration = absl::GetFlag(FLAGS_duration);
  options->wait = absl::GetFlag(FLAGS_wait);
  options->emit_defaults = absl::GetFlag(FLAGS_emit_defaults);
  options->security = SecurityFromFlags();
  options->metrics_port = absl::GetFlag(FLAGS_metrics_port);
  if (options->grouping != "all" &&
      !ParseGroupingSpec(options->grouping).ok()) {
    std::vector<std::string> names = GroupingNames();
    names.erase(std::remove(names.begin(), names.end(), "server"), names.end());
    names.push_back("all");
    std::sort(names.begin(), names.end());
    return absl::StrCat(
        "--grouping=", options->grouping, " is not a grouping: give one of ",
        absl::StrJoin(names, ", "), ", or a server's HOST:PORT");
  }
  if (options->grouping == "hash" && options->hash_key.empty()) {
    return "--grouping=hash needs --hash_key=KEY (calls with the same key go "
           "to the same server)";
  }
  if (options->errors != "all" && options->errors != "any") {
    return "--errors must be all or any";
  }
  if (options->results != "single" && options->results != "vector" &&
      options->results != "map") {
    return "--results must be single, vector or map";
  }
  if (options->count < 0) return "--count must be at least 1";
  if (options->rate < 0) return "--rate must be 0 (unpaced) or more";
  if (options->duration < absl::ZeroDuration()) {
    return "--duration must not be negative";
  }
  if (options->deadline <= absl::ZeroDuration()) {
    return "--deadline must be positive";
  }
  if (options->wait < absl::ZeroDuration())
    return "--wait must not be negative";
  if (options->grouping == "all" &&
      (options->count > 1 || options->rate > 0 ||
       options->duration > absl::ZeroDuration())) {
    return "--count, --rate and --duration repeat single calls; not with "
           "--grouping=all";
  }
  for (const std::string& header : headers) {
    const size_t colon = header.find(':');
    std::string key =
        std::string(absl::StripAsciiWhitespace(absl::string_view(header).substr(
            0, colon == std::string::npos ? header.size() : colon)));
    if (colon == std::string::npos || key.empty()) {
      return absl::StrCat("-H '", header, "': expected 'key: value'");
    }
    absl::AsciiStrToLower(&key);
    options->metadata.emplace_back(
        key, std::string(absl::StripAsciiWhitespace(
                 absl::string_view(header).substr(colon + 1))));
  }
  return "";
}

// Silences the ZooKeeper client's and gRPC's own log lines unless --verbose:
// slackerctl's errors are its own one line.
void QuietLibraries(bool verbose) {
  if (verbose) {
    SetLogLevel(LogLevel::kInfo);
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_INFO);
    return;
  }
  SetLogLevel(LogLevel::kOff);
  gpr_set_log_function([](gpr_log_func_args*) {});
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsageMessage);
  CommandLine line;
  if (std::string error = ParseArgs(argc, argv, &line); !error.empty()) {
    return Fail(kUsage, error);
  }
  QuietLibraries(absl::GetFlag(FLAGS_verbose));
  if (line.help || (!line.args.empty() && line.args[0] == "help")) {
    PrintHelp();
    return kOk;
  }
  if (line.version) {
    // The string every server writes into its ServerInfo.version.
    std::cout << kVersion << std::endl;
    return kOk;
  }
  std::vector<std::string> args = line.args;
  if (args.empty()) return Fail(kUsage, "no command; see --help");
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "offline" || command == "online" || command == "server-data" ||
      command == "shutdown") {
    return Manage(command, args, absl::GetFlag(FLAGS_server),
                  absl::GetFlag(FLAGS_deadline), SecurityFromFlags(),
                  absl::GetFlag(FLAGS_token));
  }
  if (command == "completion") return Completion(args);
  const std::set<std::string> known = {
      "ls",         "describe", "call", "watch", "export-protoset",
      "__complete", "dashboard"};
  if (known.count(command) == 0) {
    return Fail(kUsage,
                absl::StrCat("unknown command '", command, "'; see --help"));
  }
  Cluster c(absl::GetFlag(FLAGS_zk), absl::GetFlag(FLAGS_root),
            absl::GetFlag(FLAGS_cluster));
  c.set_digest(absl::GetFlag(FLAGS_digest));
  if (c.zookeeper().empty() || c.name().empty()) {
    return Fail(kUsage, "--zk and --cluster are required");
  }
  // Kept for the whole command: every session of it asks the provider.
  std::shared_ptr<discovery::ExhibitorEnsembleProvider> exhibitor;
  if (const std::string value = absl::GetFlag(FLAGS_exhibitor);
      !value.empty()) {
    absl::StatusOr<discovery::ExhibitorOptions> exhibitor_options =
        ParseExhibitorFlag(value, c.zookeeper());
    if (!exhibitor_options.ok()) {
      return Fail(kUsage, exhibitor_options.status().message());
    }
    absl::StatusOr<std::shared_ptr<discovery::ExhibitorEnsembleProvider>>
        started = discovery::ExhibitorEnsembleProvider::Start(
            *std::move(exhibitor_options));
    if (!started.ok()) {
      return Fail(kUsage,
                  absl::StrCat("--exhibitor: ", started.status().message()));
    }
    exhibitor = *std::move(started);
    discovery::EnsembleOptions ensemble;
    ensemble.provider = exhibitor->AsProvider();
    c.set_ensemble(std::move(ensemble));
  }
  if (absl::Status valid = c.Validate(); !valid.ok()) {
    return Fail(kUsage, valid.message());
  }
  if (command == "watch") {
    if (!args.empty()) return Fail(kUsage, "watch takes no arguments");
    return Watch(c, absl::GetFlag(FLAGS_json));
  }
  if (command == "dashboard") {
    if (!args.empty()) return Fail(kUsage, "dashboard takes no arguments");
    DashboardOptions options;
    options.port = absl::GetFlag(FLAGS_port);
    options.listen = absl::GetFlag(FLAGS_listen);
    options.metrics_histogram = absl::GetFlag(FLAGS_metrics_histogram);
    options.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
    return Dashboard(c, options);
  }
  if (command == "describe" && args.size() != 1) {
    return Fail(kUsage,
                "describe takes one NAMESPACE, NAMESPACE/METHOD or TYPE");
  }
  if (command == "__complete" &&
      (args.size() != 1 || (args[0] != "namespaces" && args[0] != "methods"))) {
    return Fail(kUsage, "__complete takes namespaces or methods");
  }
  CallOptions options;
  if (command == "call") {
    if (args.empty() || args.size() > 2) {
      return Fail(kUsage,
                  "call takes NAMESPACE/METHOD and an optional JSON request");
    }
    if (args.size() == 2 && !absl::GetFlag(FLAGS_data).empty()) {
      return Fail(kUsage, "give the request either as an argument or as -d");
    }
    options.data = args.size() == 2 ? args[1] : absl::GetFlag(FLAGS_data);
    if (std::string error = CheckCallFlags(line.headers, &options);
        !error.empty()) {
      return Fail(kUsage, error);
    }
  }
  WaitLine waiting(absl::StrCat("ZooKeeper at ", c.zookeeper()));
  if (absl::Status connected = c.Connect(absl::GetFlag(FLAGS_connect_timeout));
      !connected.ok()) {
    return waiting.Fail(
        absl::IsInvalidArgument(connected) ? kUsage : kUnreachable,
        connected.message());
  }
  waiting.Finish("connected");
  if (std::optional<int> missing = CheckClusterExists(c)) return *missing;
  if (command == "ls") return Ls(c, absl::GetFlag(FLAGS_json));
  if (command == "describe") return Describe(c, args[0]);
  if (command == "export-protoset") return ExportProtoset(c, args);
  if (command == "__complete") return Complete(c, args[0]);
  return Call(c, args[0], options);
}

}  // namespace
}  // namespace slacker::slackerctl

int main(int argc, char** argv) {
  return slacker::slackerctl::Main(argc, argv);
}
