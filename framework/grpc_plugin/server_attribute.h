// What the `zk` resolver tells the `slacker_cluster` LB policy about each
// address: the server as the cluster's ZooKeeper nodes describe it.

#ifndef SLACKER_FRAMEWORK_GRPC_PLUGIN_SERVER_ATTRIBUTE_H_
#define SLACKER_FRAMEWORK_GRPC_PLUGIN_SERVER_ATTRIBUTE_H_

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "framework/internal/cluster_view.h"
#include "framework/internal/plugin_names.h"
#include "src/core/lib/resolver/server_address.h"

namespace slacker::internal {

// Immutable; copies share the server.
class ServerAttribute : public grpc_core::ServerAddress::AttributeInterface {
 public:
  // gRPC finds attributes by the key's address, so there is one key object
  // for the process (defined in server_attribute.cc: a literal in the header
  // would be one object per translation unit under AddressSanitizer).
  static const char* Key();

  explicit ServerAttribute(std::shared_ptr<const ClusterServer> server)
      : server_(std::move(server)) {}

  const ClusterServer& server() const { return *server_; }

  std::unique_ptr<AttributeInterface> Copy() const override {
    return std::make_unique<ServerAttribute>(server_);
  }
  int Cmp(const AttributeInterface* other) const override {
    const ClusterServer& a = *server_;
    const ClusterServer& b =
        static_cast<const ServerAttribute*>(other)->server();
    if (a == b) return 0;
    auto key = [](const ClusterServer& s) {
      return std::tie(s.address, s.namespaces, s.leads, s.server_data, s.weight,
                      s.tls_name);
    };
    return key(a) < key(b) ? -1 : 1;
  }
  std::string ToString() const override {
    return absl::StrCat("{", server_->address, " namespaces=[",
                        absl::StrJoin(server_->namespaces, ","), "] leads=[",
                        absl::StrJoin(server_->leads, ","), "]}");
  }

 private:
  std::shared_ptr<const ClusterServer> server_;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_GRPC_PLUGIN_SERVER_ATTRIBUTE_H_
