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
  // If >= 0: the channel's metrics served at http://0.0.0.0:PORT/metrics
  // while the calls run (0: a free port, printed on stderr).
  int metrics_port = -1;
};

// call NAMESPACE/METHOD [JSON]: one call (or --count calls, or a fan-out)
// through a cluster channel, the response printed as JSON (call.cc).
// REQUIRES: c.Connect() succeeded.
int Call(Cluster& c, const std::string& target, const std::string& json,
         const CallOptions& options);

// watch: prints the cluster's changes until SIGINT or SIGTERM (watch.cc).
// Needs no Connect(): it reads the cluster through its own view.
int Watch(const Cluster& c);

// offline [NS] | online [NS] | server-data [JSON] | shutdown: the manager
// service of the server at `server` (host:port), each call within `deadline`
// (manager.cc).
int Manage(const std::string& command, const std::vector<std::string>& args,
           const std::string& server, absl::Duration deadline);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_COMMANDS_H_
