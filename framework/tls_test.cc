// TLS through the cluster: servers each with a certificate of their own
// (subjectAltName = their host, distinct loopback addresses), one CA made in
// the test (testing/certificates.h); the cluster channel checks each server
// against the name it published (ClusterOptions::tls_name, default its
// host), or against one shared name given on the channel; mTLS; fan-out
// sub-calls over the same credentials; and a refused handshake (wrong name,
// unknown CA, no client certificate) that says it is a TLS failure.

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_channel.h"
#include "framework/cluster_server.h"
#include "framework/internal/cluster_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/certificates.h"
#include "testing/zookeeper_fixture.h"

namespace slacker {
namespace {

using ::slacker::testing::EchoService;
using ::slacker::testing::Ping;
using ::slacker::testing::TestCertificate;
using ::slacker::testing::TestCertificateAuthority;
using ::testing::HasSubstr;

constexpr char kCluster[] = "secure";

// Echo that answers with the address of the server it runs in, and counts.
class WhoAmIService final : public EchoService::Service {
 public:
  void set_address(std::string address) { address_ = std::move(address); }
  int calls() const { return calls_.load(); }

  grpc::Status Echo(grpc::ServerContext*, const Ping*,
                    Ping* response) override {
    ++calls_;
    response->set_text(address_);
    return grpc::Status::OK;
  }

 private:
  std::string address_;  // Set before the first call.
  std::atomic<int> calls_{0};
};

struct RunningServer {
  std::unique_ptr<WhoAmIService> service;
  std::unique_ptr<ClusterServer> server;
};

// Whether `message` says the failure is TLS's, and which.
bool SaysTls(const std::string& message) {
  const std::string lower = absl::AsciiStrToLower(message);
  return absl::StrContains(lower, "tls") || absl::StrContains(lower, "ssl") ||
         absl::StrContains(lower, "handshake") ||
         absl::StrContains(lower, "certificate");
}

class TlsTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    ASSERT_TRUE(InitClusterChannels().ok());
    dir_ = getenv("TEST_TMPDIR") != nullptr ? getenv("TEST_TMPDIR") : "/tmp";
    absl::StatusOr<TestCertificateAuthority> ca =
        TestCertificateAuthority::Create(dir_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
  }
  void TearDown() override {
    for (RunningServer& running : servers_) {
      if (running.server != nullptr) running.server->Shutdown();
    }
    servers_.clear();
    ZooKeeperTest::TearDown();
  }

  TestCertificate ServerCertificate(const std::vector<std::string>& names,
                                    TestCertificateAuthority* ca = nullptr) {
    absl::StatusOr<TestCertificate> cert =
        (ca != nullptr ? ca : &*ca_)->IssueServer(names);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return cert.ok() ? *cert : TestCertificate();
  }

  // Starts a TLS cluster server at `host` with `cert`; with `client_ca`, it
  // requires client certificates signed by it. Returns its address.
  std::string StartServer(const std::string& host, const TestCertificate& cert,
                          const std::string& tls_name = "",
                          const std::string& client_ca = "") {
    slacker::ClusterOptions options;
    options.cluster = kCluster;
    options.zookeeper = ConnectString();
    options.address = host;
    options.tls_name = tls_name;
    options.session_timeout = absl::Seconds(4);
    options.drain_time = absl::ZeroDuration();
    grpc::SslServerCredentialsOptions tls(
        GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    tls.pem_key_cert_pairs.push_back({cert.key_pem, cert.cert_pem});
    if (!client_ca.empty()) {
      tls.pem_root_certs = client_ca;
      tls.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    RunningServer running;
    running.service = std::make_unique<WhoAmIService>();
    ClusterServerBuilder builder(options);
    builder.AddListeningPort(absl::StrCat(host, ":0"),
                             grpc::SslServerCredentials(tls));
    builder.RegisterService(running.service.get());
    absl::StatusOr<std::unique_ptr<ClusterServer>> server =
        builder.BuildAndStart();
    EXPECT_TRUE(server.ok()) << server.status();
    if (!server.ok()) return "";
    running.service->set_address((*server)->address());
    const std::string address = (*server)->address();
    running.server = *std::move(server);
    servers_.push_back(std::move(running));
    return address;
  }

  WhoAmIService& Service(size_t index) { return *servers_[index].service; }

  std::shared_ptr<grpc::Channel> Channel(
      const std::string& grouping = "round_robin",
      const std::string& shared_name = "",
      const TestCertificate* client = nullptr) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ca_->cert_pem();
    if (client != nullptr) {
      tls.pem_cert_chain = client->cert_pem;
      tls.pem_private_key = client->key_pem;
    }
    ClusterChannelOptions options;
    options.grouping = grouping;
    options.session_timeout = absl::Seconds(4);
    if (!shared_name.empty()) {
      options.channel_arguments.SetSslTargetNameOverride(shared_name);
    }
    auto channel = CreateClusterChannel(ConnectString(), kCluster, options,
                                        grpc::SslCredentials(tls));
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  // One call; the answering server's address, or the status.
  static grpc::Status Call(EchoService::Stub& stub, std::string* who,
                           absl::Duration deadline = absl::Seconds(5),
                           const std::string& grouping = "") {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    if (!grouping.empty()) SetGrouping(&context, grouping);
    Ping request;
    Ping response;
    grpc::Status status = stub.Echo(&context, request, &response);
    if (who != nullptr) *who = response.text();
    return status;
  }

  // Calls until one succeeds (servers join in the background), at most
  // `tries` times.
  static grpc::Status CallUntilOk(EchoService::Stub& stub, std::string* who,
                                  int tries = 50) {
    grpc::Status status;
    for (int i = 0; i < tries; ++i) {
      status = Call(stub, who, absl::Seconds(2));
      if (status.ok()) return status;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return status;
  }

  std::string dir_;
  std::optional<TestCertificateAuthority> ca_;
  std::vector<RunningServer> servers_;
};

// What a server node says is untrusted: a TLS name no certificate could
// carry is refused before it reaches gRPC.
TEST(ServerInfoTlsNameTest, ReadOnlyWhenACertificateCouldCarryIt) {
  internal::ClusterServer server;
  ASSERT_TRUE(
      internal::ParseServerInfo(
          R"({"address":"127.0.0.2:1","tlsName":"api.secure.test"})", &server)
          .ok());
  EXPECT_EQ(server.tls_name, "api.secure.test");
  for (const std::string& bad :
       {std::string("a/b"), std::string("a b"), std::string(300, 'a')}) {
    internal::ClusterServer other;
    const absl::Status status = internal::ParseServerInfo(
        absl::StrCat(R"({"address":"127.0.0.2:1","serverData":{"weight":2},)",
                     R"("tlsName":")", bad, R"("})"),
        &other);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_EQ(other.tls_name, "");
    EXPECT_EQ(other.weight, 1);  // Nothing of the node is taken.
  }
}

TEST_F(TlsTest, EachServerIsCheckedAgainstItsOwnHostAndCallsSpread) {
  std::set<std::string> addresses;
  for (const std::string host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    addresses.insert(StartServer(host, ServerCertificate({host})));
  }
  // Each server published the name its certificate carries: its host.
  discovery::ZooKeeperOptions zk_options;
  zk_options.connect_string = ConnectString();
  auto zk = discovery::ZooKeeperClient::Connect(zk_options);
  ASSERT_TRUE(zk.ok()) << zk.status();
  discovery::RegistryLayout layout(discovery::kDefaultRegistryRoot, kCluster);
  for (const std::string& address : addresses) {
    absl::StatusOr<discovery::NodeData> node =
        (*zk)->Get(layout.ServerPath(address));
    ASSERT_TRUE(node.ok()) << node.status();
    EXPECT_THAT(node->data, HasSubstr(absl::StrCat(
                                "\"tlsName\":\"",
                                address.substr(0, address.find(':')), "\"")));
  }

  auto channel = Channel("round_robin");
  auto stub = EchoService::NewStub(channel);
  std::string who;
  ASSERT_TRUE(CallUntilOk(*stub, &who).ok());
  ASSERT_TRUE(channel->WaitForConnected(
      absl::ToChronoTime(absl::Now() + absl::Seconds(10))));
  // Every server READY (round_robin then visits each).
  std::set<std::string> answered;
  for (int i = 0; i < 60 && answered.size() < addresses.size(); ++i) {
    grpc::Status status = Call(*stub, &who);
    ASSERT_TRUE(status.ok()) << status.error_message();
    answered.insert(who);
    if (i % 3 == 2) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(answered, addresses);
  for (size_t i = 0; i < 3; ++i) EXPECT_GT(Service(i).calls(), 0) << i;
}

TEST_F(TlsTest, APublishedTlsNameIsWhatTheCertificateIsCheckedAgainst) {
  // The certificate names a DNS name only; the server publishes it.
  const std::string address =
      StartServer("127.0.0.2", ServerCertificate({"api-1.secure.test"}),
                  /*tls_name=*/"api-1.secure.test");
  auto stub = EchoService::NewStub(Channel());
  std::string who;
  grpc::Status status = CallUntilOk(*stub, &who);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(who, address);
}

TEST_F(TlsTest, OneSharedNameOnTheChannelWinsOverEachServersOwn) {
  // Both certificates carry only the shared name; the servers publish their
  // hosts (the default), which the channel's override replaces.
  StartServer("127.0.0.2", ServerCertificate({"cluster.secure.test"}));
  StartServer("127.0.0.3", ServerCertificate({"cluster.secure.test"}));
  auto stub =
      EchoService::NewStub(Channel("round_robin", "cluster.secure.test"));
  std::string who;
  grpc::Status status = CallUntilOk(*stub, &who);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::set<std::string> answered;
  for (int i = 0; i < 40 && answered.size() < 2; ++i) {
    ASSERT_TRUE(Call(*stub, &who).ok());
    answered.insert(who);
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(answered.size(), 2u);
}

TEST_F(TlsTest, AServerWhoseCertificateNamesAnotherHostIsRefusedSayingWhy) {
  // 127.0.0.2's certificate names 127.0.0.9: the handshake must fail.
  StartServer("127.0.0.2", ServerCertificate({"127.0.0.9"}));
  auto stub = EchoService::NewStub(Channel());
  std::string who;
  grpc::Status status = Call(*stub, &who, absl::Seconds(3));
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(SaysTls(status.error_message()))
      << status.error_code() << ": " << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("127.0.0.2"));

  // A good server beside it takes every call; the bad one never gets one.
  const std::string good =
      StartServer("127.0.0.3", ServerCertificate({"127.0.0.3"}));
  ASSERT_TRUE(CallUntilOk(*stub, &who).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Call(*stub, &who).ok());
    EXPECT_EQ(who, good);
  }
  EXPECT_EQ(Service(0).calls(), 0);
}

TEST_F(TlsTest, AServerOfAnUnknownCaIsRefusedSayingWhy) {
  const std::string other_dir = absl::StrCat(dir_, "/other-ca");
  ASSERT_EQ(mkdir(other_dir.c_str(), 0700), 0);
  absl::StatusOr<TestCertificateAuthority> other =
      TestCertificateAuthority::Create(other_dir, "Another CA");
  ASSERT_TRUE(other.ok()) << other.status();
  StartServer("127.0.0.2", ServerCertificate({"127.0.0.2"}, &*other));
  auto stub = EchoService::NewStub(Channel());
  grpc::Status status = Call(*stub, nullptr, absl::Seconds(3));
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(SaysTls(status.error_message()))
      << status.error_code() << ": " << status.error_message();
}

TEST_F(TlsTest, WaitForReadyCallsEndWithTheTlsFailureNotABareDeadline) {
  StartServer("127.0.0.2", ServerCertificate({"127.0.0.9"}));
  auto stub = EchoService::NewStub(Channel());
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
  Ping request;
  Ping response;
  grpc::Status status = stub->Echo(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(SaysTls(status.error_message())) << status.error_message();
}

TEST_F(TlsTest, MutualTlsRefusesAClientWithoutCertificateAndAcceptsOneWith) {
  StartServer("127.0.0.2", ServerCertificate({"127.0.0.2"}), "",
              ca_->cert_pem());
  {
    auto stub = EchoService::NewStub(Channel());
    grpc::Status status = Call(*stub, nullptr, absl::Seconds(3));
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(Service(0).calls(), 0);
  }
  absl::StatusOr<TestCertificate> client = ca_->IssueClient("tester");
  ASSERT_TRUE(client.ok()) << client.status();
  auto stub = EchoService::NewStub(Channel("random", "", &*client));
  std::string who;
  grpc::Status status = CallUntilOk(*stub, &who);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Service(0).calls(), 1);
}

TEST_F(TlsTest, FanOutSubCallsUseTheChannelsCredentials) {
  absl::StatusOr<TestCertificate> client = ca_->IssueClient("tester");
  ASSERT_TRUE(client.ok()) << client.status();
  // mTLS servers: a sub-call without the channel's client certificate would
  // be refused.
  for (const std::string host : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) {
    StartServer(host, ServerCertificate({host}), "", ca_->cert_pem());
  }
  auto channel = Channel("random", "", &*client);
  auto stub = EchoService::NewStub(channel);
  std::string who;
  ASSERT_TRUE(CallUntilOk(*stub, &who).ok());
  int before[3];
  // Until every server is READY, a fan-out reaches fewer than three.
  bool all = false;
  for (int attempt = 0; attempt < 50 && !all; ++attempt) {
    for (size_t i = 0; i < 3; ++i) before[i] = Service(i).calls();
    grpc::Status status = Call(*stub, &who, absl::Seconds(5), "all");
    ASSERT_TRUE(status.ok()) << status.error_message();
    all = true;
    for (size_t i = 0; i < 3; ++i) all &= Service(i).calls() == before[i] + 1;
    if (!all) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(all) << "a fan-out over TLS did not reach all three servers";
}

}  // namespace
}  // namespace slacker
