#include "discovery/curator_instance_json.h"

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/json_bounds.h"
#include "common/json_string.h"
#include "nlohmann/json.hpp"

namespace slacker::discovery {
namespace {

using Json = nlohmann::json;

absl::Status Invalid(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("not a Curator ServiceInstance: ", why));
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t SkipSpace(absl::string_view text, size_t at) {
  while (at < text.size() && IsJsonSpace(text[at])) ++at;
  return at;
}

// The end of the string starting at text[at] == '"'. REQUIRES: valid JSON.
size_t SkipString(absl::string_view text, size_t at) {
  for (++at; at < text.size(); ++at) {
    if (text[at] == '\\') {
      ++at;
    } else if (text[at] == '"') {
      return at + 1;
    }
  }
  return text.size();
}

// The end of the value starting at text[at]. REQUIRES: `text` was accepted
// by the strict parser, so brackets balance and strings close; iterative, so
// nesting costs no stack.
size_t SkipValue(absl::string_view text, size_t at) {
  if (at >= text.size()) return at;
  const char first = text[at];
  if (first == '"') return SkipString(text, at);
  if (first == '{' || first == '[') {
    int depth = 0;
    while (at < text.size()) {
      const char c = text[at];
      if (c == '"') {
        at = SkipString(text, at);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return at + 1;
      }
      ++at;
    }
    return at;
  }
  while (at < text.size() && !IsJsonSpace(text[at]) && text[at] != ',' &&
         text[at] != '}' && text[at] != ']') {
    ++at;
  }
  return at;
}

struct Member {
  std::string name;
  absl::string_view value;  // The value's text, as written.
};

// The members of the object `text` (a value accepted by the strict parser,
// starting with '{'), in order. The names are decoded.
std::vector<Member> MembersOf(absl::string_view text) {
  std::vector<Member> members;
  size_t at = SkipSpace(text, 1);
  while (at < text.size() && text[at] == '"') {
    const size_t name_end = SkipString(text, at);
    Member member;
    member.name =
        Json::parse(text.substr(at, name_end - at)).get<std::string>();
    at = SkipSpace(text, name_end);
    at = SkipSpace(text, at + 1);  // ':'
    const size_t value_end = SkipValue(text, at);
    member.value = text.substr(at, value_end - at);
    members.push_back(std::move(member));
    at = SkipSpace(text, value_end);
    if (at < text.size() && text[at] == ',') at = SkipSpace(text, at + 1);
  }
  return members;
}

// The elements of the array `text` (accepted, starting with '['), as written.
std::vector<absl::string_view> ElementsOf(absl::string_view text) {
  std::vector<absl::string_view> elements;
  size_t at = SkipSpace(text, 1);
  while (at < text.size() && text[at] != ']') {
    const size_t end = SkipValue(text, at);
    elements.push_back(text.substr(at, end - at));
    at = SkipSpace(text, end);
    if (at < text.size() && text[at] == ',') at = SkipSpace(text, at + 1);
  }
  return elements;
}

// A small value (never the payload) decoded: strings, numbers, booleans.
Json Decode(absl::string_view value) { return Json::parse(value); }

absl::StatusOr<std::string> RequiredString(const Member& member) {
  Json value = Decode(member.value);
  if (!value.is_string()) {
    return Invalid(absl::StrCat("\"", member.name, "\" is not a string"));
  }
  return value.get<std::string>();
}

absl::StatusOr<std::optional<std::string>> OptionalString(
    const Member& member) {
  if (member.value == "null") return std::optional<std::string>();
  absl::StatusOr<std::string> value = RequiredString(member);
  if (!value.ok()) return value.status();
  return std::optional<std::string>(*std::move(value));
}

absl::StatusOr<std::optional<int>> OptionalPort(const Member& member) {
  if (member.value == "null") return std::optional<int>();
  Json value = Decode(member.value);
  if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
      value.get<int64_t>() > 65535) {
    return Invalid(absl::StrCat("\"", member.name, "\" is ",
                                member.value.substr(0, 40),
                                ", not a port number (0 to 65535) or null"));
  }
  return std::optional<int>(value.get<int>());
}

absl::StatusOr<CuratorServiceType> ServiceTypeOf(const Member& member) {
  absl::StatusOr<std::string> name = RequiredString(member);
  if (!name.ok()) return name.status();
  static constexpr CuratorServiceType kTypes[] = {
      CuratorServiceType::kDynamic, CuratorServiceType::kStatic,
      CuratorServiceType::kPermanent, CuratorServiceType::kDynamicSequential};
  for (CuratorServiceType type : kTypes) {
    if (*name == CuratorServiceTypeName(type)) return type;
  }
  return Invalid(absl::StrCat("unknown \"serviceType\" \"",
                              name->substr(0, 40),
                              "\" (DYNAMIC, STATIC, PERMANENT or "
                              "DYNAMIC_SEQUENTIAL)"));
}

absl::StatusOr<std::optional<CuratorUriSpec>> UriSpecOf(
    const Member& member) {
  if (member.value == "null") return std::optional<CuratorUriSpec>();
  const absl::Status bad =
      Invalid("\"uriSpec\" is not Curator's {\"parts\":[{\"value\":...,"
              "\"variable\":...},...]} or null");
  if (member.value.front() != '{') return bad;
  CuratorUriSpec spec;
  for (const Member& field : MembersOf(member.value)) {
    if (field.name != "parts") continue;
    if (field.value.front() != '[') return bad;
    for (absl::string_view element : ElementsOf(field.value)) {
      if (element.front() != '{') return bad;
      CuratorUriSpecPart part;
      bool has_value = false;
      for (const Member& part_field : MembersOf(element)) {
        if (part_field.name == "value") {
          Json value = Decode(part_field.value);
          if (!value.is_string()) return bad;
          part.value = value.get<std::string>();
          has_value = true;
        } else if (part_field.name == "variable") {
          Json value = Decode(part_field.value);
          if (!value.is_boolean()) return bad;
          part.variable = value.get<bool>();
        }
      }
      if (!has_value) return bad;
      spec.parts.push_back(std::move(part));
    }
  }
  return std::optional<CuratorUriSpec>(std::move(spec));
}

// Splits the payload's text into Jackson's type id and the value.
void ReadPayload(absl::string_view text, CuratorInstance* instance) {
  instance->payload_json = std::string(text);
  instance->payload_value_json = std::string(text);
  instance->payload_class.clear();
  if (text.front() == '{') {
    // Jackson writes the type id first; a leading "@class" string is it.
    size_t at = SkipSpace(text, 1);
    if (at >= text.size() || text[at] != '"') return;
    const size_t name_end = SkipString(text, at);
    if (Json::parse(text.substr(at, name_end - at)).get<std::string>() !=
        "@class") {
      return;
    }
    at = SkipSpace(text, SkipSpace(text, name_end) + 1);
    const size_t value_end = SkipValue(text, at);
    Json type_id = Decode(text.substr(at, value_end - at));
    if (!type_id.is_string()) return;
    instance->payload_class = type_id.get<std::string>();
    at = SkipSpace(text, value_end);
    if (text[at] == ',') at = SkipSpace(text, at + 1);
    // The other members, as written, in a fresh pair of braces.
    instance->payload_value_json = absl::StrCat("{", text.substr(at));
    return;
  }
  if (text.front() == '[') {
    // A wrapper array: ["<class>", value]. Jackson wraps every array (a
    // Java List or array) this way, so an untagged array does not occur.
    std::vector<absl::string_view> elements = ElementsOf(text);
    if (elements.size() != 2 || elements[0].front() != '"') return;
    instance->payload_class = Decode(elements[0]).get<std::string>();
    instance->payload_value_json = std::string(elements[1]);
  }
}

}  // namespace

absl::string_view CuratorServiceTypeName(CuratorServiceType type) {
  switch (type) {
    case CuratorServiceType::kDynamic:
      return "DYNAMIC";
    case CuratorServiceType::kStatic:
      return "STATIC";
    case CuratorServiceType::kPermanent:
      return "PERMANENT";
    case CuratorServiceType::kDynamicSequential:
      return "DYNAMIC_SEQUENTIAL";
  }
  return "DYNAMIC";
}

absl::StatusOr<CuratorUriSpec> CuratorUriSpec::FromTemplate(
    absl::string_view spec) {
  CuratorUriSpec result;
  std::string text;
  bool in_variable = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const char c = spec[i];
    if (c == '{') {
      if (in_variable) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid URI spec \"", spec, "\": '{' inside a variable at offset ",
            i, " (write {[} for a literal brace)"));
      }
      if (!text.empty()) result.parts.push_back({std::move(text), false});
      text.clear();
      in_variable = true;
    } else if (c == '}') {
      if (!in_variable) {
        return absl::InvalidArgumentError(absl::StrCat(
            "invalid URI spec \"", spec, "\": '}' without '{' at offset ", i,
            " (write {]} for a literal brace)"));
      }
      if (!text.empty()) result.parts.push_back({std::move(text), true});
      text.clear();
      in_variable = false;
    } else {
      text.push_back(c);
    }
  }
  if (in_variable) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid URI spec \"", spec, "\": the last variable is not closed"));
  }
  if (!text.empty()) result.parts.push_back({std::move(text), false});
  return result;
}

std::string CuratorUriSpec::Template() const {
  std::string spec;
  for (const CuratorUriSpecPart& part : parts) {
    if (part.variable) {
      absl::StrAppend(&spec, "{", part.value, "}");
    } else {
      absl::StrAppend(&spec, part.value);
    }
  }
  return spec;
}

std::string CuratorUriSpec::ToJson() const {
  std::string json = "{\"parts\":[";
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::StrAppend(&json, i == 0 ? "" : ",",
                    "{\"value\":", internal::JsonString(parts[i].value),
                    ",\"variable\":", parts[i].variable ? "true" : "false",
                    "}");
  }
  absl::StrAppend(&json, "]}");
  return json;
}

std::string CuratorInstance::Uri() const {
  if (!uri_spec.has_value()) return "";
  std::map<std::string, std::string, std::less<>> variables = {
      {"scheme", ssl_port.has_value() ? "https" : "http"},
      {"name", name},
      {"id", id},
      {"service-type", std::string(CuratorServiceTypeName(service_type))},
      {"[", "{"},
      {"]", "}"},
  };
  if (address.has_value()) variables["address"] = *address;
  if (port.has_value()) variables["port"] = absl::StrCat(*port);
  if (ssl_port.has_value()) variables["ssl-port"] = absl::StrCat(*ssl_port);
  if (registration_time.has_value()) {
    variables["registration-time-utc"] =
        absl::StrCat(absl::ToUnixMillis(*registration_time));
  }
  std::string uri;
  for (const CuratorUriSpecPart& part : uri_spec->parts) {
    if (!part.variable) {
      absl::StrAppend(&uri, part.value);
    } else if (auto found = variables.find(part.value);
               found != variables.end()) {
      absl::StrAppend(&uri, found->second);
    } else {
      absl::StrAppend(&uri, "{", part.value, "}");
    }
  }
  return uri;
}

absl::StatusOr<CuratorInstance> ParseCuratorInstance(absl::string_view json) {
  if (absl::Status bounded = internal::CheckJsonBounds(
          json, kCuratorInstanceBounds, "Curator ServiceInstance");
      !bounded.ok()) {
    return bounded;
  }
  // nlohmann's lexer takes a NUL byte for the end of the text and skips a
  // UTF-8 byte order mark; JSON text as Jackson writes it holds neither.
  if (json.find('\0') != json.npos) return Invalid("a NUL byte");
  const size_t start = SkipSpace(json, 0);
  if (start == json.size() || json[start] != '{') {
    return Invalid("it is not a JSON object");
  }
  if (!Json::accept(json.begin(), json.end())) {
    return Invalid("it is not valid JSON (RFC 8259, UTF-8)");
  }
  const absl::string_view object = json.substr(start);
  CuratorInstance instance;
  bool has_name = false;
  bool has_id = false;
  std::set<std::string> seen;
  for (const Member& member : MembersOf(object)) {
    if (!seen.insert(member.name).second) {
      return Invalid(absl::StrCat("the member \"", member.name.substr(0, 40),
                                  "\" appears twice"));
    }
    if (member.name == "name") {
      absl::StatusOr<std::string> value = RequiredString(member);
      if (!value.ok()) return value.status();
      instance.name = *std::move(value);
      has_name = true;
    } else if (member.name == "id") {
      absl::StatusOr<std::string> value = RequiredString(member);
      if (!value.ok()) return value.status();
      instance.id = *std::move(value);
      has_id = !instance.id.empty();
    } else if (member.name == "address") {
      absl::StatusOr<std::optional<std::string>> value = OptionalString(member);
      if (!value.ok()) return value.status();
      instance.address = *std::move(value);
    } else if (member.name == "port" || member.name == "sslPort") {
      absl::StatusOr<std::optional<int>> value = OptionalPort(member);
      if (!value.ok()) return value.status();
      (member.name == "port" ? instance.port : instance.ssl_port) = *value;
    } else if (member.name == "payload") {
      ReadPayload(member.value, &instance);
    } else if (member.name == "registrationTimeUTC") {
      if (member.value == "null") continue;
      Json value = Decode(member.value);
      if (!value.is_number_integer()) {
        return Invalid("\"registrationTimeUTC\" is not an integer (ms)");
      }
      instance.registration_time = absl::FromUnixMillis(value.get<int64_t>());
    } else if (member.name == "serviceType") {
      absl::StatusOr<CuratorServiceType> value = ServiceTypeOf(member);
      if (!value.ok()) return value.status();
      instance.service_type = *value;
    } else if (member.name == "uriSpec") {
      absl::StatusOr<std::optional<CuratorUriSpec>> value = UriSpecOf(member);
      if (!value.ok()) return value.status();
      instance.uri_spec = *std::move(value);
    } else if (member.name == "enabled") {
      Json value = Decode(member.value);
      if (!value.is_boolean()) return Invalid("\"enabled\" is not a boolean");
      instance.enabled = value.get<bool>();
    }
  }
  if (!has_name) return Invalid("no \"name\" string");
  if (!has_id) return Invalid("no \"id\" (a non-empty string)");
  return instance;
}

}  // namespace slacker::discovery
