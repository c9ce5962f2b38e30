#include "framework/manager_service.h"

#include <google/protobuf/util/json_util.h>

#include <string>

#include "absl/status/status.h"
#include "framework/cluster_server.h"

namespace slacker {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace

grpc::Status ClusterManagerService::Offline(grpc::ServerContext*,
                                            const google::protobuf::Empty*,
                                            google::protobuf::Empty*) {
  return ToGrpc(server_->Offline());
}

grpc::Status ClusterManagerService::Online(grpc::ServerContext*,
                                           const google::protobuf::Empty*,
                                           google::protobuf::Empty*) {
  return ToGrpc(server_->Online());
}

grpc::Status ClusterManagerService::OfflineNamespace(
    grpc::ServerContext*, const cluster::NamespaceRequest* request,
    google::protobuf::Empty*) {
  return ToGrpc(server_->Unpublish(request->namespace_()));
}

grpc::Status ClusterManagerService::OnlineNamespace(
    grpc::ServerContext*, const cluster::NamespaceRequest* request,
    google::protobuf::Empty*) {
  return ToGrpc(server_->Publish(request->namespace_()));
}

grpc::Status ClusterManagerService::GetServerData(
    grpc::ServerContext*, const google::protobuf::Empty*,
    google::protobuf::Value* response) {
  const std::string json = server_->server_data();
  if (json.empty()) return grpc::Status::OK;  // No data: an unset Value.
  if (!google::protobuf::util::JsonStringToMessage(json, response).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the server data is not valid JSON");
  }
  return grpc::Status::OK;
}

grpc::Status ClusterManagerService::SetServerData(
    grpc::ServerContext*, const google::protobuf::Value* request,
    google::protobuf::Empty*) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*request, &json).ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the server data cannot be written as JSON");
  }
  return ToGrpc(server_->SetServerData(json));
}

grpc::Status ClusterManagerService::Shutdown(grpc::ServerContext*,
                                             const google::protobuf::Empty*,
                                             google::protobuf::Empty*) {
  server_->ShutdownInBackground();
  return grpc::Status::OK;
}

}  // namespace slacker
