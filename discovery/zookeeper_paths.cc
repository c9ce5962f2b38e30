#include "discovery/zookeeper_paths.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace slacker::discovery {
namespace {

// Characters ZooKeeper refuses in paths (PathUtils.validatePath): NUL, other
// control characters, and the noncharacters/surrogates it also bans, which
// cannot appear in valid UTF-8 anyway.
bool HasControlCharacter(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

absl::Status ValidatePath(absl::string_view path) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ZooKeeper path \"", absl::CHexEscape(path), "\": ", why));
  };
  if (path.empty()) return invalid("it is empty");
  if (path[0] != '/') return invalid("it must start with '/'");
  if (HasControlCharacter(path)) return invalid("it holds a control character");
  if (path == "/") return absl::OkStatus();
  if (path.back() == '/') return invalid("it must not end with '/'");
  for (absl::string_view segment : absl::StrSplit(path.substr(1), '/')) {
    if (segment.empty()) return invalid("it has an empty segment (\"//\")");
    if (segment == "." || segment == "..") {
      return invalid("it has a \".\" or \"..\" segment");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNodeName(absl::string_view name, absl::string_view what) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid ", what, " \"", absl::CHexEscape(name), "\": ", why));
  };
  if (name.empty()) return invalid("it is empty");
  if (name.find('/') != absl::string_view::npos) {
    return invalid("it must not contain '/'");
  }
  if (name == "." || name == "..") return invalid("it must not be . or ..");
  if (HasControlCharacter(name)) return invalid("it holds a control character");
  return absl::OkStatus();
}

std::string JoinPath(absl::string_view parent, absl::string_view child) {
  if (parent == "/" || parent.empty()) return absl::StrCat("/", child);
  return absl::StrCat(parent, "/", child);
}

std::string ParentPath(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos || slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

absl::string_view NodeName(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return path;
  return path.substr(slash + 1);
}

std::optional<int64_t> SequenceNumber(absl::string_view name) {
  constexpr size_t kDigits = 10;
  if (name.size() < kDigits) return std::nullopt;
  absl::string_view digits = name.substr(name.size() - kDigits);
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c)))
      return std::nullopt;
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(digits, &value)) return std::nullopt;
  return value;
}

}  // namespace slacker::discovery
