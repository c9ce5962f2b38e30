#include "common/grpc_logging.h"

#include <grpc/support/log.h>

#include <mutex>

#include "common/logging.h"

namespace slacker {
namespace {

void Forward(gpr_log_func_args* args) {
  LogLevel level = LogLevel::kError;
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      level = LogLevel::kDebug;
      break;
    case GPR_LOG_SEVERITY_INFO:
      level = LogLevel::kInfo;
      break;
    case GPR_LOG_SEVERITY_ERROR:
      level = LogLevel::kError;
      break;
  }
  // gRPC's verbosity chose the line already; only "off" silences it here.
  if (GetLogLevel() == LogLevel::kOff) return;
  internal::LogFrom(level, "grpc", args->file, args->line,
                    args->message != nullptr ? args->message : "");
}

}  // namespace

void RouteGrpcLogs() {
  static std::once_flag once;
  std::call_once(once, [] { gpr_set_log_function(&Forward); });
}

}  // namespace slacker
