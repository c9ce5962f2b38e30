// slackerctl's commands, one file each; main.cc parses the flags and picks
// one. Each returns the process's exit code (tools/slackerctl/output.h) and
// prints what README.md, "slackerctl", says it prints.

#ifndef SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_
#define SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "tools/slackerctl/cluster.h"
#include "tools/slackerctl/credentials.h"

namespace slacker::slackerctl {

// ls [--json]: every namespace with its members and leader, then every
// server's data (ls.cc). REQUIRES: c.Connect() succeeded.
int Ls(Cluster& c, bool json);

// Run before ls, describe and call: nullopt if the cluster's node exists;
// otherwise kUnreachable, with "no cluster NAME under ROOT; clusters there:
// a, b" (or "none"), or the ZooKeeper error, printed (ls.cc).
// REQUIRES: c.Connect() succeeded.
std::optional<int> CheckClusterExists(Cluster& c);

// describe NAMESPACE | NAMESPACE/METHOD | TYPE: the methods, then the .proto
// text of every message and enum type they use, from the descriptors the
// cluster stores; TYPE is a message or enum name (or grpcurl's
// "Service.Method") found in any namespace's descriptors (describe.cc).
// REQUIRES: c.Connect() succeeded.
int Describe(Cluster& c, const std::string& name);

// export-protoset [NAMESPACE...]: the descriptors of those namespaces (all
// if none), a binary google.protobuf.FileDescriptorSet on stdout, for
// protoc --descriptor_set_in and grpcurl -protoset (export_protoset.cc).
// REQUIRES: c.Connect() succeeded.
int ExportProtoset(Cluster& c, const std::vector<std::string>& namespaces);

// completion bash: prints a bash completion script (completion.cc).
int Completion(const std::vector<std::string>& args);

// __complete namespaces|methods: what that script completes from the
// cluster, one per line (NAMESPACE, or NAMESPACE/METHOD) (completion.cc).
// REQUIRES: c.Connect() succeeded.
int Complete(Cluster& c, const std::string& what);

// The flags of `call`, checked by main.cc before Call().
struct CallOptions {
  std::string data;                 // JSON, "@FILE" or "@-" (stdin); "" = {}.
  std::string grouping = "random";  // A grouping, "all" (fan-out), HOST:PORT.
  std::string hash_key;             // The key of grouping "hash".
  std::string results = "single";   // With "all": single|vector|map.
  std::string errors = "all";       // With "all": all|any.
  absl::Duration deadline = absl::Seconds(10);
  // Calls to make: 0 means 1, or unbounded with a duration. Above 1 (or with
  // a duration) the calls go on through failures and the output counts them
  // per server and per status code.
  int count = 0;
  double rate = 0;  // Calls per second; 0: each as soon as the last returns.
  absl::Duration duration = absl::ZeroDuration();  // 0: until count.
  absl::Duration wait = absl::Seconds(2);  // For the publishers to be ready.
  bool emit_defaults = false;  // Print default-valued response fields.
  // Metadata sent with every call: (lower-case key, value).
  std::vector<std::pair<std::string, std::string>> metadata;
  ConnectionSecurity security;  // --tls, --cacert, ... (credentials.h).
  // If >= 0: the channel's metrics served at http://0.0.0.0:PORT/metrics
  // while the calls run (0: a free port, printed on stderr).
  int metrics_port = -1;
};

// call NAMESPACE/METHOD: one call (or --count calls, a paced load run, or a
// fan-out) through a cluster channel, the response printed as JSON (call.cc).
// Waits up to options.wait for the namespace's publishers first, saying so on
// stderr when that lasts. REQUIRES: c.Connect() succeeded.
int Call(Cluster& c, const std::string& target, const CallOptions& options);

// watch [--json]: prints the cluster's changes until SIGINT or SIGTERM, as
// text lines or, with `json`, one JSON object per event with its time
// (watch.cc). Needs no Connect(): it reads the cluster through its own view.
int Watch(const Cluster& c, bool json);

// The flags of `dashboard`.
struct DashboardOptions {
  std::string listen = "127.0.0.1";  // The page's address; "0.0.0.0": all.
  int port = 8080;                   // 0: a free port (printed).
  absl::Duration connect_timeout = absl::Seconds(5);
  // Each server's health and metrics are read this often, each read within
  // probe_deadline.
  absl::Duration probe_interval = absl::Seconds(2);
  absl::Duration probe_deadline = absl::Seconds(1);
  // The server-side latency histogram whose count and sum give the charts,
  // read from servers whose data has "metrics_port" (dashboard_model.h).
  std::string metrics_histogram = "slacker_server_call_duration_seconds";
};

// dashboard [--port=N] [--listen=ADDR]: serves a live web page of the
// cluster until SIGINT or SIGTERM, and prints its address on stdout
// (dashboard.cc, over tools/dashboard/). Connects by itself (after blocking
// the signals it waits for): call it on a Cluster not yet connected.
int Dashboard(Cluster& c, const DashboardOptions& options);

// offline [NS] | online [NS] | server-data [JSON] | shutdown: the manager
// service of the server at `server` (host:port), each call within `deadline`,
// secured as `security` says, sending `token` (if not empty) as
// "authorization: Bearer <token>" (manager.cc).
int Manage(const std::string& command, const std::vector<std::string>& args,
           const std::string& server, absl::Duration deadline,
           const ConnectionSecurity& security, const std::string& token);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_
