// slackerctl ls [--json]: what a channel uses, judged by the cluster's rules
// (discovery/cluster_rules.h), and what it ignores, with the reason.

#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_string.h"
#include "discovery/registry_reading.h"
#include "framework/internal/cluster_view.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

// Ignored nodes listed one by one per namespace in text output; the rest are
// counted (a namespace may hold thousands of foreign children).
constexpr size_t kIgnoredShown = 20;

struct Ignored {
  std::string name;  // Relative to the namespace: "<child>" or "_leader/<c>".
  std::string reason;
};

struct Ns {
  std::string name;
  std::vector<std::string> servers;  // The publishers that count, sorted.
  std::string leader;                // "" if none.
  std::vector<Ignored> ignored;
};

Ns ReadNs(Cluster& c, const std::string& name) {
  Ns ns{name, {}, "", {}};
  absl::StatusOr<discovery::NamespaceReading> reading =
      discovery::ReadNamespace(c.zk(), c.layout(), name);
  if (!reading.ok()) return ns;
  for (const discovery::PublisherReading& publisher : reading->publishers) {
    if (publisher.verdict == discovery::PublisherVerdict::kCounts) {
      ns.servers.push_back(publisher.name);
    } else {
      ns.ignored.push_back({publisher.name, publisher.reason});
    }
  }
  for (const discovery::CandidateReading& candidate : reading->candidates) {
    if (candidate.verdict != discovery::CandidateVerdict::kCounts) {
      ns.ignored.push_back(
          {absl::StrCat("_leader/", candidate.node.name), candidate.reason});
    }
  }
  ns.leader = reading->leader.value_or("");
  return ns;
}

}  // namespace

std::optional<int> CheckClusterExists(Cluster& c) {
  absl::StatusOr<std::optional<discovery::NodeStat>> cluster =
      c.zk().Exists(c.layout().ClusterPath());
  if (!cluster.ok()) return Fail(kUnreachable, cluster.status().ToString());
  if (cluster->has_value()) return std::nullopt;
  absl::StatusOr<discovery::NodeChildren> clusters =
      c.zk().GetChildren(c.root());
  if (!clusters.ok() && !absl::IsNotFound(clusters.status())) {
    return Fail(kUnreachable, clusters.status().ToString());
  }
  std::vector<std::string> names =
      clusters.ok() ? clusters->names : std::vector<std::string>{};
  std::sort(names.begin(), names.end());
  return Fail(
      kUnreachable,
      absl::StrCat("no cluster ", c.name(), " under ", c.root(),
                   "; clusters there: ",
                   names.empty() ? "none" : absl::StrJoin(names, ", ")));
}

int Ls(Cluster& c, bool json) {
  absl::StatusOr<discovery::NodeChildren> names =
      c.zk().GetChildren(c.layout().NamespacesPath());
  if (!names.ok() && !absl::IsNotFound(names.status())) {
    return Fail(kUnreachable, names.status().ToString());
  }
  std::vector<std::string> namespaces =
      names.ok() ? names->names : std::vector<std::string>{};
  std::sort(namespaces.begin(), namespaces.end());
  std::vector<Ns> all;
  for (const std::string& ns : namespaces) all.push_back(ReadNs(c, ns));
  // Server data as a channel reads it: unparsed (and shown as none) when
  // malformed or past the bounds of discovery/cluster_rules.h.
  std::map<std::string, std::string> server_data;
  absl::StatusOr<discovery::NodeChildren> servers =
      c.zk().GetChildren(c.layout().ServersPath());
  if (servers.ok()) {
    for (const std::string& name : servers->names) {
      absl::StatusOr<discovery::NodeData> data =
          c.zk().Get(c.layout().ServerPath(name));
      internal::ClusterServer parsed;
      if (data.ok() && internal::ParseServerInfo(data->data, &parsed).ok()) {
        server_data[name] = parsed.server_data;
      } else {
        server_data[name] = "";
      }
    }
  }
  if (json) {
    std::string out =
        "{\"cluster\":" + internal::JsonString(c.name()) + ",\"namespaces\":[";
    for (size_t i = 0; i < all.size(); ++i) {
      std::vector<std::string> quoted;
      for (const std::string& s : all[i].servers)
        quoted.push_back(internal::JsonString(s));
      std::vector<std::string> ignored;
      for (const Ignored& node : all[i].ignored) {
        ignored.push_back(absl::StrCat(
            "{\"name\":", internal::JsonString(node.name),
            ",\"reason\":", internal::JsonString(node.reason), "}"));
      }
      absl::StrAppend(
          &out, i == 0 ? "" : ",",
          "{\"name\":", internal::JsonString(all[i].name), ",\"servers\":[",
          absl::StrJoin(quoted, ","), "],\"leader\":",
          all[i].leader.empty() ? "null" : internal::JsonString(all[i].leader),
          ",\"ignored\":[", absl::StrJoin(ignored, ","), "]}");
    }
    absl::StrAppend(&out, "],\"servers\":{");
    bool first = true;
    for (const auto& [name, data] : server_data) {
      absl::StrAppend(&out, first ? "" : ",", internal::JsonString(name), ":",
                      data.empty() ? "null" : data);
      first = false;
    }
    std::cout << out << "}}" << std::endl;
    return kOk;
  }
  std::cout << "cluster " << c.name() << " (" << c.layout().ClusterPath()
            << "/)\n";
  for (const Ns& ns : all) {
    std::cout << "namespace " << ns.name << "  leader "
              << (ns.leader.empty() ? "-" : ns.leader) << "\n";
    for (const std::string& server : ns.servers) {
      std::cout << "  " << server << "\n";
    }
    for (size_t i = 0; i < ns.ignored.size() && i < kIgnoredShown; ++i) {
      std::cout << "  ignored " << ns.ignored[i].name << ": "
                << ns.ignored[i].reason << "\n";
    }
    if (ns.ignored.size() > kIgnoredShown) {
      std::cout << "  ignored " << ns.ignored.size() - kIgnoredShown
                << " more (ls --json lists them)\n";
    }
  }
  for (const auto& [name, data] : server_data) {
    std::cout << "server " << name << "  data " << (data.empty() ? "-" : data)
              << "\n";
  }
  std::cout << std::flush;
  return kOk;
}

}  // namespace slacker::slackerctl
