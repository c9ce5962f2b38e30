// The registry of groupings: the built-in strategies and the functions users
// register, found by name.
//
// Built-in groupings (see each <name>_grouping.cc):
//   random           uniformly at random, per call.
//   round_robin      each server in turn.
//   first            always the first server by address.
//   sticky           one server, kept until it is no longer ready.
//   leader           the leader of the namespace's election.
//   least_in_flight  the server with the fewest calls in flight.
//   weighted         at random, in proportion to each server's weight.
//   hash             consistent hashing on the call's hash key.
//   server           one explicit server, chosen by giving its "host:port".
//
// Thread-safe: every function may be called from any thread. A Grouping the
// registry hands out lives for the rest of the process.

#ifndef SLACKER_FRAMEWORK_GROUPING_GROUPING_REGISTRY_H_
#define SLACKER_FRAMEWORK_GROUPING_GROUPING_REGISTRY_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "framework/grouping/grouping.h"

namespace slacker {

// A grouping as a channel uses it.
struct GroupingSpec {
  // Owned by the registry; never null in a spec ParseGroupingSpec returns.
  const Grouping* grouping = nullptr;
  // What the channel passes as CallInfo::server on every call: the
  // "host:port" for the `server` grouping, "" for every other.
  std::string argument;
};

// Reads a channel's grouping: a grouping's name ("round_robin", or a name
// given to RegisterGroupingFunction), or an explicit server as "host:port" or
// "[v6address]:port", which yields the `server` grouping with that address as
// argument, verbatim. The `server` grouping matches it against the servers'
// addresses exactly, so give it in the form servers publish (IPv6 in
// brackets, as inet_ntop writes it).
// Errors, all InvalidArgument: an empty spec; an unknown name (the message
// lists the known ones); a malformed address; "all", which sends one call to
// every server and so belongs to the fan-out API, not to a channel.
absl::StatusOr<GroupingSpec> ParseGroupingSpec(absl::string_view spec);

// A user's grouping: returns indices into `candidates` (sorted by address),
// best first. Where one server is needed the first is used; every index must
// be less than candidates.size(). An error it returns fails or queues the call
// as GroupingPicker::Pick describes; an empty list means that no candidate
// fits (UNAVAILABLE).
// Called concurrently by every call of every channel using it: it must be
// thread-safe, and fast, since it runs once per call.
using GroupingFunction = std::function<absl::StatusOr<std::vector<size_t>>(
    const CallInfo& call, const std::vector<Candidate>& candidates)>;

// Makes `function` available under `name` to ParseGroupingSpec, for the rest
// of the process (there is no unregistering).
// Errors: InvalidArgument for an empty name, a name holding ':', '/' or
// whitespace (it would read as an address), or an empty function;
// AlreadyExists if the name is taken, by a built-in grouping or an earlier
// registration, or is "all" (reserved for fan-out calls).
absl::Status RegisterGroupingFunction(std::string name,
                                      GroupingFunction function);

// The function registered under `name`, for callers that want all the
// servers it returns (the fan-out API). NotFound if there is none (built-in
// groupings are not functions). Thread-safe.
absl::StatusOr<GroupingFunction> FindGroupingFunction(absl::string_view name);

// The names of every grouping, built-in (including "server") and registered,
// sorted.
std::vector<std::string> GroupingNames();

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_GROUPING_GROUPING_REGISTRY_H_
