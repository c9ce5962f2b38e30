// One process standing in for many cluster servers, for tests and benchmarks
// of large clusters: a gRPC server (EchoService, health service) listening on
// --count + 1 loopback ports, and, in one ZooKeeper session, the nodes a
// cluster server writes for each of the first --count ports
// (servers/<host:port> with ServerInfo JSON, namespaces/<ns>/<host:port>).
// The last port is served but not registered: the view benchmark registers
// and unregisters it to time view updates. Prints
//   spare 127.0.0.1:<port>
//   addresses <host:port>,... (the registered ones)
// and serves until killed.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "google/protobuf/util/json_util.h"
#include "protos/slacker/cluster/registry.pb.h"
#include "testing/echo_service.h"

ABSL_FLAG(std::string, zookeeper, "", "ZooKeeper connect string");
ABSL_FLAG(std::string, cluster, "", "cluster name");
ABSL_FLAG(std::string, root,
          std::string(slacker::discovery::kDefaultRegistryRoot),
          "root of the clusters");
ABSL_FLAG(int, count, 10, "servers to register");

namespace {

constexpr char kNamespace[] = "slacker.testing.EchoService";

int Fail(const std::string& what) {
  std::fprintf(stderr, "many_servers: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int count = absl::GetFlag(FLAGS_count);
  const slacker::discovery::RegistryLayout layout(absl::GetFlag(FLAGS_root),
                                                  absl::GetFlag(FLAGS_cluster));

  grpc::EnableDefaultHealthCheckService(true);
  slacker::testing::EchoServiceImpl echo;
  grpc::ServerBuilder builder;
  std::vector<int> ports(count + 1, 0);
  for (int& port : ports) {
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
  }
  builder.RegisterService(&echo);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) return Fail("the gRPC server did not start");
  for (int port : ports) {
    if (port == 0) return Fail("a listening port was not bound");
  }
  server->GetHealthCheckService()->SetServingStatus(kNamespace, true);

  slacker::discovery::ZooKeeperOptions options;
  options.connect_string = absl::GetFlag(FLAGS_zookeeper);
  options.session_timeout = absl::Seconds(10);
  auto client = slacker::discovery::ZooKeeperClient::Connect(options);
  if (!client.ok()) return Fail(std::string(client.status().message()));
  for (int i = 0; i < count; ++i) {
    const std::string address = absl::StrCat("127.0.0.1:", ports[i]);
    slacker::cluster::ServerInfo info;
    info.set_address(address);
    info.add_namespaces(kNamespace);
    info.set_version("bench");
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(info, &json).ok()) {
      return Fail("ServerInfo not written as JSON");
    }
    for (const auto& [path, data] :
         {std::pair(layout.ServerPath(address), json),
          std::pair(layout.MemberPath(kNamespace, address), std::string())}) {
      auto created = (*client)->Create(
          path, data, slacker::discovery::CreateMode::kEphemeral,
          /*create_parents=*/true);
      if (!created.ok()) return Fail(std::string(created.status().message()));
    }
  }
  std::vector<std::string> addresses;
  for (int i = 0; i < count; ++i) {
    addresses.push_back(absl::StrCat("127.0.0.1:", ports[i]));
  }
  std::printf("spare 127.0.0.1:%d\naddresses %s\n", ports.back(),
              absl::StrJoin(addresses, ",").c_str());
  std::fflush(stdout);
  server->Wait();  // Until killed.
  return 0;
}
