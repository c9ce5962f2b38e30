#include "framework/internal/tls_name.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

using ::testing::HasSubstr;

TEST(ValidateTlsNameTest, AcceptsDnsNamesAndIpLiterals) {
  EXPECT_TRUE(ValidateTlsName("orders-1.example.com", "name").ok());
  EXPECT_TRUE(ValidateTlsName("127.0.0.2", "name").ok());
  EXPECT_TRUE(ValidateTlsName("fe80::1", "name").ok());
  EXPECT_TRUE(ValidateTlsName(std::string(kMaxTlsNameLength, 'a'), "x").ok());
}

TEST(ValidateTlsNameTest, RefusesWhatNoCertificateNames) {
  for (const std::string& bad :
       {std::string(), std::string(kMaxTlsNameLength + 1, 'a'),
        std::string("a b"), std::string("a/b"), std::string("*.example.com"),
        std::string("a\nb"), std::string("a\0b", 3)}) {
    absl::Status status = ValidateTlsName(bad, "ClusterOptions::tls_name");
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(status.message(), HasSubstr("ClusterOptions::tls_name"));
    EXPECT_THAT(status.message(), HasSubstr("subjectAltName"));
  }
}

TEST(TlsNameOfTest, PublishedNameElseTheAddressHost) {
  EXPECT_EQ(TlsNameOf("127.0.0.2:5000", "api.example.com"), "api.example.com");
  EXPECT_EQ(TlsNameOf("127.0.0.2:5000", ""), "127.0.0.2");
  EXPECT_EQ(TlsNameOf("host-a:5000", ""), "host-a");
  EXPECT_EQ(TlsNameOf("[::1]:5000", ""), "::1");
}

TEST(ExplainConnectionFailureTest, ATlsFailureSaysWhatWasCheckedAndWhatToDo) {
  const std::string explained = ExplainConnectionFailure(
      "Handshake failed", "127.0.0.2:5000", "127.0.0.2", TlsNameSource::kHost);
  EXPECT_THAT(explained, HasSubstr("Handshake failed"));
  EXPECT_THAT(explained, HasSubstr("TLS handshake with 127.0.0.2:5000"));
  EXPECT_THAT(explained, HasSubstr("'127.0.0.2' (the server's host)"));
  EXPECT_THAT(explained, HasSubstr("ClusterOptions::tls_name"));
  EXPECT_THAT(ExplainConnectionFailure("SSL_ERROR_SSL", "h:1", "api",
                                       TlsNameSource::kChannel),
              HasSubstr("override"));
  EXPECT_THAT(ExplainConnectionFailure("bad certificate", "h:1", "api",
                                       TlsNameSource::kPublished),
              HasSubstr("the TLS name the server published"));
}

TEST(ExplainConnectionFailureTest, OtherFailuresAreLeftAsTheyAre) {
  EXPECT_EQ(ExplainConnectionFailure("Connection refused", "h:1", "h",
                                     TlsNameSource::kHost),
            "Connection refused");
}

}  // namespace
}  // namespace slacker::internal
