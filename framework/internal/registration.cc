#include "framework/internal/registration.h"

#include <google/protobuf/util/json_util.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_bounds.h"
#include "common/logging.h"
#include "discovery/cluster_rules.h"
#include "discovery/registry_reading.h"
#include "framework/internal/service_catalog.h"

namespace slacker::internal {

Registration::Registration(discovery::ZooKeeperClient* client,
                           RegistrationConfig config)
    : client_(client),
      config_(std::move(config)),
      layout_(config_.root, config_.cluster),
      server_data_(config_.server_data) {}

Registration::~Registration() { Close(); }

absl::Status Registration::CheckNotOnEventThread(
    absl::string_view method) const {
  if (!client_->IsEventThread()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "Registration::", method,
      " called on the ZooKeeper client's event thread, where waiting for "
      "ZooKeeper would wait for itself; call it from another thread"));
}

absl::Status Registration::WriteFunctions(const std::string& ns) {
  absl::StatusOr<ServiceDescription> description = DescribeService(ns);
  if (!description.ok()) {
    // A service registered through the generic API has no descriptors: it is
    // still served and published, only not described.
    Log(LogLevel::kWarning,
        absl::StrCat("no method metadata published for namespace ", ns, ": ",
                     description.status().message()));
    return absl::OkStatus();
  }
  for (const auto& [method, info] : description->methods) {
    std::string json;
    const auto printed =
        google::protobuf::util::MessageToJsonString(info, &json);
    if (!printed.ok()) {
      return absl::InternalError(
          absl::StrCat("cannot write metadata of ", ns, "/", method,
                       " as JSON: ", printed.ToString()));
    }
    const std::string path = layout_.FunctionPath(ns, method);
    absl::Status written =
        client_
            ->Create(path, json, discovery::CreateMode::kPersistent,
                     /*create_parents=*/true)
            .status();
    if (absl::IsAlreadyExists(written)) {
      // Another server (or an earlier run) wrote it; the newest build wins.
      written = client_->Set(path, json).status();
    }
    if (!written.ok()) {
      return absl::Status(written.code(),
                          absl::StrCat("cannot write the method metadata of ",
                                       ns, ": ", written.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status Registration::Start() {
  if (absl::Status checked = CheckNotOnEventThread("Start"); !checked.ok()) {
    return checked;
  }
  for (const std::string& ns : config_.namespaces) {
    absl::Status written = WriteFunctions(ns);
    if (!written.ok()) return written;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return absl::FailedPreconditionError("registration closed");
  // What every reader would skip is refused before it is written.
  if (absl::Status bounded = CheckJsonBounds(ServerInfoJsonHoldingMu(),
                                             discovery::kServerInfoBounds,
                                             "the server node's JSON");
      !bounded.ok()) {
    return bounded;
  }
  absl::StatusOr<std::unique_ptr<discovery::PersistentEphemeralNode>> node =
      discovery::PersistentEphemeralNode::Start(
          client_, layout_.ServerPath(config_.address),
          ServerInfoJsonHoldingMu());
  if (!node.ok()) return node.status();
  server_node_ = *std::move(node);
  absl::Status created = server_node_->WaitForInitialCreate(config_.timeout);
  if (!created.ok()) {
    server_node_.reset();
    return absl::Status(created.code(),
                        absl::StrCat("cannot register the server node ",
                                     layout_.ServerPath(config_.address), ": ",
                                     created.message()));
  }
  for (const std::string& ns : config_.namespaces) {
    absl::Status published = PublishHoldingMu(ns);
    if (!published.ok()) {
      for (const std::string& other : config_.namespaces) {
        UnpublishHoldingMu(other);
      }
      server_node_.reset();
      return published;
    }
  }
  UpdateServerNodeHoldingMu();
  return SyncCuratorHoldingMu();
}

absl::Status Registration::SyncCuratorHoldingMu() {
  if (!config_.curator.has_value()) return absl::OkStatus();
  bool any_published = false;
  for (const std::string& ns : config_.namespaces) {
    any_published |= published_.count(ns) > 0;
  }
  if (!any_published || closed_) {
    if (curator_ != nullptr) {
      absl::Status closed = curator_->Close();
      if (!closed.ok()) {
        Log(LogLevel::kWarning,
            absl::StrCat("unregistering from Curator discovery: ",
                         closed.message()));
      }
      curator_.reset();
    }
    return absl::OkStatus();
  }
  if (curator_ != nullptr) return absl::OkStatus();
  discovery::CuratorServiceInstanceOptions options = *config_.curator;
  const size_t colon = config_.address.rfind(':');
  options.address = config_.address.substr(0, colon);
  if (options.address.size() > 2 && options.address.front() == '[') {
    options.address = options.address.substr(1, options.address.size() - 2);
  }
  options.port = std::stoi(config_.address.substr(colon + 1));
  absl::StatusOr<std::unique_ptr<discovery::CuratorServiceInstance>> instance =
      discovery::CuratorServiceInstance::Start(client_, std::move(options));
  if (!instance.ok()) return instance.status();
  if (absl::Status registered =
          (*instance)->WaitForRegistration(config_.timeout);
      !registered.ok()) {
    return absl::Status(registered.code(),
                        absl::StrCat("cannot register in Curator discovery: ",
                                     registered.message()));
  }
  curator_ = *std::move(instance);
  return absl::OkStatus();
}

absl::Status Registration::Publish(const std::string& ns) {
  if (absl::Status checked = CheckNotOnEventThread("Publish"); !checked.ok()) {
    return checked;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot publish namespace ", ns, ": the server is shutting down"));
  }
  absl::Status published = PublishHoldingMu(ns);
  UpdateServerNodeHoldingMu();
  if (!published.ok()) return published;
  return SyncCuratorHoldingMu();
}

absl::Status Registration::PublishHoldingMu(const std::string& ns) {
  bool known = false;
  for (const std::string& name : config_.namespaces) known |= name == ns;
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("namespace ", ns, " is not served by this server"));
  }
  if (published_.count(ns) > 0) return absl::OkStatus();
  Published entry;
  absl::StatusOr<std::unique_ptr<discovery::PersistentEphemeralNode>> node =
      discovery::PersistentEphemeralNode::Start(
          client_, layout_.MemberPath(ns, config_.address), "");
  if (!node.ok()) return node.status();
  entry.node = *std::move(node);
  discovery::LeaderElectionOptions election_options;
  election_options.write_leader_data = true;
  absl::StatusOr<std::unique_ptr<discovery::LeaderElection>> election =
      discovery::LeaderElection::Create(client_, layout_.LeaderPath(ns),
                                        config_.address,
                                        std::move(election_options));
  if (!election.ok()) return election.status();
  entry.election = *std::move(election);
  absl::Status created = entry.node->WaitForInitialCreate(config_.timeout);
  if (!created.ok()) {
    return absl::Status(
        created.code(),
        absl::StrCat("cannot publish namespace ", ns, ": ", created.message()));
  }
  absl::Status started = entry.election->Start();
  if (!started.ok()) return started;
  published_.emplace(ns, std::move(entry));
  return absl::OkStatus();
}

absl::Status Registration::Unpublish(const std::string& ns) {
  if (absl::Status checked = CheckNotOnEventThread("Unpublish");
      !checked.ok()) {
    return checked;
  }
  std::lock_guard<std::mutex> lock(mu_);
  bool known = false;
  for (const std::string& name : config_.namespaces) known |= name == ns;
  if (!known) {
    return absl::NotFoundError(
        absl::StrCat("namespace ", ns, " is not served by this server"));
  }
  UnpublishHoldingMu(ns);
  UpdateServerNodeHoldingMu();
  return SyncCuratorHoldingMu();
}

void Registration::UnpublishHoldingMu(const std::string& ns) {
  auto it = published_.find(ns);
  if (it == published_.end()) return;
  it->second.election->Leave();
  absl::Status closed = it->second.node->Close();
  if (!closed.ok()) {
    // The node goes when the session ends; clients may see it until then.
    Log(LogLevel::kWarning,
        absl::StrCat("unpublishing namespace ", ns, ": ", closed.message()));
  }
  published_.erase(it);
}

absl::Status Registration::SetServerData(google::protobuf::Value data) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) {
    return absl::FailedPreconditionError(
        "cannot set the server data: the server is shutting down");
  }
  google::protobuf::Value previous = std::move(server_data_);
  server_data_ = std::move(data);
  if (absl::Status bounded = CheckJsonBounds(ServerInfoJsonHoldingMu(),
                                             discovery::kServerInfoBounds,
                                             "the server node's JSON");
      !bounded.ok()) {
    server_data_ = std::move(previous);  // What every reader would skip.
    return bounded;
  }
  if (server_node_ == nullptr) return absl::OkStatus();
  return server_node_->SetData(ServerInfoJsonHoldingMu());
}

google::protobuf::Value Registration::server_data() const {
  std::lock_guard<std::mutex> lock(mu_);
  return server_data_;
}

bool Registration::IsPublished(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_.count(ns) > 0;
}

bool Registration::IsLeader(const std::string& ns) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (published_.count(ns) == 0) return false;
  }
  // The cluster's one rule (discovery/cluster_rules.h), as channels apply it:
  // a foreign or stale candidate ahead of this server's does not count.
  absl::StatusOr<discovery::NamespaceReading> reading =
      discovery::ReadNamespace(*client_, layout_, ns);
  if (reading.ok()) return reading->leader == config_.address;
  // Unreadable now (disconnected, or on the event thread): the election's own
  // view, which ignores the same non-candidate children.
  std::lock_guard<std::mutex> lock(mu_);
  auto it = published_.find(ns);
  return it != published_.end() && it->second.election->IsLeader();
}

std::string Registration::ServerInfoJsonHoldingMu() const {
  cluster::ServerInfo info;
  info.set_address(config_.address);
  // Namespaces in the server's order, only those published.
  for (const std::string& ns : config_.namespaces) {
    if (published_.count(ns) > 0) info.add_namespaces(ns);
  }
  if (server_data_.kind_case() != google::protobuf::Value::KIND_NOT_SET) {
    *info.mutable_server_data() = server_data_;
  }
  info.set_version(config_.version);
  std::string json;
  // Cannot fail: every field is set from valid values.
  (void)google::protobuf::util::MessageToJsonString(info, &json);
  return json;
}

void Registration::UpdateServerNodeHoldingMu() {
  if (server_node_ == nullptr) return;
  absl::Status set = server_node_->SetData(ServerInfoJsonHoldingMu());
  if (!set.ok()) {
    Log(LogLevel::kWarning,
        absl::StrCat("updating the server node ",
                     layout_.ServerPath(config_.address), ": ", set.message()));
  }
}

void Registration::Close() {
  if (absl::Status checked = CheckNotOnEventThread("Close"); !checked.ok()) {
    // Cannot be refused (the destructor calls it): say so, then go on; the
    // recipes refuse to delete their nodes on this thread and log it too.
    Log(LogLevel::kError, checked.message());
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  for (const std::string& ns : config_.namespaces) UnpublishHoldingMu(ns);
  SyncCuratorHoldingMu().IgnoreError();  // Closing it only logs.
  if (server_node_ != nullptr) {
    absl::Status closed = server_node_->Close();
    if (!closed.ok()) {
      Log(LogLevel::kWarning, absl::StrCat("unregistering the server node ",
                                           layout_.ServerPath(config_.address),
                                           ": ", closed.message()));
    }
    server_node_.reset();
  }
}

}  // namespace slacker::internal
