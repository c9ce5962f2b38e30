// The EchoService (protos/slacker/testing/echo.proto) for tests of the
// cluster server: Echo returns its request, after `sequence` milliseconds of
// simulated work when that is positive, so that tests can keep calls in flight.

#ifndef SLACKER_TESTING_ECHO_SERVICE_H_
#define SLACKER_TESTING_ECHO_SERVICE_H_

#include "protos/slacker/testing/echo.grpc.pb.h"

namespace slacker::testing {

// Thread-safe.
class EchoServiceImpl final : public slacker::testing::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context, const Ping* request,
                    Ping* response) override;
  grpc::Status Nothing(grpc::ServerContext* context,
                       const google::protobuf::Empty* request,
                       google::protobuf::Empty* response) override;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_ECHO_SERVICE_H_
