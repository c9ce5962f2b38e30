#include "examples/api_service.h"

#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace slacker::example {

void ServerName::Set(std::string name) {
  std::lock_guard<std::mutex> lock(mu_);
  name_ = std::move(name);
}

std::string ServerName::Get() const {
  std::lock_guard<std::mutex> lock(mu_);
  return name_;
}

grpc::Status ApiService::Timestamp(grpc::ServerContext*,
                                   const google::protobuf::Empty*,
                                   TimestampReply* reply) {
  reply->set_unix_millis(absl::ToUnixMillis(absl::Now()));
  reply->set_server(name_->Get());
  return grpc::Status::OK;
}

grpc::Status ApiService::Echo(grpc::ServerContext*, const EchoRequest* request,
                              EchoReply* reply) {
  reply->set_text(request->text());
  reply->set_server(name_->Get());
  return grpc::Status::OK;
}

grpc::Status ApiService::MakeError(grpc::ServerContext*,
                                   const google::protobuf::Empty*,
                                   google::protobuf::Empty*) {
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "MakeError always fails (this is the example of an "
                      "error reaching the caller)");
}

grpc::Status ApiService::Sleep(grpc::ServerContext* context,
                               const SleepRequest* request, SleepReply* reply) {
  const absl::Time until = absl::Now() + absl::Milliseconds(request->millis());
  while (absl::Now() < until && !context->IsCancelled()) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  reply->set_server(name_->Get());
  return grpc::Status::OK;
}

grpc::Status Api2Service::Echo2(grpc::ServerContext*,
                                const EchoRequest* request, EchoReply* reply) {
  reply->set_text(request->text());
  reply->set_server(name_->Get());
  return grpc::Status::OK;
}

}  // namespace slacker::example
