#include "framework/internal/foreign_snapshot.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "discovery/curator_instance_json.h"
#include "discovery/foreign_announcements.h"

namespace slacker::internal {
namespace {

// The payload's "weight" member, when the payload is an object holding a
// positive finite number there. `payload` was bounded with the instance.
std::optional<double> PayloadWeight(const std::string& payload) {
  const nlohmann::json parsed = nlohmann::json::parse(
      payload, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  auto weight = parsed.find("weight");
  if (weight == parsed.end() || !weight->is_number()) return std::nullopt;
  const double value = weight->get<double>();
  if (!(value > 0) || !std::isfinite(value)) return std::nullopt;
  return value;
}

// The server a Curator instance announces, or why it announces none the
// channel can use.
absl::StatusOr<ClusterServer> FromCurator(const ForeignSource& source,
                                          const std::string& json) {
  absl::StatusOr<discovery::CuratorInstance> instance =
      discovery::ParseCuratorInstance(json);
  if (!instance.ok()) return instance.status();
  if (!instance->enabled) {
    // Curator's providers never choose a disabled instance either.
    return absl::InvalidArgumentError("the instance is disabled");
  }
  if (!instance->address.has_value()) {
    return absl::InvalidArgumentError("the instance has no address");
  }
  if (absl::Status host =
          discovery::ValidateAnnouncedHost(*instance->address, "its address");
      !host.ok()) {
    return host;
  }
  const std::optional<int> port =
      source.use_ssl_port ? instance->ssl_port : instance->port;
  if (!port.has_value() || *port == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the instance has no ", source.use_ssl_port ? "sslPort" : "port",
        source.use_ssl_port ? "" : " (only an sslPort: see use_ssl_port)"));
  }
  ClusterServer server;
  server.address =
      discovery::AnnouncedEndpoint{*instance->address, *port}.HostPort();
  if (std::optional<double> weight =
          PayloadWeight(instance->payload_value_json)) {
    server.weight = *weight;
  }
  return server;
}

absl::StatusOr<ClusterServer> FromServerSet(const ForeignSource& source,
                                            const std::string& json) {
  absl::StatusOr<discovery::ServerSetMember> member =
      discovery::ParseServerSetMember(json);
  if (!member.ok()) return member.status();
  if (member->status != "ALIVE") {
    return absl::InvalidArgumentError(
        absl::StrCat("its status is ", member->status, ", not ALIVE"));
  }
  const discovery::AnnouncedEndpoint* endpoint = &member->service_endpoint;
  if (!source.endpoint.empty()) {
    auto named = member->additional_endpoints.find(source.endpoint);
    if (named == member->additional_endpoints.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("it has no additional endpoint \"", source.endpoint,
                       "\" (the channel's endpoint option)"));
    }
    endpoint = &named->second;
  }
  ClusterServer server;
  server.address = endpoint->HostPort();
  return server;
}

}  // namespace

void AddForeignServers(
    const ForeignSource& source, const std::string& parent,
    const std::map<std::string, discovery::NodeData>& children,
    std::map<std::string, ClusterServer>* servers,
    std::vector<RefusedAnnouncement>* refused) {
  for (const auto& [name, node] : children) {
    const std::string path = absl::StrCat(parent, "/", name);
    if (source.format == AnnouncementFormat::kServerSet &&
        !discovery::IsServerSetMemberName(name)) {
      continue;  // Not a member: ServerSets keep other nodes beside them.
    }
    absl::StatusOr<ClusterServer> server =
        source.format == AnnouncementFormat::kCurator
            ? FromCurator(source, node.data)
            : FromServerSet(source, node.data);
    if (!server.ok()) {
      refused->push_back(
          {path, std::string(server.status().message()), node.stat.mzxid});
      continue;
    }
    if (servers->count(server->address) != 0) continue;  // Lowest name's.
    server->server_data = node.data;
    if (source.namespaces.empty()) {
      server->namespaces = {kAnyNamespace};
    } else {
      server->namespaces = source.namespaces;
    }
    std::string address = server->address;
    servers->emplace(std::move(address), *std::move(server));
  }
}

}  // namespace slacker::internal
