// The ClusterManager gRPC service (protos/slacker/cluster/manager.proto): the
// gRPC form of slacker's manager API, served by a cluster server when
// ClusterOptions::enable_manager is set. Each RPC calls the ClusterServer
// method of the same name; its errors come back as gRPC statuses.

#ifndef SLACKER_FRAMEWORK_MANAGER_SERVICE_H_
#define SLACKER_FRAMEWORK_MANAGER_SERVICE_H_

#include "protos/slacker/cluster/manager.grpc.pb.h"

namespace slacker {
class ClusterServer;

// Made by the server itself (users set enable_manager instead).
// Thread-safe. `server` is not owned and must outlive the service (the
// server owns it).
class ClusterManagerService final : public cluster::ClusterManager::Service {
 public:
  explicit ClusterManagerService(ClusterServer* server) : server_(server) {}

  grpc::Status Offline(grpc::ServerContext* context,
                       const google::protobuf::Empty* request,
                       google::protobuf::Empty* response) override;
  grpc::Status Online(grpc::ServerContext* context,
                      const google::protobuf::Empty* request,
                      google::protobuf::Empty* response) override;
  grpc::Status OfflineNamespace(grpc::ServerContext* context,
                                const cluster::NamespaceRequest* request,
                                google::protobuf::Empty* response) override;
  grpc::Status OnlineNamespace(grpc::ServerContext* context,
                               const cluster::NamespaceRequest* request,
                               google::protobuf::Empty* response) override;
  grpc::Status GetServerData(grpc::ServerContext* context,
                             const google::protobuf::Empty* request,
                             google::protobuf::Value* response) override;
  grpc::Status SetServerData(grpc::ServerContext* context,
                             const google::protobuf::Value* request,
                             google::protobuf::Empty* response) override;
  // Starts the graceful shutdown in the background and answers at once (the
  // shutdown waits for this very call to finish).
  grpc::Status Shutdown(grpc::ServerContext* context,
                        const google::protobuf::Empty* request,
                        google::protobuf::Empty* response) override;

 private:
  ClusterServer* const server_;
};

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_MANAGER_SERVICE_H_
