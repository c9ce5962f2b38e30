// The manager's authorisation (manager_service.h), against a real cluster
// server: loopback only when nothing is configured, a shared token sent as
// "authorization: Bearer <token>", and mTLS client identities from
// certificates made here with Debian's openssl.

#include <arpa/inet.h>
#include <google/protobuf/empty.pb.h>
#include <google/protobuf/struct.pb.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "framework/cluster_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/slacker/cluster/manager.grpc.pb.h"
#include "testing/echo_service.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::testing::HasSubstr;

// A certificate authority and certificates it signed, in a private folder.
// (Private to this test; a shared helper may replace it.)
class Certificates {
 public:
  Certificates() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/manager_certs");
    Run(absl::StrCat("rm -rf '", dir_, "' && mkdir -p '", dir_, "'"));
    Run(
        absl::StrCat("openssl req -x509 -newkey ec -pkeyopt "
                     "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
                     "/CN=slacker-test-ca -keyout '",
                     dir_, "/ca.key' -out '", dir_, "/ca.pem'"));
  }

  // Makes <name>.pem and <name>.key with subject CN=`cn` and, if not empty,
  // subjectAltName=`san` (openssl syntax, "DNS:a,IP:127.0.0.1").
  void Make(const std::string& name, const std::string& cn,
            const std::string& san) {
    const std::string base = absl::StrCat(dir_, "/", name);
    Run(
        absl::StrCat("openssl req -newkey ec -pkeyopt "
                     "ec_paramgen_curve:prime256v1 -nodes -subj /CN=",
                     cn, " -keyout '", base, ".key' -out '", base, ".csr'"));
    std::string extfile;
    if (!san.empty()) {
      std::ofstream(base + ".ext") << "subjectAltName=" << san << "\n";
      extfile = absl::StrCat(" -extfile '", base, ".ext'");
    }
    Run(absl::StrCat("openssl x509 -req -days 2 -in '", base, ".csr' -CA '",
                     dir_, "/ca.pem' -CAkey '", dir_,
                     "/ca.key' -CAcreateserial -out '", base, ".pem'",
                     extfile));
  }

  std::string Read(const std::string& file) const {
    std::ifstream in(absl::StrCat(dir_, "/", file));
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  static void Run(const std::string& command) {
    const std::string quiet = command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(quiet.c_str()), 0) << command;
  }

  std::string dir_;
};

// A non-loopback IPv4 address of this machine, or "" if it has none.
std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* it = list; it != nullptr && found.empty(); it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    const auto* in = reinterpret_cast<const sockaddr_in*>(it->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char text[INET_ADDRSTRLEN];
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) != nullptr) {
      found = text;
    }
  }
  freeifaddrs(list);
  return found;
}

// GetServerData through `channel`, sending `token` as a bearer token if set.
grpc::Status Probe(const std::shared_ptr<grpc::Channel>& channel,
                   const std::string& token = "",
                   const std::string& raw_authorization = "") {
  auto stub = cluster::ClusterManager::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
  if (!raw_authorization.empty()) {
    context.AddMetadata("authorization", raw_authorization);
  }
  google::protobuf::Empty empty;
  google::protobuf::Value value;
  return stub->GetServerData(&context, empty, &value);
}

class ManagerAuthorizationTest : public slacker::testing::ZooKeeperTest {
 protected:
  slacker::ClusterOptions Options() {
    slacker::ClusterOptions options;
    options.cluster = "test";
    options.zookeeper = ConnectString();
    options.address = "127.0.0.1";
    options.session_timeout = absl::Seconds(2);
    options.drain_time = absl::ZeroDuration();
    options.enable_manager = true;
    options.server_data = R"({"weight":1})";
    return options;
  }

  std::unique_ptr<ClusterServer> Start(
      slacker::ClusterOptions options, const std::string& listen,
      std::shared_ptr<grpc::ServerCredentials> credentials) {
    ClusterServerBuilder builder(std::move(options));
    builder.AddListeningPort(listen, std::move(credentials));
    builder.RegisterService(&echo_);
    auto server = builder.BuildAndStart();
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }

  slacker::testing::EchoServiceImpl echo_;
};

TEST_F(ManagerAuthorizationTest, WithoutAuthorisationOnlyLoopbackIsAnswered) {
  std::unique_ptr<ClusterServer> server =
      Start(Options(), "0.0.0.0:0", grpc::InsecureServerCredentials());
  ASSERT_NE(server, nullptr);
  const std::string port = absl::StrCat(server->port());
  EXPECT_TRUE(Probe(grpc::CreateChannel("127.0.0.1:" + port,
                                        grpc::InsecureChannelCredentials()))
                  .ok());
  const std::string outside = NonLoopbackAddress();
  if (outside.empty()) GTEST_SKIP() << "this machine has no non-loopback IPv4";
  const grpc::Status refused = Probe(grpc::CreateChannel(
      outside + ":" + port, grpc::InsecureChannelCredentials()));
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(refused.error_message(), HasSubstr("loopback only"));
  EXPECT_THAT(refused.error_message(), HasSubstr("manager_token"));
  // A token changes nothing when none is configured; the rule is the peer.
  EXPECT_EQ(Probe(grpc::CreateChannel(outside + ":" + port,
                                      grpc::InsecureChannelCredentials()),
                  "anything")
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ManagerAuthorizationTest, TokenIsRequiredEvenOnLoopback) {
  slacker::ClusterOptions options = Options();
  options.manager_token = "s3cret-token";
  std::unique_ptr<ClusterServer> server =
      Start(options, "127.0.0.1:0", grpc::InsecureServerCredentials());
  ASSERT_NE(server, nullptr);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port()),
                                     grpc::InsecureChannelCredentials());

  const grpc::Status none = Probe(channel);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(none.error_message(), HasSubstr("authorization: Bearer"));
  EXPECT_THAT(none.error_message(), HasSubstr("--token"));

  const grpc::Status wrong = Probe(channel, "s3cret-tokeN");
  EXPECT_EQ(wrong.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(wrong.error_message(), HasSubstr("wrong token"));
  EXPECT_EQ(Probe(channel, "s3cret").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Probe(channel, "", "s3cret-token").error_code(),  // No "Bearer ".
            grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_TRUE(Probe(channel, "s3cret-token").ok());
  // Every RPC is guarded, not only the one probed: a refused Offline leaves
  // the server published.
  {
    auto stub = cluster::ClusterManager::NewStub(channel);
    grpc::ClientContext context;
    google::protobuf::Empty empty;
    EXPECT_EQ(stub->Offline(&context, empty, &empty).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(server->IsPublished("slacker.testing.EchoService"));
    grpc::ClientContext shutdown;
    EXPECT_EQ(stub->Shutdown(&shutdown, empty, &empty).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    grpc::ClientContext allowed;
    allowed.AddMetadata("authorization", "Bearer s3cret-token");
    EXPECT_TRUE(stub->Offline(&allowed, empty, &empty).ok());
    EXPECT_FALSE(server->IsPublished("slacker.testing.EchoService"));
  }
}

TEST_F(ManagerAuthorizationTest, MutualTlsIdentityIsChecked) {
  Certificates certs;
  certs.Make("server", "localhost", "DNS:localhost,IP:127.0.0.1");
  certs.Make("ops", "ops-client", "DNS:ops.example.test");
  certs.Make("cn_only", "ops-by-cn", "");
  certs.Make("intruder", "intruder", "DNS:intruder.example.test");

  grpc::SslServerCredentialsOptions tls(
      GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  tls.pem_root_certs = certs.Read("ca.pem");
  tls.pem_key_cert_pairs.push_back(
      {certs.Read("server.key"), certs.Read("server.pem")});
  slacker::ClusterOptions options = Options();
  options.manager_identities = {"ops.example.test", "ops-by-cn"};
  std::unique_ptr<ClusterServer> server =
      Start(options, "127.0.0.1:0", grpc::SslServerCredentials(tls));
  ASSERT_NE(server, nullptr);
  const std::string target = absl::StrCat("127.0.0.1:", server->port());

  auto channel_as = [&](const std::string& name) {
    grpc::SslCredentialsOptions client;
    client.pem_root_certs = certs.Read("ca.pem");
    if (!name.empty()) {
      client.pem_private_key = certs.Read(name + ".key");
      client.pem_cert_chain = certs.Read(name + ".pem");
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    return grpc::CreateCustomChannel(target, grpc::SslCredentials(client),
                                     args);
  };

  const grpc::Status anonymous = Probe(channel_as(""));
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << anonymous.error_message();
  EXPECT_THAT(anonymous.error_message(), HasSubstr("client certificate"));

  const grpc::Status intruder = Probe(channel_as("intruder"));
  EXPECT_EQ(intruder.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << intruder.error_message();

  const grpc::Status by_san = Probe(channel_as("ops"));
  EXPECT_TRUE(by_san.ok()) << by_san.error_message();
  const grpc::Status by_cn = Probe(channel_as("cn_only"));
  EXPECT_TRUE(by_cn.ok()) << by_cn.error_message();
}

}  // namespace
}  // namespace slacker
