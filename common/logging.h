// The project's one logging facility. Library code logs through
// slacker::internal::Log; users choose the level and, if they like, where the
// lines go. The ZooKeeper C client's own messages are routed here too.
//
// Thread-safe: every function may be called from any thread.

#ifndef SLACKER_COMMON_LOGGING_H_
#define SLACKER_COMMON_LOGGING_H_

#include <functional>

#include "absl/strings/string_view.h"

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

// Where lines go. Default (or after SetLogSink(nullptr)): one line each on
// stderr, "slacker <LEVEL> <message>". The sink may be called from any
// thread, concurrently; it must not log itself.
using LogSink = std::function<void(LogLevel level, absl::string_view message)>;
void SetLogSink(LogSink sink);

absl::string_view LogLevelName(LogLevel level);

namespace internal {

// Whether a line at `level` would be written; lets callers skip building it.
bool ShouldLog(LogLevel level);
void Log(LogLevel level, absl::string_view message);

}  // namespace internal
}  // namespace slacker

#endif  // SLACKER_COMMON_LOGGING_H_
