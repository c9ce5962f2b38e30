// A cluster server serving EchoService, for tests that need a server in
// another process (to kill it with SIGKILL, or to send it SIGTERM). Prints
// "published <host:port>" once published, and "stopped" after a graceful
// shutdown (SIGTERM or SIGINT).

#include <grpcpp/security/server_credentials.h>

#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "framework/cluster_server.h"
#include "framework/shutdown.h"
#include "framework/testing/echo_service.h"

ABSL_FLAG(std::string, zookeeper, "", "ZooKeeper connect string");
ABSL_FLAG(std::string, cluster, "test", "cluster name");
ABSL_FLAG(int, session_timeout_ms, 2000, "ZooKeeper session timeout");
ABSL_FLAG(int, drain_ms, 200, "drain time of the graceful shutdown");

int main(int argc, char** argv) {
  slacker::BlockShutdownSignals();
  absl::ParseCommandLine(argc, argv);
  slacker::ClusterOptions options;
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.zookeeper = absl::GetFlag(FLAGS_zookeeper);
  options.address = "127.0.0.1";
  options.session_timeout =
      absl::Milliseconds(absl::GetFlag(FLAGS_session_timeout_ms));
  options.drain_time = absl::Milliseconds(absl::GetFlag(FLAGS_drain_ms));
  slacker::testing::EchoServiceImpl echo;
  slacker::ClusterServerBuilder builder(options);
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
  builder.RegisterService(&echo);
  auto server = builder.BuildAndStart();
  if (!server.ok()) {
    std::cerr << server.status() << std::endl;
    return 1;
  }
  std::cout << "published " << (*server)->address() << std::endl;
  {
    slacker::ShutdownOnSignal on_signal(server->get());
    (*server)->Wait();
  }
  std::cout << "stopped" << std::endl;
  return 0;
}
