// slackerctl export-protoset [NAMESPACE...] > FILE: the descriptors the
// cluster stores for those namespaces (all of them if none is named), as one
// binary google.protobuf.FileDescriptorSet on stdout, every file needed and
// each once, dependencies first: what `protoc --descriptor_set_in=FILE` and
// `grpcurl -protoset FILE` read.

#include <unistd.h>

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/descriptors.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {

int ExportProtoset(Cluster& c, const std::vector<std::string>& namespaces) {
  if (isatty(STDOUT_FILENO)) {
    return Fail(kUsage,
                "export-protoset writes binary; redirect it to a file "
                "(slackerctl export-protoset NAMESPACE > NAMESPACE.protoset)");
  }
  std::vector<std::string> names = namespaces;
  if (names.empty()) {
    absl::StatusOr<std::vector<std::string>> all = ListNamespaces(c);
    if (!all.ok()) return Fail(kUnreachable, all.status().ToString());
    for (const std::string& ns : *all) {
      // Only namespaces with method records have descriptors to export.
      if (ListMethods(c, ns).ok()) names.push_back(ns);
    }
    if (names.empty()) {
      return Fail(kUsage, absl::StrCat("no namespace of cluster ", c.name(),
                                       " has method records to export; ",
                                       WhereNamespacesAre(c)));
    }
  }
  std::vector<NamespaceDescriptors> loaded(names.size());
  std::vector<const google::protobuf::FileDescriptor*> files;
  for (size_t i = 0; i < names.size(); ++i) {
    if (std::optional<int> failed = LoadNamespace(c, names[i], &loaded[i])) {
      return *failed;
    }
    files.push_back(loaded[i].service->file());
  }
  absl::StatusOr<google::protobuf::FileDescriptorSet> set = FileSetOf(files);
  if (!set.ok()) return Fail(kCallFailed, set.status().message());
  if (!set->SerializeToOstream(&std::cout) || !std::cout.flush()) {
    return Fail(kCallFailed, "could not write the protoset to stdout");
  }
  return kOk;
}

}  // namespace slacker::slackerctl
