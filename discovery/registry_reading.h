// Reading one namespace of the registry synchronously and judging every node
// by the trust rules of discovery/cluster_rules.h: who publishes it, which
// nodes are ignored and why, and who leads it. For slackerctl and for a
// server asking whether it leads; the channel's view applies the same rules
// to its watched caches instead.
//
// Thread-safe as ZooKeeperClient's synchronous calls are; on the client's
// event thread it returns FailedPrecondition (a synchronous call there would
// wait for itself).

#ifndef SLACKER_DISCOVERY_REGISTRY_READING_H_
#define SLACKER_DISCOVERY_REGISTRY_READING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "discovery/cluster_rules.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

struct PublisherReading {
  std::string name;  // The member node's name.
  PublisherVerdict verdict = PublisherVerdict::kCounts;
  std::string reason;  // Why it is ignored; "" if it counts.
};

struct CandidateReading {
  CandidateNode node;
  CandidateVerdict verdict = CandidateVerdict::kCounts;
  std::string reason;  // Why it is ignored; "" if it counts.
};

struct NamespaceReading {
  // Every child of namespaces/<ns> but _leader, sorted by name.
  std::vector<PublisherReading> publishers;
  // Every child of namespaces/<ns>/_leader, sorted by name.
  std::vector<CandidateReading> candidates;
  std::optional<std::string> leader;  // The leader's host:port, if any.
};

// Reads namespaces/<ns>, its members' and servers/ nodes' owners, and the
// candidates. A node deleted while it is read counts as absent. NotFound if
// the namespace node does not exist; other errors as ZooKeeperClient's.
absl::StatusOr<NamespaceReading> ReadNamespace(ZooKeeperClient& client,
                                               const RegistryLayout& layout,
                                               const std::string& ns);

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_REGISTRY_READING_H_
