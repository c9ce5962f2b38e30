// The registry layout: where a Slacker cluster lives in ZooKeeper. This is the
// wire contract shared with slacker-cluster, slackerctl and every server and
// channel of this tree; every path of it is built here and nowhere else. The
// prose (what each node holds, who writes it, what is ephemeral) is in
// README.md, "The cluster's ZooKeeper layout". In short, with <root> default
// "/slacker/cluster":
//
//   <root>/<cluster>/servers/<host:port>                ephemeral; ServerInfo
//   <root>/<cluster>/namespaces/<ns>                    persistent
//   <root>/<cluster>/namespaces/<ns>/<host:port>        ephemeral; a member
//   <root>/<cluster>/namespaces/<ns>/_leader            persistent; leader's
//                                                       host:port (a hint)
//   <root>/<cluster>/namespaces/<ns>/_leader/<cand.>    ephemeral-sequential
//   <root>/<cluster>/functions/<ns>/<method>            persistent; MethodInfo
//
// Which of these nodes a reader trusts (a publisher needs its own session's
// servers/ node; the leader is the lowest candidate owning such a publisher;
// JSON is bounded before parsing) is decided by discovery/cluster_rules.h.
//
// The generic path rules (joining, a root of "/", validity) are those of
// discovery/zookeeper_paths.h. A RegistryLayout does not check its names:
// call Validate() where they come from a user.
//
// Thread-safe: an immutable value.

#ifndef SLACKER_DISCOVERY_REGISTRY_LAYOUT_H_
#define SLACKER_DISCOVERY_REGISTRY_LAYOUT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker::discovery {

// The root under which clusters live unless configured otherwise, as in
// slacker-cluster.
inline constexpr absl::string_view kDefaultRegistryRoot = "/slacker/cluster";

// The layout of one cluster: a root path and a cluster name.
class RegistryLayout {
 public:
  // `root` is an absolute path ("/" allowed); `cluster` a node name.
  RegistryLayout(absl::string_view root, absl::string_view cluster);

  // OK if the root is a valid ZooKeeper path and the cluster a valid node
  // name; otherwise InvalidArgument saying which and why.
  absl::Status Validate() const;

  const std::string& root() const { return root_; }
  const std::string& cluster() const { return cluster_; }

  // <root>/<cluster>
  const std::string& ClusterPath() const { return cluster_path_; }
  // <root>/<cluster>/servers
  std::string ServersPath() const;
  // <root>/<cluster>/servers/<host_port>
  std::string ServerPath(absl::string_view host_port) const;
  // <root>/<cluster>/namespaces
  std::string NamespacesPath() const;
  // <root>/<cluster>/namespaces/<ns>
  std::string NamespacePath(absl::string_view ns) const;
  // <root>/<cluster>/namespaces/<ns>/<host_port>
  std::string MemberPath(absl::string_view ns,
                         absl::string_view host_port) const;
  // <root>/<cluster>/namespaces/<ns>/_leader: the election's node.
  std::string LeaderPath(absl::string_view ns) const;
  // <root>/<cluster>/functions/<ns>
  std::string FunctionsPath(absl::string_view ns) const;
  // <root>/<cluster>/functions/<ns>/<method>
  std::string FunctionPath(absl::string_view ns,
                           absl::string_view method) const;

  // Whether `child`, a child of NamespacePath(ns), is the election node
  // rather than a member.
  static bool IsLeaderNode(absl::string_view child);

 private:
  std::string root_;
  std::string cluster_;
  std::string cluster_path_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_REGISTRY_LAYOUT_H_
