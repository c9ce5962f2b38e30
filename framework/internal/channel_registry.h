// The one registry of cluster channels in this process: for each channel made
// by CreateClusterChannel, its settings and the servers its LB policy may pick
// now, per namespace. Fan-out, the resolver and the LB policy meet here, in
// C++ types, keyed by the channel's identity (ChannelId); nothing travels
// through JSON.
//
// Who writes what:
//   - CreateClusterChannel takes a NewChannelId(), passes it to the channel
//     as kChannelIdArg (channel_args.h), and Registers the channel with its
//     settings before the channel first resolves. It Forgets the entry when
//     the last copy of the channel pointer it returned is dropped.
//   - The `zk` resolver reads the settings (FindChannel(id)). For a channel
//     made by grpc::CreateChannel("zk://...") (no kChannelIdArg), it takes a
//     NewChannelId itself, registers the channel by id only
//     (RegisterChannelById), passes the id to the LB policy in its results'
//     channel args and in the LB policy's config (kLbConfigChannelId), and
//     forgets it when it shuts down.
//   - The `slacker_cluster` LB policy publishes the servers after every
//     picker it makes (PublishServers), and clears them when it shuts down.
//   - Readers (fan-out, interceptors) find the entry from the grpc::Channel
//     or its id and read one consistent ChannelEntry. A channel registered
//     by id only is found from the grpc::Channel through the ChannelIdReader
//     that //framework:cluster_channel installs (it reads the id from the
//     channel's service config).
//
// Thread-safety: every function is thread-safe; a ChannelEntry is an
// immutable snapshot (settings and servers are shared_ptr to const), valid
// for as long as the caller keeps it, even after the channel is gone.
// Lifetime: the registry owns its entries; an entry exists from Register to
// Forget. PublishServers for an id not registered (one already forgotten)
// does nothing.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CHANNEL_REGISTRY_H_
#define SLACKER_FRAMEWORK_INTERNAL_CHANNEL_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "discovery/ensemble_provider.h"
#include "framework/grouping/grouping.h"

namespace grpc {
class ChannelInterface;
}  // namespace grpc

namespace slacker::internal {

class ClientMetrics;  // client_metrics.h

// A cluster channel's identity in this process: unique, never reused, > 0.
using ChannelId = int;

// What CreateClusterChannel fixed for a channel.
struct ChannelSettings {
  std::string cluster;  // The cluster's name.
  std::string target;   // "zk://hosts/cluster".
  // A server's data changed (also when it first appears, from "" to its data,
  // and when it leaves, to ""). May be empty. Called on the channel's
  // ZooKeeper thread, one at a time.
  std::function<void(const std::string& address, const std::string& old_data,
                     const std::string& new_data)>
      on_server_data_change;
  // For a channel registered by id only (grpc::CreateChannel): its grouping
  // and per-method groupings as its target and channel args give them, for
  // the cluster interceptor. Empty for a CreateClusterChannel channel, whose
  // interceptor holds its own.
  std::string grouping;
  std::map<std::string, std::string> method_groupings;
  // What the channel records (ClusterChannelOptions::metrics); null: off.
  std::shared_ptr<ClientMetrics> metrics;
  // How the channel's ZooKeeper session finds its ensemble
  // (ClusterChannelOptions::ensemble).
  discovery::EnsembleOptions ensemble;
};

// The servers a channel's picker may use for one namespace (READY, healthy,
// not set aside), sorted by address, as of its last picker.
struct NamespaceServers {
  std::vector<Candidate> ready;
  int connecting = 0;  // Publishers not READY yet that may become so soon.
  // The last connection failure of a publisher (explained, for TLS), or "".
  std::string last_error;
};
using ServersByNamespace = std::map<std::string, NamespaceServers, std::less<>>;

// The servers of `ns` in `servers`: its own entry, else the kAnyNamespace
// entry (plugin_names.h) of a channel whose servers are announced without
// their namespaces (foreign_snapshot.h); null if neither exists.
const NamespaceServers* ServersOf(const ServersByNamespace& servers,
                                  const std::string& ns);

// One channel's entry as of one moment.
struct ChannelEntry {
  ChannelId id = 0;
  std::shared_ptr<const ChannelSettings> settings;  // Never null.
  // Null before the channel's first picker (and after its policy shut down).
  std::shared_ptr<const ServersByNamespace> servers;
};

// A new id, for a channel about to be made.
ChannelId NewChannelId();

// Adds `channel` under `id`. REQUIRES: id came from NewChannelId and is not
// registered; settings and channel are not null (checked: a broken
// requirement aborts with a message).
void RegisterChannel(ChannelId id, const grpc::ChannelInterface* channel,
                     std::shared_ptr<const ChannelSettings> settings);
// Adds a channel known by its id only (one made by grpc::CreateChannel,
// whose grpc::Channel the resolver never sees). REQUIRES as RegisterChannel.
void RegisterChannelById(ChannelId id,
                         std::shared_ptr<const ChannelSettings> settings);
// Removes the entry (a no-op for an id not registered).
void ForgetChannel(ChannelId id);

// The entry, or nullopt for a channel that is not a cluster channel (or
// already forgotten). By channel: a channel registered by pointer, else the
// id the ChannelIdReader finds for it.
std::optional<ChannelEntry> FindChannel(ChannelId id);
std::optional<ChannelEntry> FindChannel(const grpc::ChannelInterface* channel);
// Only a channel registered by pointer (CreateClusterChannel's).
std::optional<ChannelEntry> FindChannelByPointer(
    const grpc::ChannelInterface* channel);

// Finds the id of a channel registered by id only, from the channel itself;
// nullopt for any other channel. Must be thread-safe.
using ChannelIdReader =
    std::function<std::optional<ChannelId>(const grpc::ChannelInterface*)>;
// Installs the reader FindChannel(channel) uses (replacing any earlier one).
void SetChannelIdReader(ChannelIdReader reader);

// Replaces the channel's servers (null clears them).
void PublishServers(ChannelId id,
                    std::shared_ptr<const ServersByNamespace> servers);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CHANNEL_REGISTRY_H_
