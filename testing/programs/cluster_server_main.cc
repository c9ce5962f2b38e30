// A cluster server for tests that need a server in another process (to kill
// it with SIGKILL, or to send it SIGTERM). Prints "published <host:port>" once
// published, and "stopped" after a graceful shutdown (SIGTERM or SIGINT).
//
// It serves slacker.testing.EchoService and/or OtherEchoService
// (--services=echo,other). Their Echo returns the request, except that a
// request whose text is "whoami" is answered with this server's address, so
// a test sees which server a call reached; a request whose text is
// "context:KEY" is answered with "<host:port>|<the call's metadata KEY>" and,
// in `sequence`, the milliseconds the call had left until its deadline (-1
// for none), so a test sees what reached each server; one whose text is
// "calls" with the number of other Echo calls this server answered (in
// `sequence`), so a test counts calls per server; --fail=CODE makes every
// Echo fail with that gRPC status code instead; --not_serving=NS reports NS
// NOT_SERVING in the health service while it stays published.
//
// --curator_service=NAME also registers it as an instance of that Curator
// service (ClusterOptions::curator) under --curator_base_path. --plain serves
// the same services on a plain grpc::Server (with the standard health
// service, accepting the cluster channel's keepalive pings) that registers
// nowhere, and prints "published <host:port>" once listening: a server that
// only someone else announces (as a ServerSet member or a Curator instance
// written by a test).

#include <grpcpp/ext/channelz_service_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "framework/cluster_server.h"
#include "framework/shutdown.h"
#include "testing/echo_service.h"

ABSL_FLAG(std::string, zookeeper, "", "ZooKeeper connect string");
ABSL_FLAG(std::string, cluster, "test", "cluster name");
ABSL_FLAG(int, session_timeout_ms, 2000, "ZooKeeper session timeout");
ABSL_FLAG(int, drain_ms, 200, "drain time of the graceful shutdown");
ABSL_FLAG(std::string, services, "echo", "comma-separated: echo, other");
ABSL_FLAG(std::string, server_data, "", "server data (JSON)");
ABSL_FLAG(int, fail, 0, "if not 0, Echo fails with this gRPC status code");
ABSL_FLAG(std::string, root, "/slacker/cluster", "root path of clusters");
ABSL_FLAG(bool, manager, false, "serve slacker.cluster.ClusterManager");
ABSL_FLAG(std::string, manager_token, "", "the manager's shared token");
ABSL_FLAG(bool, reflection, true, "serve gRPC's server reflection");
ABSL_FLAG(bool, channelz, false, "serve gRPC's channelz service");
ABSL_FLAG(int, delay_ms, 0, "every Echo sleeps this long first");
ABSL_FLAG(std::string, curator_service, "",
          "if set, also register as an instance of this Curator service");
ABSL_FLAG(std::string, curator_base_path, "/services",
          "base path of --curator_service");
ABSL_FLAG(bool, plain, false,
          "a plain gRPC server that registers nowhere (no ZooKeeper)");
ABSL_FLAG(std::string, digest_creator_only, "",
          "user:password: protected registrations only that digest reads "
          "(AclPolicy::kCreatorAll)");
ABSL_FLAG(std::string, not_serving, "",
          "a namespace whose health is set NOT_SERVING after publishing");

namespace {

std::string& Address() {
  static std::string* address = new std::string();
  return *address;
}

// The "context:KEY" answer (see above).
void AnswerContext(const grpc::ServerContext& context, absl::string_view key,
                   slacker::testing::Ping* response) {
  std::string value;
  for (auto [it, end] = context.client_metadata().equal_range(
           grpc::string_ref(key.data(), key.size()));
       it != end; ++it) {
    value.append(it->second.data(), it->second.size());
  }
  response->set_text(absl::StrCat(Address(), "|", value));
  const auto deadline = context.deadline();
  response->set_sequence(
      deadline == std::chrono::system_clock::time_point::max()
          ? -1
          : std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::system_clock::now())
                .count());
}

grpc::Status Answer(const grpc::ServerContext& context,
                    const slacker::testing::Ping* request,
                    slacker::testing::Ping* response) {
  if (absl::GetFlag(FLAGS_delay_ms) > 0) {
    absl::SleepFor(absl::Milliseconds(absl::GetFlag(FLAGS_delay_ms)));
  }
  const int fail = absl::GetFlag(FLAGS_fail);
  if (fail != 0) {
    return grpc::Status(static_cast<grpc::StatusCode>(fail),
                        "failing as asked by --fail");
  }
  static std::atomic<int64_t> answered{0};
  *response = *request;
  if (request->text() == "calls") {
    response->set_sequence(answered.load());
    return grpc::Status::OK;
  }
  answered.fetch_add(1);
  if (request->text() == "whoami") response->set_text(Address());
  absl::string_view text = request->text();
  if (absl::ConsumePrefix(&text, "context:")) {
    AnswerContext(context, text, response);
  }
  return grpc::Status::OK;
}

class EchoImpl final : public slacker::testing::EchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context,
                    const slacker::testing::Ping* request,
                    slacker::testing::Ping* response) override {
    if (request->sequence() > 0 && absl::GetFlag(FLAGS_fail) == 0) {
      return plain_.Echo(context, request, response);  // Sleeps `sequence` ms.
    }
    return Answer(*context, request, response);
  }

 private:
  slacker::testing::EchoServiceImpl plain_;
};

class OtherEchoImpl final : public slacker::testing::OtherEchoService::Service {
 public:
  grpc::Status Echo(grpc::ServerContext* context,
                    const slacker::testing::Ping* request,
                    slacker::testing::Ping* response) override {
    return Answer(*context, request, response);
  }
  grpc::Status Count(
      grpc::ServerContext*, const slacker::testing::Ping* request,
      grpc::ServerWriter<slacker::testing::Ping>* writer) override {
    for (int64_t i = 1; i <= request->sequence(); ++i) {
      slacker::testing::Ping ping;
      ping.set_text(request->text() == "whoami" ? Address() : request->text());
      ping.set_sequence(i);
      writer->Write(ping);
    }
    return grpc::Status::OK;
  }
};

// --plain: the services on a grpc::Server of its own, until SIGTERM/SIGKILL.
int ServePlain(EchoImpl* echo, OtherEchoImpl* other) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  // The cluster channel pings silent connections every second.
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 500);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  for (absl::string_view service :
       absl::StrSplit(absl::GetFlag(FLAGS_services), ',', absl::SkipEmpty())) {
    if (service == "echo") {
      builder.RegisterService(echo);
    } else if (service == "other") {
      builder.RegisterService(other);
    }
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::cerr << "cannot start a plain gRPC server" << std::endl;
    return 1;
  }
  Address() = absl::StrCat("127.0.0.1:", port);
  std::cout << "published " << Address() << std::endl;
  server->Wait();
  return 0;
}

}  // namespace

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
  options.server_data = absl::GetFlag(FLAGS_server_data);
  options.enable_manager = absl::GetFlag(FLAGS_manager);
  options.manager_token = absl::GetFlag(FLAGS_manager_token);
  options.enable_reflection = absl::GetFlag(FLAGS_reflection);
  // For every server the process builds from now on.
  if (absl::GetFlag(FLAGS_channelz)) {
    grpc::channelz::experimental::InitChannelzService();
  }
  options.root = absl::GetFlag(FLAGS_root);
  if (!absl::GetFlag(FLAGS_digest_creator_only).empty()) {
    options.zookeeper_digest = absl::GetFlag(FLAGS_digest_creator_only);
    options.zookeeper_acl = slacker::discovery::AclPolicy::kCreatorAll;
  }
  if (!absl::GetFlag(FLAGS_curator_service).empty()) {
    slacker::discovery::CuratorServiceInstanceOptions curator;
    curator.service_name = absl::GetFlag(FLAGS_curator_service);
    curator.base_path = absl::GetFlag(FLAGS_curator_base_path);
    options.curator = curator;
  }
  EchoImpl echo;
  OtherEchoImpl other;
  if (absl::GetFlag(FLAGS_plain)) return ServePlain(&echo, &other);
  slacker::ClusterServerBuilder builder(options);
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials());
  for (absl::string_view service :
       absl::StrSplit(absl::GetFlag(FLAGS_services), ',', absl::SkipEmpty())) {
    if (service == "echo") {
      builder.RegisterService(&echo);
    } else if (service == "other") {
      builder.RegisterService(&other);
    } else {
      std::cerr << "unknown service " << service << std::endl;
      return 2;
    }
  }
  auto server = builder.BuildAndStart();
  if (!server.ok()) {
    std::cerr << server.status() << std::endl;
    return 1;
  }
  Address() = (*server)->address();
  if (!absl::GetFlag(FLAGS_not_serving).empty()) {
    (*server)->grpc_server()->GetHealthCheckService()->SetServingStatus(
        absl::GetFlag(FLAGS_not_serving), false);
  }
  std::cout << "published " << (*server)->address() << std::endl;
  {
    slacker::ShutdownOnSignal on_signal(server->get());
    (*server)->Wait();
  }
  std::cout << "stopped" << std::endl;
  return 0;
}
