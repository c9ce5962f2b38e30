// The log line's format, the record sink (the adapter hook), and gRPC's own
// lines reaching the same sink.

#include "common/logging.h"

#include <grpc/grpc.h>
#include <grpc/support/log.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/grpc_logging.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker {
namespace {

using ::testing::MatchesRegex;

struct Captured {
  LogLevel level;
  std::string component;
  std::string file;
  int line;
  int64_t thread_id;
  std::string message;
  std::string formatted;
};

// Captures every record while alive; back to stderr after.
class Capture {
 public:
  Capture() {
    SetLogRecordSink([this](const LogRecord& record) {
      std::lock_guard<std::mutex> lock(mu_);
      records_.push_back({record.level, std::string(record.component),
                          record.file, record.line, record.thread_id,
                          std::string(record.message), FormatLogLine(record)});
    });
  }
  ~Capture() { SetLogRecordSink(nullptr); }
  std::vector<Captured> records() {
    std::lock_guard<std::mutex> lock(mu_);
    return records_;
  }

 private:
  std::mutex mu_;
  std::vector<Captured> records_;
};

TEST(LoggingTest, FormatHasTimeLevelThreadComponentAndSource) {
  LogRecord record;
  record.level = LogLevel::kWarning;
  record.time = absl::FromCivil(absl::CivilSecond(2026, 12, 1, 23, 5, 42),
                                absl::UTCTimeZone()) +
                absl::Microseconds(123456);
  record.thread_id = 4711;
  record.component = "slacker";
  record.file = "registration.cc";
  record.line = 88;
  record.message = "repaired the server node";
  EXPECT_EQ(FormatLogLine(record),
            "2026-12-01T23:05:42.123456Z WARNING 4711 slacker "
            "registration.cc:88] repaired the server node");
  record.line = 0;
  record.file = "";
  EXPECT_EQ(FormatLogLine(record),
            "2026-12-01T23:05:42.123456Z WARNING 4711 slacker ] repaired the "
            "server node");
}

TEST(LoggingTest, LogCarriesTheCallersSourceAndThread) {
  Capture capture;
  const int line = __LINE__ + 1;
  internal::Log(LogLevel::kError, "something to fix\n");
  const std::vector<Captured> records = capture.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].level, LogLevel::kError);
  EXPECT_EQ(records[0].component, "slacker");
  EXPECT_EQ(records[0].file, "logging_test.cc");  // The base name only.
  EXPECT_EQ(records[0].line, line);
  EXPECT_EQ(records[0].thread_id, static_cast<int64_t>(syscall(SYS_gettid)));
  EXPECT_EQ(records[0].message, "something to fix");  // No newline.
  EXPECT_THAT(records[0].formatted,
              MatchesRegex(absl::StrCat(
                  "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\."
                  "[0-9]{6}Z ERROR [0-9]+ slacker logging_test\\.cc:",
                  line, "\\] something to fix")));
}

TEST(LoggingTest, LevelFiltersAndTheOldSinkStillGetsTheText) {
  const LogLevel before = GetLogLevel();
  SetLogLevel(LogLevel::kWarning);
  std::vector<std::string> lines;
  SetLogSink([&](LogLevel level, absl::string_view message) {
    lines.push_back(absl::StrCat(LogLevelName(level), " ", message));
  });
  internal::Log(LogLevel::kInfo, "dropped");
  internal::Log(LogLevel::kWarning, "kept");
  SetLogSink(nullptr);
  SetLogLevel(before);
  EXPECT_EQ(lines, std::vector<std::string>{"WARNING kept"});
}

TEST(LoggingTest, GrpcLinesReachTheSink) {
  // gRPC reads its verbosity (GRPC_VERBOSITY, default ERROR) in grpc_init;
  // before that it writes nothing.
  grpc_init();
  Capture capture;
  RouteGrpcLogs();
  RouteGrpcLogs();  // Idempotent.
  // Through gRPC's own logging call, as gRPC's code logs.
  const int line = __LINE__ + 1;
  gpr_log(__FILE__, line, GPR_LOG_SEVERITY_ERROR, "handshake failed: %s",
          "unknown CA");
  grpc_shutdown();
  const std::vector<Captured> records = capture.records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].level, LogLevel::kError);
  EXPECT_EQ(records[0].component, "grpc");
  EXPECT_EQ(records[0].file, "logging_test.cc");
  EXPECT_EQ(records[0].line, line);
  EXPECT_EQ(records[0].message, "handshake failed: unknown CA");
}

}  // namespace
}  // namespace slacker
