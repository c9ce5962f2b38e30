// Grouping: which server of a namespace a call goes to.
//
// A grouping is a strategy found by name in one registry (grouping_registry.h).
// The cluster channel's load-balancing policy asks it for a picker each time
// the set of usable servers of a namespace changes (never per call), then asks
// that picker for one server per call. Strategies see no gRPC or ZooKeeper
// type, so each is tested without a network.
//
// Adding a strategy: one new file `<name>_grouping.cc` with a class derived
// from Grouping, and one line in grouping_registry.cc.

#ifndef SLACKER_FRAMEWORK_GROUPING_GROUPING_H_
#define SLACKER_FRAMEWORK_GROUPING_GROUPING_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace google::protobuf {
class Message;
}  // namespace google::protobuf

namespace slacker {

// Per-server load as seen by one channel: the number of calls started on it
// and not yet finished. Shared between the channel and the pickers it builds.
struct ServerLoad {
  std::atomic<int64_t> in_flight{0};
};

// One server a call may go to: a READY server that publishes the called
// namespace. Immutable once built.
struct Candidate {
  std::string address;      // "host:port", unique within one candidate list.
  std::string server_data;  // The server's data as JSON ("" when it has none).
  double weight = 1;        // From server data {"weight": N}; > 0.
  bool leader = false;      // Whether it leads the namespace's election.
  // Never null when built by the channel; tests may leave it null, which
  // reads as 0 calls in flight.
  std::shared_ptr<const ServerLoad> load;

  int64_t in_flight() const {
    return load == nullptr ? 0
                           : load->in_flight.load(std::memory_order_relaxed);
  }
};

// What is known of one call when it is picked for.
struct CallInfo {
  absl::string_view cluster;     // The cluster's name, for messages.
  absl::string_view name_space;  // "package.Service".
  absl::string_view method;      // "Method".
  absl::string_view hash_key;    // The call's hash key; empty when none.
  absl::string_view server;      // The grouping's argument, e.g. the
                                 // "host:port" of an explicit server.
  // The call's request, a message of the method's input type, when the
  // cluster channel's interceptor evaluates the grouping (a stub call of a
  // method in the generated descriptor pool, see MarkGenericCall in
  // framework/call_results.h). Null where the request is not seen: a generic
  // grpc::ByteBuffer call, a client- or bidi-streaming call, a call made
  // through the LB policy's picker alone (a grpc::CreateChannel("zk://...")
  // channel without slacker::InstallClusterInterceptor, or when the channel
  // had no READY server of the namespace as the call started). Valid only
  // during the call of the grouping.
  const google::protobuf::Message* request = nullptr;
  // The call's metadata as the caller set it (read-only), where `request` is
  // set; null otherwise. Valid only during the call of the grouping.
  const std::multimap<std::string, std::string>* metadata = nullptr;
};

// Picks among one fixed list of candidates. Thread-safe: Pick is called
// concurrently by every call of the channel.
class GroupingPicker {
 public:
  virtual ~GroupingPicker() = default;
  // Returns the index, in the list given to Grouping::Prepare, of the server
  // the call goes to. Errors:
  //   UNAVAILABLE: no candidate fits (e.g. the leader is not among them); the
  //     channel queues the call if other publishers are still connecting.
  //   INVALID_ARGUMENT: the call cannot be picked for as it is (e.g. `hash`
  //     without a key); the call fails with this status.
  // REQUIRES: the candidate list was not empty.
  virtual absl::StatusOr<size_t> Pick(const CallInfo& call) = 0;
};

// A strategy. Stateless and thread-safe; one instance per name, owned by the
// registry for the life of the process.
class Grouping {
 public:
  virtual ~Grouping() = default;
  // The name users give it: "random", "round_robin", ...
  virtual absl::string_view name() const = 0;
  // Builds a picker over `candidates` (not empty, in a stable order: sorted by
  // address). `previous` is the picker this grouping built for the same
  // namespace of the same channel before this change, or null; strategies
  // with memory (sticky, round_robin) carry their state over from it. It is
  // only read during the call and may be destroyed right after.
  virtual std::unique_ptr<GroupingPicker> Prepare(
      std::vector<Candidate> candidates,
      const GroupingPicker* previous) const = 0;
};

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_GROUPING_GROUPING_H_
