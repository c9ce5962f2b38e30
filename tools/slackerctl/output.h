// How slackerctl reports: its exit codes, its one-line errors on stderr, a
// failed call's status as JSON on stdout, and messages as JSON.

#ifndef SLACKER_TOOLS_SLACKERCTL_OUTPUT_H_
#define SLACKER_TOOLS_SLACKERCTL_OUTPUT_H_

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include <string>

#include "absl/strings/string_view.h"

namespace slacker::slackerctl {

// Exit codes (README.md, "slackerctl").
inline constexpr int kOk = 0;
inline constexpr int kCallFailed = 1;  // Its status printed as JSON.
inline constexpr int kUsage = 2;
inline constexpr int kUnreachable = 3;  // The cluster or ZooKeeper.

// Prints "slackerctl: <message>" on stderr; returns `code`.
int Fail(int code, absl::string_view message);

// A failed call: {"code":NAME,"message":...} on stdout, one line on stderr;
// returns kCallFailed.
int CallFailed(grpc::StatusCode code, absl::string_view message);

// `message` as protobuf JSON (camelCase names); "null" if it cannot be
// printed.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_OUTPUT_H_
