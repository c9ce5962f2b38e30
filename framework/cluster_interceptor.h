// The cluster channel's client interceptor (private to
// //framework:cluster_channel): Slacker's multi-server call model on ordinary
// generated stubs.
//
// Every channel CreateClusterChannel makes carries it (and, after
// slacker::InstallClusterInterceptor, every grpc::CreateChannel("zk://...")
// channel). For each call it reads the grouping in force (the call's, from
// its metadata, at PRE_SEND_INITIAL_METADATA; else the method's; else the
// channel's):
//  - a built-in grouping that picks one server: the call passes through
//    untouched (Proceed on every batch) and the channel's LB policy routes
//    it;
//  - a grouping function (CallGroupingFunction): evaluated here over the
//    channel registry's READY servers of the namespace, with the parsed
//    request and the metadata. One server: the call is pinned to it (its
//    `host:port` written as the call's grouping) and passes through; a
//    deferred built-in grouping: written as the call's grouping, passes
//    through; several servers: as `all`, to exactly those;
//  - `all`: the interceptor hijacks the call, starts one sub-call per READY
//    server of the namespace (the channel registry's snapshot) on the
//    intercepted channel (the interceptors after this one, so no regress),
//    each pinned to its server with the `host:port` per-call grouping and
//    carrying the caller's metadata, deadline and call credentials, and
//    answers the stub call from the combined outcome (call_results.h): a
//    unary call once every sub-call finished, on the thread that completed
//    the last one; a server-streaming call message by message as they
//    arrive. Nothing blocks. Cancelling the stub call (TryCancel,
//    PRE_SEND_CANCEL) cancels every sub-call; the call then fails CANCELLED.
//  - a one-server call with an unavailable value for its method (or
//    channel) when no server publishes the namespace: hijacked and answered
//    with the value;
//  - a per-call grouping that is not known, `hash` without a key, or a
//    multi-server grouping on a client- or bidi-streaming method: the call
//    is hijacked and fails at once with INVALID_ARGUMENT saying what to do.
// Message types: see MarkGenericCall in call_results.h.

#ifndef SLACKER_FRAMEWORK_CLUSTER_INTERCEPTOR_H_
#define SLACKER_FRAMEWORK_CLUSTER_INTERCEPTOR_H_

#include <grpcpp/support/client_interceptor.h>

#include <map>
#include <memory>
#include <string>

#include "framework/call_results.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/internal/channel_registry.h"

namespace slacker::internal {

class ClientMetrics;  // framework/internal/client_metrics.h

// What a channel's interceptor needs to know, fixed when the channel is made.
struct InterceptorSettings {
  ChannelId channel_id = 0;  // Its entry in the channel registry.
  std::string cluster;
  std::string grouping;                                 // The channel's.
  std::map<std::string, std::string> method_groupings;  // Method or service.
  CallPolicies policies;                                // The channel's.
  std::map<std::string, CallPolicies> method_policies;  // Method or service.
  // The grouping functions among `grouping` and `method_groupings`, by name
  // (FindGroupingFunctions fills it).
  std::map<std::string, CallGroupingFunction> functions;
  // The channel's metrics (fan-out calls and outcomes); null: off.
  std::shared_ptr<ClientMetrics> metrics;
};

// Fills settings->functions from the registry of groupings.
void FindGroupingFunctions(InterceptorSettings* settings);

// Makes the interceptor of every call of one channel. Thread-safe.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeClusterInterceptorFactory(
    std::shared_ptr<const InterceptorSettings> settings);

// The interceptor of one call, as the factory above makes it.
grpc::experimental::Interceptor* NewClusterInterceptor(
    grpc::experimental::ClientRpcInfo* info,
    std::shared_ptr<const InterceptorSettings> settings);

// Whether `grouping` (a channel's or a method's) picks several servers, so
// that the LB policy never sees it: "all".
bool IsMultiServerGrouping(const std::string& grouping);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_CLUSTER_INTERCEPTOR_H_
