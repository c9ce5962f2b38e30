// slackerctl's commands, one file each; main.cc parses the flags and picks
// one. Each returns the process's exit code (tools/slackerctl/output.h) and
// prints what README.md, "slackerctl", says it prints.

#ifndef SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_
#define SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tools/slackerctl/cluster.h"

namespace slacker::slackerctl {

// ls [--json]: every namespace with its members and leader, then every
// server's data (ls.cc). REQUIRES: c.Connect() succeeded.
int Ls(Cluster& c, bool json);

// describe NAMESPACE: the namespace's methods and their types (describe.cc).
// REQUIRES: c.Connect() succeeded.
int Describe(Cluster& c, const std::string& ns);

// The flags of `call`.
struct CallOptions {
  std::string grouping = "random";  // A grouping, "all" (fan-out), HOST:PORT.
  std::string hash_key;             // The key of grouping "hash".
  std::string results = "single";   // With "all": single|vector|map.
  std::string errors = "all";       // With "all": all|any.
  absl::Duration deadline = absl::Seconds(10);
  int count = 1;  // Calls to make; above 1 prints calls per server.
};

// call NAMESPACE/METHOD [JSON]: one call (or --count calls, or a fan-out)
// through a cluster channel, the response printed as JSON (call.cc).
// REQUIRES: c.Connect() succeeded.
int Call(Cluster& c, const std::string& target, const std::string& json,
         const CallOptions& options);

// watch: prints the cluster's changes until SIGINT or SIGTERM (watch.cc).
// Needs no Connect(): it reads the cluster through its own view.
int Watch(const Cluster& c);

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
// service of the server at `server` (host:port), each call within `deadline`
// (manager.cc).
int Manage(const std::string& command, const std::vector<std::string>& args,
           const std::string& server, absl::Duration deadline);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_
