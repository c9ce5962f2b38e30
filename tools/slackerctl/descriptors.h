// The message descriptors a cluster stores with its method records
// (functions/<ns>/<method>, a MethodInfo whose file_descriptor_set is the
// service's .proto file and every file it imports), as slackerctl's describe,
// export-protoset and completion use them: a namespace's descriptors, the
// .proto text of message and enum types, and a FileDescriptorSet for other
// tools (protoc --descriptor_set_in, grpcurl -protoset).
//
// Everything read from ZooKeeper is untrusted: it goes through ParseMethod
// (cluster.h), which bounds the JSON before parsing and lets
// google::protobuf::DescriptorPool reject descriptors that do not hold
// together.
//
// Not thread-safe: one command uses these on one thread.

#ifndef SLACKER_TOOLS_SLACKERCTL_DESCRIPTORS_H_
#define SLACKER_TOOLS_SLACKERCTL_DESCRIPTORS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/slackerctl/cluster.h"

namespace slacker::slackerctl {

// One namespace's descriptors, rebuilt from the first of its method records
// (every record of a namespace carries the same files).
struct NamespaceDescriptors {
  std::string name;
  std::vector<std::string> methods;  // Its method records' names, sorted.
  std::unique_ptr<Method> first;     // Owns the pool `service` lives in.
  const google::protobuf::ServiceDescriptor* service = nullptr;
};

// The namespaces of the cluster (the children of namespaces/, as `ls` shows
// them), sorted; empty if the cluster has none or does not exist. The error
// of ZooKeeper otherwise. REQUIRES: c.Connect() succeeded.
absl::StatusOr<std::vector<std::string>> ListNamespaces(Cluster& c);

// Where the user can look instead of a namespace that is not there: "its
// namespaces: A, B" or "the cluster has no namespaces". Part of one error
// line; that the cluster itself exists is checked before any command runs
// (CheckClusterExists, commands.h). REQUIRES: c.Connect() succeeded.
std::string WhereNamespacesAre(Cluster& c);

// The one line to print when `ns` has no method records: which namespaces the
// cluster does have (WhereNamespacesAre), so that the user is never sent to a
// command that fails too.
// `also`, if not empty, is said right after "unknown namespace NS in cluster
// C" (", nor a message of theirs"). REQUIRES: c.Connect() succeeded.
std::string NoNamespaceMessage(Cluster& c, const std::string& ns,
                               absl::string_view also = "");

// The method names of namespace `ns`, sorted; NotFound if it has none.
// REQUIRES: c.Connect() succeeded.
absl::StatusOr<std::vector<std::string>> ListMethods(Cluster& c,
                                                     const std::string& ns);

// Loads namespace `ns`'s descriptors into `out`. nullopt on success; on
// failure the exit code, its one-line message already printed: kUsage for a
// namespace without method records (NoNamespaceMessage), kUnreachable if
// ZooKeeper failed, kCallFailed for malformed metadata.
// REQUIRES: c.Connect() succeeded.
std::optional<int> LoadNamespace(Cluster& c, const std::string& ns,
                                 NamespaceDescriptors* out);

// The .proto text of `messages` and `enums` and of every message and enum
// type their fields use, transitively, each type once, in the order first
// met; a type nested in one already printed is not printed again. Each
// definition is preceded by a comment naming its full name and file.
std::string TypeDefinitions(
    const std::vector<const google::protobuf::Descriptor*>& messages,
    const std::vector<const google::protobuf::EnumDescriptor*>& enums);

// `files` and every file they import, dependencies before the files that
// import them, each file once. `files` may come from different pools:
// InvalidArgument, naming the file, if two of them differ under one name.
absl::StatusOr<google::protobuf::FileDescriptorSet> FileSetOf(
    const std::vector<const google::protobuf::FileDescriptor*>& files);

}  // namespace slacker::slackerctl

#endif  // SLACKER_TOOLS_SLACKERCTL_DESCRIPTORS_H_
