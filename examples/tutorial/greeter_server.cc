#include <iostream>

#include "examples/tutorial/greeter.grpc.pb.h"
#include "framework/cluster_server.h"
#include "framework/shutdown.h"

class GreeterService final : public tutorial::Greeter::Service {
  grpc::Status SayHello(grpc::ServerContext*, const tutorial::HelloRequest* request,
                        tutorial::HelloReply* reply) override {
    reply->set_message("Hello, " + request->name());
    return grpc::Status::OK;
  }
};

int main(int argc, char** argv) {
  slacker::BlockShutdownSignals();  // First, before any thread starts.
  slacker::ClusterOptions options;
  options.cluster = "greeters";
  options.zookeeper = argc > 1 ? argv[1] : "127.0.0.1:2181";
  GreeterService greeter;
  slacker::ClusterServerBuilder builder(options);
  builder.AddListeningPort("0.0.0.0:0", grpc::InsecureServerCredentials());
  builder.RegisterService(&greeter);  // Published as namespace tutorial.Greeter.
  auto server = builder.BuildAndStart();
  if (!server.ok()) {
    std::cerr << server.status() << std::endl;
    return 1;
  }
  std::cout << "published " << (*server)->address() << std::endl;
  slacker::ShutdownOnSignal on_signal(server->get());  // SIGTERM: graceful.
  (*server)->Wait();
  return 0;
}
