// slackerctl describe NAMESPACE

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {

int Describe(Cluster& c, const std::string& ns) {
  absl::StatusOr<discovery::NodeChildren> methods =
      c.zk().GetChildren(c.layout().FunctionsPath(ns));
  if (!methods.ok()) {
    if (absl::IsNotFound(methods.status())) {
      return Fail(kUsage, absl::StrCat("unknown namespace ", ns, " in cluster ",
                                       c.name(), " (see: slackerctl ls)"));
    }
    return Fail(kUnreachable, methods.status().ToString());
  }
  std::sort(methods->names.begin(), methods->names.end());
  std::cout << "namespace " << ns << "\n";
  for (const std::string& name : methods->names) {
    Method method;
    if (std::optional<int> failed = LoadMethod(c, ns, name, &method)) {
      return *failed;
    }
    std::cout << "  rpc " << name << "(" << method.info.request_type()
              << ") returns (" << method.info.response_type() << ")  "
              << cluster::MethodInfo::Streaming_Name(method.info.streaming())
              << "\n";
  }
  std::cout << std::flush;
  return kOk;
}

}  // namespace slacker::slackerctl
