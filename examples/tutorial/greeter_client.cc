#include <iostream>

#include "examples/tutorial/greeter.grpc.pb.h"
#include "framework/cluster_channel.h"

int main(int argc, char** argv) {
  auto channel = slacker::CreateClusterChannel(
      argc > 1 ? argv[1] : "127.0.0.1:2181", "greeters");
  if (!channel.ok()) {
    std::cerr << channel.status() << std::endl;
    return 1;
  }
  auto stub = tutorial::Greeter::NewStub(*channel);  // The ordinary stub.
  grpc::ClientContext context;
  context.set_wait_for_ready(true);  // Wait for a greeter rather than fail.
  tutorial::HelloRequest request;
  request.set_name("cluster");
  tutorial::HelloReply reply;
  grpc::Status status = stub->SayHello(&context, request, &reply);
  if (!status.ok()) {
    std::cerr << status.error_message() << std::endl;
    return 1;
  }
  std::cout << reply.message() << std::endl;
  return 0;
}
