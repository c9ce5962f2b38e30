// What a cluster server publishes about its services: their names, as the
// gRPC server registered them, and each method's metadata, from the protobuf
// descriptors linked into the program.

#ifndef SLACKER_FRAMEWORK_INTERNAL_SERVICE_CATALOG_H_
#define SLACKER_FRAMEWORK_INTERNAL_SERVICE_CATALOG_H_

#include <grpcpp/impl/server_builder_option.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "protos/slacker/cluster/registry.pb.h"

namespace slacker::internal {

struct ServiceDescription {
  std::string name;  // "package.Service"
  // Keyed by method name ("Echo"), in declaration order.
  std::vector<std::pair<std::string, cluster::MethodInfo>> methods;
};

// Describes the service `full_name` from the program's generated descriptor
// pool. NotFound if no generated code of that service is linked in (a service
// registered through the generic API, for instance).
absl::StatusOr<ServiceDescription> DescribeService(absl::string_view full_name);

// Collects the full names of the services a grpc::ServerBuilder registers:
// the only public way to learn them (grpc::Service does not expose its name).
// Thread-safe.
class ServiceNameCollector {
 public:
  ServiceNameCollector();

  // An option for grpc::ServerBuilder::SetOption; it adds a builder plugin
  // that records the names when the server is built. Call once per builder.
  std::unique_ptr<grpc::ServerBuilderOption> MakeOption();

  // The names recorded, in registration order; empty before the build.
  std::vector<std::string> names() const;

 private:
  struct State {
    mutable std::mutex mu;
    std::vector<std::string> names;
  };
  std::shared_ptr<State> state_;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_SERVICE_CATALOG_H_
