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
#include <utility>
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

// What a CallGroupingFunction decides for one call: either `servers`
// (indices into the candidates) or `grouping`, the name of a built-in
// grouping ("leader", "random", ..., or "all") to defer to; not both.
struct GroupingChoice {
  std::vector<size_t> servers;
  std::string grouping;

  static GroupingChoice Servers(std::vector<size_t> servers) {
    GroupingChoice choice;
    choice.servers = std::move(servers);
    return choice;
  }
  static GroupingChoice Defer(std::string grouping) {
    GroupingChoice choice;
    choice.grouping = std::move(grouping);
    return choice;
  }
};

// A user's grouping that may look at the call's request and metadata
// (CallInfo::request, CallInfo::metadata; null where not seen) and decide for
// several servers. On a cluster channel's stub call the channel's interceptor
// evaluates it over the READY servers of the namespace, before the call
// starts:
//   - one server: the call goes to it (pinned as by SetGrouping(&context,
//     "host:port")), through the LB policy as any one-server call;
//   - several servers (duplicates dropped): the call goes to exactly those,
//     as with grouping `all` (framework/call_results.h);
//   - Defer("all"): every READY server; Defer(name of a built-in grouping):
//     the call goes on with that grouping, as if SetGrouping had named it;
//   - an INVALID_ARGUMENT error fails the call with it; any other error, or
//     no server, lets the call go on to the LB policy, whose picker calls
//     the function again (with `request` null) and queues or fails the call
//     as GroupingPicker::Pick describes.
// Where the LB policy's picker calls it (request null), the first server is
// used, and a deferred grouping picks as it would for the namespace.
// Called concurrently from any thread: it must be thread-safe and fast.
using CallGroupingFunction = std::function<absl::StatusOr<GroupingChoice>(
    const CallInfo& call, const std::vector<Candidate>& candidates)>;

// Makes `function` available under `name` to ParseGroupingSpec, for the rest
// of the process (there is no unregistering).
// Errors: InvalidArgument for an empty name, a name holding ':', '/' or
// whitespace (it would read as an address), or an empty function;
// AlreadyExists if the name is taken, by a built-in grouping or an earlier
// registration, or is "all" (reserved for fan-out calls).
absl::Status RegisterGroupingFunction(std::string name,
                                      GroupingFunction function);
// The same for a function that may defer or see the request; the same
// errors. (A GroupingFunction is the CallGroupingFunction that always
// returns GroupingChoice::Servers.)
absl::Status RegisterCallGroupingFunction(std::string name,
                                          CallGroupingFunction function);

// The function registered under `name`, for callers that want all the
// servers it returns (the fan-out API). NotFound if there is none (built-in
// groupings are not functions). Thread-safe.
// A function that defers yields the servers of the grouping it names
// ("all": every candidate; another: the one it picks).
absl::StatusOr<GroupingFunction> FindGroupingFunction(absl::string_view name);
// The function registered under `name` (by either Register function), for
// the channel's interceptor. NotFound as FindGroupingFunction. Thread-safe.
absl::StatusOr<CallGroupingFunction> FindCallGroupingFunction(
    absl::string_view name);

// Turns `choice` of function `name` for a call among `candidates` into the
// servers it stands for: its servers, checked (INTERNAL naming the function
// for an index out of range); for Defer("all") every candidate; for another
// deferred grouping the one that grouping's `picker` picks (built from the
// grouping's Prepare when `picker` is null). INVALID_ARGUMENT for a deferred
// name that is not a built-in grouping. Thread-safe.
absl::StatusOr<std::vector<size_t>> ResolveGroupingChoice(
    absl::string_view name, const GroupingChoice& choice, const CallInfo& call,
    const std::vector<Candidate>& candidates, GroupingPicker* picker = nullptr);
// Checks a deferred grouping name: a built-in grouping or "all"
// (INVALID_ARGUMENT naming function `name` otherwise).
absl::Status CheckDeferredGrouping(absl::string_view name,
                                   absl::string_view grouping);

// The names of every grouping, built-in (including "server") and registered,
// sorted.
std::vector<std::string> GroupingNames();

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_GROUPING_GROUPING_REGISTRY_H_
