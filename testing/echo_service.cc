#include "testing/echo_service.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace slacker::testing {

grpc::Status EchoServiceImpl::Echo(grpc::ServerContext*, const Ping* request,
                                   Ping* response) {
  if (request->sequence() > 0) {
    absl::SleepFor(absl::Milliseconds(request->sequence()));
  }
  *response = *request;
  return grpc::Status::OK;
}

grpc::Status EchoServiceImpl::Nothing(grpc::ServerContext*,
                                      const google::protobuf::Empty*,
                                      google::protobuf::Empty*) {
  return grpc::Status::OK;
}

}  // namespace slacker::testing
