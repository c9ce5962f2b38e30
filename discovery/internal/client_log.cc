#include "discovery/internal/client_log.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace slacker::discovery::internal {
namespace {

// What makes two lines one kind: level, function and the text without digits
// (ports, addresses, errno values, session ids).
std::string KindOf(const ClientLogLine& line) {
  std::string key =
      absl::StrCat(static_cast<int>(line.level), "@", line.function, "@");
  for (char c : line.text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) key.push_back(c);
  }
  return key;
}

// 100, 1000, 10000...: a long outage still shows its count now and then.
bool IsCountToWrite(int64_t n) {
  if (n < 100) return false;
  while (n % 10 == 0) n /= 10;
  return n == 1;
}

ClientLogLine WithCount(const ClientLogLine& line, const std::string& note) {
  ClientLogLine out = line;
  absl::StrAppend(&out.text, " (", note, ")");
  return out;
}

ClientLogCollapser& Process() {
  static ClientLogCollapser* const collapser = new ClientLogCollapser(
      [](const ClientLogLine& line) {  // Never destroyed.
        slacker::internal::LogFrom(line.level, "zookeeper",
                                   line.function.c_str(), line.line, line.text);
      });
  return *collapser;
}

// The stream's cookie: bytes written so far that end in no newline yet.
struct StreamBuffer {
  std::mutex mu;
  std::string pending;
};

ssize_t WriteToLog(void* cookie, const char* data, size_t size) {
  auto* buffer = static_cast<StreamBuffer*>(cookie);
  std::vector<std::string> lines;
  {
    std::lock_guard<std::mutex> lock(buffer->mu);
    buffer->pending.append(data, size);
    size_t newline;
    while ((newline = buffer->pending.find('\n')) != std::string::npos) {
      lines.push_back(buffer->pending.substr(0, newline));
      buffer->pending.erase(0, newline + 1);
    }
  }
  for (const std::string& line : lines) RouteClientLogLine(line.c_str());
  return static_cast<ssize_t>(size);
}

}  // namespace

ClientLogLine ParseClientLogLine(absl::string_view raw) {
  ClientLogLine parsed;
  raw = absl::StripAsciiWhitespace(raw);
  parsed.text = std::string(raw);
  const size_t at_level = raw.find(":ZOO_");
  if (at_level == absl::string_view::npos) return parsed;
  absl::string_view rest = raw.substr(at_level + 1);
  const size_t at1 = rest.find('@');
  if (at1 == absl::string_view::npos) return parsed;
  const absl::string_view level = rest.substr(0, at1);
  rest.remove_prefix(at1 + 1);
  const size_t at2 = rest.find('@');
  if (at2 == absl::string_view::npos) return parsed;
  const absl::string_view function = rest.substr(0, at2);
  rest.remove_prefix(at2 + 1);
  size_t digits = 0;
  while (digits < rest.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(rest[digits]))) {
    ++digits;
  }
  int line = 0;
  if (!absl::SimpleAtoi(rest.substr(0, digits), &line)) return parsed;
  rest.remove_prefix(digits);
  // What follows the line number up to ": " is context (the hosts), kept.
  const size_t colon = rest.find(": ");
  absl::string_view text =
      colon == absl::string_view::npos ? rest : rest.substr(colon + 2);
  if (colon != absl::string_view::npos && colon > 0) {
    parsed.text = absl::StrCat(
        absl::StripAsciiWhitespace(rest.substr(0, colon)), ": ", text);
  } else {
    parsed.text = std::string(absl::StripAsciiWhitespace(text));
  }
  if (level == "ZOO_ERROR") {
    parsed.level = LogLevel::kWarning;
  } else if (level == "ZOO_WARN") {
    parsed.level = LogLevel::kInfo;
  } else {
    parsed.level = LogLevel::kDebug;
  }
  parsed.function = std::string(function);
  parsed.line = line;
  return parsed;
}

void ClientLogCollapser::Add(absl::string_view raw) {
  ClientLogLine line = ParseClientLogLine(raw);
  if (!slacker::internal::ShouldLog(line.level)) return;
  std::vector<ClientLogLine> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string key = KindOf(line);
    auto it = kinds_.find(key);
    if (it == kinds_.end()) {
      if (kinds_.size() >= kMaxKinds) {
        for (auto& [unused, kind] : kinds_) {
          if (kind.count > kind.written_at) {
            out.push_back(WithCount(kind.first,
                                    absl::StrCat(kind.count, " times in all")));
          }
        }
        kinds_.clear();
      }
      out.push_back(line);
      Kind kind;
      kind.first = std::move(line);
      kind.count = 1;
      kinds_.emplace(key, std::move(kind));
    } else {
      Kind& kind = it->second;
      ++kind.count;
      if (IsCountToWrite(kind.count)) {
        kind.written_at = kind.count;
        out.push_back(
            WithCount(kind.first, absl::StrCat(kind.count, " times so far")));
      }
    }
  }
  for (const ClientLogLine& each : out) emit_(each);
}

void ClientLogCollapser::StateChanged(absl::string_view what) {
  std::vector<ClientLogLine> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [unused, kind] : kinds_) {
      if (kind.count > kind.written_at) {
        out.push_back(
            WithCount(kind.first,
                      absl::StrCat(kind.count, " times in all, until ", what)));
      }
    }
    kinds_.clear();
  }
  for (const ClientLogLine& each : out) emit_(each);
}

void RouteClientLogLine(const char* raw) {
  if (raw != nullptr) Process().Add(raw);
}

void ClientStateChanged(absl::string_view what) {
  Process().StateChanged(what);
}

FILE* ClientLogStream() {
  static FILE* const stream = [] {
    cookie_io_functions_t functions = {};
    functions.write = &WriteToLog;
    // Never freed (the C client may write until the process ends); held
    // here too, not only inside the FILE, so that LeakSanitizer sees it.
    static StreamBuffer* const buffer = new StreamBuffer;
    FILE* file = fopencookie(buffer, "w", functions);
    if (file != nullptr) setvbuf(file, nullptr, _IOLBF, 0);
    return file;
  }();
  return stream;
}

}  // namespace slacker::discovery::internal
