// The example cluster's services (protos/slacker/example/api.proto). Each
// reply names the server that made it, so the walkthrough can show where
// calls went.

#ifndef SLACKER_EXAMPLES_API_SERVICE_H_
#define SLACKER_EXAMPLES_API_SERVICE_H_

#include <mutex>
#include <string>

#include "protos/slacker/example/api.grpc.pb.h"

namespace slacker::example {

// The "host:port" replies carry. Thread-safe.
class ServerName {
 public:
  void Set(std::string name);
  std::string Get() const;

 private:
  mutable std::mutex mu_;
  std::string name_;
};

// Thread-safe. `name` must outlive the service.
class ApiService final : public Api::Service {
 public:
  explicit ApiService(const ServerName* name) : name_(name) {}
  grpc::Status Timestamp(grpc::ServerContext* context,
                         const google::protobuf::Empty* request,
                         TimestampReply* reply) override;
  grpc::Status Echo(grpc::ServerContext* context, const EchoRequest* request,
                    EchoReply* reply) override;
  grpc::Status MakeError(grpc::ServerContext* context,
                         const google::protobuf::Empty* request,
                         google::protobuf::Empty* reply) override;
  grpc::Status Sleep(grpc::ServerContext* context, const SleepRequest* request,
                     SleepReply* reply) override;

 private:
  const ServerName* name_;
};

class Api2Service final : public Api2::Service {
 public:
  explicit Api2Service(const ServerName* name) : name_(name) {}
  grpc::Status Echo2(grpc::ServerContext* context, const EchoRequest* request,
                     EchoReply* reply) override;

 private:
  const ServerName* name_;
};

}  // namespace slacker::example

#endif  // SLACKER_EXAMPLES_API_SERVICE_H_
