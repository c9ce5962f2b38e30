#include "framework/internal/function_records.h"

#include <google/protobuf/util/json_util.h>

#include <mutex>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/backoff.h"
#include "common/logging.h"
#include "protos/slacker/cluster/registry.pb.h"

namespace slacker::internal {

class FunctionRecords::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(discovery::ZooKeeperClient* client,
       const discovery::RegistryLayout& layout, std::string ns,
       std::map<std::string, std::string> records)
      : client_(client),
        layout_(layout),
        ns_(std::move(ns)),
        records_(std::move(records)),
        retry_backoff_(
            BackoffOptions{absl::Milliseconds(100), absl::Seconds(5)}) {}

  absl::Status WriteAll();
  absl::Status Watch();
  void Close();

 private:
  void OnEvent(const discovery::ChildrenCacheEvent& event);
  // Writes the record of `method` again: a create (with parents) if
  // `version` is nullopt, else a write conditional on that version.
  // Retries with a backoff when ZooKeeper could not answer.
  void Restore(const std::string& method, std::optional<int32_t> version);
  // Whether `data` is a MethodInfo of `method` of this namespace, as written
  // by any build of a server of it.
  bool IsMethodInfoOf(const std::string& data, const std::string& method) const;

  discovery::ZooKeeperClient* const client_;
  const discovery::RegistryLayout layout_;
  const std::string ns_;
  const std::map<std::string, std::string> records_;  // method -> JSON.

  std::mutex mu_;
  bool closed_ = false;                              // ABSL_GUARDED_BY(mu_)
  Backoff retry_backoff_;                            // ABSL_GUARDED_BY(mu_)
  std::unique_ptr<discovery::ChildrenCache> cache_;  // Set by Watch().
};

absl::Status FunctionRecords::Impl::WriteAll() {
  for (const auto& [method, json] : records_) {
    const std::string path = layout_.FunctionPath(ns_, method);
    // A record as this build would write it is left alone: a restart of an
    // unchanged server writes nothing, and the caches of the namespace's
    // other servers (each with a data watch on the record) read nothing
    // again. Records can be large (every descriptor of the service).
    absl::StatusOr<discovery::NodeData> existing = client_->Get(path);
    if (existing.ok() && existing->data == json) continue;
    absl::Status written;
    if (existing.ok()) {
      // Another build's (or someone else's): the newest build wins.
      written = client_->Set(path, json).status();
    } else if (absl::IsNotFound(existing.status())) {
      written = client_
                    ->Create(path, json, discovery::CreateMode::kPersistent,
                             /*create_parents=*/true)
                    .status();
      if (absl::IsAlreadyExists(written)) {
        // Written meanwhile by another server; the newest build wins.
        written = client_->Set(path, json).status();
      }
    } else {
      written = existing.status();
    }
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat("cannot write the method metadata of ",
                                       ns_, ": ", written.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status FunctionRecords::Impl::Watch() {
  absl::StatusOr<std::unique_ptr<discovery::ChildrenCache>> cache =
      discovery::ChildrenCache::Create(client_, layout_.FunctionsPath(ns_));
  if (!cache.ok()) return cache.status();
  cache_ = *std::move(cache);
  std::weak_ptr<Impl> weak = weak_from_this();
  cache_->AddListener([weak](const discovery::ChildrenCacheEvent& event) {
    if (auto self = weak.lock()) self->OnEvent(event);
  });
  return absl::OkStatus();
}

void FunctionRecords::Impl::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  if (cache_ != nullptr) cache_->Close();
}

void FunctionRecords::Impl::OnEvent(
    const discovery::ChildrenCacheEvent& event) {
  auto record = records_.find(event.name);
  if (record == records_.end()) return;  // Not a method of this server's.
  const std::string path = layout_.FunctionPath(ns_, event.name);
  const discovery::NodeStat& stat = event.node.stat;
  switch (event.type) {
    case discovery::ChildrenCacheEventType::kRemoved:
      Log(LogLevel::kWarning,
          absl::StrCat("the method metadata record ", path,
                       " was deleted by another ZooKeeper client (it was at "
                       "version ",
                       stat.version, ", mzxid 0x", absl::Hex(stat.mzxid),
                       "); writing it again"));
      Restore(event.name, std::nullopt);
      return;
    case discovery::ChildrenCacheEventType::kAdded:
    case discovery::ChildrenCacheEventType::kUpdated:
      if (event.node.data == record->second ||
          IsMethodInfoOf(event.node.data, event.name)) {
        return;  // Ours, or another build's of the same method.
      }
      Log(LogLevel::kWarning,
          absl::StrCat("the method metadata record ", path,
                       " was overwritten by another ZooKeeper client with "
                       "data that is not a MethodInfo of ",
                       ns_, "/", event.name, " (version ", stat.version,
                       ", mzxid 0x", absl::Hex(stat.mzxid), ", ",
                       event.node.data.size(), " bytes); writing it again"));
      Restore(event.name, stat.version);
      return;
    case discovery::ChildrenCacheEventType::kInitialized:
      return;
  }
}

void FunctionRecords::Impl::Restore(const std::string& method,
                                    std::optional<int32_t> version) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
  }
  const std::string path = layout_.FunctionPath(ns_, method);
  std::weak_ptr<Impl> weak = weak_from_this();
  auto done = [weak, method, version, path](const absl::Status& status) {
    auto self = weak.lock();
    if (self == nullptr) return;
    // AlreadyExists, FailedPrecondition (changed since read), NotFound
    // (deleted since read): someone wrote meanwhile, and the cache reports
    // what is there now, which is judged again.
    if (status.ok() || absl::IsAlreadyExists(status) ||
        absl::IsFailedPrecondition(status) || absl::IsNotFound(status) ||
        absl::IsCancelled(status)) {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (status.ok()) self->retry_backoff_.Reset();
      return;
    }
    absl::Duration delay;
    {
      std::lock_guard<std::mutex> lock(self->mu_);
      if (self->closed_) return;
      delay = self->retry_backoff_.Next();
    }
    Log(LogLevel::kWarning,
        absl::StrCat("could not restore the method metadata record ", path,
                     ": ", status.message(), "; retrying ",
                     RetryDelayText(delay)));
    self->client_->RunOnEventThreadAfter(delay, [weak, method, version] {
      if (auto again = weak.lock()) again->Restore(method, version);
    });
  };
  const std::string& json = records_.at(method);
  if (!version.has_value()) {
    client_->CreateAsync(
        path, json, discovery::CreateMode::kPersistent,
        /*create_parents=*/true,
        [done](absl::StatusOr<std::string> result) { done(result.status()); });
  } else {
    client_->SetAsync(path, json, *version,
                      [done](absl::StatusOr<discovery::NodeStat> result) {
                        done(result.status());
                      });
  }
}

bool FunctionRecords::Impl::IsMethodInfoOf(const std::string& data,
                                           const std::string& method) const {
  cluster::MethodInfo info;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;  // A newer build's record.
  return google::protobuf::util::JsonStringToMessage(data, &info, options)
             .ok() &&
         info.path() == absl::StrCat("/", ns_, "/", method);
}

absl::StatusOr<std::unique_ptr<FunctionRecords>> FunctionRecords::Start(
    discovery::ZooKeeperClient* client, const discovery::RegistryLayout& layout,
    std::string ns, std::map<std::string, std::string> records) {
  if (client->IsEventThread()) {
    return absl::FailedPreconditionError(
        "FunctionRecords::Start called on the ZooKeeper client's event "
        "thread, where waiting for ZooKeeper would wait for itself; call it "
        "from another thread");
  }
  auto impl =
      std::make_shared<Impl>(client, layout, std::move(ns), std::move(records));
  if (absl::Status written = impl->WriteAll(); !written.ok()) return written;
  if (absl::Status watched = impl->Watch(); !watched.ok()) return watched;
  return std::unique_ptr<FunctionRecords>(new FunctionRecords(std::move(impl)));
}

FunctionRecords::FunctionRecords(std::shared_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

FunctionRecords::~FunctionRecords() { Close(); }

void FunctionRecords::Close() { impl_->Close(); }

}  // namespace slacker::internal
