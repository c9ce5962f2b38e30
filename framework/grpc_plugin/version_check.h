// Start-up check that the gRPC library this process runs with is the version
// whose internal core headers the plugin was compiled against. The resolver and
// LB policy in this folder use grpc_core classes whose layout is only valid for
// that version.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_VERSION_CHECK_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_VERSION_CHECK_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker {
namespace internal {

// The gRPC version of the core headers this binary was compiled against, e.g.
// "1.51.1".
absl::string_view GrpcCoreHeadersVersion();

// Returns OK when `runtime_version` equals `headers_version`. Otherwise returns
// FAILED_PRECONDITION with a message that names both versions and how to
// rebuild. Thread-safe; pure.
absl::Status CheckGrpcVersion(absl::string_view runtime_version,
                              absl::string_view headers_version);

// CheckGrpcVersion(grpc::Version(), GrpcCoreHeadersVersion()). Thread-safe.
absl::Status CheckInstalledGrpcVersion();

}  // namespace internal
}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_VERSION_CHECK_H_
