// A cluster server's registration in ZooKeeper: the server node, each
// namespace's member node and election candidate, and each method's metadata,
// at the paths of discovery/registry_layout.h (described in README.md, "The
// cluster's ZooKeeper layout").
//
// The ephemeral nodes and candidates are kept by the discovery recipes
// (PersistentEphemeralNode, LeaderElection), which restore them after a lost
// session; this class decides which exist.
//
// Thread-safe. Start, Publish, Unpublish and Close are synchronous (they wait
// for ZooKeeper): REQUIRES not called on the client's event thread. The first
// three refuse such a call with FailedPrecondition; Close (which the
// destructor calls) logs it as an error. `client` is not owned and
// must outlive this object.

#ifndef SLACKER_FRAMEWORK_INTERNAL_REGISTRATION_H_
#define SLACKER_FRAMEWORK_INTERNAL_REGISTRATION_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/curator_service_instance.h"
#include "discovery/leader_election.h"
#include "discovery/persistent_ephemeral_node.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/function_records.h"
#include "protos/slacker/cluster/registry.pb.h"

namespace slacker::internal {

struct RegistrationConfig {
  std::string root;                     // "/slacker/cluster"
  std::string cluster;                  // A valid node name.
  std::string address;                  // "host:port"
  std::string tls_name;  // Written into ServerInfo (ClusterOptions::tls_name).
  std::vector<std::string> namespaces;  // Valid node names.
  google::protobuf::Value server_data;
  std::string version;  // Of the framework, written into ServerInfo.
  // Also keep a Curator ServiceInstance registered while any namespace is
  // published (address and port are filled in from `address`).
  std::optional<discovery::CuratorServiceInstanceOptions> curator;
  // How long Publish and the first registration wait for ZooKeeper.
  absl::Duration timeout = absl::Seconds(15);
  // How long Start waits for a node of another ZooKeeper session at one of
  // the server's own paths to go (ClusterOptions::squatter_wait).
  absl::Duration squatter_wait = absl::InfiniteDuration();
  // If set: told when this server takes (true) or loses (false) the lead of
  // a namespace's election, on the client's listener thread (the election's
  // on_taken / on_lost); it must not block. For the server's metrics.
  std::function<void(const std::string& ns, bool leader)> on_leadership;
};

class Registration {
 public:
  Registration(discovery::ZooKeeperClient* client, RegistrationConfig config);
  // Close()s.
  ~Registration();
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

  // With a ZooKeeper ACL policy other than kOpen, first gives the cluster's
  // persistent nodes this server's ACL (registry_protection.h: repaired with
  // a warning, or PermissionDenied for a node of another identity). Then
  // writes the method metadata of every namespace, then publishes the server
  // node and every namespace; returns once all exist in ZooKeeper. On error
  // (the message names the node), what was made is removed again. A node of
  // another session at one of the server's paths is waited out for up to
  // config.squatter_wait, logging its owner and what to do; then
  // FailedPrecondition, saying the same.
  //
  // From then on the server repairs what it owns: its ephemeral nodes come
  // back when deleted, their data when someone else changes it, and the
  // method metadata records as FunctionRecords says.
  absl::Status Start();

  // Publishes one namespace: its ephemeral node and election candidate.
  // Returns once the node exists. OK if already published. NotFound if the
  // server has no such namespace; FailedPrecondition after Close().
  absl::Status Publish(const std::string& ns);
  // Deletes the namespace's ephemeral node and leaves its election (giving up
  // leadership). OK if not published. NotFound for an unknown namespace.
  absl::Status Unpublish(const std::string& ns);

  // Leadership while published (ClusterServer::ResignLeadership). Resign:
  // leaves the namespace's election (a leader gives up at once) and stays
  // out of it, across Unpublish and Publish, until JoinLeaderElection, which
  // joins at the back of the queue (once published). NotFound for an
  // unknown namespace; JoinLeaderElection: FailedPrecondition after Close().
  absl::Status ResignLeadership(const std::string& ns);
  absl::Status JoinLeaderElection(const std::string& ns);
  // Published and taking part in its election.
  bool InLeaderElection(const std::string& ns) const;

  // Makes `data` the server data in the server node (now and on every
  // re-creation).
  absl::Status SetServerData(google::protobuf::Value data);
  google::protobuf::Value server_data() const;

  bool IsPublished(const std::string& ns) const;
  const std::vector<std::string>& namespaces() const {
    return config_.namespaces;
  }
  // Whether this server leads `ns` by the cluster's rule
  // (discovery/cluster_rules.h), read from ZooKeeper now; false if not
  // published. When ZooKeeper cannot be read (or on the client's event
  // thread), the election's own view.
  bool IsLeader(const std::string& ns) const;

  // Deletes every node of this server (not the persistent ones). Idempotent.
  void Close();

 private:
  struct Published {
    std::unique_ptr<discovery::PersistentEphemeralNode> node;
    std::unique_ptr<discovery::LeaderElection> election;  // Null: resigned.
  };

  // FailedPrecondition naming `method` if called on the client's event
  // thread, where waiting for ZooKeeper would wait for itself.
  absl::Status CheckNotOnEventThread(absl::string_view method) const;
  absl::Status WriteFunctions(const std::string& ns);
  // The ...HoldingMu functions: REQUIRES mu_ held by the caller.
  absl::Status PublishHoldingMu(const std::string& ns,
                                absl::Duration squatter_wait);
  // Waits for `node` to be created (`what` names it in messages), as Start
  // says.
  absl::Status WaitForOwnNodeHoldingMu(discovery::PersistentEphemeralNode& node,
                                       absl::string_view what,
                                       absl::Duration squatter_wait);
  // Whose node holds `path`, and what to do about it.
  std::string SquatterMessage(const std::string& path, absl::string_view what,
                              int64_t owner) const;
  void UnpublishHoldingMu(const std::string& ns);
  // Makes and starts entry.election.
  absl::Status JoinElectionHoldingMu(const std::string& ns, Published& entry);
  absl::Status CheckKnownHoldingMu(const std::string& ns) const;
  void RetireElectionHoldingMu(
      std::unique_ptr<discovery::LeaderElection> election);
  std::string ServerInfoJsonHoldingMu() const;
  void UpdateServerNodeHoldingMu();
  // Registers in, or removes from, Curator discovery as publish state says.
  absl::Status SyncCuratorHoldingMu();

  discovery::ZooKeeperClient* const client_;
  const RegistrationConfig config_;
  const discovery::RegistryLayout layout_;

  mutable std::mutex mu_;
  bool closed_ = false;
  std::unique_ptr<discovery::CuratorServiceInstance> curator_;
  std::vector<std::unique_ptr<FunctionRecords>> function_records_;
  google::protobuf::Value server_data_;
  std::unique_ptr<discovery::PersistentEphemeralNode> server_node_;
  std::map<std::string, Published> published_;
  // Namespaces whose election this server stays out of.
  std::set<std::string> resigned_;
  // Elections left, kept until their on_lost has run.
  std::vector<std::unique_ptr<discovery::LeaderElection>> retired_;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_REGISTRATION_H_
