// The chain every later feature stands on, end to end with real components:
// the fixture's ZooKeeper, the ZooKeeper C client, and a gRPC server and client
// built from a cc_grpc_library proto that imports another proto.

#include <grpcpp/grpcpp.h>
#include <zookeeper/zookeeper.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/zookeeper_fixture.h"

namespace slacker::testing {
namespace {

class EchoServer final : public EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const Ping* request,
                    Ping* reply) override {
    *reply = *request;
    reply->set_sequence(request->sequence() + 1);
    return grpc::Status::OK;
  }
};

class RoundTripTest : public ZooKeeperTest {};

TEST_F(RoundTripTest, ZnodeThenUnaryCall) {
  // ZooKeeper: publish an address in a znode, read it back.
  EchoServer service;
  int port = 0;
  std::unique_ptr<grpc::Server> server =
      grpc::ServerBuilder()
          .AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                            &port)
          .RegisterService(&service)
          .BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(port, 0);
  const std::string address = absl::StrCat("127.0.0.1:", port);

  auto session = Connect();
  ASSERT_NE(session, nullptr);
  ASSERT_EQ(
      zoo_create(session->handle(), "/echo", address.data(), address.size(),
                 &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, nullptr, 0),
      ZOK);
  char buffer[64];
  int length = sizeof(buffer);
  ASSERT_EQ(zoo_get(session->handle(), "/echo", 0, buffer, &length, nullptr),
            ZOK);
  const std::string discovered(buffer, length);
  EXPECT_EQ(discovered, address);

  // gRPC: call the address found in ZooKeeper through the generated stub.
  auto stub = EchoService::NewStub(
      grpc::CreateChannel(discovered, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  Ping request, reply;
  request.set_text("hello");
  request.set_sequence(41);
  const grpc::Status status = stub->Echo(&context, request, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.text(), "hello");
  EXPECT_EQ(reply.sequence(), 42);
  server->Shutdown();
}

}  // namespace
}  // namespace slacker::testing
