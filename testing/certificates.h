// Test certificates: a certificate authority made on the spot, and the server
// and client certificates it issues, for tests of TLS and mTLS (the cluster
// channel's per-server names, slackerctl's --tls flags). Made with Debian's
// openssl program (/usr/bin/openssl, package `openssl`), in a directory of
// the caller's (a test's $TEST_TMPDIR): every certificate and key is there as
// a PEM file, for programs given paths, and in memory, for gRPC's
// credentials. Keys are P-256 ECDSA, certificates valid for two days.
//
//   absl::StatusOr<TestCertificateAuthority> ca =
//       TestCertificateAuthority::Create(dir);
//   absl::StatusOr<TestCertificate> server = ca->IssueServer({"127.0.0.2"});
//   grpc::SslServerCredentialsOptions options;
//   options.pem_key_cert_pairs.push_back({server->key_pem, server->cert_pem});
//   ...
//   grpc::SslCredentialsOptions client;
//   client.pem_root_certs = ca->cert_pem();
//
// Not for production: the CA's key lies unprotected beside its certificate.

#ifndef SLACKER_TESTING_CERTIFICATES_H_
#define SLACKER_TESTING_CERTIFICATES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace slacker::testing {

// A certificate with its private key, as PEM text and as files.
struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;
  std::string cert_path;
  std::string key_path;
};

// Thread-compatible: one thread at a time per authority (issuing writes
// files named after a counter). Copyable; copies issue into the same
// directory and may repeat file names, so issue from one copy.
class TestCertificateAuthority {
 public:
  // Makes a self-signed CA certificate whose subject's common name is
  // `common_name`, with its key and every certificate it issues in `dir`
  // (which must exist). Internal, with openssl's own message, when openssl
  // fails or is missing (install Debian's `openssl`).
  static absl::StatusOr<TestCertificateAuthority> Create(
      std::string dir, std::string common_name = "Slacker test CA");

  // The CA's certificate: what clients and servers trust.
  const std::string& cert_pem() const { return ca_.cert_pem; }
  const std::string& cert_path() const { return ca_.cert_path; }

  // A certificate for a TLS server (extendedKeyUsage serverAuth), signed by
  // this CA, whose subjectAltName lists `names`: each IP literal as an IP
  // address entry, anything else as a DNS name. The first name is also its
  // common name. REQUIRES: `names` is not empty. Errors as Create.
  absl::StatusOr<TestCertificate> IssueServer(
      const std::vector<std::string>& names);

  // A certificate for a TLS client (extendedKeyUsage clientAuth), signed by
  // this CA, with subject common name `common_name`. Errors as Create.
  absl::StatusOr<TestCertificate> IssueClient(const std::string& common_name);

 private:
  TestCertificateAuthority() = default;
  absl::StatusOr<TestCertificate> Issue(const std::string& common_name,
                                        const std::string& extensions);

  std::string dir_;
  TestCertificate ca_;
  int issued_ = 0;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_CERTIFICATES_H_
