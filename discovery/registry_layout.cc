#include "discovery/registry_layout.h"

#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

constexpr absl::string_view kServers = "servers";
constexpr absl::string_view kNamespaces = "namespaces";
constexpr absl::string_view kFunctions = "functions";
constexpr absl::string_view kLeader = "_leader";

}  // namespace

RegistryLayout::RegistryLayout(absl::string_view root,
                               absl::string_view cluster)
    : root_(root), cluster_(cluster), cluster_path_(JoinPath(root, cluster)) {}

absl::Status RegistryLayout::Validate() const {
  absl::Status status = ValidateNodeName(cluster_, "cluster name");
  if (status.ok()) status = ValidatePath(root_);
  return status;
}

std::string RegistryLayout::ServersPath() const {
  return JoinPath(cluster_path_, kServers);
}

std::string RegistryLayout::ServerPath(absl::string_view host_port) const {
  return JoinPath(ServersPath(), host_port);
}

std::string RegistryLayout::NamespacesPath() const {
  return JoinPath(cluster_path_, kNamespaces);
}

std::string RegistryLayout::NamespacePath(absl::string_view ns) const {
  return JoinPath(NamespacesPath(), ns);
}

std::string RegistryLayout::MemberPath(absl::string_view ns,
                                       absl::string_view host_port) const {
  return JoinPath(NamespacePath(ns), host_port);
}

std::string RegistryLayout::LeaderPath(absl::string_view ns) const {
  return JoinPath(NamespacePath(ns), kLeader);
}

std::string RegistryLayout::FunctionsPath(absl::string_view ns) const {
  return JoinPath(JoinPath(cluster_path_, kFunctions), ns);
}

std::string RegistryLayout::FunctionPath(absl::string_view ns,
                                         absl::string_view method) const {
  return JoinPath(FunctionsPath(ns), method);
}

bool RegistryLayout::IsLeaderNode(absl::string_view child) {
  return child == kLeader;
}

}  // namespace slacker::discovery
