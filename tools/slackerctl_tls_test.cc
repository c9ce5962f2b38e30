// slackerctl over TLS, end to end: the example server (//examples:server)
// serving with --tls_cert/--tls_key (and --tls_client_ca for mTLS),
// certificates made in the test (testing/certificates.h), and slackerctl's
// --tls,
// --cacert, --cert, --key and --servername on `call` and on a manager
// command.

#include <stdlib.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/certificates.h"
#include "testing/child.h"
#include "testing/run_command.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, slackerctl, "", "path of tools/slackerctl");
ABSL_FLAG(std::string, server_program, "", "path of examples/server");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::TestCertificate;
using ::slacker::testing::TestCertificateAuthority;

constexpr char kCall[] = "call slacker.example.Api/Echo '{\"text\":\"hi\"}'";

using CtlRun = slacker::testing::CommandRun;

class SlackerctlTlsTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    dir_ = getenv("TEST_TMPDIR");
    absl::StatusOr<TestCertificateAuthority> ca =
        TestCertificateAuthority::Create(dir_);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_.emplace(*std::move(ca));
    absl::StatusOr<TestCertificate> client = ca_->IssueClient("operator");
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }
  void TearDown() override {
    server_.reset();
    ZooKeeperTest::TearDown();
  }

  // Starts the example server at `host` with a certificate naming `names`;
  // with `mtls`, it requires client certificates of the test's CA.
  std::string StartServer(const std::string& host,
                          const std::vector<std::string>& names,
                          bool mtls = false) {
    absl::StatusOr<TestCertificate> cert = ca_->IssueServer(names);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return "";
    std::vector<std::string> args = {absl::GetFlag(FLAGS_server_program),
                                     "--zk=" + ConnectString(),
                                     "--cluster=tls",
                                     "--host=" + host,
                                     "--namespaces=api",
                                     "--tls_cert=" + cert->cert_path,
                                     "--tls_key=" + cert->key_path};
    if (mtls) args.push_back("--tls_client_ca=" + ca_->cert_path());
    server_ = std::make_unique<Child>(args);
    std::optional<std::string> address = server_->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "the example server did not start";
    return address.value_or("");
  }

  CtlRun Ctl(const std::string& args) {
    return slacker::testing::RunCommand(
        absl::StrCat(absl::GetFlag(FLAGS_slackerctl), " --zk=", ConnectString(),
                     " --cluster=tls --deadline=5s ", args));
  }

  std::string CaFlag() const { return "--cacert=" + ca_->cert_path(); }
  std::string ClientFlags() const {
    return absl::StrCat("--cert=", client_.cert_path,
                        " --key=", client_.key_path);
  }

  std::string dir_;
  std::optional<TestCertificateAuthority> ca_;
  TestCertificate client_;
  std::unique_ptr<Child> server_;
};

TEST_F(SlackerctlTlsTest, CallAndManagerCommandOverTls) {
  const std::string address = StartServer("127.0.0.2", {"127.0.0.2"});
  CtlRun call = Ctl(absl::StrCat("--tls ", CaFlag(), " ", kCall));
  ASSERT_EQ(call.exit_code, 0) << call.out << call.err;
  EXPECT_TRUE(absl::StrContains(call.out, "\"text\":\"hi\"")) << call.out;
  EXPECT_TRUE(absl::StrContains(call.out, address)) << call.out;

  CtlRun data = Ctl(absl::StrCat("--tls ", CaFlag(), " --server=", address,
                                 " server-data '{\"zone\":\"z1\"}'"));
  ASSERT_EQ(data.exit_code, 0) << data.out << data.err;
  CtlRun read = Ctl(
      absl::StrCat("--tls ", CaFlag(), " --server=", address, " server-data"));
  ASSERT_EQ(read.exit_code, 0) << read.out << read.err;
  EXPECT_TRUE(absl::StrContains(read.out, "z1")) << read.out;
}

TEST_F(SlackerctlTlsTest, WithoutTlsFlagsATlsServerIsNotReached) {
  const std::string address = StartServer("127.0.0.2", {"127.0.0.2"});
  CtlRun call = Ctl(kCall);
  EXPECT_NE(call.exit_code, 0) << call.out;
  CtlRun manage = Ctl(absl::StrCat("--server=", address, " server-data"));
  EXPECT_EQ(manage.exit_code, 3) << manage.out << manage.err;
  // The CA is not in the system's store: --tls alone refuses the server.
  CtlRun untrusted =
      Ctl(absl::StrCat("--tls --server=", address, " server-data"));
  EXPECT_EQ(untrusted.exit_code, 3) << untrusted.out << untrusted.err;
}

TEST_F(SlackerctlTlsTest, ServerNameChecksEveryServerAgainstOneName) {
  const std::string address = StartServer("127.0.0.2", {"tls-cluster.test"});
  CtlRun call =
      Ctl(absl::StrCat(CaFlag(), " --servername=tls-cluster.test ", kCall));
  ASSERT_EQ(call.exit_code, 0) << call.out << call.err;
  CtlRun manage = Ctl(absl::StrCat(CaFlag(), " --servername=tls-cluster.test",
                                   " --server=", address, " server-data"));
  ASSERT_EQ(manage.exit_code, 0) << manage.out << manage.err;
  // Without it the server's own name (its host) does not match.
  CtlRun mismatch =
      Ctl(absl::StrCat(CaFlag(), " --server=", address, " server-data"));
  EXPECT_EQ(mismatch.exit_code, 3) << mismatch.out << mismatch.err;
}

TEST_F(SlackerctlTlsTest, MutualTlsNeedsTheClientCertificate) {
  const std::string address = StartServer("127.0.0.2", {"127.0.0.2"}, true);
  CtlRun refused =
      Ctl(absl::StrCat(CaFlag(), " --server=", address, " server-data"));
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  CtlRun manage = Ctl(absl::StrCat(CaFlag(), " ", ClientFlags(),
                                   " --server=", address, " server-data"));
  ASSERT_EQ(manage.exit_code, 0) << manage.out << manage.err;
  CtlRun call = Ctl(absl::StrCat(CaFlag(), " ", ClientFlags(), " ", kCall));
  ASSERT_EQ(call.exit_code, 0) << call.out << call.err;
  EXPECT_TRUE(absl::StrContains(call.out, "\"text\":\"hi\"")) << call.out;
}

TEST_F(SlackerctlTlsTest, BadTlsFlagsAreUsageErrors) {
  CtlRun half = Ctl(absl::StrCat("--cert=", client_.cert_path,
                                 " --server=127.0.0.1:1 server-data"));
  EXPECT_EQ(half.exit_code, 2) << half.err;
  EXPECT_TRUE(absl::StrContains(half.err, "--key")) << half.err;
  CtlRun missing =
      Ctl("--cacert=/nonexistent.pem --server=127.0.0.1:1 "
          "server-data");
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.err, "--cacert")) << missing.err;
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
