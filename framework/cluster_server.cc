#include "framework/cluster_server.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/impl/server_builder_plugin.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_logging.h"
#include "common/json_bounds.h"
#include "discovery/cluster_rules.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_paths.h"
#include "framework/internal/keepalive.h"
#include "framework/internal/local_address.h"
#include "framework/internal/registration.h"
#include "framework/internal/server_metrics.h"
#include "framework/internal/service_catalog.h"
#include "framework/internal/tls_name.h"
#include "framework/manager_service.h"
#include "framework/metrics_interceptors.h"
#include "framework/version.h"

namespace slacker {
namespace {

// Services that every server may carry and that are never namespaces:
// gRPC's own (health, reflection, channelz, ...), by the rule of their
// package rather than a list that would have to keep up with gRPC.
constexpr char kGrpcServicePrefix[] = "grpc.";
constexpr char kManagerService[] = "slacker.cluster.ClusterManager";

// Adds gRPC's reflection plugin to one builder (or, when off, takes out one
// registered for every builder), so that reflection is per server, with no
// process-wide registration, and never registered twice.
class ReflectionOption final : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enabled) : enabled_(enabled) {}

  void UpdateArguments(grpc::ChannelArguments*) override {}

  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    auto fresh =
        std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = fresh->name();
    auto is_reflection =
        [&name](const std::unique_ptr<grpc::ServerBuilderPlugin>& plugin) {
          return plugin->name() == name;
        };
    if (!enabled_) {
      plugins->erase(
          std::remove_if(plugins->begin(), plugins->end(), is_reflection),
          plugins->end());
      return;
    }
    if (std::none_of(plugins->begin(), plugins->end(), is_reflection)) {
      plugins->push_back(std::move(fresh));
    }
  }

 private:
  const bool enabled_;
};

absl::StatusOr<google::protobuf::Value> ParseServerData(
    const std::string& json) {
  if (json.size() > ClusterOptions::kMaxServerDataBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "server data is ", json.size(), " bytes; at most ",
        ClusterOptions::kMaxServerDataBytes,
        " are allowed (every client reads it): keep large data elsewhere"));
  }
  google::protobuf::Value value;
  if (json.empty()) return value;
  // The bound every client applies to the server node, checked here first so
  // that what clients would skip is refused at once (and parsing stays cheap).
  if (absl::Status bounded = internal::CheckJsonBounds(
          json, discovery::kServerDataBounds, "server data");
      !bounded.ok()) {
    return bounded;
  }
  const auto parsed = google::protobuf::util::JsonStringToMessage(json, &value);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("server data is not valid JSON (", parsed.ToString(),
                     "): give a JSON value such as {\"weight\":10}"));
  }
  return value;
}

absl::Status WithContext(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(),
                      absl::StrCat(what, ": ", status.message()));
}

}  // namespace

ClusterServerBuilder::ClusterServerBuilder(ClusterOptions options)
    : options_(std::move(options)) {
  RouteGrpcLogs();  // gRPC's own lines into slacker's log (common/logging.h).
  // gRPC lets a second server bind a port in use (SO_REUSEPORT); a cluster
  // server would then publish an address it shares with a stranger. A user
  // who wants it sets the argument again.
  builder_.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Cluster channels ping every connection that is silent for a second, to
  // find hung servers (see framework/internal/keepalive.h); gRPC's server
  // defaults would count those pings as abuse and close the connection. Set
  // here, first, so that the user's own AddChannelArgument wins.
  builder_.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      static_cast<int>(
          absl::ToInt64Milliseconds(internal::kServerMinPingInterval)));
  builder_.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
}

ClusterServerBuilder::~ClusterServerBuilder() = default;

ClusterServerBuilder& ClusterServerBuilder::AddListeningPort(
    const std::string& address,
    std::shared_ptr<grpc::ServerCredentials> credentials, int* selected_port) {
  if (!has_port_) {
    has_port_ = true;
    user_selected_port_ = selected_port;
    builder_.AddListeningPort(address, std::move(credentials),
                              &published_port_);
  } else {
    builder_.AddListeningPort(address, std::move(credentials), selected_port);
  }
  return *this;
}

ClusterServerBuilder& ClusterServerBuilder::RegisterService(
    grpc::Service* service) {
  builder_.RegisterService(service);
  return *this;
}

ClusterServerBuilder& ClusterServerBuilder::SetOption(
    std::unique_ptr<grpc::ServerBuilderOption> option) {
  builder_.SetOption(std::move(option));
  return *this;
}

absl::StatusOr<std::unique_ptr<ClusterServer>>
ClusterServerBuilder::BuildAndStart() {
  if (absl::Status valid =
          discovery::ValidateNodeName(options_.cluster, "cluster name");
      !valid.ok()) {
    return valid;
  }
  if (absl::Status valid = discovery::ValidatePath(options_.root);
      !valid.ok()) {
    return WithContext(valid, "ClusterOptions::root");
  }
  if (options_.zookeeper.empty()) {
    return absl::InvalidArgumentError(
        "ClusterOptions::zookeeper is empty: give the ZooKeeper connect "
        "string, host:port[,host:port...]");
  }
  if (!options_.address.empty()) {
    if (absl::Status valid =
            discovery::ValidateNodeName(options_.address, "node address");
        !valid.ok()) {
      return valid;
    }
  }
  if (!options_.tls_name.empty()) {
    if (absl::Status valid = internal::ValidateTlsName(
            options_.tls_name, "ClusterOptions::tls_name");
        !valid.ok()) {
      return valid;
    }
  }
  absl::StatusOr<google::protobuf::Value> server_data =
      ParseServerData(options_.server_data);
  if (!server_data.ok()) return server_data.status();
  if (!has_port_) {
    return absl::InvalidArgumentError(
        "no listening port: call AddListeningPort before BuildAndStart");
  }
  const std::string cluster_path =
      discovery::RegistryLayout(options_.root, options_.cluster).ClusterPath();

  std::unique_ptr<ClusterServer> server(new ClusterServer(options_));
  // ZooKeeper first: when it cannot be reached nothing has started, so there
  // is no port to close again and no client can have been sent here.
  discovery::ZooKeeperOptions zookeeper_options;
  zookeeper_options.connect_string = options_.zookeeper;
  zookeeper_options.session_timeout = options_.session_timeout;
  zookeeper_options.connect_timeout = options_.connect_timeout;
  zookeeper_options.operation_timeout = options_.connect_timeout;
  zookeeper_options.digest = options_.zookeeper_digest;
  zookeeper_options.acl = options_.zookeeper_acl;
  zookeeper_options.admin_id = options_.zookeeper_admin_id;
  discovery::ApplyEnsembleOptions(options_.ensemble, &zookeeper_options);
  // Every cluster, of every identity, lives below the root; every instance
  // of a Curator service, JVM ones too, below its service's node.
  zookeeper_options.shared_paths = {options_.root};
  if (options_.curator.has_value()) {
    zookeeper_options.shared_paths.push_back(discovery::JoinPath(
        options_.curator->base_path, options_.curator->service_name));
  }
  absl::StatusOr<std::unique_ptr<discovery::ZooKeeperClient>> zookeeper =
      discovery::ZooKeeperClient::Connect(std::move(zookeeper_options));
  if (!zookeeper.ok()) {
    return WithContext(zookeeper.status(),
                       absl::StrCat("cluster server of ", cluster_path,
                                    " not started: cannot reach ZooKeeper"));
  }
  server->zookeeper_ = *std::move(zookeeper);
  if (options_.metrics != nullptr) {
    auto metrics = std::make_shared<internal::ServerMetrics>(options_.metrics,
                                                             options_.cluster);
    server->metrics_ = metrics;
    metrics->ZooKeeperState(discovery::ConnectionState::kConnected);
    server->zookeeper_->AddConnectionListener(
        [metrics](discovery::ConnectionState state) {
          metrics->ZooKeeperState(state);
        });
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        internal::MakeServerMetricsInterceptorFactory(metrics));
    builder_.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  std::string host = options_.address;
  if (host.empty()) {
    absl::StatusOr<std::string> detected =
        internal::LocalAddressToward(server->zookeeper_->hosts());
    if (!detected.ok()) return detected.status();
    host = *detected;
  }

  grpc::EnableDefaultHealthCheckService(true);
  internal::ServiceNameCollector collector;
  builder_.SetOption(collector.MakeOption());
  builder_.SetOption(
      std::make_unique<ReflectionOption>(options_.enable_reflection));
  if (options_.enable_manager) {
    server->manager_ = std::make_unique<ClusterManagerService>(
        server.get(), ManagerAuthorization{options_.manager_token,
                                           options_.manager_identities});
    builder_.RegisterService(server->manager_.get());
  }
  server->server_ = builder_.BuildAndStart();
  if (server->server_ == nullptr || published_port_ == 0) {
    // The destructor closes ZooKeeper and the server, if it started at all.
    return absl::UnavailableError(absl::StrCat(
        "cluster server of ", cluster_path,
        " not started: gRPC could not start the server; most likely the "
        "first listening port is in use or its address is not local (gRPC's "
        "log says which)"));
  }
  server->port_ = published_port_;
  if (user_selected_port_ != nullptr) *user_selected_port_ = published_port_;
  server->address_ = internal::HostPort(host, published_port_);

  for (const std::string& name : collector.names()) {
    if (absl::StartsWith(name, kGrpcServicePrefix)) continue;
    if (!options_.publish_manager && name == kManagerService) continue;
    if (absl::Status valid = discovery::ValidateNodeName(name, "namespace");
        !valid.ok()) {
      return valid;
    }
    server->namespaces_.push_back(name);
  }
  for (const std::string& ns : server->namespaces_) {
    server->SetHealth(ns, false);
    if (server->metrics_ != nullptr) {
      server->metrics_->SetPublished(ns, false);
      server->metrics_->SetLeader(ns, false);
    }
  }

  internal::RegistrationConfig config;
  config.root = options_.root;
  config.cluster = options_.cluster;
  config.address = server->address_;
  // A host that no certificate can name (an IPv6 zone, say) is left out:
  // clients then use the address's host, as for servers of older builds.
  config.tls_name = !options_.tls_name.empty() ? options_.tls_name
                    : internal::ValidateTlsName(host, "host").ok() ? host
                                                                   : "";
  config.namespaces = server->namespaces_;
  config.server_data = *std::move(server_data);
  config.version = kVersion;
  config.timeout = options_.connect_timeout;
  config.squatter_wait = options_.squatter_wait;
  config.curator = options_.curator;
  if (server->metrics_ != nullptr || options_.on_leadership) {
    config.on_leadership = [metrics = server->metrics_,
                            user = options_.on_leadership](
                               const std::string& ns, bool leader) {
      if (metrics != nullptr) metrics->SetLeader(ns, leader);
      if (user) user(ns, leader);
    };
  }
  server->registration_ = std::make_unique<internal::Registration>(
      server->zookeeper_.get(), std::move(config));
  if (absl::Status started = server->registration_->Start(); !started.ok()) {
    return WithContext(started, absl::StrCat("cluster server of ", cluster_path,
                                             " not started"));
  }
  for (const std::string& ns : server->namespaces_) {
    server->SetHealth(ns, true);
    if (server->metrics_ != nullptr) server->metrics_->SetPublished(ns, true);
  }
  if (server->metrics_ != nullptr) {
    server->metrics_->SetPhase(internal::ServerPhase::kServing);
  }
  {
    std::lock_guard<std::mutex> lock(server->mu_);
    server->published_ = true;
  }
  return server;
}

ClusterServer::ClusterServer(ClusterOptions options)
    : options_(std::move(options)) {}

ClusterServer::~ClusterServer() {
  bool published;
  {
    std::lock_guard<std::mutex> lock(mu_);
    published = published_;
  }
  if (published) {
    Shutdown(absl::ZeroDuration());
  } else {
    // A failed start: stop what did start, without the drain.
    registration_.reset();
    if (server_ != nullptr) server_->Shutdown(std::chrono::system_clock::now());
    if (zookeeper_ != nullptr) zookeeper_->Close();
  }
  std::thread background;
  {
    std::lock_guard<std::mutex> lock(mu_);
    background = std::move(background_);
  }
  if (background.joinable()) {
    if (background.get_id() == std::this_thread::get_id()) {
      background.detach();
    } else {
      background.join();
    }
  }
}

internal::Registration* ClusterServer::registration() const {
  std::lock_guard<std::mutex> lock(mu_);
  return published_ ? registration_.get() : nullptr;
}

void ClusterServer::SetPhase(internal::ServerPhase phase) {
  if (metrics_ != nullptr) metrics_->SetPhase(phase);
}

void ClusterServer::SetHealth(const std::string& ns, bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) health->SetServingStatus(ns, serving);
}

absl::Status ClusterServer::Unpublish(const std::string& ns) {
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  absl::Status unpublished = registration->Unpublish(ns);
  if (unpublished.ok()) {
    SetHealth(ns, false);
    if (metrics_ != nullptr) metrics_->SetPublished(ns, false);
  }
  return unpublished;
}

absl::Status ClusterServer::Publish(const std::string& ns) {
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  absl::Status published = registration->Publish(ns);
  // Once shutting down, the health service ignores this (it was shut down).
  if (published.ok()) {
    SetHealth(ns, true);
    if (metrics_ != nullptr) metrics_->SetPublished(ns, true);
  }
  return published;
}

absl::Status ClusterServer::ResignLeadership(const std::string& ns) {
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  return registration->ResignLeadership(ns);
}

absl::Status ClusterServer::JoinLeaderElection(const std::string& ns) {
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  return registration->JoinLeaderElection(ns);
}

bool ClusterServer::InLeaderElection(const std::string& ns) const {
  internal::Registration* registration = this->registration();
  return registration != nullptr && registration->InLeaderElection(ns);
}

absl::Status ClusterServer::Offline() {
  // The registration's list, not namespaces_: reached through mu_, it is safe
  // for a manager call that arrives while BuildAndStart is still publishing.
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  for (const std::string& ns : registration->namespaces()) {
    if (absl::Status status = Unpublish(ns); !status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status ClusterServer::Online() {
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  for (const std::string& ns : registration->namespaces()) {
    if (absl::Status status = Publish(ns); !status.ok()) return status;
  }
  return absl::OkStatus();
}

bool ClusterServer::IsPublished(const std::string& ns) const {
  internal::Registration* registration = this->registration();
  return registration != nullptr && registration->IsPublished(ns);
}

bool ClusterServer::IsLeader(const std::string& ns) const {
  internal::Registration* registration = this->registration();
  return registration != nullptr && registration->IsLeader(ns);
}

absl::Status ClusterServer::SetServerData(const std::string& json) {
  absl::StatusOr<google::protobuf::Value> data = ParseServerData(json);
  if (!data.ok()) return data.status();
  internal::Registration* registration = this->registration();
  if (registration == nullptr) {
    return absl::UnavailableError("the cluster server is still starting");
  }
  return registration->SetServerData(*std::move(data));
}

std::string ClusterServer::server_data() const {
  internal::Registration* registration = this->registration();
  if (registration == nullptr) return "";
  const google::protobuf::Value data = registration->server_data();
  if (data.kind_case() == google::protobuf::Value::KIND_NOT_SET) return "";
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(data, &json);
  return json;
}

void ClusterServer::Shutdown(std::optional<absl::Duration> drain) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_started_) {
      changed_.wait(lock, [this] { return shutdown_finished_; });
      return;
    }
    shutdown_started_ = true;
  }
  // NOT_SERVING everywhere, and no later Publish can turn it back.
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health != nullptr) health->Shutdown();
  registration_->Close();
  SetPhase(internal::ServerPhase::kDraining);
  if (metrics_ != nullptr) {
    for (const std::string& ns : namespaces_) {
      metrics_->SetPublished(ns, false);
      metrics_->SetLeader(ns, false);
    }
  }
  const absl::Duration wait = drain.has_value() ? *drain
                              : options_.drain_time.has_value()
                                  ? *options_.drain_time
                                  : zookeeper_->negotiated_session_timeout();
  // The drain is the point of this wait: clients learn from ZooKeeper that
  // the server left, and stop sending calls before it stops taking them.
  absl::SleepFor(wait);
  SetPhase(internal::ServerPhase::kStopping);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoNanoseconds(options_.shutdown_deadline));
  zookeeper_->Close();
  SetPhase(internal::ServerPhase::kStopped);
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_finished_ = true;
  }
  changed_.notify_all();
}

void ClusterServer::ShutdownInBackground(std::optional<absl::Duration> drain) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_started_ || background_.joinable()) return;
  background_ = std::thread([this, drain] { Shutdown(drain); });
}

void ClusterServer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [this] { return shutdown_finished_; });
}

std::pair<int64_t, std::string> ClusterServer::zookeeper_session_for_testing()
    const {
  return zookeeper_->session_credentials();
}

}  // namespace slacker
