#include "tools/slackerctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/json_string.h"

namespace slacker::slackerctl {

std::string OneLine(absl::string_view message) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(message, absl::ByAnyChar("\r\n"), absl::SkipWhitespace());
  for (absl::string_view& line : lines) line = absl::StripAsciiWhitespace(line);
  return absl::StrJoin(lines, "; ");
}

int Fail(int code, absl::string_view message) {
  std::cerr << "slackerctl: " << OneLine(message) << std::endl;
  return code;
}

int CallFailed(grpc::StatusCode code, absl::string_view message,
               absl::string_view extra_json) {
  const std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  std::cout << "{\"code\":" << internal::JsonString(name)
            << ",\"message\":" << internal::JsonString(message) << extra_json
            << "}" << std::endl;
  return Fail(kCallFailed, absl::StrCat("call failed: ", name, ": ", message));
}

std::string ToJson(const google::protobuf::Message& message,
                   bool emit_defaults) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  options.always_print_primitive_fields = emit_defaults;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "null";
  }
  return json;
}

WaitLine::WaitLine(std::string what, absl::Duration quiet)
    : what_(std::move(what)) {
  printer_ = std::thread([this, quiet] {
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, absl::ToChronoNanoseconds(quiet),
                     [this] { return done_; })) {
      return;
    }
    std::cerr << "slackerctl: waiting for " << what_ << std::flush;
    printed_ = true;
  });
}

WaitLine::~WaitLine() { Finish(""); }

void WaitLine::SetWhat(std::string what) {
  std::lock_guard<std::mutex> lock(mu_);
  what_ = std::move(what);
}

void WaitLine::Finish(absl::string_view outcome) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return;
    done_ = true;
  }
  cv_.notify_all();
  printer_.join();
  if (!printed_) return;
  if (!outcome.empty()) std::cerr << "; " << OneLine(outcome);
  std::cerr << std::endl;
}

int WaitLine::Fail(int code, absl::string_view message) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (done_) return slackerctl::Fail(code, message);
    done_ = true;
  }
  cv_.notify_all();
  printer_.join();
  if (!printed_) return slackerctl::Fail(code, message);
  std::cerr << "; " << OneLine(message) << std::endl;
  return code;
}

}  // namespace slacker::slackerctl
