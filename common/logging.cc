#include "common/logging.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

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
  std::shared_ptr<const LogRecordSink> sink;  // nullptr: stderr.
};

SinkHolder& Sink() {
  static SinkHolder* const holder = new SinkHolder;  // Never destroyed.
  return *holder;
}

int64_t ThreadId() {
  static thread_local const int64_t id =
      static_cast<int64_t>(syscall(SYS_gettid));
  return id;
}

const char* BaseName(const char* path) {
  if (path == nullptr) return "";
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

void Write(const LogRecord& record) {
  std::shared_ptr<const LogRecordSink> sink;
  {
    SinkHolder& holder = Sink();
    std::lock_guard<std::mutex> lock(holder.mu);
    sink = holder.sink;
  }
  if (sink != nullptr) {
    (*sink)(record);
    return;
  }
  // One write per line, so that lines of concurrent threads do not mix.
  const std::string line = absl::StrCat(FormatLogLine(record), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void SetLogLevel(LogLevel level) { Level() = static_cast<int>(level); }

LogLevel GetLogLevel() { return static_cast<LogLevel>(Level().load()); }

std::string FormatLogLine(const LogRecord& record) {
  std::string line = absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", record.time,
                                      absl::UTCTimeZone());
  absl::StrAppend(&line, " ", LogLevelName(record.level), " ", record.thread_id,
                  " ", record.component, " ",
                  record.file != nullptr ? record.file : "");
  if (record.line > 0) absl::StrAppend(&line, ":", record.line);
  absl::StrAppend(&line, "] ", record.message);
  return line;
}

void SetLogRecordSink(LogRecordSink sink) {
  SinkHolder& holder = Sink();
  std::lock_guard<std::mutex> lock(holder.mu);
  holder.sink =
      sink ? std::make_shared<const LogRecordSink>(std::move(sink)) : nullptr;
}

void SetLogSink(LogSink sink) {
  if (!sink) {
    SetLogRecordSink(nullptr);
    return;
  }
  SetLogRecordSink([sink = std::move(sink)](const LogRecord& record) {
    sink(record.level, record.message);
  });
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

void Log(LogLevel level, absl::string_view message, const char* file,
         int line) {
  if (ShouldLog(level)) LogFrom(level, "slacker", file, line, message);
}

void LogFrom(LogLevel level, absl::string_view component, const char* file,
             int line, absl::string_view message) {
  while (!message.empty() &&
         (message.back() == '\n' || message.back() == '\r')) {
    message.remove_suffix(1);
  }
  LogRecord record;
  record.level = level;
  record.time = absl::Now();
  record.thread_id = ThreadId();
  record.component = component;
  record.file = BaseName(file);
  record.line = line;
  record.message = message;
  Write(record);
}

}  // namespace internal
}  // namespace slacker
