#include "discovery/curator_service_instance.h"

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "discovery/zookeeper_paths.h"

namespace slacker::discovery {
namespace {

// The type id Jackson writes before the members of a Map payload (Curator's
// ServiceInstance.getPayload() is annotated @JsonTypeInfo(use = CLASS)).
constexpr absl::string_view kPayloadTypeId =
    R"("@class":"java.util.LinkedHashMap")";

// Jackson refuses malformed UTF-8, and Curator's queryForInstances then
// fails for the whole service, not only for this instance: so it never
// reaches ZooKeeper.
bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = s[i];
    int extra;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // Cut short.
    for (int k = 1; k <= extra; ++k) {
      const unsigned char next = s[i + k];
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
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
        "no Curator instance address: set options.address to the host name "
        "or IP address JVM clients connect to");
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

// A strict JSON (RFC 8259) reader that only checks a text, for the payload:
// whatever reaches ZooKeeper must parse in Jackson, or Curator's
// queryForInstances fails for the whole service. REQUIRES: valid UTF-8.
class JsonChecker {
 public:
  explicit JsonChecker(absl::string_view text) : text_(text) {}

  // OK if the text is one JSON object (with JSON whitespace around it);
  // `names` gets the names of its members. InvalidArgument otherwise, saying
  // what is wrong where.
  absl::Status CheckObject(std::vector<std::string>* names) {
    SkipSpace();
    if (!Peek('{')) {
      return absl::InvalidArgumentError("it is not a JSON object");
    }
    if (!Object(/*depth=*/1, names)) return Error(error_);
    SkipSpace();
    if (pos_ != text_.size()) return Error("text after the object");
    return absl::OkStatus();
  }

 private:
  // Deeper nesting is refused, so that checking cannot exhaust the stack.
  static constexpr int kMaxDepth = 100;

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("it is not valid JSON: ", what, " (at byte ", pos_, ")"));
  }
  bool Fail(absl::string_view what) {
    error_ = std::string(what);
    return false;
  }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool Take(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
            text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Value(int depth) {
    SkipSpace();
    if (pos_ >= text_.size()) return Fail("a value is missing");
    switch (text_[pos_]) {
      case '{':
        return Object(depth + 1, nullptr);
      case '[':
        return Array(depth + 1);
      case '"':
        return String(nullptr);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }

  bool Object(int depth, std::vector<std::string>* names) {
    if (depth > kMaxDepth) return Fail("nested too deeply");
    Take('{');
    SkipSpace();
    if (Take('}')) return true;
    while (true) {
      SkipSpace();
      std::string name;
      if (!Peek('"')) return Fail("a member name (a string) is expected");
      if (!String(&name)) return false;
      if (names != nullptr) names->push_back(std::move(name));
      SkipSpace();
      if (!Take(':')) return Fail("':' is expected after a member name");
      if (!Value(depth)) return false;
      SkipSpace();
      if (Take('}')) return true;
      if (!Take(',')) return Fail("',' or '}' is expected in an object");
    }
  }

  bool Array(int depth) {
    if (depth > kMaxDepth) return Fail("nested too deeply");
    Take('[');
    SkipSpace();
    if (Take(']')) return true;
    while (true) {
      if (!Value(depth)) return false;
      SkipSpace();
      if (Take(']')) return true;
      if (!Take(',')) return Fail("',' or ']' is expected in an array");
    }
  }

  // A string; decoded into `out` (UTF-8) if not null.
  bool String(std::string* out) {
    Take('"');
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) {
        return Fail("a control character in a string must be escaped");
      }
      if (c != '\\') {
        if (out != nullptr) out->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char escaped = text_[pos_++];
      static constexpr absl::string_view kEscapes = "\"\\/bfnrt";
      static constexpr absl::string_view kMeanings = "\"\\/\b\f\n\r\t";
      if (const size_t k = kEscapes.find(escaped);
          k != absl::string_view::npos) {
        if (out != nullptr) out->push_back(kMeanings[k]);
        continue;
      }
      if (escaped != 'u') return Fail("an unknown escape in a string");
      uint32_t code;
      if (!Hex4(&code)) return false;
      if (code >= 0xDC00 && code <= 0xDFFF) return Fail("a lone surrogate");
      if (code >= 0xD800 && code <= 0xDBFF) {
        uint32_t low;
        if (!Take('\\') || !Take('u') || !Hex4(&low) || low < 0xDC00 ||
            low > 0xDFFF) {
          return Fail("a lone surrogate");
        }
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      }
      if (out != nullptr) AppendUtf8(code, out);
    }
    return Fail("a string is not closed");
  }

  bool Hex4(uint32_t* code) {
    if (pos_ + 4 > text_.size()) return Fail("a \\u escape is cut short");
    *code = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text_[pos_++];
      if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
        return Fail("a \\u escape needs 4 hex digits");
      }
      *code =
          *code * 16 +
          (absl::ascii_isdigit(static_cast<unsigned char>(c))
               ? c - '0'
               : absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    }
    return true;
  }

  static void AppendUtf8(uint32_t code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  bool Literal(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Fail("an unknown word");
    pos_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number() {
    auto digits = [this] {
      const size_t from = pos_;
      while (pos_ < text_.size() &&
             absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      return pos_ > from;
    };
    Take('-');
    if (!Take('0') && !(pos_ < text_.size() && text_[pos_] >= '1' &&
                        text_[pos_] <= '9' && digits())) {
      return Fail(
          "a value is expected (object, array, string, number, true, "
          "false or null)");
    }
    if (Take('.') && !digits()) return Fail("digits are expected after '.'");
    if (Take('e') || Take('E')) {
      if (!Take('+')) Take('-');
      if (!digits()) return Fail("digits are expected in an exponent");
    }
    return true;
  }

  const absl::string_view text_;
  size_t pos_ = 0;
  std::string error_;
};

// `payload` (a JSON object, or empty for null) as Curator writes a Map
// payload: the same members, as given, after Jackson's type id.
absl::StatusOr<std::string> RenderPayload(absl::string_view payload) {
  if (payload.empty()) return std::string("null");
  auto invalid = [](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid Curator payload: ", why,
                     "; give a JSON object (read in Java as a Map), or an "
                     "empty string for a null payload"));
  };
  if (payload.size() > CuratorServiceInstance::kMaxPayloadBytes) {
    return invalid(absl::StrCat("it has ", payload.size(), " bytes, over ",
                                CuratorServiceInstance::kMaxPayloadBytes));
  }
  if (!IsValidUtf8(payload)) return invalid("it is not valid UTF-8");
  std::vector<std::string> names;
  if (absl::Status checked = JsonChecker(payload).CheckObject(&names);
      !checked.ok()) {
    return invalid(checked.message());
  }
  if (std::find(names.begin(), names.end(), "@class") != names.end()) {
    return invalid(
        "it has an \"@class\" member, which Jackson would take for the "
        "payload's Java type");
  }
  // The checker accepted it: one object, so '{' and '}' bound it.
  const size_t open = payload.find('{');
  const size_t close = payload.rfind('}');
  const absl::string_view members =
      absl::StripLeadingAsciiWhitespace(payload.substr(open + 1, close - open));
  if (names.empty()) return absl::StrCat("{", kPayloadTypeId, "}");
  return absl::StrCat("{", kPayloadTypeId, ",", members);
}

// A JSON string holding `s`, which the checks above made valid UTF-8 without
// control characters: only the quote and the backslash need escaping.
std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string DefaultId(const CuratorServiceInstanceOptions& options) {
  if (options.address.find(':') != std::string::npos) {
    return absl::StrCat("[", options.address, "]:", options.port);
  }
  return absl::StrCat(options.address, ":", options.port);
}

std::string ResolvedId(const CuratorServiceInstanceOptions& options) {
  return options.id.empty() ? DefaultId(options) : options.id;
}

}  // namespace

absl::StatusOr<std::string> CuratorServiceInstance::ToJson(
    const CuratorServiceInstanceOptions& options,
    absl::Time registration_time) {
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
      ",\"serviceType\":\"DYNAMIC\",\"uriSpec\":null}");
}

std::string CuratorServiceInstance::PathFor(
    const CuratorServiceInstanceOptions& options) {
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
                              CuratorServiceInstanceOptions options) {
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
