// slackerctl ls [--json]

#include <algorithm>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "discovery/leader_election.h"
#include "framework/internal/cluster_view.h"
#include "common/json_string.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {

int Ls(Cluster& c, bool json) {
  absl::StatusOr<discovery::NodeChildren> names =
      c.zk().GetChildren(c.layout().NamespacesPath());
  if (!names.ok() && !absl::IsNotFound(names.status())) {
    return Fail(kUnreachable, names.status().ToString());
  }
  std::vector<std::string> namespaces =
      names.ok() ? names->names : std::vector<std::string>{};
  std::sort(namespaces.begin(), namespaces.end());
  struct Ns {
    std::string name;
    std::vector<std::string> servers;
    std::string leader;
  };
  std::vector<Ns> all;
  for (const std::string& ns : namespaces) {
    Ns entry{ns, {}, ""};
    absl::StatusOr<std::vector<std::string>> members = c.Members(ns);
    if (members.ok()) entry.servers = *std::move(members);
    std::sort(entry.servers.begin(), entry.servers.end());
    absl::StatusOr<std::string> leader =
        discovery::LeaderElection::CurrentLeader(c.zk(),
                                                 c.layout().LeaderPath(ns));
    if (leader.ok()) entry.leader = *leader;
    all.push_back(std::move(entry));
  }
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
      absl::StrAppend(
          &out, i == 0 ? "" : ",",
          "{\"name\":", internal::JsonString(all[i].name), ",\"servers\":[",
          absl::StrJoin(quoted, ","), "],\"leader\":",
          all[i].leader.empty() ? "null" : internal::JsonString(all[i].leader),
          "}");
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
  }
  for (const auto& [name, data] : server_data) {
    std::cout << "server " << name << "  data " << (data.empty() ? "-" : data)
              << "\n";
  }
  std::cout << std::flush;
  return kOk;
}

}  // namespace slacker::slackerctl
