// The example cluster server: publishes slacker.example.Api (and Api2) in a
// cluster, with the manager service on, and shuts down gracefully on SIGTERM
// or Ctrl-C.
//
//   bazel run //examples:server -- --port=2104 --zk=127.0.0.1:2181
//       --cluster=example-cluster [--server_data='{"weight":2}']
//       [--namespaces=api,api2] [--manager_token=SECRET]
//       [--metrics_port=9464]
//       [--tls_cert=server.pem --tls_key=server.key [--tls_client_ca=ca.pem]]
//
// With --tls_cert and --tls_key it serves TLS with that certificate, whose
// subjectAltName must name --host (the name cluster channels check it
// against, published as the server's TLS name); with --tls_client_ca too it
// requires every client to present a certificate signed by one of those CAs
// (mTLS).
//       [--digest=user:password [--digest_reads=creator]
//        [--zookeeper_admin_id=user:BASE64]]
//
// With --digest its registrations are protected (see ClusterOptions::
// zookeeper_acl): only that identity (and --zookeeper_admin_id) can change
// or delete them; everyone can read them, or, with --digest_reads=creator,
// only that identity (clients then need the digest too: slackerctl
// --digest, ClusterChannelOptions::zookeeper_digest).

#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

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

ABSL_FLAG(std::string, digest, "",
          "ZooKeeper digest user:password; protects this server's "
          "registrations");
ABSL_FLAG(std::string, digest_reads, "everyone",
          "with --digest, who may read the cluster: everyone|creator");
ABSL_FLAG(std::string, zookeeper_admin_id, "",
          "with --digest, an admin identity also allowed to change the "
          "registrations: user:BASE64(SHA1(user:password))");

ABSL_FLAG(std::string, manager_token, "",
          "the manager's shared token (slackerctl --token); empty: the "
          "manager answers callers on loopback only");

ABSL_FLAG(std::string, tls_cert, "",
          "PEM file of the server's certificate (TLS; with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM file of the certificate's key");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM file of the CAs whose client certificates are accepted: every "
          "client must present one (mTLS; needs --tls_cert)");

namespace {

// The PEM text of the file that `flag` names, or nullopt (after saying why).
std::optional<std::string> ReadPem(const char* flag, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    std::cerr << "server: --" << flag << "=" << path
              << ": cannot read that file (give a PEM file)" << std::endl;
    return std::nullopt;
  }
  return text.str();
}

// Insecure without --tls_cert; TLS (and mTLS with --tls_client_ca) with it;
// null after saying what is wrong.
std::shared_ptr<grpc::ServerCredentials> ServerCredentialsFromFlags() {
  const std::string cert_path = absl::GetFlag(FLAGS_tls_cert);
  const std::string key_path = absl::GetFlag(FLAGS_tls_key);
  const std::string ca_path = absl::GetFlag(FLAGS_tls_client_ca);
  if (cert_path.empty() && key_path.empty() && ca_path.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (cert_path.empty() || key_path.empty()) {
    std::cerr << "server: TLS needs both --tls_cert and --tls_key" << std::endl;
    return nullptr;
  }
  std::optional<std::string> cert = ReadPem("tls_cert", cert_path);
  std::optional<std::string> key = ReadPem("tls_key", key_path);
  if (!cert.has_value() || !key.has_value()) return nullptr;
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!ca_path.empty()) {
    std::optional<std::string> roots = ReadPem("tls_client_ca", ca_path);
    if (!roots.has_value()) return nullptr;
    options.pem_root_certs = *roots;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

int main(int argc, char** argv) {
  slacker::BlockShutdownSignals();  // Before any thread starts.
  absl::ParseCommandLine(argc, argv);

  std::shared_ptr<grpc::ServerCredentials> credentials =
      ServerCredentialsFromFlags();
  if (credentials == nullptr) return 2;

  slacker::ClusterOptions options;
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.zookeeper = absl::GetFlag(FLAGS_zk);
  options.address = absl::GetFlag(FLAGS_host);
  options.server_data = absl::GetFlag(FLAGS_server_data);
  options.enable_manager = true;  // slackerctl offline|online|shutdown
  options.manager_token = absl::GetFlag(FLAGS_manager_token);
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
  if (const int port = absl::GetFlag(FLAGS_metrics_port); port >= 0) {
    options.metrics = std::make_shared<slacker::Metrics>();
    if (absl::Status exposed = options.metrics->Expose(port); !exposed.ok()) {
      std::cerr << "server: " << exposed << std::endl;
      return 1;
    }
    std::cout << "metrics on port " << options.metrics->port() << std::endl;
    // Where `slackerctl dashboard` finds them: the "metrics_port" member of
    // the server data, scraped at the server's own registered host.
    nlohmann::json data =
        options.server_data.empty()
            ? nlohmann::json::object()
            : nlohmann::json::parse(options.server_data, nullptr, false);
    if (data.is_object()) {
      data["metrics_port"] = options.metrics->port();
      options.server_data = data.dump();
    } else {
      std::cerr << "server: --server_data is not a JSON object, so it cannot "
                   "carry metrics_port for slackerctl dashboard"
                << std::endl;
    }
  }

  slacker::example::ServerName name;
  slacker::example::ApiService api(&name);
  slacker::example::Api2Service api2(&name);
  slacker::ClusterServerBuilder builder(options);
  builder.AddListeningPort(
      absl::StrCat(absl::GetFlag(FLAGS_host), ":", absl::GetFlag(FLAGS_port)),
      credentials);
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
