#include "tools/dashboard/health_probe.h"

#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "protos/grpc/health/v1/health.grpc.pb.h"

namespace slacker::dashboard {
namespace {

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "ERROR";
  }
}

}  // namespace

std::map<std::string, std::string> HealthProbe::Probe(
    const std::string& address, const std::vector<std::string>& namespaces,
    absl::Duration deadline) {
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<grpc::Channel>& known = channels_[address];
    if (known == nullptr) {
      known = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    }
    channel = known;
  }
  auto stub = grpc::health::v1::Health::NewStub(channel);
  std::map<std::string, std::string> health;
  for (const std::string& ns : namespaces) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(ns);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = stub->Check(&context, request, &response);
    if (!status.ok()) {
      health[ns] = absl::StrCat(CodeName(status.error_code()), ": ",
                                status.error_message());
    } else {
      health[ns] = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
          response.status());
    }
  }
  return health;
}

void HealthProbe::Retain(const std::vector<std::string>& live) {
  const std::set<std::string> keep(live.begin(), live.end());
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = channels_.begin(); it != channels_.end();) {
    it = keep.count(it->first) ? std::next(it) : channels_.erase(it);
  }
}

}  // namespace slacker::dashboard
