#include "framework/grpc_plugin/zk_resolver.h"

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "discovery/registry_layout.h"
#include "framework/grpc_plugin/server_attribute.h"
#include "framework/internal/channel_args.h"
#include "framework/internal/channel_registry.h"
#include "framework/internal/client_metrics.h"
#include "framework/internal/cluster_lb_options.h"
#include "framework/internal/cluster_view.h"
#include "framework/internal/plugin_names.h"
#include "framework/internal/tls_name.h"
#include "src/core/lib/address_utils/parse_address.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/resolver/resolver.h"
#include "src/core/lib/service_config/service_config_impl.h"

namespace slacker::internal {
namespace {

using grpc_core::ChannelArgs;
using grpc_core::Json;

// "host:port" to a socket address: IP literals directly, names through the
// system resolver (this runs on the view's thread, never on gRPC's).
absl::optional<grpc_resolved_address> ToSocketAddress(
    const std::string& address) {
  grpc_resolved_address resolved;
  if (grpc_parse_ipv4_hostport(address, &resolved, /*log_errors=*/false) ||
      grpc_parse_ipv6_hostport(address, &resolved, /*log_errors=*/false)) {
    return resolved;
  }
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return absl::nullopt;
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  addrinfo hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0 ||
      found == nullptr) {
    return absl::nullopt;
  }
  memset(&resolved, 0, sizeof(resolved));
  memcpy(resolved.addr, found->ai_addr, found->ai_addrlen);
  resolved.len = found->ai_addrlen;
  freeaddrinfo(found);
  return resolved;
}

// The settings CreateClusterChannel registered for the channel, or null.
std::shared_ptr<const ChannelSettings> SettingsOf(const ChannelArgs& args) {
  absl::optional<int> id = args.GetInt(kChannelIdArg);
  if (!id.has_value()) return nullptr;
  std::optional<ChannelEntry> entry = FindChannel(*id);
  return entry.has_value() ? entry->settings : nullptr;
}

class ZkResolver : public grpc_core::Resolver {
 public:
  // own_id: the id this resolver registered for its channel (one made by
  // grpc::CreateChannel), forgotten when it shuts down; 0 for none.
  ZkResolver(grpc_core::ResolverArgs args, ClusterViewOptions view_options,
             Json::Object lb_config, std::string target, ChannelId own_id)
      : own_id_(own_id),
        work_serializer_(std::move(args.work_serializer)),
        result_handler_(std::move(args.result_handler)),
        channel_args_(args.args),
        view_options_(std::move(view_options)),
        lb_config_(std::move(lb_config)),
        target_(std::move(target)),
        settings_(SettingsOf(args.args)) {}

  void StartLocked() override {
    std::lock_guard<std::mutex> lock(mu_);
    ClusterViewOptions view_options = view_options_;
    if (settings_ != nullptr) view_options.ensemble = settings_->ensemble;
    if (settings_ != nullptr && settings_->metrics != nullptr) {
      view_options.on_connection_state =
          [metrics = settings_->metrics](discovery::ConnectionState state) {
            metrics->ZooKeeperConnected(
                state == discovery::ConnectionState::kConnected ||
                state == discovery::ConnectionState::kReconnected ||
                state == discovery::ConnectionState::kNewSession);
            if (state == discovery::ConnectionState::kExpired) {
              metrics->ZooKeeperSessionExpired();
            }
          };
    }
    absl::StatusOr<std::unique_ptr<ClusterView>> view = ClusterView::Start(
        std::move(view_options),
        [this](const absl::StatusOr<ClusterSnapshot>& snapshot) {
          OnSnapshot(snapshot);
        });
    if (!view.ok()) {
      Result result;
      result.addresses = absl::UnavailableError(
          absl::StrCat(target_, ": ", view.status().message()));
      result.service_config = absl::UnavailableError("no servers");
      result_handler_->ReportResult(std::move(result));
      return;
    }
    view_ = std::move(*view);
  }

  void ShutdownLocked() override {
    // Stops deliveries: after this OnSnapshot does not run (unless this very
    // thread is inside it, which then only schedules work already counted).
    std::unique_ptr<ClusterView> view;
    {
      std::lock_guard<std::mutex> lock(mu_);
      view = std::move(view_);
      pending_.clear();
    }
    view.reset();  // Outside mu_: it waits for a delivery in progress.
    if (own_id_ > 0) ForgetChannel(own_id_);
  }

 private:
  // On the view's thread. Builds the result there (parsing, name lookups),
  // then hands it to gRPC through the work serializer.
  void OnSnapshot(const absl::StatusOr<ClusterSnapshot>& snapshot) {
    Result result;
    if (!snapshot.ok()) {
      result.addresses = snapshot.status();
      result.service_config = snapshot.status();
      Log(LogLevel::kWarning, std::string(snapshot.status().message()));
    } else {
      CallHooks(*snapshot);
      result.addresses = ToAddresses(*snapshot);
      result.service_config = ServiceConfig();
      result.args = channel_args_.Set(
          kEventTimeArg, absl::StrCat(absl::ToUnixNanos(snapshot->event_time)));
      result.resolution_note =
          absl::StrCat(snapshot->servers.size(), " server(s) in ", target_);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(std::move(result));
    }
    // A raw pointer holding a reference: a trivially copyable callback is
    // stored inside the std::function (see ReportLocked).
    auto* self = static_cast<ZkResolver*>(Ref().release());
    grpc_core::ApplicationCallbackExecCtx callback_exec_ctx;
    grpc_core::ExecCtx exec_ctx;
    work_serializer_->Run(
        [self] {
          grpc_core::RefCountedPtr<grpc_core::Resolver> owner(self);
          self->ReportLocked();
        },
        DEBUG_LOCATION);
  }

  // Results travel through pending_ rather than inside the callback: the
  // mutex orders the view's thread and the serializer's for ThreadSanitizer
  // (gRPC's own ordering is inside its uninstrumented library).
  void ReportLocked() {
    while (true) {
      Result result;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (view_ == nullptr || pending_.empty()) return;  // Shut down.
        result = std::move(pending_.front());
        pending_.pop_front();
      }
      result_handler_->ReportResult(std::move(result));
    }
  }

  grpc_core::ServerAddressList ToAddresses(const ClusterSnapshot& snapshot) {
    grpc_core::ServerAddressList addresses;
    for (const ClusterServer& server : snapshot.servers) {
      absl::optional<grpc_resolved_address> socket =
          ToSocketAddress(server.address);
      if (!socket.has_value()) {
        Log(LogLevel::kWarning,
            absl::StrCat(target_, ": skipping server ", server.address,
                         ": its host cannot be resolved"));
        continue;
      }
      std::map<const char*,
               std::unique_ptr<grpc_core::ServerAddress::AttributeInterface>>
          attributes;
      attributes[ServerAttribute::Key()] = std::make_unique<ServerAttribute>(
          std::make_shared<const ClusterServer>(server));
      // The server's own TLS name, for its connection's handshake; a name the
      // channel's own arguments give (SetSslTargetNameOverride) wins, as
      // gRPC prefers channel arguments over an address's.
      addresses.emplace_back(
          *socket,
          ChannelArgs().Set(GRPC_SSL_TARGET_NAME_OVERRIDE_ARG,
                            TlsNameOf(server.address, server.tls_name)),
          std::move(attributes));
    }
    return addresses;
  }

  void CallHooks(const ClusterSnapshot& snapshot) {
    std::map<std::string, std::string> data;
    for (const ClusterServer& server : snapshot.servers) {
      data[server.address] = server.server_data;
    }
    if (settings_ != nullptr && settings_->on_server_data_change) {
      for (const auto& [address, now] : data) {
        auto before = server_data_.find(address);
        const std::string old =
            before == server_data_.end() ? "" : before->second;
        if (old != now) settings_->on_server_data_change(address, old, now);
      }
      for (const auto& [address, old] : server_data_) {
        if (data.count(address) == 0 && !old.empty()) {
          settings_->on_server_data_change(address, old, "");
        }
      }
    }
    server_data_ = std::move(data);
  }

  // The channel's own service config with the LB policy set to ours.
  absl::StatusOr<grpc_core::RefCountedPtr<grpc_core::ServiceConfig>>
  ServiceConfig() {
    Json::Object config;
    absl::optional<absl::string_view> own =
        channel_args_.GetString(kServiceConfigArg);
    if (!own.has_value())
      own = channel_args_.GetString(GRPC_ARG_SERVICE_CONFIG);
    if (own.has_value() && !own->empty()) {
      absl::StatusOr<Json> parsed = Json::Parse(*own);
      if (!parsed.ok() || parsed->type() != Json::Type::OBJECT) {
        return absl::InvalidArgumentError(
            absl::StrCat("the channel's service config is not a JSON object: ",
                         parsed.ok() ? "" : parsed.status().message()));
      }
      config = parsed->object_value();
    }
    auto wait = lb_config_.find("waitForReady");
    if (wait != lb_config_.end() &&
        wait->second.type() == Json::Type::JSON_TRUE) {
      MarkWaitForReady(&config);
    }
    config["loadBalancingConfig"] =
        Json::Array{Json::Object{{kLbPolicyName, lb_config_}}};
    const std::string json = Json(config).Dump();
    if (ShouldLog(LogLevel::kDebug)) {
      Log(LogLevel::kDebug, absl::StrCat(target_, ": service config ", json));
    }
    return grpc_core::ServiceConfigImpl::Create(channel_args_, json);
  }

  // Every method config without its own waitForReady gets it, and one that
  // names every method ({"name": [{}]}) is added if there is none.
  static void MarkWaitForReady(Json::Object* config) {
    Json::Array methods;
    auto it = config->find("methodConfig");
    if (it != config->end() && it->second.type() == Json::Type::ARRAY) {
      methods = it->second.array_value();
    }
    bool has_default = false;
    for (Json& method : methods) {
      if (method.type() != Json::Type::OBJECT) continue;
      Json::Object object = method.object_value();
      auto names = object.find("name");
      if (names != object.end() && names->second.type() == Json::Type::ARRAY) {
        for (const Json& name : names->second.array_value()) {
          has_default |=
              name.type() == Json::Type::OBJECT && name.object_value().empty();
        }
      }
      object.emplace("waitForReady", true);
      method = Json(std::move(object));
    }
    if (!has_default) {
      methods.push_back(Json::Object{{"name", Json::Array{Json::Object{}}},
                                     {"waitForReady", true}});
    }
    (*config)["methodConfig"] = std::move(methods);
  }

  const ChannelId own_id_;
  std::shared_ptr<grpc_core::WorkSerializer> work_serializer_;
  std::unique_ptr<ResultHandler> result_handler_;
  const ChannelArgs channel_args_;
  const ClusterViewOptions view_options_;
  const Json::Object lb_config_;
  const std::string target_;
  // Null for a channel not made by CreateClusterChannel.
  const std::shared_ptr<const ChannelSettings> settings_;

  std::mutex mu_;
  std::unique_ptr<ClusterView> view_;  // Null once shut down.
  std::deque<Result> pending_;
  // Only touched on the view's thread.
  std::map<std::string, std::string> server_data_;
};

absl::optional<absl::Duration> ParseMillis(absl::string_view text) {
  int64_t ms = 0;
  if (!absl::SimpleAtoi(text, &ms) || ms <= 0) return absl::nullopt;
  return absl::Milliseconds(ms);
}

// The resolver of one scheme: zk:// (the Slacker layout, or the format its
// `announcement` says), curator:// or serverset:// (that format, the path
// being the ZooKeeper path of the servers' parent node).
class ZkResolverFactory : public grpc_core::ResolverFactory {
 public:
  explicit ZkResolverFactory(AnnouncementFormat scheme_format)
      : scheme_format_(scheme_format) {}

  absl::string_view scheme() const override {
    switch (scheme_format_) {
      case AnnouncementFormat::kCurator:
        return kCuratorResolverScheme;
      case AnnouncementFormat::kServerSet:
        return kServerSetResolverScheme;
      case AnnouncementFormat::kSlacker:
        break;
    }
    return kResolverScheme;
  }

  bool IsValidUri(const grpc_core::URI& uri) const override {
    return Parse(uri, ChannelArgs()).ok();
  }

  grpc_core::OrphanablePtr<grpc_core::Resolver> CreateResolver(
      grpc_core::ResolverArgs args) const override {
    absl::StatusOr<Settings> settings = Parse(args.uri, args.args);
    if (!settings.ok()) {
      Log(LogLevel::kError, std::string(settings.status().message()));
      return nullptr;
    }
    const ChannelId own_id = args.args.GetInt(kChannelIdArg).has_value()
                                 ? 0
                                 : RegisterOwnChannel(&*settings, &args);
    return grpc_core::MakeOrphanable<ZkResolver>(
        std::move(args), std::move(settings->view), std::move(settings->lb),
        std::move(settings->target), own_id);
  }

 private:
  struct Settings {
    ClusterViewOptions view;
    Json::Object lb;
    std::string target;
  };

  // A channel made by grpc::CreateChannel("zk://..."), which
  // CreateClusterChannel did not register: registers it by a new id (with
  // the groupings of its target and args, for the cluster interceptor),
  // which the LB policy gets in its channel args and readers of the
  // channel's service config in the policy's config. `all` is the
  // interceptor's: the policy gets "random" in its place.
  static ChannelId RegisterOwnChannel(Settings* settings,
                                      grpc_core::ResolverArgs* args) {
    const ChannelId id = NewChannelId();
    auto channel = std::make_shared<ChannelSettings>();
    channel->cluster = settings->view.cluster;
    channel->target = settings->target;
    auto grouping = settings->lb.find(kLbConfigGrouping);
    if (grouping != settings->lb.end() &&
        grouping->second.type() == Json::Type::STRING) {
      channel->grouping = grouping->second.string_value();
      if (channel->grouping == "all") grouping->second = "random";
    }
    auto methods = settings->lb.find(kLbConfigMethods);
    if (methods != settings->lb.end() &&
        methods->second.type() == Json::Type::OBJECT) {
      Json::Object kept;
      for (const auto& [method, value] : methods->second.object_value()) {
        if (value.type() != Json::Type::STRING) continue;
        channel->method_groupings[method] = value.string_value();
        if (value.string_value() != "all") kept[method] = value;
      }
      methods->second = std::move(kept);
    }
    settings->lb[kLbConfigChannelId] = id;
    args->args = args->args.Set(kChannelIdArg, id);
    RegisterChannelById(id, std::move(channel));
    return id;
  }

  const AnnouncementFormat scheme_format_;

  static absl::Status SetFormat(int format, ForeignSource* source) {
    switch (format) {
      case static_cast<int>(AnnouncementFormat::kSlacker):
      case static_cast<int>(AnnouncementFormat::kCurator):
      case static_cast<int>(AnnouncementFormat::kServerSet):
        source->format = static_cast<AnnouncementFormat>(format);
        return absl::OkStatus();
      default:
        return absl::InvalidArgumentError(
            "announcement must be slacker, curator or serverset");
    }
  }

  absl::StatusOr<Settings> Parse(const grpc_core::URI& uri,
                                 const ChannelArgs& args) const {
    Settings settings;
    const bool zk = scheme_format_ == AnnouncementFormat::kSlacker;
    const std::string target =
        absl::StrCat(scheme(), "://", uri.authority(), uri.path());
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad cluster target '", target, "': ", what, " (expected ",
          zk ? "zk://host:port[,host:port...]/cluster"
          : scheme_format_ == AnnouncementFormat::kCurator
              ? "curator://host:port[,host:port...]/<base path>/<service name>"
              : "serverset://host:port[,host:port...]/<serverset path>",
          ")"));
    };
    if (uri.authority().empty()) return error("no ZooKeeper hosts");
    absl::string_view cluster = uri.path();
    std::string scheme_root;  // curator://, serverset://: the path's parent.
    if (zk) {
      if (!absl::ConsumePrefix(&cluster, "/") || cluster.empty() ||
          cluster.find('/') != absl::string_view::npos) {
        return error("the path must be /<cluster name>");
      }
    } else {
      // <root>/<cluster>: the last node is the "cluster", its parent the root.
      const size_t last = cluster.rfind('/');
      if (!absl::StartsWith(cluster, "/") || last == 0 ||
          last == absl::string_view::npos || last + 1 == cluster.size()) {
        return error("the path must have at least two nodes, e.g. /a/b");
      }
      scheme_root = std::string(cluster.substr(0, last));
      settings.view.foreign.format = scheme_format_;
      cluster = cluster.substr(last + 1);
    }
    settings.target = target;
    settings.view.zookeeper = uri.authority();
    settings.view.cluster = std::string(cluster);
    if (absl::optional<int> ms = args.GetInt(kSessionTimeoutArg)) {
      settings.view.session_timeout = absl::Milliseconds(*ms);
    }
    if (absl::optional<std::string> digest = args.GetOwnedString(kDigestArg)) {
      settings.view.digest = *digest;
    }
    // A channel's default, as ClusterChannelOptions::discovery's: the
    // recursive watch where ZooKeeper has it.
    settings.view.mode = DiscoveryMode::kAuto;
    if (absl::optional<int> mode = args.GetInt(kDiscoveryModeArg)) {
      switch (*mode) {
        case static_cast<int>(DiscoveryMode::kPersistentRecursive):
          settings.view.mode = DiscoveryMode::kPersistentRecursive;
          break;
        case static_cast<int>(DiscoveryMode::kWatches):
          settings.view.mode = DiscoveryMode::kWatches;
          break;
        default:
          settings.view.mode = DiscoveryMode::kAuto;
      }
    }
    if (absl::optional<int> format = args.GetInt(kAnnouncementArg);
        zk && format.has_value()) {
      absl::Status set = SetFormat(*format, &settings.view.foreign);
      if (!set.ok()) return error(set.message());
    }
    if (absl::optional<absl::string_view> services =
            args.GetString(kAnnouncedServicesArg)) {
      settings.view.foreign.namespaces =
          absl::StrSplit(*services, ',', absl::SkipEmpty());
    }
    if (absl::optional<std::string> endpoint =
            args.GetOwnedString(kServerSetEndpointArg)) {
      settings.view.foreign.endpoint = *endpoint;
    }
    if (absl::optional<int> ssl = args.GetInt(kCuratorSslPortArg)) {
      settings.view.foreign.use_ssl_port = *ssl != 0;
    }
    if (absl::optional<absl::string_view> json =
            args.GetString(kClusterConfigArg)) {
      absl::StatusOr<Json> parsed = Json::Parse(*json);
      if (!parsed.ok() || parsed->type() != Json::Type::OBJECT) {
        return error("the channel's cluster settings are not a JSON object");
      }
      settings.lb = parsed->object_value();
    }
    for (const auto& [key, value] : uri.query_parameter_map()) {
      if (key == "root" && zk) {
        settings.lb["root"] = std::string(value);
      } else if (key == "grouping") {
        settings.lb[kLbConfigGrouping] = std::string(value);
      } else if (key == "session_timeout" || key == "connect_timeout") {
        absl::optional<absl::Duration> duration = ParseMillis(value);
        if (!duration.has_value()) {
          return error(absl::StrCat(key, " must be milliseconds > 0"));
        }
        (key == "session_timeout" ? settings.view.session_timeout
                                  : settings.view.connect_timeout) = *duration;
      } else if (!zk && (key == "root" || key == "announcement")) {
        return error(absl::StrCat(key, " is given by the scheme and path"));
      } else if (key == "announcement") {
        const int format = value == "slacker"     ? 0
                           : value == "curator"   ? 1
                           : value == "serverset" ? 2
                                                  : -1;
        absl::Status set = SetFormat(format, &settings.view.foreign);
        if (!set.ok()) return error(set.message());
      } else if (key == "services") {
        settings.view.foreign.namespaces =
            absl::StrSplit(value, ',', absl::SkipEmpty());
      } else if (key == "endpoint") {
        settings.view.foreign.endpoint = std::string(value);
      } else if (key == "ssl_port") {
        if (value != "true" && value != "false") {
          return error("ssl_port must be true or false");
        }
        settings.view.foreign.use_ssl_port = value == "true";
      } else {
        return error(absl::StrCat(
            "unknown query parameter '", key,
            "' (known: root, grouping, session_timeout, connect_timeout, "
            "announcement, services, endpoint, ssl_port)"));
      }
    }
    if (!zk) settings.lb["root"] = scheme_root;
    auto root = settings.lb.find("root");
    if (root != settings.lb.end()) {
      if (root->second.type() != Json::Type::STRING) return error("bad root");
      settings.view.root = root->second.string_value();
    }
    settings.lb[kLbConfigCluster] = settings.view.cluster;
    settings.lb[kLbConfigTarget] = target;
    const discovery::RegistryLayout layout(settings.view.root,
                                           settings.view.cluster);
    settings.lb[kLbConfigNamespacesPath] = layout.NamespacesPath();
    switch (settings.view.foreign.format) {
      case AnnouncementFormat::kSlacker:
        break;
      case AnnouncementFormat::kCurator:
        settings.lb[kLbConfigAnnouncedPath] =
            absl::StrCat(layout.ClusterPath(), " (Curator service instances)");
        break;
      case AnnouncementFormat::kServerSet:
        settings.lb[kLbConfigAnnouncedPath] =
            absl::StrCat(layout.ClusterPath(), " (ServerSet members)");
        break;
    }
    return settings;
  }
};

}  // namespace

std::unique_ptr<grpc_core::ResolverFactory> MakeZkResolverFactory(
    AnnouncementFormat scheme_format) {
  return std::make_unique<ZkResolverFactory>(scheme_format);
}

}  // namespace slacker::internal
