#include "tools/slackerctl/credentials.h"

#include <grpcpp/security/credentials.h>

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace slacker::slackerctl {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (in) text << in.rdbuf();
  if (!in || text.str().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", path, ": cannot read that file (give a PEM file)"));
  }
  return text.str();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ConnectionSecurity& security) {
  if (!security.UsesTls()) return grpc::InsecureChannelCredentials();
  if (security.cert.empty() != security.key.empty()) {
    return absl::InvalidArgumentError(
        "--cert and --key go together: give the client certificate and its "
        "private key, or neither");
  }
  grpc::SslCredentialsOptions options;
  if (!security.cacert.empty()) {
    absl::StatusOr<std::string> roots = ReadPem(security.cacert, "cacert");
    if (!roots.ok()) return roots.status();
    options.pem_root_certs = *std::move(roots);
  }
  if (!security.cert.empty()) {
    absl::StatusOr<std::string> cert = ReadPem(security.cert, "cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(security.key, "key");
    if (!key.ok()) return key.status();
    options.pem_cert_chain = *std::move(cert);
    options.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(options);
}

void ApplyServerName(const ConnectionSecurity& security,
                     grpc::ChannelArguments* args) {
  if (!security.servername.empty()) {
    args->SetSslTargetNameOverride(security.servername);
  }
}

}  // namespace slacker::slackerctl
