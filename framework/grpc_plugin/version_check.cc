#include "framework/grpc_plugin/version_check.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "slacker_grpc_core_version.h"

namespace slacker {
namespace internal {

absl::string_view GrpcCoreHeadersVersion() {
  return SLACKER_GRPC_CORE_HEADERS_VERSION;
}

absl::Status CheckGrpcVersion(absl::string_view runtime_version,
                              absl::string_view headers_version) {
  if (runtime_version == headers_version) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "Slacker's gRPC plugin was compiled against the core headers of gRPC ",
      headers_version, " but this process runs with gRPC ", runtime_version,
      ". The plugin relies on gRPC's internal layout, so both must be the "
      "same version: run tools/setup.sh (it fetches the headers of the "
      "installed gRPC), then `bazel sync --configure` and rebuild."));
}

absl::Status CheckInstalledGrpcVersion() {
  return CheckGrpcVersion(grpc::Version(), GrpcCoreHeadersVersion());
}

}  // namespace internal
}  // namespace slacker
