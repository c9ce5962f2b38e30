// slackerctl offline [NS] | online [NS] | server-data [JSON] | shutdown
// (--server=HOST:PORT): one server's ClusterManager service.

#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "protos/slacker/cluster/manager.grpc.pb.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {

int Manage(const std::string& command, const std::vector<std::string>& args,
           const std::string& server, absl::Duration deadline,
           const ConnectionSecurity& security, const std::string& token) {
  if (server.empty()) {
    return Fail(kUsage, absl::StrCat(command, " needs --server=HOST:PORT"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeCredentials(security);
  if (!credentials.ok()) return Fail(kUsage, credentials.status().message());
  grpc::ChannelArguments channel_args;
  ApplyServerName(security, &channel_args);
  auto channel = grpc::CreateCustomChannel(server, *credentials, channel_args);
  auto stub = cluster::ClusterManager::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  // As metadata, not call credentials: gRPC sends those only over TLS.
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  google::protobuf::Empty empty;
  grpc::Status status;
  if (command == "offline" || command == "online") {
    if (args.empty()) {
      status = command == "offline" ? stub->Offline(&context, empty, &empty)
                                    : stub->Online(&context, empty, &empty);
    } else {
      cluster::NamespaceRequest request;
      request.set_namespace_(args[0]);
      status = command == "offline"
                   ? stub->OfflineNamespace(&context, request, &empty)
                   : stub->OnlineNamespace(&context, request, &empty);
    }
  } else if (command == "server-data") {
    google::protobuf::Value value;
    if (args.empty()) {
      status = stub->GetServerData(&context, empty, &value);
      if (status.ok()) std::cout << ToJson(value) << std::endl;
    } else {
      if (!google::protobuf::util::JsonStringToMessage(args[0], &value).ok()) {
        return Fail(kUsage, "server data must be JSON");
      }
      status = stub->SetServerData(&context, value, &empty);
    }
  } else {
    status = stub->Shutdown(&context, empty, &empty);
  }
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cout << "{\"code\":"
                << internal::JsonString(absl::StatusCodeToString(
                       static_cast<absl::StatusCode>(status.error_code())))
                << ",\"message\":"
                << internal::JsonString(status.error_message()) << "}"
                << std::endl;
      return Fail(kUnreachable,
                  absl::StrCat("server ", server,
                               " unreachable: ", status.error_message()));
    }
    return CallFailed(status.error_code(), status.error_message());
  }
  if (command != "server-data" || !args.empty()) std::cout << "ok" << std::endl;
  return kOk;
}

}  // namespace slacker::slackerctl
