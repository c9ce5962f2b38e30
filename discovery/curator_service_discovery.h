// Reading Apache Curator's service discovery (curator-x-discovery) from C++:
// the services and instances that JVM programs (or CuratorServiceInstance)
// register under a base path,
//
//   <base_path>/<service name>/<instance id>   data: ServiceInstance JSON
//
// as Curator's ServiceDiscovery, ServiceCache and ServiceProvider read them.
//
//   Curator (Java)                     here (client, base path, ...)
//   discovery.queryForNames()          QueryCuratorServiceNames
//   discovery.queryForInstances(name)  QueryCuratorInstances
//   discovery.queryForInstance(n, id)  QueryCuratorInstance
//   serviceCache(name).getInstances()  CuratorServiceCache::Instances
//   ServiceCacheListener               CuratorServiceCache::AddListener
//   serviceProvider(..).getInstance()  CuratorServiceProvider::GetInstance
//   provider.noteError(instance)       CuratorServiceProvider::NoteError(id)
//
//   CuratorServiceProviderOptions options;
//   options.strategy = CuratorProviderStrategy::kRandom;
//   absl::StatusOr<std::unique_ptr<CuratorServiceProvider>> provider =
//       CuratorServiceProvider::Create(client, "/services", "api", options);
//   (*provider)->cache().WaitUntilInitialized(absl::Seconds(10));
//   absl::StatusOr<CuratorInstance> instance = (*provider)->GetInstance();
//   if (instance.ok() && !Call(*instance->address, *instance->port).ok()) {
//     (*provider)->NoteError(instance->id);  // Skipped after 2 in 30 s.
//   }
//
// Every node read is untrusted: ParseCuratorInstance bounds it before parsing,
// and an instance node that it refuses is skipped and logged with its path and
// what is wrong (by the cache once per version of the node, by a query each
// time), never a failure of the whole query or cache. A node listed but gone
// before its read is skipped, as Curator skips it.
//
// Ownership: `client` is not owned and must outlive every object here.

#ifndef SLACKER_DISCOVERY_CURATOR_SERVICE_DISCOVERY_H_
#define SLACKER_DISCOVERY_CURATOR_SERVICE_DISCOVERY_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/children_cache.h"
#include "discovery/curator_instance_json.h"
#include "discovery/curator_instance_picker.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

// --- One-shot queries: synchronous reads, each a fresh look at ZooKeeper.
// Thread-safe; they wait for ZooKeeper, so not on the client's event thread
// (FailedPrecondition there). InvalidArgument for an invalid path or name;
// the client's errors otherwise (Unavailable while disconnected, ...).

// The service names under `base_path`, sorted; empty if it does not exist.
absl::StatusOr<std::vector<std::string>> QueryCuratorServiceNames(
    ZooKeeperClient* client, absl::string_view base_path);

// The instances of `service_name` that parse, sorted by id; empty if the
// service does not exist.
absl::StatusOr<std::vector<CuratorInstance>> QueryCuratorInstances(
    ZooKeeperClient* client, absl::string_view base_path,
    absl::string_view service_name);

// One instance; nullopt if there is no such node. InvalidArgument (saying
// what is wrong) if the node's data is not a ServiceInstance.
absl::StatusOr<std::optional<CuratorInstance>> QueryCuratorInstance(
    ZooKeeperClient* client, absl::string_view base_path,
    absl::string_view service_name, absl::string_view id);

// --- A watched cache of one service's instances (Curator's ServiceCache).

enum class CuratorServiceCacheEventType {
  kAdded,        // An instance is listed that was not (or did not parse).
  kUpdated,      // An instance's JSON changed (e.g. its payload).
  kRemoved,      // An instance is gone (its node, or it no longer parses).
  kInitialized,  // The first full load is done; once per listener.
};

struct CuratorServiceCacheEvent {
  CuratorServiceCacheEventType type = CuratorServiceCacheEventType::kAdded;
  // kAdded, kUpdated: the instance now; kRemoved: as last heard. Empty (no
  // id) for kInitialized.
  CuratorInstance instance;
};

// Stays current across every change, reconnection, session expiry and
// ZooKeeper restart, as the ChildrenCache under it does (see
// children_cache.h). An instance whose session ends (its process killed)
// leaves it when ZooKeeper deletes the ephemeral node: within the writer's
// session timeout.
//
// Thread-safe: every method may be called from any thread, listeners
// included (Close() and the destructor: not on the client's event thread).
class CuratorServiceCache {
 public:
  // Called on the client's listener thread, one event at a time, in order
  // (see ChildrenCache::Listener). Replaying the events a listener hears
  // (kAdded inserts by id, kUpdated replaces, kRemoved erases) yields
  // Instances() once deliveries have caught up.
  using Listener = std::function<void(const CuratorServiceCacheEvent& event)>;

  // Starts watching `<base_path>/<service_name>` (which need not exist yet).
  // InvalidArgument for a null client, an invalid path or name.
  static absl::StatusOr<std::unique_ptr<CuratorServiceCache>> Create(
      ZooKeeperClient* client, absl::string_view base_path,
      absl::string_view service_name);

  ~CuratorServiceCache();  // Close()s.
  CuratorServiceCache(const CuratorServiceCache&) = delete;
  CuratorServiceCache& operator=(const CuratorServiceCache&) = delete;

  const std::string& service_name() const { return service_name_; }
  // "<base_path>/<service_name>".
  const std::string& path() const { return cache_->path(); }

  // The instances that parse, sorted by id. Each node is parsed once per
  // version, however often this is called.
  std::vector<CuratorInstance> Instances() const;

  // See ChildrenCache::WaitUntilInitialized.
  bool WaitUntilInitialized(absl::Duration timeout) const;

  // Adds a listener, which first hears kAdded for every instance now (and
  // kInitialized once loaded), then every change. Returns its id.
  int AddListener(Listener listener);
  // After this returns the listener is not called again (see ChildrenCache).
  void RemoveListener(int id);

  // Stops watching (see ChildrenCache::Close). Idempotent.
  // REQUIRES: not on the client's event thread (checked).
  void Close();

 private:
  struct Parsed {
    int64_t czxid = 0;
    int64_t mzxid = 0;
    std::optional<CuratorInstance> instance;  // nullopt: refused (logged).
  };
  CuratorServiceCache(std::string service_name,
                      std::unique_ptr<ChildrenCache> cache);

  const std::string service_name_;
  const std::unique_ptr<ChildrenCache> cache_;

  // Parsed nodes by child name, reused while their version is unchanged.
  mutable std::mutex mu_;
  mutable std::map<std::string, Parsed> parsed_ ABSL_GUARDED_BY(mu_);
};

// --- Choosing one instance (Curator's ServiceProvider).

struct CuratorServiceProviderOptions {
  // Curator's default is round robin.
  CuratorProviderStrategy strategy = CuratorProviderStrategy::kRoundRobin;
  // When NoteError takes an instance out, and for how long (Curator's
  // defaults: 2 errors, 30 s after the first).
  CuratorDownInstancePolicy down_instance_policy;
  // Curator's additionalFilter: only instances it returns true for are
  // chosen (e.g. by payload, or `enabled`). Called on the GetInstance
  // caller's thread; it must be thread-safe. Default: every instance.
  CuratorInstancePicker::Filter filter;
};

// A CuratorServiceCache and a CuratorInstancePicker. Thread-safe, as the
// cache (Close() and the destructor: not on the client's event thread).
class CuratorServiceProvider {
 public:
  // Same errors as CuratorServiceCache::Create.
  static absl::StatusOr<std::unique_ptr<CuratorServiceProvider>> Create(
      ZooKeeperClient* client, absl::string_view base_path,
      absl::string_view service_name,
      CuratorServiceProviderOptions options = {});

  // An instance by the strategy, among those that pass the filter and are
  // not down. Unavailable if there is none, saying how many are listed, how
  // many are down and how many the filter refused (until the cache has loaded,
  // none may be listed yet: call cache().WaitUntilInitialized first).
  absl::StatusOr<CuratorInstance> GetInstance();
  // Every instance the cache holds (down ones included, as Curator's
  // getAllInstances).
  std::vector<CuratorInstance> GetAllInstances() const;
  // Counts an error against instance `id` (Curator's noteError).
  void NoteError(absl::string_view id);

  CuratorServiceCache& cache() { return *cache_; }
  CuratorInstancePicker& picker() { return picker_; }

 private:
  CuratorServiceProvider(std::unique_ptr<CuratorServiceCache> cache,
                         const CuratorServiceProviderOptions& options);

  const std::unique_ptr<CuratorServiceCache> cache_;
  const CuratorInstancePicker::Filter filter_;
  CuratorInstancePicker picker_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CURATOR_SERVICE_DISCOVERY_H_
