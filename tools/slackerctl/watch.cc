// slackerctl watch [--json]: the cluster as a channel's view sees it, change
// by change, and the nodes that view ignores, with the reason.

#include <signal.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "framework/internal/cluster_view.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

// Prints events as text lines or as one JSON object per line, each with the
// time it was seen.
class Printer {
 public:
  explicit Printer(bool json) : json_(json) {}

  void Watching(const std::string& path, size_t servers) {
    Print(absl::StrCat("watching ", path, ": ", servers, " server(s)"),
          absl::StrCat("\"event\":\"watching\",\"path\":",
                       internal::JsonString(path), ",\"servers\":", servers));
  }
  void Joined(const internal::ClusterServer& server) {
    Print(absl::StrCat("joined ", server.address, " [",
                       absl::StrJoin(server.namespaces, ","), "]"),
          absl::StrCat("\"event\":\"joined\",", Server(server.address),
                       ",\"namespaces\":", List(server.namespaces)));
  }
  void Namespaces(const internal::ClusterServer& server) {
    Print(absl::StrCat("namespaces ", server.address, " [",
                       absl::StrJoin(server.namespaces, ","), "]"),
          absl::StrCat("\"event\":\"namespaces\",", Server(server.address),
                       ",\"namespaces\":", List(server.namespaces)));
  }
  void Leader(const std::string& ns, const std::string& address) {
    Print(absl::StrCat("leader ", ns, " ", address),
          absl::StrCat("\"event\":\"leader\",\"namespace\":",
                       internal::JsonString(ns), ",", Server(address)));
  }
  void Data(const std::string& address, const std::string& data) {
    Print(absl::StrCat("data ", address, " ", data.empty() ? "-" : data),
          absl::StrCat("\"event\":\"data\",", Server(address),
                       ",\"data\":", data.empty() ? "null" : data));
  }
  void Left(const std::string& address) {
    Print(absl::StrCat("left ", address),
          absl::StrCat("\"event\":\"left\",", Server(address)));
  }
  void Ignored(const std::string& path, const std::string& reason) {
    Print(absl::StrCat("ignored ", path, ": ", reason),
          absl::StrCat(
              "\"event\":\"ignored\",\"path\":", internal::JsonString(path),
              ",\"reason\":", internal::JsonString(reason)));
  }

 private:
  static std::string Server(const std::string& address) {
    return absl::StrCat("\"server\":", internal::JsonString(address));
  }
  static std::string List(const std::vector<std::string>& names) {
    std::vector<std::string> quoted;
    for (const std::string& name : names) {
      quoted.push_back(internal::JsonString(name));
    }
    return absl::StrCat("[", absl::StrJoin(quoted, ","), "]");
  }
  void Print(const std::string& text, const std::string& fields) {
    if (!json_) {
      std::cout << text << std::endl;
      return;
    }
    std::cout << "{\"time\":\""
              << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                  absl::UTCTimeZone())
              << "\"," << fields << "}" << std::endl;
  }

  const bool json_;
};

}  // namespace

int Watch(const Cluster& c, bool json) {
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
  options.ensemble = c.ensemble();
  options.report_ignored = true;
  Printer print(json);
  std::map<std::string, internal::ClusterServer> last;
  std::map<std::string, std::string> last_ignored;  // Path -> reason.
  bool first = true;
  auto view = internal::ClusterView::Start(
      options, [&](const absl::StatusOr<internal::ClusterSnapshot>& snapshot) {
        if (!snapshot.ok()) {
          Fail(kUnreachable, snapshot.status().message());
          return;
        }
        std::map<std::string, internal::ClusterServer> now;
        for (const auto& server : snapshot->servers)
          now[server.address] = server;
        if (first) {
          print.Watching(c.layout().ClusterPath() + "/", now.size());
          first = false;
        }
        for (const auto& [address, server] : now) {
          auto before = last.find(address);
          if (before == last.end()) {
            print.Joined(server);
            for (const std::string& ns : server.leads)
              print.Leader(ns, address);
            continue;
          }
          if (before->second.namespaces != server.namespaces) {
            print.Namespaces(server);
          }
          for (const std::string& ns : server.leads) {
            if (!std::binary_search(before->second.leads.begin(),
                                    before->second.leads.end(), ns)) {
              print.Leader(ns, address);
            }
          }
          // A kill -9 is "left" alone: a publisher without its servers/ node
          // no longer counts (discovery/cluster_rules.h), so the view drops
          // the server rather than showing it without data. Data that turns
          // unreadable shows as "-" (null in JSON), never as an empty field.
          if (before->second.server_data != server.server_data) {
            print.Data(address, server.server_data);
          }
        }
        for (const auto& [address, server] : last) {
          if (now.count(address) == 0) print.Left(address);
        }
        last = std::move(now);
        std::map<std::string, std::string> ignored;
        for (const internal::IgnoredNode& node : snapshot->ignored) {
          ignored[node.path] = node.reason;
          auto before = last_ignored.find(node.path);
          if (before == last_ignored.end() || before->second != node.reason) {
            print.Ignored(node.path, node.reason);
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
