// The example cluster server: publishes slacker.example.Api (and Api2) in a
// cluster, with the manager service on, and shuts down gracefully on SIGTERM
// or Ctrl-C.
//
//   bazel run //examples:server -- --port=2104 --zk=127.0.0.1:2181
//       --cluster=example-cluster [--server_data='{"weight":2}']
//       [--namespaces=api,api2]
//       [--digest=user:password [--digest_reads=creator]
//        [--zookeeper_admin_id=user:BASE64]]
//
// With --digest its registrations are protected (see ClusterOptions::
// zookeeper_acl): only that identity (and --zookeeper_admin_id) can change
// or delete them; everyone can read them, or, with --digest_reads=creator,
// only that identity (clients then need the digest too: slackerctl
// --digest, ClusterChannelOptions::zookeeper_digest).

#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "examples/api_service.h"
#include "framework/cluster_server.h"
#include "framework/shutdown.h"

ABSL_FLAG(int, port, 0, "port to listen on (0: any free port)");
ABSL_FLAG(std::string, host, "127.0.0.1", "address to listen on and publish");
ABSL_FLAG(std::string, zk, "127.0.0.1:2181", "ZooKeeper connect string");
ABSL_FLAG(std::string, cluster, "example-cluster", "cluster name");
ABSL_FLAG(std::string, server_data, "", "server data (JSON)");
ABSL_FLAG(std::string, namespaces, "api,api2", "which services: api, api2");
ABSL_FLAG(std::string, digest, "",
          "ZooKeeper digest user:password; protects this server's "
          "registrations");
ABSL_FLAG(std::string, digest_reads, "everyone",
          "with --digest, who may read the cluster: everyone|creator");
ABSL_FLAG(std::string, zookeeper_admin_id, "",
          "with --digest, an admin identity also allowed to change the "
          "registrations: user:BASE64(SHA1(user:password))");

int main(int argc, char** argv) {
  slacker::BlockShutdownSignals();  // Before any thread starts.
  absl::ParseCommandLine(argc, argv);

  slacker::ClusterOptions options;
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.zookeeper = absl::GetFlag(FLAGS_zk);
  options.address = absl::GetFlag(FLAGS_host);
  options.server_data = absl::GetFlag(FLAGS_server_data);
  options.enable_manager = true;  // slackerctl offline|online|shutdown
  if (!absl::GetFlag(FLAGS_digest).empty()) {
    const std::string reads = absl::GetFlag(FLAGS_digest_reads);
    if (reads != "everyone" && reads != "creator") {
      std::cerr << "server: --digest_reads must be everyone or creator"
                << std::endl;
      return 2;
    }
    options.zookeeper_digest = absl::GetFlag(FLAGS_digest);
    options.zookeeper_acl =
        reads == "creator"
            ? slacker::discovery::AclPolicy::kCreatorAll
            : slacker::discovery::AclPolicy::kCreatorAllWorldRead;
    options.zookeeper_admin_id = absl::GetFlag(FLAGS_zookeeper_admin_id);
  } else if (!absl::GetFlag(FLAGS_zookeeper_admin_id).empty()) {
    std::cerr << "server: --zookeeper_admin_id needs --digest" << std::endl;
    return 2;
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
