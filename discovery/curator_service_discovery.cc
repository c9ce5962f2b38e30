#include "discovery/curator_service_discovery.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

absl::StatusOr<std::string> ServicePath(absl::string_view base_path,
                                        absl::string_view service_name) {
  if (absl::Status valid = ValidatePath(base_path); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Curator base path: ", valid.message()));
  }
  if (absl::Status valid =
          ValidateNodeName(service_name, "Curator service name");
      !valid.ok()) {
    return valid;
  }
  return JoinPath(base_path, service_name);
}

absl::Status CheckClient(ZooKeeperClient* client, absl::string_view what) {
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the ZooKeeper client is null"));
  }
  return absl::OkStatus();
}

void LogRefused(absl::string_view path, const absl::Status& why) {
  internal::Log(LogLevel::kWarning, absl::StrCat("Curator instance node ", path,
                                                 " skipped: ", why.message()));
}

bool ById(const CuratorInstance& a, const CuratorInstance& b) {
  return a.id < b.id;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> QueryCuratorServiceNames(
    ZooKeeperClient* client, absl::string_view base_path) {
  if (absl::Status ok = CheckClient(client, "QueryCuratorServiceNames");
      !ok.ok()) {
    return ok;
  }
  if (absl::Status valid = ValidatePath(base_path); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Curator base path: ", valid.message()));
  }
  absl::StatusOr<NodeChildren> children =
      client->GetChildren(std::string(base_path));
  if (absl::IsNotFound(children.status())) return std::vector<std::string>();
  if (!children.ok()) return children.status();
  std::vector<std::string> names = std::move(children->names);
  std::sort(names.begin(), names.end());
  return names;
}

absl::StatusOr<std::optional<CuratorInstance>> QueryCuratorInstance(
    ZooKeeperClient* client, absl::string_view base_path,
    absl::string_view service_name, absl::string_view id) {
  if (absl::Status ok = CheckClient(client, "QueryCuratorInstance"); !ok.ok()) {
    return ok;
  }
  absl::StatusOr<std::string> service = ServicePath(base_path, service_name);
  if (!service.ok()) return service.status();
  if (absl::Status valid = ValidateNodeName(id, "Curator instance id");
      !valid.ok()) {
    return valid;
  }
  const std::string path = JoinPath(*service, id);
  absl::StatusOr<NodeData> node = client->Get(path);
  if (absl::IsNotFound(node.status())) return std::optional<CuratorInstance>();
  if (!node.ok()) return node.status();
  absl::StatusOr<CuratorInstance> instance = ParseCuratorInstance(node->data);
  if (!instance.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Curator instance node ", path, ": ", instance.status().message()));
  }
  return std::optional<CuratorInstance>(*std::move(instance));
}

absl::StatusOr<std::vector<CuratorInstance>> QueryCuratorInstances(
    ZooKeeperClient* client, absl::string_view base_path,
    absl::string_view service_name) {
  if (absl::Status ok = CheckClient(client, "QueryCuratorInstances");
      !ok.ok()) {
    return ok;
  }
  absl::StatusOr<std::string> service = ServicePath(base_path, service_name);
  if (!service.ok()) return service.status();
  absl::StatusOr<NodeChildren> children = client->GetChildren(*service);
  std::vector<CuratorInstance> instances;
  if (absl::IsNotFound(children.status())) return instances;
  if (!children.ok()) return children.status();
  for (const std::string& name : children->names) {
    const std::string path = JoinPath(*service, name);
    absl::StatusOr<NodeData> node = client->Get(path);
    if (absl::IsNotFound(node.status())) continue;  // Gone since listed.
    if (!node.ok()) return node.status();
    absl::StatusOr<CuratorInstance> instance = ParseCuratorInstance(node->data);
    if (!instance.ok()) {
      LogRefused(path, instance.status());
      continue;
    }
    instances.push_back(*std::move(instance));
  }
  std::sort(instances.begin(), instances.end(), ById);
  return instances;
}

// --- CuratorServiceCache

absl::StatusOr<std::unique_ptr<CuratorServiceCache>>
CuratorServiceCache::Create(ZooKeeperClient* client,
                            absl::string_view base_path,
                            absl::string_view service_name) {
  if (absl::Status ok = CheckClient(client, "CuratorServiceCache::Create");
      !ok.ok()) {
    return ok;
  }
  absl::StatusOr<std::string> service = ServicePath(base_path, service_name);
  if (!service.ok()) return service.status();
  absl::StatusOr<std::unique_ptr<ChildrenCache>> cache =
      ChildrenCache::Create(client, *service);
  if (!cache.ok()) return cache.status();
  return std::unique_ptr<CuratorServiceCache>(
      new CuratorServiceCache(std::string(service_name), *std::move(cache)));
}

CuratorServiceCache::CuratorServiceCache(std::string service_name,
                                         std::unique_ptr<ChildrenCache> cache)
    : service_name_(std::move(service_name)), cache_(std::move(cache)) {}

CuratorServiceCache::~CuratorServiceCache() { Close(); }

void CuratorServiceCache::Close() { cache_->Close(); }

bool CuratorServiceCache::WaitUntilInitialized(absl::Duration timeout) const {
  return cache_->WaitUntilInitialized(timeout);
}

std::vector<CuratorInstance> CuratorServiceCache::Instances() const {
  // Which children are new or changed since their last parse, copied under
  // the ChildrenCache's lock; parsed outside it.
  std::map<std::string, NodeData> changed;
  std::vector<std::string> listed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cache_->Visit([&](const std::map<std::string, NodeData>& children) {
      listed.reserve(children.size());
      for (const auto& [name, node] : children) {
        listed.push_back(name);
        auto known = parsed_.find(name);
        if (known == parsed_.end() || known->second.czxid != node.stat.czxid ||
            known->second.mzxid != node.stat.mzxid) {
          changed.emplace(name, node);
        }
      }
    });
  }
  std::map<std::string, Parsed> fresh;
  for (auto& [name, node] : changed) {
    Parsed parsed;
    parsed.czxid = node.stat.czxid;
    parsed.mzxid = node.stat.mzxid;
    absl::StatusOr<CuratorInstance> instance = ParseCuratorInstance(node.data);
    if (instance.ok()) {
      parsed.instance = *std::move(instance);
    } else {
      LogRefused(JoinPath(cache_->path(), name), instance.status());
    }
    fresh.emplace(name, std::move(parsed));
  }
  std::vector<CuratorInstance> instances;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, parsed] : fresh) parsed_[name] = std::move(parsed);
  // Forget what is no longer listed; `listed` is sorted, as the map is.
  for (auto it = parsed_.begin(); it != parsed_.end();) {
    if (!std::binary_search(listed.begin(), listed.end(), it->first)) {
      it = parsed_.erase(it);
      continue;
    }
    if (it->second.instance.has_value()) {
      instances.push_back(*it->second.instance);
    }
    ++it;
  }
  std::sort(instances.begin(), instances.end(), ById);
  return instances;
}

int CuratorServiceCache::AddListener(Listener listener) {
  // What this listener has heard, by child name: its own replay of the
  // ChildrenCache's events, so that a node that stops parsing is kRemoved
  // and one that starts parsing is kAdded. Touched on the listener thread
  // only, one event at a time.
  auto heard = std::make_shared<std::map<std::string, CuratorInstance>>();
  const std::string path = cache_->path();
  return cache_->AddListener([listener = std::move(listener), heard,
                              path](const ChildrenCacheEvent& event) {
    CuratorServiceCacheEvent out;
    auto known = heard->find(event.name);
    switch (event.type) {
      case ChildrenCacheEventType::kInitialized:
        out.type = CuratorServiceCacheEventType::kInitialized;
        listener(out);
        return;
      case ChildrenCacheEventType::kRemoved:
        if (known == heard->end()) return;
        out.type = CuratorServiceCacheEventType::kRemoved;
        out.instance = std::move(known->second);
        heard->erase(known);
        listener(out);
        return;
      case ChildrenCacheEventType::kAdded:
      case ChildrenCacheEventType::kUpdated: {
        absl::StatusOr<CuratorInstance> instance =
            ParseCuratorInstance(event.node.data);
        if (!instance.ok()) {
          if (known == heard->end()) return;
          out.type = CuratorServiceCacheEventType::kRemoved;
          out.instance = std::move(known->second);
          heard->erase(known);
          listener(out);
          return;
        }
        out.type = known == heard->end()
                       ? CuratorServiceCacheEventType::kAdded
                       : CuratorServiceCacheEventType::kUpdated;
        out.instance = *instance;
        (*heard)[event.name] = *std::move(instance);
        listener(out);
        return;
      }
    }
  });
}

void CuratorServiceCache::RemoveListener(int id) { cache_->RemoveListener(id); }

// --- CuratorServiceProvider

absl::StatusOr<std::unique_ptr<CuratorServiceProvider>>
CuratorServiceProvider::Create(ZooKeeperClient* client,
                               absl::string_view base_path,
                               absl::string_view service_name,
                               CuratorServiceProviderOptions options) {
  absl::StatusOr<std::unique_ptr<CuratorServiceCache>> cache =
      CuratorServiceCache::Create(client, base_path, service_name);
  if (!cache.ok()) return cache.status();
  return std::unique_ptr<CuratorServiceProvider>(
      new CuratorServiceProvider(*std::move(cache), options));
}

CuratorServiceProvider::CuratorServiceProvider(
    std::unique_ptr<CuratorServiceCache> cache,
    const CuratorServiceProviderOptions& options)
    : cache_(std::move(cache)),
      filter_(options.filter),
      picker_(options.strategy, options.down_instance_policy) {}

absl::StatusOr<CuratorInstance> CuratorServiceProvider::GetInstance() {
  const absl::Time now = absl::Now();
  std::vector<CuratorInstance> instances = cache_->Instances();
  std::optional<CuratorInstance> picked = picker_.Pick(instances, now, filter_);
  if (picked.has_value()) return *std::move(picked);
  int down = 0;
  int filtered = 0;
  for (const CuratorInstance& instance : instances) {
    if (filter_ != nullptr && !filter_(instance)) {
      ++filtered;
    } else if (picker_.IsDown(instance.id, now)) {
      ++down;
    }
  }
  return absl::UnavailableError(
      absl::StrCat("no instance of Curator service \"", cache_->service_name(),
                   "\" at ", cache_->path(), " to choose: ", instances.size(),
                   " listed, ", down, " down after errors (back ",
                   absl::FormatDuration(picker_.policy().timeout),
                   " after their first error), ", filtered,
                   " refused by the provider's filter; start an instance of "
                   "the service, or check the base path "
                   "and name"));
}

std::vector<CuratorInstance> CuratorServiceProvider::GetAllInstances() const {
  return cache_->Instances();
}

void CuratorServiceProvider::NoteError(absl::string_view id) {
  picker_.NoteError(id, absl::Now());
}

}  // namespace slacker::discovery
