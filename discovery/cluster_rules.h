// The cluster's trust rules: which registry nodes count. Every reader of the
// registry (the channel's view, the servers, slackerctl) decides with these
// functions and no other, so that all of them agree on who publishes a
// namespace and who leads it, whatever else a ZooKeeper session with write
// access puts there. The rules, described in README.md ("The cluster's
// ZooKeeper layout"):
//
//   - A publisher: a child <host:port> of namespaces/<ns> counts only if its
//     name is host:port with a port in 1..65535, it is ephemeral, and
//     servers/<host:port> exists and is owned by the same session
//     (ephemeralOwner) as the member node.
//   - The leader of <ns>: the lowest-sequence candidate among the children of
//     namespaces/<ns>/_leader, a candidate being a child named as
//     LeaderElection (and Curator's LeaderLatch) names them,
//     "_c_<uuid>-latch-<10-digit sequence>", whose data is the address of a
//     publisher that counts and whose session owns that publisher's nodes.
//     Every other child is ignored.
//   - Registry JSON (ServerInfo in servers/<hp>, MethodInfo in functions/...)
//     is handed to a JSON parser only within the size and depth bounds below;
//     servers refuse to write what readers would refuse.
//
// Pure functions over names, session ids and text: no ZooKeeper here (see
// discovery/registry_reading.h for the synchronous reader that applies them).
// Thread-safe.

#ifndef SLACKER_DISCOVERY_CLUSTER_RULES_H_
#define SLACKER_DISCOVERY_CLUSTER_RULES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/json_bounds.h"

namespace slacker::discovery {

// "host:port" or "[v6]:port" with a port in 1..65535.
bool IsHostPort(absl::string_view address);

// --- Publishers

enum class PublisherVerdict {
  kCounts,
  kNotHostPort,   // The member's name is not host:port.
  kNotEphemeral,  // The member node is persistent: no server session owns it.
  kNoServerNode,  // servers/<host:port> does not exist.
  kOtherSession,  // servers/<host:port> is owned by another session.
};

// Whether namespaces/<ns>/<name> counts as a publisher. `member_owner` is the
// member node's ephemeralOwner; `server_owner` that of servers/<name>, nullopt
// if that node does not exist.
PublisherVerdict JudgePublisher(absl::string_view name, int64_t member_owner,
                                std::optional<int64_t> server_owner);

// Why a publisher is ignored, for logs and slackerctl ("" for kCounts).
std::string PublisherVerdictReason(PublisherVerdict verdict,
                                   int64_t member_owner,
                                   std::optional<int64_t> server_owner);

// --- The leader

// The sequence of a candidate's name, "_c_<uuid>-latch-<10 digits>" (uuid as
// 8-4-4-4-12 hex digits); nullopt for any other name.
std::optional<int64_t> CandidateSequence(absl::string_view name);

enum class CandidateVerdict {
  kCounts,
  kNotCandidate,  // Not named as a candidate.
  kNoPublisher,   // Its data is not a counted publisher of its session.
};

// One child of namespaces/<ns>/_leader as read.
struct CandidateNode {
  std::string name;
  std::string data;   // The participant's id: its host:port.
  int64_t owner = 0;  // ephemeralOwner.
};

// `publishers`: each counted publisher of the namespace (host:port) and the
// session that owns it.
CandidateVerdict JudgeCandidate(
    const CandidateNode& candidate,
    const std::map<std::string, int64_t>& publishers);

// Why a candidate is ignored ("" for kCounts).
std::string CandidateVerdictReason(CandidateVerdict verdict,
                                   const CandidateNode& candidate);

// The index in `candidates` of the leader (the lowest-sequence candidate that
// counts); nullopt if none counts.
std::optional<size_t> LeadingCandidate(
    const std::vector<CandidateNode>& candidates,
    const std::map<std::string, int64_t>& publishers);

// --- Registry JSON

// Sized so that no node costs a channel more than about 10 ms of CPU to
// parse (measured: protobuf's JSON parser spends ~1 us per value and member,
// whatever the nesting, once the nesting is bounded).
//
// Objects and arrays nested at most this deep in any registry JSON.
inline constexpr int kMaxRegistryJsonDepth = 32;
// A servers/<hp> node's ServerInfo JSON.
inline constexpr internal::JsonBounds kServerInfoBounds{
    /*max_bytes=*/128 * 1024, /*max_depth=*/kMaxRegistryJsonDepth,
    /*max_items=*/2048};
// A server's own data, which ServerInfo wraps one level deeper, beside its
// address, namespaces and version: what a server may publish so that every
// reader accepts its ServerInfo (Registration also checks the ServerInfo).
inline constexpr internal::JsonBounds kServerDataBounds{
    /*max_bytes=*/64 * 1024, /*max_depth=*/kMaxRegistryJsonDepth - 1,
    /*max_items=*/1536};
// A functions/<ns>/<method> node's MethodInfo JSON (descriptors in base64:
// few items, many bytes).
inline constexpr internal::JsonBounds kMethodInfoBounds{
    /*max_bytes=*/1024 * 1024, /*max_depth=*/kMaxRegistryJsonDepth,
    /*max_items=*/4096};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CLUSTER_RULES_H_
