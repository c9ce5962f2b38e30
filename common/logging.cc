#include "common/logging.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"

namespace slacker {
namespace {

LogLevel LevelFromEnvironment() {
  const char* value = std::getenv("SLACKER_LOG_LEVEL");
  if (value == nullptr) return LogLevel::kWarning;
  const std::string name = absl::AsciiStrToLower(value);
  if (name == "debug") return LogLevel::kDebug;
  if (name == "info") return LogLevel::kInfo;
  if (name == "error") return LogLevel::kError;
  if (name == "off") return LogLevel::kOff;
  return LogLevel::kWarning;
}

std::atomic<int>& Level() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnvironment())};
  return level;
}

struct SinkHolder {
  std::mutex mu;
  std::shared_ptr<const LogSink> sink;  // nullptr: stderr.
};

SinkHolder& Sink() {
  static SinkHolder* const holder = new SinkHolder;  // Never destroyed.
  return *holder;
}

}  // namespace

void SetLogLevel(LogLevel level) { Level() = static_cast<int>(level); }

LogLevel GetLogLevel() { return static_cast<LogLevel>(Level().load()); }

void SetLogSink(LogSink sink) {
  SinkHolder& holder = Sink();
  std::lock_guard<std::mutex> lock(holder.mu);
  holder.sink =
      sink ? std::make_shared<const LogSink>(std::move(sink)) : nullptr;
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kOff:
      return "OFF";
  }
  return "?";
}

namespace internal {

bool ShouldLog(LogLevel level) {
  return level != LogLevel::kOff && static_cast<int>(level) >= Level().load();
}

void Log(LogLevel level, absl::string_view message) {
  if (!ShouldLog(level)) return;
  std::shared_ptr<const LogSink> sink;
  {
    SinkHolder& holder = Sink();
    std::lock_guard<std::mutex> lock(holder.mu);
    sink = holder.sink;
  }
  if (sink != nullptr) {
    (*sink)(level, message);
    return;
  }
  const std::string name(LogLevelName(level));
  std::fprintf(stderr, "slacker %s %.*s\n", name.c_str(),
               static_cast<int>(message.size()), message.data());
}

}  // namespace internal
}  // namespace slacker
