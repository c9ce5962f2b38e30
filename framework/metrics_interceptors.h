// The interceptors that feed slacker::Metrics (framework/metrics.h), added
// only when metrics are on: the client one first on a cluster channel (it
// sees each call as its stub does: retries and fan-out included), the
// server one on a cluster server (every call it serves).
//
// Client: the latency of each call by namespace and method (per-server
// counts come from the LB policy's call tracker, fan-out from the cluster
// interceptor). Server: calls by namespace, method and status code, their
// latency from arrival to the status being sent, and calls in flight; a
// call that ends without a status sent (cancelled) counts as CANCELLED.
//
// Thread-safe factories; each interceptor belongs to one call.

#ifndef SLACKER_FRAMEWORK_METRICS_INTERCEPTORS_H_
#define SLACKER_FRAMEWORK_METRICS_INTERCEPTORS_H_

#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "framework/internal/client_metrics.h"
#include "framework/internal/server_metrics.h"

namespace slacker::internal {

// REQUIRES: metrics is not null.
std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeClientMetricsInterceptorFactory(std::shared_ptr<ClientMetrics> metrics);

// REQUIRES: metrics is not null.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeServerMetricsInterceptorFactory(std::shared_ptr<ServerMetrics> metrics);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_METRICS_INTERCEPTORS_H_
