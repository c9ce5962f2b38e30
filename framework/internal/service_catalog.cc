#include "framework/internal/service_catalog.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/impl/server_builder_plugin.h>
#include <grpcpp/impl/server_initializer.h>

#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace slacker::internal {
namespace {

namespace pb = google::protobuf;

// Adds `file` after everything it imports, each file once: the order
// DescriptorPool::BuildFile needs when a tool rebuilds them.
void AddWithDependencies(const pb::FileDescriptor* file,
                         std::set<std::string>* seen,
                         pb::FileDescriptorSet* set) {
  if (!seen->insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) {
    AddWithDependencies(file->dependency(i), seen, set);
  }
  file->CopyTo(set->add_file());
}

class CollectorPlugin : public grpc::ServerBuilderPlugin {
 public:
  explicit CollectorPlugin(std::function<void(std::vector<std::string>)> sink)
      : sink_(std::move(sink)) {}
  std::string name() override { return "slacker_service_name_collector"; }
  void UpdateServerBuilder(grpc::ServerBuilder*) override {}
  void InitServer(grpc::ServerInitializer* initializer) override {
    sink_(*initializer->GetServiceList());
  }
  void Finish(grpc::ServerInitializer*) override {}
  void ChangeArguments(const std::string&, void*) override {}
  bool has_async_methods() const override { return false; }
  bool has_sync_methods() const override { return false; }

 private:
  std::function<void(std::vector<std::string>)> sink_;
};

class CollectorOption : public grpc::ServerBuilderOption {
 public:
  explicit CollectorOption(std::function<void(std::vector<std::string>)> sink)
      : sink_(std::move(sink)) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->push_back(std::make_unique<CollectorPlugin>(sink_));
  }

 private:
  std::function<void(std::vector<std::string>)> sink_;
};

}  // namespace

absl::StatusOr<ServiceDescription> DescribeService(
    absl::string_view full_name) {
  const pb::ServiceDescriptor* service =
      pb::DescriptorPool::generated_pool()->FindServiceByName(
          std::string(full_name));
  if (service == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no generated code for service ", full_name,
        " is linked into this program; its methods cannot be described"));
  }
  pb::FileDescriptorSet files;
  std::set<std::string> seen;
  AddWithDependencies(service->file(), &seen, &files);
  const std::string serialized = files.SerializeAsString();

  ServiceDescription description;
  description.name = service->full_name();
  for (int i = 0; i < service->method_count(); ++i) {
    const pb::MethodDescriptor* method = service->method(i);
    cluster::MethodInfo info;
    info.set_path(absl::StrCat("/", service->full_name(), "/", method->name()));
    info.set_request_type(method->input_type()->full_name());
    info.set_response_type(method->output_type()->full_name());
    info.set_streaming(method->client_streaming()
                           ? (method->server_streaming()
                                  ? cluster::MethodInfo::BIDI_STREAMING
                                  : cluster::MethodInfo::CLIENT_STREAMING)
                           : (method->server_streaming()
                                  ? cluster::MethodInfo::SERVER_STREAMING
                                  : cluster::MethodInfo::UNARY));
    info.set_file_descriptor_set(serialized);
    description.methods.emplace_back(method->name(), std::move(info));
  }
  return description;
}

ServiceNameCollector::ServiceNameCollector()
    : state_(std::make_shared<State>()) {}

std::unique_ptr<grpc::ServerBuilderOption> ServiceNameCollector::MakeOption() {
  return std::make_unique<CollectorOption>(
      [state = state_](std::vector<std::string> names) {
        std::lock_guard<std::mutex> lock(state->mu);
        state->names = std::move(names);
      });
}

std::vector<std::string> ServiceNameCollector::names() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->names;
}

}  // namespace slacker::internal
