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
//   - The `zk` resolver reads the settings (FindChannel(id)).
//   - The `slacker_cluster` LB policy publishes the servers after every
//     picker it makes (PublishServers), and clears them when it shuts down.
//   - Readers (fan-out, interceptors) find the entry from the grpc::Channel
//     or its id and read one consistent ChannelEntry.
//
// Thread-safety: every function is thread-safe; a ChannelEntry is an
// immutable snapshot (settings and servers are shared_ptr to const), valid
// for as long as the caller keeps it, even after the channel is gone.
// Lifetime: the registry owns its entries; an entry exists from Register to
// Forget. PublishServers for an id not registered (a channel made by
// grpc::CreateChannel("zk://..."), or one already forgotten) does nothing.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CHANNEL_REGISTRY_H_
#define SLACKER_FRAMEWORK_INTERNAL_CHANNEL_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "framework/grouping/grouping.h"

namespace grpc {
class ChannelInterface;
}  // namespace grpc

namespace slacker::internal {

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
};

// The servers a channel's picker may use for one namespace (READY, healthy,
// not set aside), sorted by address, as of its last picker.
struct NamespaceServers {
  std::vector<Candidate> ready;
  int connecting = 0;  // Publishers not READY yet that may become so soon.
};
using ServersByNamespace = std::map<std::string, NamespaceServers, std::less<>>;

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
// Removes the entry (a no-op for an id not registered).
void ForgetChannel(ChannelId id);

// The entry, or nullopt for a channel not made by CreateClusterChannel (or
// already forgotten).
std::optional<ChannelEntry> FindChannel(ChannelId id);
std::optional<ChannelEntry> FindChannel(const grpc::ChannelInterface* channel);

// Replaces the channel's servers (null clears them).
void PublishServers(ChannelId id,
                    std::shared_ptr<const ServersByNamespace> servers);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CHANNEL_REGISTRY_H_
