// Fuzz target: slackerctl::ParseMethod, which rebuilds a method from the data
// of its functions/<namespace>/<method> node (MethodInfo JSON carrying a
// serialized FileDescriptorSet), written by anyone who can write to
// ZooKeeper.
//
// The input is "<namespace>/<method>\n<node data>"; an input without a
// newline is node data for the method of the corpus,
// slacker.testing.EchoService/Echo.
// Beyond not crashing: an accepted node yields that method's descriptor.

#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuzz/fuzz_check.h"
#include "tools/slackerctl/cluster.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // DescriptorPool logs every file it refuses; the status says enough.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  std::string ns = "slacker.testing.EchoService";
  std::string method = "Echo";
  std::string json = input;
  if (const size_t newline = input.find('\n'); newline != std::string::npos) {
    const std::string name = input.substr(0, newline);
    json = input.substr(newline + 1);
    const size_t slash = name.rfind('/');
    ns = name.substr(0, slash == std::string::npos ? 0 : slash);
    method = slash == std::string::npos ? name : name.substr(slash + 1);
  }
  slacker::slackerctl::Method out;
  const absl::Status status =
      slacker::slackerctl::ParseMethod(json, ns, method, &out);
  if (!status.ok()) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(out.descriptor != nullptr);
  FUZZ_CHECK(out.descriptor->full_name() == absl::StrCat(ns, ".", method));
  return 0;
}
