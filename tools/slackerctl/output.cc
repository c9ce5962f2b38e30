#include "tools/slackerctl/output.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_string.h"

namespace slacker::slackerctl {

int Fail(int code, absl::string_view message) {
  std::cerr << "slackerctl: " << message << std::endl;
  return code;
}

int CallFailed(grpc::StatusCode code, absl::string_view message) {
  const std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  std::cout << "{\"code\":" << internal::JsonString(name)
            << ",\"message\":" << internal::JsonString(message) << "}"
            << std::endl;
  return Fail(kCallFailed, absl::StrCat("call failed: ", name, ": ", message));
}

std::string ToJson(const google::protobuf::Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "null";
  }
  return json;
}

}  // namespace slacker::slackerctl
