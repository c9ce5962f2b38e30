// The ClusterManager gRPC service (protos/slacker/cluster/manager.proto): the
// gRPC form of slacker's manager API, served by a cluster server when
// ClusterOptions::enable_manager is set. Each RPC calls the ClusterServer
// method of the same name; its errors come back as gRPC statuses.
//
// Authorisation, checked before every RPC (ClusterOptions::manager_token and
// manager_identities); a caller passes if it meets either configured rule:
//   token: the call carries the metadata "authorization: Bearer <token>"
//     (grpc::AccessTokenCredentials sends exactly that; slackerctl --token);
//   identity: the connection is TLS with a verified client certificate one of
//     whose subject alternative names, or its common name, equals a listed
//     identity.
// A call that brings no credential the server accepts in place (no
// authorization metadata, no client certificate) fails UNAUTHENTICATED; one
// whose token or identity is wrong fails PERMISSION_DENIED. With neither rule
// configured the manager answers only callers on loopback (peer 127.0.0.0/8,
// ::1 or a unix socket) and refuses others with PERMISSION_DENIED: it is then
// for a tool on the same host only. Each message says what to send.

#ifndef SLACKER_FRAMEWORK_MANAGER_SERVICE_H_
#define SLACKER_FRAMEWORK_MANAGER_SERVICE_H_

#include <string>
#include <utility>
#include <vector>

#include "protos/slacker/cluster/manager.grpc.pb.h"

namespace slacker {
class ClusterServer;

// Who may call; see the top of this file.
struct ManagerAuthorization {
  std::string token;                    // Empty: no token rule.
  std::vector<std::string> identities;  // Empty: no identity rule.
};

// Made by the server itself (users set enable_manager instead).
// Thread-safe. `server` is not owned and must outlive the service (the
// server owns it).
class ClusterManagerService final : public cluster::ClusterManager::Service {
 public:
  ClusterManagerService(ClusterServer* server, ManagerAuthorization auth)
      : server_(server), auth_(std::move(auth)) {}

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
  // OK if the caller of `context` may use the manager; else the status to
  // answer with.
  grpc::Status Authorize(const grpc::ServerContext& context) const;

  ClusterServer* const server_;
  const ManagerAuthorization auth_;
};

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_MANAGER_SERVICE_H_
