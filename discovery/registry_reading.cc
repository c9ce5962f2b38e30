#include "discovery/registry_reading.h"

#include <algorithm>
#include <map>
#include <utility>

#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

// The node's ephemeralOwner; nullopt if it does not exist.
absl::StatusOr<std::optional<int64_t>> Owner(ZooKeeperClient& client,
                                             const std::string& path) {
  absl::StatusOr<std::optional<NodeStat>> stat = client.Exists(path);
  if (!stat.ok()) return stat.status();
  if (!stat->has_value()) return std::optional<int64_t>();
  return std::optional<int64_t>((*stat)->ephemeral_owner);
}

}  // namespace

absl::StatusOr<NamespaceReading> ReadNamespace(ZooKeeperClient& client,
                                               const RegistryLayout& layout,
                                               const std::string& ns) {
  absl::StatusOr<NodeChildren> members =
      client.GetChildren(layout.NamespacePath(ns));
  if (!members.ok()) return members.status();
  std::sort(members->names.begin(), members->names.end());
  NamespaceReading reading;
  std::map<std::string, int64_t> publishers;
  for (const std::string& name : members->names) {
    if (RegistryLayout::IsLeaderNode(name)) continue;
    PublisherReading publisher;
    publisher.name = name;
    int64_t member_owner = 0;
    std::optional<int64_t> server_owner;
    // A name that cannot count costs no read (a namespace may hold thousands).
    if (IsHostPort(name)) {
      absl::StatusOr<std::optional<int64_t>> member =
          Owner(client, layout.MemberPath(ns, name));
      if (!member.ok()) return member.status();
      if (!member->has_value()) continue;  // Left meanwhile.
      member_owner = **member;
      if (member_owner != 0) {
        absl::StatusOr<std::optional<int64_t>> server =
            Owner(client, layout.ServerPath(name));
        if (!server.ok()) return server.status();
        server_owner = *server;
      }
    }
    publisher.verdict = JudgePublisher(name, member_owner, server_owner);
    publisher.reason =
        PublisherVerdictReason(publisher.verdict, member_owner, server_owner);
    if (publisher.verdict == PublisherVerdict::kCounts) {
      publishers[name] = member_owner;
    }
    reading.publishers.push_back(std::move(publisher));
  }
  const std::string election = layout.LeaderPath(ns);
  absl::StatusOr<NodeChildren> children = client.GetChildren(election);
  if (!children.ok() && !absl::IsNotFound(children.status())) {
    return children.status();
  }
  std::vector<CandidateNode> nodes;
  if (children.ok()) {
    std::sort(children->names.begin(), children->names.end());
    for (const std::string& name : children->names) {
      CandidateNode node;
      node.name = name;
      if (CandidateSequence(name).has_value()) {
        absl::StatusOr<NodeData> data = client.Get(JoinPath(election, name));
        if (absl::IsNotFound(data.status())) continue;  // Left meanwhile.
        if (!data.ok()) return data.status();
        node.data = std::move(data->data);
        node.owner = data->stat.ephemeral_owner;
      }
      nodes.push_back(std::move(node));
    }
  }
  const std::optional<size_t> leader = LeadingCandidate(nodes, publishers);
  if (leader.has_value()) reading.leader = nodes[*leader].data;
  for (CandidateNode& node : nodes) {
    CandidateReading candidate;
    candidate.verdict = JudgeCandidate(node, publishers);
    candidate.reason = CandidateVerdictReason(candidate.verdict, node);
    candidate.node = std::move(node);
    reading.candidates.push_back(std::move(candidate));
  }
  return reading;
}

}  // namespace slacker::discovery
