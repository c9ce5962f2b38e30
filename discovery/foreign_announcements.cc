#include "discovery/foreign_announcements.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace slacker::discovery {
namespace {

using Json = nlohmann::json;

// The bounded text parsed; never throws (the parser's exceptions are off and
// every accessor below checks the type first).
absl::StatusOr<Json> ParseObject(absl::string_view json,
                                 absl::string_view what) {
  if (absl::Status bounded =
          internal::CheckJsonBounds(json, kForeignAnnouncementBounds, what);
      !bounded.ok()) {
    return bounded;
  }
  Json parsed = Json::parse(json.begin(), json.end(), /*cb=*/nullptr,
                            /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not JSON"));
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a JSON object"));
  }
  return parsed;
}

absl::Status CheckHost(const std::string& host, absl::string_view what) {
  if (host.empty() || host.size() > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be 1 to 255 bytes long"));
  }
  for (char c : host) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c)) || c == '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " must be printable ASCII without spaces or '/'"));
    }
  }
  return absl::OkStatus();
}

// An integer port 1..65535 in `object[key]`; nullopt if absent or null.
absl::StatusOr<std::optional<int>> PortAt(const Json& object, const char* key,
                                          absl::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::optional<int>();
  if (!it->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", key, "\" is not an integer"));
  }
  const int64_t port = it->get<int64_t>();
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", key, "\" is ", port, ", not 1 to 65535"));
  }
  return std::optional<int>(static_cast<int>(port));
}

// A string member, "" if absent or null; InvalidArgument if of another type.
absl::StatusOr<std::string> StringAt(const Json& object, const char* key,
                                     absl::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " \"", key, "\" is not a string"));
  }
  return it->get<std::string>();
}

absl::StatusOr<AnnouncedEndpoint> EndpointOf(const Json& value,
                                             absl::string_view what) {
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not an object {host, port}"));
  }
  AnnouncedEndpoint endpoint;
  absl::StatusOr<std::string> host = StringAt(value, "host", what);
  if (!host.ok()) return host.status();
  endpoint.host = std::move(*host);
  if (absl::Status valid =
          CheckHost(endpoint.host, absl::StrCat(what, " host"));
      !valid.ok()) {
    return valid;
  }
  absl::StatusOr<std::optional<int>> port = PortAt(value, "port", what);
  if (!port.ok()) return port.status();
  if (!port->has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no port"));
  }
  endpoint.port = **port;
  return endpoint;
}

}  // namespace

std::string AnnouncedEndpoint::HostPort() const {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::Status ValidateAnnouncedHost(const std::string& host,
                                   absl::string_view what) {
  return CheckHost(host, what);
}

bool IsServerSetMemberName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "member_") || name.empty()) return false;
  for (char c : name) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<ServerSetMember> ParseServerSetMember(absl::string_view json) {
  constexpr absl::string_view kWhat = "ServerSet member JSON";
  absl::StatusOr<Json> parsed = ParseObject(json, kWhat);
  if (!parsed.ok()) return parsed.status();
  ServerSetMember member;
  auto service = parsed->find("serviceEndpoint");
  if (service == parsed->end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhat, " has no \"serviceEndpoint\""));
  }
  absl::StatusOr<AnnouncedEndpoint> endpoint =
      EndpointOf(*service, "its \"serviceEndpoint\"");
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kWhat, ": ", endpoint.status().message()));
  }
  member.service_endpoint = std::move(*endpoint);
  auto additional = parsed->find("additionalEndpoints");
  if (additional != parsed->end() && !additional->is_null()) {
    if (!additional->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(
          kWhat, ": its \"additionalEndpoints\" is not an object"));
    }
    for (auto it = additional->begin(); it != additional->end(); ++it) {
      absl::StatusOr<AnnouncedEndpoint> named = EndpointOf(
          it.value(),
          absl::StrCat("its additional endpoint \"", it.key(), "\""));
      if (!named.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(kWhat, ": ", named.status().message()));
      }
      member.additional_endpoints[it.key()] = std::move(*named);
    }
  }
  absl::StatusOr<std::string> status = StringAt(*parsed, "status", kWhat);
  if (!status.ok()) return status.status();
  member.status = status->empty() ? "ALIVE" : std::move(*status);
  auto shard = parsed->find("shard");
  if (shard != parsed->end() && !shard->is_null()) {
    if (!shard->is_number_integer() || shard->get<int64_t>() < INT32_MIN ||
        shard->get<int64_t>() > INT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat(kWhat, ": its \"shard\" is not a 32-bit integer"));
    }
    member.shard = static_cast<int>(shard->get<int64_t>());
  }
  return member;
}

}  // namespace slacker::discovery
