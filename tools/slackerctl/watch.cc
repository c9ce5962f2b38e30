// slackerctl watch: the cluster as a channel's view sees it, change by change,
// and the nodes that view ignores, with the reason.

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/str_join.h"
#include "framework/internal/cluster_view.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {

int Watch(const Cluster& c) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  internal::ClusterViewOptions options;
  options.zookeeper = c.zookeeper();
  options.root = c.root();
  options.cluster = c.name();
  options.digest = c.digest();
  options.report_ignored = true;
  std::map<std::string, internal::ClusterServer> last;
  std::map<std::string, std::string> last_ignored;  // Path -> reason.
  bool first = true;
  auto view = internal::ClusterView::Start(
      options, [&](const absl::StatusOr<internal::ClusterSnapshot>& snapshot) {
        if (!snapshot.ok()) {
          std::cerr << "slackerctl: " << snapshot.status().message()
                    << std::endl;
          return;
        }
        std::map<std::string, internal::ClusterServer> now;
        for (const auto& server : snapshot->servers)
          now[server.address] = server;
        if (first) {
          std::cout << "watching " << c.layout().ClusterPath()
                    << "/: " << now.size() << " server(s)" << std::endl;
          first = false;
        }
        for (const auto& [address, server] : now) {
          auto before = last.find(address);
          if (before == last.end()) {
            std::cout << "joined " << address << " ["
                      << absl::StrJoin(server.namespaces, ",") << "]"
                      << std::endl;
            for (const std::string& ns : server.leads) {
              std::cout << "leader " << ns << " " << address << std::endl;
            }
            continue;
          }
          if (before->second.namespaces != server.namespaces) {
            std::cout << "namespaces " << address << " ["
                      << absl::StrJoin(server.namespaces, ",") << "]"
                      << std::endl;
          }
          for (const std::string& ns : server.leads) {
            if (!std::binary_search(before->second.leads.begin(),
                                    before->second.leads.end(), ns)) {
              std::cout << "leader " << ns << " " << address << std::endl;
            }
          }
          if (before->second.server_data != server.server_data) {
            std::cout << "data " << address << " " << server.server_data
                      << std::endl;
          }
        }
        for (const auto& [address, server] : last) {
          if (now.count(address) == 0)
            std::cout << "left " << address << std::endl;
        }
        last = std::move(now);
        std::map<std::string, std::string> ignored;
        for (const internal::IgnoredNode& node : snapshot->ignored) {
          ignored[node.path] = node.reason;
          auto before = last_ignored.find(node.path);
          if (before == last_ignored.end() || before->second != node.reason) {
            std::cout << "ignored " << node.path << ": " << node.reason
                      << std::endl;
          }
        }
        last_ignored = std::move(ignored);
      });
  if (!view.ok()) return Fail(kUsage, view.status().ToString());
  int signal = 0;
  sigwait(&signals, &signal);
  view->reset();
  return kOk;
}

}  // namespace slacker::slackerctl
