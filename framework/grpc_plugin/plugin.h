// Registers the `zk` resolver and the `slacker_cluster` LB policy with gRPC.
//
// Registration happens during static initialization of any binary linking
// this library (gRPC reads its registries once, when it is first
// initialized, which is too late for a call made from main()), and only when
// the running gRPC is the version of the core headers compiled against.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_PLUGIN_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_PLUGIN_H_

#include <string>

#include "absl/status/status.h"

namespace slacker::internal {

// OK when gRPC knows the `zk` scheme and the `slacker_cluster` policy.
// FailedPrecondition, saying why and what to do, when the gRPC versions
// differ. Thread-safe; initializes gRPC's core configuration if it was not.
absl::Status ClusterPluginStatus();

// OK if `json` is a service config gRPC accepts; InvalidArgument with gRPC's
// own words otherwise. Thread-safe.
absl::Status ValidateServiceConfig(const std::string& json);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_PLUGIN_H_
