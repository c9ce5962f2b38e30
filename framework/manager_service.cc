#include "framework/manager_service.h"

#include <google/protobuf/util/json_util.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "framework/cluster_server.h"

namespace slacker {
namespace {

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

constexpr char kAuthorizationKey[] = "authorization";
constexpr char kBearer[] = "Bearer ";

// Compares in time that depends on the lengths only, so that a caller cannot
// learn the token a byte at a time.
bool SameSecret(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool IsLoopbackPeer(absl::string_view peer) {
  return absl::StartsWith(peer, "ipv4:127.") ||
         absl::StartsWith(peer, "ipv6:[::1]") ||
         absl::StartsWith(peer, "ipv6:[::ffff:127.") ||
         absl::StartsWith(peer, "unix:") ||
         absl::StartsWith(peer, "unix-abstract:");
}

// The verified client certificate's identities (SANs, then CN); empty
// without one.
std::vector<std::string> PeerIdentities(const grpc::ServerContext& context) {
  std::vector<std::string> identities;
  const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return identities;
  for (const char* property :
       {GRPC_X509_SAN_PROPERTY_NAME, GRPC_X509_CN_PROPERTY_NAME}) {
    for (const grpc::string_ref& value : auth->FindPropertyValues(property)) {
      identities.emplace_back(value.data(), value.size());
    }
  }
  return identities;
}

}  // namespace

grpc::Status ClusterManagerService::Authorize(
    const grpc::ServerContext& context) const {
  if (auth_.token.empty() && auth_.identities.empty()) {
    if (IsLoopbackPeer(context.peer())) return grpc::Status::OK;
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("this server's manager has no authorisation configured "
                     "and answers callers on loopback only (you are ",
                     context.peer(),
                     "): call from the server's host, or configure "
                     "ClusterOptions::manager_token (example server: "
                     "--manager_token) or manager_identities"));
  }
  bool presented = false;
  if (!auth_.token.empty()) {
    const auto range = context.client_metadata().equal_range(kAuthorizationKey);
    for (auto it = range.first; it != range.second; ++it) {
      presented = true;
      const absl::string_view value(it->second.data(), it->second.size());
      if (absl::StartsWith(value, kBearer) &&
          SameSecret(value.substr(sizeof(kBearer) - 1), auth_.token)) {
        return grpc::Status::OK;
      }
    }
  }
  if (!auth_.identities.empty()) {
    const std::vector<std::string> identities = PeerIdentities(context);
    presented |= !identities.empty();
    for (const std::string& identity : identities) {
      for (const std::string& allowed : auth_.identities) {
        if (identity == allowed) return grpc::Status::OK;
      }
    }
  }
  std::string what;
  if (!auth_.token.empty()) {
    what =
        "the metadata \"authorization: Bearer <token>\" with the "
        "server's manager token (slackerctl --token)";
  }
  if (!auth_.identities.empty()) {
    absl::StrAppend(&what, what.empty() ? "" : ", or ",
                    "a TLS client certificate naming an allowed identity "
                    "(slackerctl --tls --cert --key)");
  }
  if (!presented) {
    return grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        absl::StrCat("the manager needs credentials: send ", what));
  }
  return grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat("the manager refused this caller's credentials (wrong "
                   "token or an identity not allowed): send ",
                   what));
}

grpc::Status ClusterManagerService::Offline(grpc::ServerContext* context,
                                            const google::protobuf::Empty*,
                                            google::protobuf::Empty*) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  return ToGrpc(server_->Offline());
}

grpc::Status ClusterManagerService::Online(grpc::ServerContext* context,
                                           const google::protobuf::Empty*,
                                           google::protobuf::Empty*) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  return ToGrpc(server_->Online());
}

grpc::Status ClusterManagerService::OfflineNamespace(
    grpc::ServerContext* context, const cluster::NamespaceRequest* request,
    google::protobuf::Empty*) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  return ToGrpc(server_->Unpublish(request->namespace_()));
}

grpc::Status ClusterManagerService::OnlineNamespace(
    grpc::ServerContext* context, const cluster::NamespaceRequest* request,
    google::protobuf::Empty*) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  return ToGrpc(server_->Publish(request->namespace_()));
}

grpc::Status ClusterManagerService::GetServerData(
    grpc::ServerContext* context, const google::protobuf::Empty*,
    google::protobuf::Value* response) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  const std::string json = server_->server_data();
  if (json.empty()) return grpc::Status::OK;  // No data: an unset Value.
  if (!google::protobuf::util::JsonStringToMessage(json, response).ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the server data is not valid JSON");
  }
  return grpc::Status::OK;
}

grpc::Status ClusterManagerService::SetServerData(
    grpc::ServerContext* context, const google::protobuf::Value* request,
    google::protobuf::Empty*) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(*request, &json).ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the server data cannot be written as JSON");
  }
  return ToGrpc(server_->SetServerData(json));
}

grpc::Status ClusterManagerService::Shutdown(grpc::ServerContext* context,
                                             const google::protobuf::Empty*,
                                             google::protobuf::Empty*) {
  if (grpc::Status allowed = Authorize(*context); !allowed.ok()) {
    return allowed;
  }
  server_->ShutdownInBackground();
  return grpc::Status::OK;
}

}  // namespace slacker
