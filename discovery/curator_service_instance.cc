#include "discovery/curator_service_instance.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "discovery/curator_instance_json.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

// The type id Jackson writes before the members of a Map payload (Curator's
// ServiceInstance.getPayload() is annotated @JsonTypeInfo(use = CLASS)).
constexpr absl::string_view kPayloadTypeId =
    R"("@class":"java.util.LinkedHashMap")";

// Whether `s` is valid UTF-8 (RFC 3629: no overlong forms, surrogates or code
// points past U+10FFFF). Jackson refuses anything else, and Curator's
// queryForInstances then fails for the whole service, not only for this
// instance: so it never reaches ZooKeeper. nlohmann's strict writer is the
// check: it throws on the first ill-formed byte.
bool IsValidUtf8(absl::string_view s) {
  try {
    static_cast<void>(nlohmann::ordered_json(std::string(s)).dump());
    return true;
  } catch (const nlohmann::ordered_json::type_error&) {
    return false;
  }
}

absl::Status CheckName(absl::string_view value, absl::string_view what) {
  absl::Status status = ValidateNodeName(value, what);
  if (!status.ok()) return status;
  if (!IsValidUtf8(value)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ", what, " \"", absl::CHexEscape(value),
        "\": it is not valid UTF-8, which Curator's JSON reader refuses"));
  }
  return absl::OkStatus();
}

absl::Status CheckPort(int port, absl::string_view what) {
  if (port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid Curator ", what, " ", port, ": it must be 1 to 65535"));
  }
  return absl::OkStatus();
}

absl::Status CheckAddress(absl::string_view address) {
  if (address.empty()) {
    return absl::InvalidArgumentError(
        "no Curator instance address: none given, and no interface of this "
        "host has a non-loopback IP address to detect; set options.address "
        "to the host name or IP address JVM clients connect to");
  }
  for (unsigned char c : address) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid Curator instance address \"", absl::CHexEscape(address),
          "\": it must be a host name or IP address (printable ASCII, no "
          "spaces)"));
    }
  }
  return absl::OkStatus();
}

// Says in this project's words what nlohmann's parser found wrong: its
// messages read "... syntax error while parsing <context> - <detail>".
std::string DescribeJsonError(absl::string_view what) {
  absl::string_view context;
  absl::string_view detail = what;
  if (const size_t bracket = detail.find("] "); bracket != detail.npos) {
    detail.remove_prefix(bracket + 2);
  }
  constexpr absl::string_view kParsing = "while parsing ";
  if (const size_t at = detail.find(kParsing); at != detail.npos) {
    detail.remove_prefix(at + kParsing.size());
    const size_t dash = detail.find(" - ");
    context = detail.substr(0, dash);
    detail = dash == detail.npos ? "" : detail.substr(dash + 3);
  }
  constexpr absl::string_view kValue =
      "a value is expected (object, array, string, number, true, false or "
      "null)";
  // First match wins: a detail that says what is wrong, then the context.
  static constexpr struct {
    absl::string_view detail;
    absl::string_view context;
    absl::string_view say;
  } kRules[] = {
      {"; expected end of input", "", "text after the object"},
      {"surrogate", "", "a lone surrogate"},
      {"control character", "",
       "a control character in a string must be escaped"},
      {"forbidden character after backslash", "",
       "an unknown escape in a string"},
      {"must be followed by 4 hex digits", "",
       "a \\u escape needs 4 hex digits"},
      {"missing closing quote", "", "a string is not closed"},
      {"expected digit after '.'", "", "digits are expected after '.'"},
      {"after exponent", "", "digits are expected in an exponent"},
      {"number overflow", "", "a number out of the range of a double"},
      {"", "object key", "a member name (a string) is expected"},
      {"", "object separator", "':' is expected after a member name"},
      {"", "object", "',' or '}' is expected in an object"},
      {"", "array", "',' or ']' is expected in an array"},
      {"invalid literal", "", "an unknown word where a value is expected"},
      {"expected '[', '{', or a literal", "", kValue},
  };
  for (const auto& rule : kRules) {
    if (!rule.detail.empty() && absl::StrContains(detail, rule.detail)) {
      return std::string(rule.say);
    }
    if (!rule.context.empty() && context == rule.context) {
      return std::string(rule.say);
    }
  }
  return std::string(detail);
}

// Reads a payload with nlohmann's strict (RFC 8259) parser and builds
// nothing: nesting is bounded as it is read (Jackson reads nesting
// recursively), and the top-level member names are kept.
class PayloadReader final : public nlohmann::ordered_json::json_sax_t {
 public:
  // OK if `text` is one JSON value (with JSON whitespace around it); if it
  // is an object, `names` gets the names of its members. InvalidArgument
  // otherwise, saying what is wrong where. REQUIRES: `text` is valid UTF-8.
  static absl::Status ReadValue(absl::string_view text,
                                std::vector<std::string>* names) {
    // Before parsing, and stricter than nlohmann, which skips a UTF-8 BOM.
    const size_t first = text.find_first_not_of(" \t\n\r");
    if (first == text.npos ||
        !absl::StrContains("{[\"-0123456789tfn", text[first])) {
      return absl::InvalidArgumentError("it is not a JSON value");
    }
    // nlohmann's lexer takes a NUL byte for the end of the text, so what
    // follows one would be written unread; JSON text holds none.
    if (const size_t nul = text.find('\0'); nul != text.npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("it is not valid JSON: a NUL byte (at byte ", nul, ")"));
    }
    PayloadReader reader;
    if (!nlohmann::ordered_json::sax_parse(
            text.data(), text.data() + text.size(), &reader)) {
      return absl::InvalidArgumentError(reader.error_);
    }
    *names = std::move(reader.names_);
    return absl::OkStatus();
  }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }  // Not in JSON text.
  bool start_object(std::size_t) override { return Enter(); }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override { return Enter(); }
  bool end_array() override { return Leave(); }
  bool key(string_t& name) override {
    if (depth_ == 1) names_.push_back(name);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::ordered_json::exception& error) override {
    error_ =
        absl::StrCat("it is not valid JSON: ", DescribeJsonError(error.what()),
                     " (at byte ", position, ")");
    return false;
  }

 private:
  // Deeper nesting is refused.
  static constexpr int kMaxDepth = 100;

  bool Enter() {
    if (++depth_ <= kMaxDepth) return true;
    error_ = absl::StrCat("it is not valid JSON: nested too deeply (over ",
                          kMaxDepth, " levels of objects and arrays)");
    return false;
  }
  bool Leave() {
    --depth_;
    return true;
  }

  int depth_ = 0;
  std::vector<std::string> names_;
  std::string error_;
};

// `payload` (any JSON value, or empty for null) as Jackson writes Curator's
// payload of the matching Java type (see curator_instance_json.h): an object
// as a Map, after its type id; a string, a number in int range, a
// fractional number, true, false and null as themselves; a larger integer
// as a Long or BigInteger and an array as a List, in a wrapper array with
// the type id. The value's own text is kept as given (a string is written
// as Jackson writes it: only '"', '\\' and control characters escaped).
absl::StatusOr<std::string> RenderPayload(absl::string_view payload) {
  if (payload.empty()) return std::string("null");
  auto invalid = [](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Curator payload: ", why,
                     "; give a JSON value (an object is read in Java as a "
                     "Map, a string as a String), or an empty string for a "
                     "null payload"));
  };
  if (payload.size() > CuratorServiceInstance::kMaxPayloadBytes) {
    return invalid(absl::StrCat("it has ", payload.size(), " bytes, over ",
                                CuratorServiceInstance::kMaxPayloadBytes));
  }
  if (!IsValidUtf8(payload)) return invalid("it is not valid UTF-8");
  std::vector<std::string> names;
  if (absl::Status checked = PayloadReader::ReadValue(payload, &names);
      !checked.ok()) {
    return invalid(checked.message());
  }
  const absl::string_view value = absl::StripAsciiWhitespace(payload);
  switch (value.front()) {
    case '{': {
      if (std::find(names.begin(), names.end(), "@class") != names.end()) {
        return invalid(
            "it has an \"@class\" member, which Jackson would take for the "
            "payload's Java type");
      }
      // The reader accepted it: one object, so '{' and '}' bound it.
      const absl::string_view members =
          absl::StripLeadingAsciiWhitespace(value.substr(1, value.size() - 1));
      if (names.empty()) return absl::StrCat("{", kPayloadTypeId, "}");
      return absl::StrCat("{", kPayloadTypeId, ",", members);
    }
    case '[':
      return absl::StrCat("[\"java.util.ArrayList\",", value, "]");
    case '"':
      // Re-written as Jackson writes a String ("\u00e9" becomes the UTF-8
      // bytes), so that Curator's own serialization is the same bytes.
      return nlohmann::ordered_json::parse(value).dump();
    case 't':
    case 'f':
    case 'n':
      return std::string(value);
    default:
      break;
  }
  // A number. Jackson reads an integer as the smallest of Integer, Long and
  // BigInteger that holds it, and tags all but Integer.
  if (value.find_first_of(".eE") != value.npos) return std::string(value);
  int32_t small;
  if (absl::SimpleAtoi(value, &small)) return std::string(value);
  int64_t large;
  if (absl::SimpleAtoi(value, &large)) {
    return absl::StrCat("[\"java.lang.Long\",", value, "]");
  }
  return absl::StrCat("[\"java.math.BigInteger\",", value, "]");
}

// A JSON string holding `s`, which the checks above made valid UTF-8 without
// control characters: nlohmann then escapes only the quote and the backslash,
// and writes the rest as it is, as Jackson does.
std::string JsonString(absl::string_view s) {
  return nlohmann::ordered_json(std::string(s)).dump();
}

std::string DefaultId(const CuratorServiceInstanceOptions& options) {
  if (options.address.find(':') != std::string::npos) {
    return absl::StrCat("[", options.address, "]:", options.port);
  }
  return absl::StrCat(options.address, ":", options.port);
}

// `options` with the address detected when none is given.
CuratorServiceInstanceOptions WithAddress(
    const CuratorServiceInstanceOptions& options) {
  CuratorServiceInstanceOptions resolved = options;
  if (resolved.address.empty()) {
    std::vector<std::string> local = CuratorServiceInstance::LocalAddresses();
    if (!local.empty()) resolved.address = local.front();
  }
  return resolved;
}

std::string ResolvedId(const CuratorServiceInstanceOptions& options) {
  return options.id.empty() ? DefaultId(options) : options.id;
}

}  // namespace

std::vector<std::string> CuratorServiceInstance::LocalAddresses() {
  std::vector<std::string> v4;
  std::vector<std::string> v6;
  struct ifaddrs* interfaces = nullptr;
  if (getifaddrs(&interfaces) != 0) return {};
  for (const struct ifaddrs* it = interfaces; it != nullptr;
       it = it->ifa_next) {
    if (it->ifa_addr == nullptr || (it->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    const bool point_to_point = (it->ifa_flags & IFF_POINTOPOINT) != 0;
    char text[INET6_ADDRSTRLEN] = {};
    if (it->ifa_addr->sa_family == AF_INET) {
      const in_addr& address =
          reinterpret_cast<const sockaddr_in*>(it->ifa_addr)->sin_addr;
      const uint32_t host = ntohl(address.s_addr);
      if ((host >> 24) == 127) continue;                        // Loopback.
      if ((host >> 16) == 0xA9FE && !point_to_point) continue;  // 169.254/16.
      if (inet_ntop(AF_INET, &address, text, sizeof(text)) != nullptr) {
        v4.push_back(text);
      }
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      const in6_addr& address =
          reinterpret_cast<const sockaddr_in6*>(it->ifa_addr)->sin6_addr;
      if (IN6_IS_ADDR_LOOPBACK(&address)) continue;
      if (IN6_IS_ADDR_LINKLOCAL(&address) && !point_to_point) continue;
      if (inet_ntop(AF_INET6, &address, text, sizeof(text)) != nullptr) {
        v6.push_back(text);
      }
    }
  }
  freeifaddrs(interfaces);
  v4.insert(v4.end(), v6.begin(), v6.end());
  return v4;
}

absl::StatusOr<std::string> CuratorServiceInstance::ToJson(
    const CuratorServiceInstanceOptions& given_options,
    absl::Time registration_time) {
  const CuratorServiceInstanceOptions options = WithAddress(given_options);
  absl::Status status = ValidatePath(options.base_path);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Curator base path: ", status.message()));
  }
  if (status = CheckName(options.service_name, "Curator service name");
      !status.ok()) {
    return status;
  }
  if (status = CheckAddress(options.address); !status.ok()) return status;
  std::string uri_spec = "null";
  if (!options.uri_spec.empty()) {
    absl::StatusOr<CuratorUriSpec> spec =
        CuratorUriSpec::FromTemplate(options.uri_spec);
    if (!spec.ok()) return spec.status();
    uri_spec = spec->ToJson();
  }
  if (status = CheckPort(options.port, "instance port"); !status.ok()) {
    return status;
  }
  if (options.ssl_port.has_value()) {
    if (status = CheckPort(*options.ssl_port, "instance SSL port");
        !status.ok()) {
      return status;
    }
  }
  const std::string id = ResolvedId(options);
  if (status = CheckName(id, "Curator instance id"); !status.ok()) {
    return status;
  }
  absl::StatusOr<std::string> payload = RenderPayload(options.payload_json);
  if (!payload.ok()) return payload.status();
  return absl::StrCat(
      "{\"name\":", JsonString(options.service_name),
      ",\"id\":", JsonString(id), ",\"address\":", JsonString(options.address),
      ",\"port\":", options.port, ",\"sslPort\":",
      options.ssl_port.has_value() ? absl::StrCat(*options.ssl_port) : "null",
      ",\"payload\":", *payload,
      ",\"registrationTimeUTC\":", absl::ToUnixMillis(registration_time),
      ",\"serviceType\":\"DYNAMIC\",\"uriSpec\":", uri_spec, "}");
}

std::string CuratorServiceInstance::PathFor(
    const CuratorServiceInstanceOptions& given_options) {
  const CuratorServiceInstanceOptions options = WithAddress(given_options);
  return JoinPath(JoinPath(options.base_path, options.service_name),
                  ResolvedId(options));
}

std::string CuratorServiceInstance::RandomId() {
  absl::BitGen gen;
  const uint64_t high = absl::Uniform<uint64_t>(gen);
  const uint64_t low = absl::Uniform<uint64_t>(gen);
  // RFC 4122: version 4 (random) in the high nibble of the 7th byte, variant
  // 10 in the top bits of the 9th.
  const uint64_t versioned = (high & ~0xF000ULL) | 0x4000ULL;
  const uint64_t varianted = (low & ~(0xC000ULL << 48)) | (0x8000ULL << 48);
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", versioned >> 32,
                         (versioned >> 16) & 0xFFFF, versioned & 0xFFFF,
                         varianted >> 48, varianted & 0xFFFFFFFFFFFFULL);
}

absl::StatusOr<std::unique_ptr<CuratorServiceInstance>>
CuratorServiceInstance::Start(ZooKeeperClient* client,
                              CuratorServiceInstanceOptions given_options) {
  // Detected once: the node keeps this address for the instance's life.
  CuratorServiceInstanceOptions options = WithAddress(given_options);
  if (client == nullptr) {
    return absl::InvalidArgumentError(
        "CuratorServiceInstance::Start: the ZooKeeper client is null");
  }
  const absl::Time registration_time = absl::Now();
  absl::StatusOr<std::string> json = ToJson(options, registration_time);
  if (!json.ok()) return json.status();
  std::string path = PathFor(options);
  PersistentEphemeralNodeOptions node_options;
  node_options.min_retry_delay = options.min_retry_delay;
  node_options.max_retry_delay = options.max_retry_delay;
  absl::StatusOr<std::unique_ptr<PersistentEphemeralNode>> node =
      PersistentEphemeralNode::Start(client, path, *std::move(json),
                                     node_options);
  if (!node.ok()) return node.status();
  return std::unique_ptr<CuratorServiceInstance>(
      new CuratorServiceInstance(std::move(options), registration_time,
                                 std::move(path), *std::move(node)));
}

CuratorServiceInstance::CuratorServiceInstance(
    CuratorServiceInstanceOptions options, absl::Time registration_time,
    std::string path, std::unique_ptr<PersistentEphemeralNode> node)
    : id_(ResolvedId(options)),
      path_(std::move(path)),
      registration_time_(registration_time),
      node_(std::move(node)),
      options_(std::move(options)) {}

CuratorServiceInstance::~CuratorServiceInstance() {
  absl::Status closed = Close();
  if (!closed.ok()) {
    internal::Log(LogLevel::kWarning,
                  absl::StrCat("Curator instance ", path_,
                               " not deleted on destruction (it goes when the "
                               "ZooKeeper session ends): ",
                               closed.message()));
  }
}

absl::Status CuratorServiceInstance::Close() { return node_->Close(); }

absl::Status CuratorServiceInstance::SetPayload(std::string payload_json) {
  std::lock_guard<std::mutex> lock(mu_);
  CuratorServiceInstanceOptions updated = options_;
  updated.payload_json = std::move(payload_json);
  absl::StatusOr<std::string> json = ToJson(updated, registration_time_);
  if (!json.ok()) return json.status();
  absl::Status set = node_->SetData(*std::move(json));
  if (set.ok()) options_ = std::move(updated);
  return set;
}

absl::Status CuratorServiceInstance::WaitForRegistration(
    absl::Duration timeout) {
  return node_->WaitForInitialCreate(timeout);
}

bool CuratorServiceInstance::registered() const { return node_->exists(); }

std::string CuratorServiceInstance::json() const { return node_->data(); }

}  // namespace slacker::discovery
