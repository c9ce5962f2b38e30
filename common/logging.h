// The project's one logging facility. Library code logs through
// slacker::internal::Log; users choose the level and, if they like, where the
// lines go. gRPC's own log lines (common/grpc_logging.h) and the ZooKeeper C
// client's (discovery/internal/client_log.h, repeats collapsed) are routed
// here too, so that one sink sees everything the process logs.
//
// A line, as written to stderr by default (FormatLogLine):
//
//   2026-12-01T23:05:42.123456Z WARNING 4711 slacker registration.cc:88] text
//
// time (UTC, microseconds), level, the writing thread's kernel id (as `top -H`
// and gdb show it), the component (slacker, grpc or zookeeper), the source
// (file:line; for the ZooKeeper C client, its function and line), the text.
//
// Adapting to glog, spdlog or another logger: install a record sink, which
// receives every line's parts, and hand them on. For glog:
//
//   slacker::SetLogRecordSink([](const slacker::LogRecord& r) {
//     const int severity = r.level >= slacker::LogLevel::kError ? google::ERROR
//                        : r.level == slacker::LogLevel::kWarning
//                            ? google::WARNING : google::INFO;
//     google::LogMessage(r.file, r.line, severity).stream()
//         << r.component << ": " << r.message;
//   });
//   slacker::SetLogLevel(slacker::LogLevel::kInfo);  // What reaches it.
//
// For spdlog: spdlog::default_logger_raw()->log(
//     spdlog::source_loc{r.file, r.line, ""}, level, "{}: {}",
//     r.component, r.message);
//
// Thread-safe: every function may be called from any thread.

#ifndef SLACKER_COMMON_LOGGING_H_
#define SLACKER_COMMON_LOGGING_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slacker {

enum class LogLevel {
  kDebug = 0,
  kInfo = 1,
  kWarning = 2,
  kError = 3,
  kOff = 4
};

// Lines below `level` are dropped. Default: kWarning, or the value of the
// environment variable SLACKER_LOG_LEVEL (debug, info, warning, error, off)
// when the process first logs.
void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();

// One line's parts. The views and pointers are valid during the sink's call
// only: copy what you keep.
struct LogRecord {
  LogLevel level = LogLevel::kInfo;
  absl::Time time;
  int64_t thread_id = 0;  // The writing thread's kernel id (gettid).
  // Who wrote it: "slacker", "grpc" (gRPC's own lines) or "zookeeper" (the
  // ZooKeeper C client's).
  absl::string_view component;
  // The source: a file's base name ("registration.cc") and line; for the
  // ZooKeeper C client, its function ("handle_socket_error_msg") and line.
  // Never null (possibly ""), NUL-terminated; line 0 if unknown.
  const char* file = "";
  int line = 0;
  absl::string_view message;  // No trailing newline.
};

// The line the default sink writes to stderr, without its newline (see the
// top of this file).
std::string FormatLogLine(const LogRecord& record);

// Where lines go: the adapter hook for other loggers (see the top of this
// file). Default (or after SetLogRecordSink(nullptr)): FormatLogLine's line
// on stderr. The sink may be called from any thread, concurrently; it must
// not log through this facility itself. Replaces any sink set before, by
// either function.
using LogRecordSink = std::function<void(const LogRecord& record)>;
void SetLogRecordSink(LogRecordSink sink);

// The same with the level and text only (SetLogSink(nullptr): back to
// stderr).
using LogSink = std::function<void(LogLevel level, absl::string_view message)>;
void SetLogSink(LogSink sink);

absl::string_view LogLevelName(LogLevel level);

namespace internal {

// Whether a line at `level` would be written; lets callers skip building it.
bool ShouldLog(LogLevel level);
// Logs `message` as the slacker component; the source is the caller's.
void Log(LogLevel level, absl::string_view message,
         const char* file = __builtin_FILE(), int line = __builtin_LINE());
// Writes a line of another component (gRPC's, ZooKeeper's) whatever the
// level: the caller decides (ShouldLog, or the component's own verbosity).
// `file` may be a path: its base name is kept.
void LogFrom(LogLevel level, absl::string_view component, const char* file,
             int line, absl::string_view message);

}  // namespace internal
}  // namespace slacker

#endif  // SLACKER_COMMON_LOGGING_H_
