#include "framework/grpc_plugin/version_check.h"

#include <grpcpp/grpcpp.h>

#include "gtest/gtest.h"

namespace slacker {
namespace internal {
namespace {

TEST(VersionCheckTest, SameVersionsPass) {
  EXPECT_TRUE(CheckGrpcVersion("1.51.1", "1.51.1").ok());
}

TEST(VersionCheckTest, DifferentVersionsFailWithBothNamedAndAFix) {
  absl::Status status = CheckGrpcVersion("1.52.0", "1.51.1");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("core headers of gRPC 1.51.1"),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("runs with gRPC 1.52.0"),
            absl::string_view::npos)
      << status;
  EXPECT_NE(status.message().find("tools/setup.sh"), absl::string_view::npos)
      << status;
}

TEST(VersionCheckTest, PatchLevelDifferenceFails) {
  EXPECT_FALSE(CheckGrpcVersion("1.51.10", "1.51.1").ok());
  EXPECT_FALSE(CheckGrpcVersion("1.51.1", "").ok());
}

TEST(VersionCheckTest, InstalledGrpcMatchesTheFetchedHeaders) {
  EXPECT_EQ(GrpcCoreHeadersVersion(), grpc::Version());
  EXPECT_TRUE(CheckInstalledGrpcVersion().ok()) << CheckInstalledGrpcVersion();
}

}  // namespace
}  // namespace internal
}  // namespace slacker
