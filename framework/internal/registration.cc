#include "framework/internal/registration.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_bounds.h"
#include "common/logging.h"
#include "discovery/cluster_rules.h"
#include "discovery/registry_reading.h"
#include "framework/internal/registry_protection.h"
#include "framework/internal/service_catalog.h"

namespace slacker::internal {
namespace {

// How often a wait for the server's own node looks whether someone else's
// node holds the path.
constexpr absl::Duration kSquatterCheck = absl::Milliseconds(500);

// The server's ephemeral nodes: their data is restored when someone else
// changes it (a foreign write of the server node's weight or namespaces).
discovery::PersistentEphemeralNodeOptions OwnNodeOptions() {
  discovery::PersistentEphemeralNodeOptions options;
  options.restore_data = true;
  return options;
}

}  // namespace

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
  std::map<std::string, std::string> records;
  for (const auto& [method, info] : description->methods) {
    std::string json;
    const auto printed =
        google::protobuf::util::MessageToJsonString(info, &json);
    if (!printed.ok()) {
      return absl::InternalError(
          absl::StrCat("cannot write metadata of ", ns, "/", method,
                       " as JSON: ", printed.ToString()));
    }
    records.emplace(method, std::move(json));
  }
  absl::StatusOr<std::unique_ptr<FunctionRecords>> kept =
      FunctionRecords::Start(client_, layout_, ns, std::move(records));
  if (!kept.ok()) return kept.status();
  std::lock_guard<std::mutex> lock(mu_);
  function_records_.push_back(*std::move(kept));
  return absl::OkStatus();
}

absl::Status Registration::WaitForOwnNodeHoldingMu(
    discovery::PersistentEphemeralNode& node, absl::string_view what,
    absl::Duration squatter_wait) {
  // While nobody else holds the path, the wait is config_.timeout, as for
  // any node; while someone does, squatter_wait (from when it was first
  // seen), saying every config_.timeout whose node it is and what to do.
  const absl::Duration step = std::min(kSquatterCheck, config_.timeout);
  absl::Time unheld_deadline = absl::Now() + config_.timeout;
  std::optional<absl::Time> squatted_since;
  std::optional<int64_t> told_owner;
  absl::Time next_reminder;
  while (true) {
    absl::Status created = node.WaitForInitialCreate(step);
    if (created.ok() || !absl::IsDeadlineExceeded(created)) return created;
    const absl::Time now = absl::Now();
    const std::optional<int64_t> owner = node.foreign_owner();
    if (!owner.has_value()) {
      squatted_since.reset();
      if (now >= unheld_deadline) return created;
      continue;
    }
    if (!squatted_since.has_value()) squatted_since = now;
    unheld_deadline = now + config_.timeout;
    const std::string message = SquatterMessage(node.path(), what, *owner);
    if (now - *squatted_since >= squatter_wait) {
      return absl::FailedPreconditionError(absl::StrCat(
          message, ". Gave up after ", absl::FormatDuration(squatter_wait),
          " (ClusterOptions::squatter_wait)"));
    }
    if (told_owner != owner || now >= next_reminder) {
      told_owner = owner;
      next_reminder = now + config_.timeout;
      Log(LogLevel::kWarning,
          absl::StrCat(message,
                       ". This server keeps trying and publishes as soon as "
                       "that node is gone (ClusterOptions::squatter_wait: ",
                       absl::FormatDuration(squatter_wait), ")"));
    }
  }
}

std::string Registration::SquatterMessage(const std::string& path,
                                          absl::string_view what,
                                          int64_t owner) const {
  const std::string own = absl::StrCat("0x", absl::Hex(client_->session_id()));
  if (owner == 0) {
    return absl::StrCat(
        "cannot make the ", what, " ", path,
        ": a persistent node is there, made by hand or by a tool, not by a "
        "server (this server's ZooKeeper session is ",
        own, "). It stays until deleted: delete it (zkCli.sh: delete ", path,
        ") if nothing should be registered there");
  }
  return absl::StrCat(
      "cannot make the ", what, " ", path,
      ": it belongs to ZooKeeper session 0x", absl::Hex(owner),
      ", not to this server's session ", own,
      ". Most likely another process registered this address: a second "
      "server started with the same host:port, or a copy of this one still "
      "running elsewhere. Stop that process, or give this server another "
      "address or port; the node goes by itself when session 0x",
      absl::Hex(owner),
      " ends (at most its session timeout after that "
      "process stops)");
}

absl::Status Registration::Start() {
  if (absl::Status checked = CheckNotOnEventThread("Start"); !checked.ok()) {
    return checked;
  }
  // Before anything of this server's is made under them.
  if (absl::Status protected_ =
          ProtectClusterNodes(*client_, layout_, config_.namespaces);
      !protected_.ok()) {
    return protected_;
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
          ServerInfoJsonHoldingMu(), OwnNodeOptions());
  if (!node.ok()) return node.status();
  server_node_ = *std::move(node);
  absl::Status created = WaitForOwnNodeHoldingMu(*server_node_, "server node",
                                                 config_.squatter_wait);
  if (!created.ok()) {
    server_node_.reset();
    return absl::Status(created.code(),
                        absl::StrCat("cannot register the server node ",
                                     layout_.ServerPath(config_.address), ": ",
                                     created.message()));
  }
  for (const std::string& ns : config_.namespaces) {
    absl::Status published = PublishHoldingMu(ns, config_.squatter_wait);
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
  // A node of someone else's at the member path: given up after the usual
  // timeout, as any node (the caller waits).
  absl::Status published = PublishHoldingMu(ns, config_.timeout);
  UpdateServerNodeHoldingMu();
  if (!published.ok()) return published;
  return SyncCuratorHoldingMu();
}

absl::Status Registration::PublishHoldingMu(const std::string& ns,
                                            absl::Duration squatter_wait) {
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
          client_, layout_.MemberPath(ns, config_.address), "",
          OwnNodeOptions());
  if (!node.ok()) return node.status();
  entry.node = *std::move(node);
  absl::Status created = WaitForOwnNodeHoldingMu(
      *entry.node, absl::StrCat("member node of namespace ", ns),
      squatter_wait);
  if (!created.ok()) {
    return absl::Status(
        created.code(),
        absl::StrCat("cannot publish namespace ", ns, ": ", created.message()));
  }
  if (resigned_.count(ns) == 0) {
    if (absl::Status joined = JoinElectionHoldingMu(ns, entry); !joined.ok()) {
      return joined;
    }
  }
  published_.emplace(ns, std::move(entry));
  return absl::OkStatus();
}

absl::Status Registration::JoinElectionHoldingMu(const std::string& ns,
                                                 Published& entry) {
  discovery::LeaderElectionOptions election_options;
  election_options.write_leader_data = true;
  if (config_.on_leadership) {
    election_options.on_taken = [this, ns] { config_.on_leadership(ns, true); };
    election_options.on_lost = [this, ns](const discovery::LeadershipLoss&) {
      config_.on_leadership(ns, false);
    };
  }
  absl::StatusOr<std::unique_ptr<discovery::LeaderElection>> election =
      discovery::LeaderElection::Create(client_, layout_.LeaderPath(ns),
                                        config_.address,
                                        std::move(election_options));
  if (!election.ok()) return election.status();
  if (absl::Status started = (*election)->Start(); !started.ok()) {
    return started;
  }
  entry.election = *std::move(election);
  return absl::OkStatus();
}

absl::Status Registration::ResignLeadership(const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status known = CheckKnownHoldingMu(ns); !known.ok()) return known;
  resigned_.insert(ns);
  auto it = published_.find(ns);
  if (it != published_.end() && it->second.election != nullptr) {
    RetireElectionHoldingMu(std::move(it->second.election));
  }
  return absl::OkStatus();
}

absl::Status Registration::JoinLeaderElection(const std::string& ns) {
  std::lock_guard<std::mutex> lock(mu_);
  if (absl::Status known = CheckKnownHoldingMu(ns); !known.ok()) return known;
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot join the election of namespace ", ns,
                     ": the server is shutting down"));
  }
  resigned_.erase(ns);
  auto it = published_.find(ns);
  if (it == published_.end() || it->second.election != nullptr) {
    return absl::OkStatus();  // Joins when published; or in it already.
  }
  return JoinElectionHoldingMu(ns, it->second);
}

bool Registration::InLeaderElection(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = published_.find(ns);
  return it != published_.end() && it->second.election != nullptr;
}

void Registration::RetireElectionHoldingMu(
    std::unique_ptr<discovery::LeaderElection> election) {
  // Leave() tells on_lost (a leader gives up at once), then deletes the
  // candidate in the background; the election is kept until then, as its
  // destructor would silence on_lost. Those that are done go now.
  election->Leave();
  retired_.erase(
      std::remove_if(retired_.begin(), retired_.end(),
                     [](const std::unique_ptr<discovery::LeaderElection>& e) {
                       const discovery::LeaderElectionStats stats = e->stats();
                       return stats.settled && stats.candidate.empty() &&
                              !e->IsLeader();
                     }),
      retired_.end());
  retired_.push_back(std::move(election));
}

absl::Status Registration::CheckKnownHoldingMu(const std::string& ns) const {
  for (const std::string& name : config_.namespaces) {
    if (name == ns) return absl::OkStatus();
  }
  return absl::NotFoundError(
      absl::StrCat("namespace ", ns, " is not served by this server"));
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
  if (it->second.election != nullptr) {
    RetireElectionHoldingMu(std::move(it->second.election));
  }
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
    auto it = published_.find(ns);
    if (it == published_.end() || it->second.election == nullptr) return false;
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
  return it != published_.end() && it->second.election != nullptr &&
         it->second.election->IsLeader();
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
  info.set_tls_name(config_.tls_name);
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
  // Destroyed after mu_ is released: a destroyed election waits for its
  // callback, which may be calling back into this object (IsLeader).
  std::vector<std::unique_ptr<discovery::LeaderElection>> retired;
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return;
  closed_ = true;
  for (auto& records : function_records_) records->Close();
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
  retired.swap(retired_);  // Candidates are deleted in the background.
}

}  // namespace slacker::internal
