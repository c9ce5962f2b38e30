// gRPC's own log lines (gpr_log: connection failures, TLS handshake errors,
// ...) routed into the project's log (common/logging.h), as the "grpc"
// component with gRPC's file and line, so that a process logs through one sink.
//
// ClusterServerBuilder and the cluster channel call RouteGrpcLogs themselves;
// a program that uses gRPC before either may call it first. Which of gRPC's
// lines are written is gRPC's own verbosity's choice (environment variable
// GRPC_VERBOSITY, default ERROR), as before: SetLogLevel does not filter them
// further, except that kOff silences them too. gRPC's DEBUG and INFO lines
// become kDebug and kInfo, ERROR becomes kError.
//
// Thread-safe.

#ifndef SLACKER_COMMON_GRPC_LOGGING_H_
#define SLACKER_COMMON_GRPC_LOGGING_H_

namespace slacker {

// Installs the route (gpr_set_log_function), once per process; later calls
// do nothing. A program that installs its own gpr log function afterwards
// replaces the route.
void RouteGrpcLogs();

}  // namespace slacker

#endif  // SLACKER_COMMON_GRPC_LOGGING_H_
