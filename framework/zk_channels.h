// Channels made by grpc::CreateChannel("zk://...") (private to
// //framework:cluster_channel): how the cluster call model reaches them.
//
// Their `zk` resolver registers them in the channel registry by id only
// (channel_registry.h), so the process never sees their grpc::Channel
// pointer. A reader that has only the grpc::Channel finds the id in the
// channel's service config, which the resolver wrote:
// {"loadBalancingConfig": [{"slacker_cluster": {"channelId": N, ...}}]},
// parsed as JSON (ReadChannelId). Before the channel first resolved its
// cluster it has no service config, and is not found.
//
// Their interceptor comes from the process's one global client interceptor
// factory of gRPC, which slacker::InstallClusterInterceptor registers
// (GlobalClusterInterceptorFactory): for a call on such a channel it makes
// the cluster interceptor (cluster_interceptor.h) with the channel's
// groupings; for a call on any other channel (CreateClusterChannel's, which
// carry their own, and every non-cluster channel) it makes the user's
// interceptor, if one was given, else one that only lets every batch go on.

#ifndef SLACKER_FRAMEWORK_ZK_CHANNELS_H_
#define SLACKER_FRAMEWORK_ZK_CHANNELS_H_

#include <grpcpp/support/client_interceptor.h>

#include <memory>
#include <optional>

#include "framework/internal/channel_registry.h"

namespace slacker::internal {

// The id of a channel its resolver registered, read from its service
// config; nullopt for any other channel (or one not resolved yet).
// Thread-safe.
std::optional<ChannelId> ReadChannelId(const grpc::ChannelInterface* channel);

// The factory InstallClusterInterceptor registers with gRPC. `yours` may be
// null; it is not owned and must outlive every call. Thread-safe.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeGlobalClusterInterceptorFactory(
    grpc::experimental::ClientInterceptorFactoryInterface* yours);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_ZK_CHANNELS_H_
