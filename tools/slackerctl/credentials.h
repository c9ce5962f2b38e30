// How slackerctl's gRPC connections are secured, from its flags: the one
// place where the credentials of cluster calls (`call`, through a cluster
// channel) and of manager commands (offline, online, server-data, shutdown,
// one server's manager) are made.
//
//   --tls               TLS, checking servers against the system's CAs, or
//                       --cacert's;
//   --cacert=PEM_FILE   trust these CA certificates (implies --tls);
//   --cert, --key       PEM files of a client certificate and its key, for
//                       servers that require one (mTLS; imply --tls; both
//                       or neither);
//   --servername=NAME   the name every server's certificate is checked
//                       against, in place of each server's own (its
//                       published TLS name for `call`, the --server host for
//                       manager commands; implies --tls).
//
// Thread-safe: the functions keep no state.

#ifndef SLACKER_TOOLS_SLACKERCTL_CREDENTIALS_H_
#define SLACKER_TOOLS_SLACKERCTL_CREDENTIALS_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace slacker::slackerctl {

// The flags above, as given.
struct ConnectionSecurity {
  bool tls = false;
  std::string cacert;  // Paths of PEM files, or empty.
  std::string cert;
  std::string key;
  std::string servername;

  // Whether any flag asks for TLS.
  bool UsesTls() const {
    return tls || !cacert.empty() || !cert.empty() || !key.empty() ||
           !servername.empty();
  }
};

// Insecure credentials without TLS flags; SSL credentials with them.
// InvalidArgument, naming the flag, for a file that cannot be read or --cert
// without --key (or the reverse).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeCredentials(
    const ConnectionSecurity& security);

// Adds --servername to `args` as the channel-wide TLS target name (which
// wins over every server's own; see framework/cluster_channel.h, "TLS").
void ApplyServerName(const ConnectionSecurity& security,
                     grpc::ChannelArguments* args);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_CREDENTIALS_H_
