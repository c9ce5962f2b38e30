// Reading one Curator ServiceInstance: the JSON that Apache Curator's
// JsonInstanceSerializer (curator-x-discovery 5.4) writes into each node
// <base path>/<service name>/<id>, e.g.
//
//   {"name":"api","id":"1b4e28ba-...","address":"10.0.0.7","port":50051,
//    "sslPort":null,"payload":{"@class":"java.util.LinkedHashMap","zone":"a"},
//    "registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC",
//    "uriSpec":{"parts":[{"value":"scheme","variable":true},
//                        {"value":"://","variable":false},...]}}
//
// The payload is kept as the text the writer wrote (member order, number
// digits, escapes: nothing is re-serialized), because Jackson's payload can be
// any Java value and only the application knows its type. Jackson writes
// Curator's payload with a type id (@JsonTypeInfo(use = CLASS)):
//   - an object (a Map or any bean) as {"@class":"<java class>", members...};
//   - a string, an int, a double, true/false or null as itself, untagged;
//   - anything else (a List, a Long, ...) as a two-element "wrapper array"
//     ["<java class>", value], e.g. ["java.lang.Long",5000000000].
// CuratorInstance keeps the text as written (payload_json), the type id
// (payload_class) and the value without it (payload_value_json).
//
// The text is untrusted (anyone who can write the node wrote it): it is
// bounded in size and nesting (common/json_bounds.h) before any parser sees
// it, then read with a strict RFC 8259 parser; members this reader does not
// know are ignored, as Curator's own reader ignores them.
//
// Thread-safe; pure functions.

#ifndef SLACKER_DISCOVERY_CURATOR_INSTANCE_JSON_H_
#define SLACKER_DISCOVERY_CURATOR_INSTANCE_JSON_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/json_bounds.h"

namespace slacker::discovery {

// Curator's ServiceType.
enum class CuratorServiceType {
  kDynamic,            // "DYNAMIC": ephemeral, gone with its session.
  kStatic,             // "STATIC"
  kPermanent,          // "PERMANENT"
  kDynamicSequential,  // "DYNAMIC_SEQUENTIAL"
};
// "DYNAMIC", ... as Curator writes them.
absl::string_view CuratorServiceTypeName(CuratorServiceType type);

// One part of Curator's UriSpec: literal text, or a variable ("scheme",
// "address", "port", ...) that Build() fills in.
struct CuratorUriSpecPart {
  std::string value;
  bool variable = false;
  bool operator==(const CuratorUriSpecPart& other) const {
    return value == other.value && variable == other.variable;
  }
};

// Curator's UriSpec: a template such as "{scheme}://{address}:{port}".
struct CuratorUriSpec {
  std::vector<CuratorUriSpecPart> parts;

  // Splits a template as Curator's UriSpec(String) does: "{name}" is a
  // variable, the rest literal text. InvalidArgument for an unclosed or
  // nested brace, naming its offset.
  static absl::StatusOr<CuratorUriSpec> FromTemplate(absl::string_view spec);

  // The template again ("{scheme}://{address}:{port}").
  std::string Template() const;

  // Curator's UriSpec JSON: {"parts":[{"value":"scheme","variable":true},...]}.
  std::string ToJson() const;
};

// One ServiceInstance as read. Members Curator may write as null are optional.
struct CuratorInstance {
  std::string name;                    // "name"; required.
  std::string id;                      // "id"; required, not empty.
  std::optional<std::string> address;  // "address"
  std::optional<int> port;             // "port": 0 to 65535.
  std::optional<int> ssl_port;         // "sslPort": 0 to 65535.

  // "payload" exactly as written ("null" when null or absent), type id
  // included: {"@class":"java.util.LinkedHashMap","zone":"a"}, "text", 5,
  // ["java.lang.Long",5000000000].
  std::string payload_json = "null";
  // Jackson's type id: "java.util.LinkedHashMap" above; empty for untagged
  // values (strings, small numbers, booleans, null, an object without a
  // leading "@class" member).
  std::string payload_class;
  // The payload without the type id, as written otherwise: {"zone":"a"},
  // "text", 5, 5000000000. The same as payload_json for untagged values.
  std::string payload_value_json = "null";

  std::optional<absl::Time> registration_time;  // "registrationTimeUTC" (ms).
  CuratorServiceType service_type = CuratorServiceType::kDynamic;
  std::optional<CuratorUriSpec> uri_spec;  // "uriSpec"; absent when null.
  // "enabled" (Curator 4.1+): a disabled instance is listed but never chosen
  // by a provider. Curator writes it only when false; true when absent.
  bool enabled = true;

  // The URI as Curator's UriSpec.build(instance) makes it: {scheme} is
  // "https" if ssl_port is set, else "http"; {name}, {id}, {address}, {port},
  // {ssl-port}, {registration-time-utc}, {service-type} are this instance's;
  // {[} and {]} are literal braces; an unknown or null variable is written
  // back as "{variable}". Empty if there is no uri_spec.
  std::string Uri() const;
};

// What an instance's text may cost before it is parsed: a little more than a
// writer's largest payload (CuratorServiceInstance::kMaxPayloadBytes is 64 KiB;
// JVM writers have no limit, and nodes above this are refused).
inline constexpr internal::JsonBounds kCuratorInstanceBounds{
    /*max_bytes=*/256 * 1024, /*max_depth=*/64, /*max_items=*/64 * 1024};

// Parses one instance. InvalidArgument saying what is wrong (too large or
// deep, not JSON, not an object, a duplicate member, a member of the wrong
// type, no name or id), never a crash, for any input.
absl::StatusOr<CuratorInstance> ParseCuratorInstance(absl::string_view json);

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_CURATOR_INSTANCE_JSON_H_
