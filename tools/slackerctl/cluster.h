// The cluster slackerctl's commands look at: its ZooKeeper connection, its
// registry layout (discovery/registry_layout.h), and the lookups more than
// one command makes (a namespace's members, a method's descriptors).
//
// Not thread-safe: one command uses it on one thread.

#ifndef SLACKER_TOOLS_SLACKERCTL_CLUSTER_H_
#define SLACKER_TOOLS_SLACKERCTL_CLUSTER_H_

#include <google/protobuf/descriptor.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/ensemble_provider.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "protos/slacker/cluster/registry.pb.h"

namespace slacker::slackerctl {

class Cluster {
 public:
  // `zookeeper` is the connect string of --zk; `root` and `cluster` those of
  // --root and --cluster. Nothing is checked or connected yet.
  Cluster(std::string zookeeper, std::string root, std::string cluster);

  // InvalidArgument if the cluster name or the root is not valid (the
  // message says which).
  absl::Status Validate() const { return layout_.Validate(); }

  // Connects to ZooKeeper, waiting up to `timeout`. InvalidArgument for a
  // malformed connect string; otherwise the client's error.
  absl::Status Connect(absl::Duration timeout);

  const std::string& zookeeper() const { return zookeeper_; }
  const std::string& root() const { return layout_.root(); }
  const std::string& name() const { return layout_.cluster(); }
  const discovery::RegistryLayout& layout() const { return layout_; }
  // --digest: "user:password" for ZooKeeper's digest scheme, or empty. Used by
  // Connect and by every command's own ZooKeeper session (a cluster whose
  // servers use AclPolicy::kCreatorAll is unreadable without it). Set before
  // Connect.
  void set_digest(std::string digest) { digest_ = std::move(digest); }
  const std::string& digest() const { return digest_; }
  // --exhibitor: how Connect and every command's own ZooKeeper session find
  // the ensemble (discovery/ensemble_provider.h); the default: --zk, fixed.
  // Set before Connect.
  void set_ensemble(discovery::EnsembleOptions ensemble) {
    ensemble_ = std::move(ensemble);
  }
  const discovery::EnsembleOptions& ensemble() const { return ensemble_; }
  // REQUIRES: Connect() succeeded.
  discovery::ZooKeeperClient& zk() { return *zk_; }

  // The publishers of namespace `ns` that count by the cluster's rules
  // (discovery/cluster_rules.h: those a channel routes to), sorted, or the
  // error of reading them. REQUIRES: Connect() succeeded.
  absl::StatusOr<std::vector<std::string>> Members(const std::string& ns);

 private:
  const std::string zookeeper_;
  const discovery::RegistryLayout layout_;
  std::string digest_;
  discovery::EnsembleOptions ensemble_;
  std::unique_ptr<discovery::ZooKeeperClient> zk_;
};

// The value of --exhibitor, "HOST[,HOST...]:PORT" (Exhibitor's hosts and its
// REST port), as the Exhibitor provider's options with `backup` (--zk) as the
// backup connect string. InvalidArgument saying what is wrong otherwise.
absl::StatusOr<discovery::ExhibitorOptions> ParseExhibitorFlag(
    const std::string& value, const std::string& backup);

// A method of the cluster, rebuilt from the metadata its servers publish.
struct Method {
  cluster::MethodInfo info;
  google::protobuf::DescriptorPool pool;
  const google::protobuf::MethodDescriptor* descriptor = nullptr;  // In pool.
};

// Rebuilds NAMESPACE/METHOD into `out` from `json`, the data of its
// functions/ node (a MethodInfo as JSON), untrusted: InvalidArgument, saying
// what is malformed, if it does not describe that method. No ZooKeeper.
absl::Status ParseMethod(const std::string& json, const std::string& ns,
                         const std::string& method, Method* out);

// Loads NAMESPACE/METHOD's metadata into `out`. nullopt on success; on
// failure the exit code, its message already printed (kUsage for an unknown
// method, the line naming the namespace's methods, or the cluster's
// namespaces if it has none; kUnreachable if ZooKeeper failed, kCallFailed
// for malformed metadata). REQUIRES: c.Connect() succeeded.
std::optional<int> LoadMethod(Cluster& c, const std::string& ns,
                              const std::string& method, Method* out);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_CLUSTER_H_
