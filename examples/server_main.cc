// The example cluster server: publishes slacker.example.Api (and Api2) in a
// cluster, with the manager service on, and shuts down gracefully on SIGTERM
// or Ctrl-C.
//
//   bazel run //examples:server -- --port=2104 --zk=127.0.0.1:2181
//       --cluster=example-cluster [--server_data='{"weight":2}']
//       [--namespaces=api,api2] [--metrics_port=9464]

#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "examples/api_service.h"
#include "framework/cluster_server.h"
#include "framework/metrics.h"
#include "framework/shutdown.h"

ABSL_FLAG(int, port, 0, "port to listen on (0: any free port)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on and publish");
ABSL_FLAG(std::string, zk, "127.0.0.1:2181", "ZooKeeper connect string");
ABSL_FLAG(std::string, cluster, "example-cluster", "cluster name");
ABSL_FLAG(std::string, server_data, "", "server data (JSON)");
ABSL_FLAG(std::string, namespaces, "api,api2", "which services: api, api2");
ABSL_FLAG(int, metrics_port, -1,
          "serve Prometheus metrics at http://0.0.0.0:PORT/metrics (0: any "
          "free port; -1: off)");

int main(int argc, char** argv) {
  slacker::BlockShutdownSignals();  // Before any thread starts.
  absl::ParseCommandLine(argc, argv);

  slacker::ClusterOptions options;
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.zookeeper = absl::GetFlag(FLAGS_zk);
  options.address = absl::GetFlag(FLAGS_host);
  options.server_data = absl::GetFlag(FLAGS_server_data);
  options.enable_manager = true;  // slackerctl offline|online|shutdown
  if (const int port = absl::GetFlag(FLAGS_metrics_port); port >= 0) {
    options.metrics = std::make_shared<slacker::Metrics>();
    if (absl::Status exposed = options.metrics->Expose(port); !exposed.ok()) {
      std::cerr << "server: " << exposed << std::endl;
      return 1;
    }
    std::cout << "metrics on port " << options.metrics->port() << std::endl;
  }

  slacker::example::ServerName name;
  slacker::example::ApiService api(&name);
  slacker::example::Api2Service api2(&name);
  slacker::ClusterServerBuilder builder(options);
  builder.AddListeningPort(
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)),
      grpc::InsecureServerCredentials());
  for (absl::string_view ns : absl::StrSplit(absl::GetFlag(FLAGS_namespaces),
                                             ',', absl::SkipEmpty())) {
    if (ns == "api") builder.RegisterService(&api);
    if (ns == "api2") builder.RegisterService(&api2);
  }
  absl::StatusOr<std::unique_ptr<slacker::ClusterServer>> server =
      builder.BuildAndStart();
  if (!server.ok()) {
    std::cerr << "server: " << server.status() << std::endl;
    return 1;
  }
  name.Set((*server)->address());
  std::cout << "published " << (*server)->address() << std::endl;
  slacker::ShutdownOnSignal on_signal(server->get());  // Graceful on SIGTERM.
  (*server)->Wait();
  std::cout << "stopped" << std::endl;
  return 0;
}
