// slackerctl describe NAMESPACE | NAMESPACE/METHOD | TYPE: the methods and the
// .proto text of the message and enum types they use, from the descriptors
// the cluster stores (descriptors.h).

#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/descriptors.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

namespace pb = google::protobuf;

std::string RpcLine(const pb::MethodDescriptor& method) {
  const cluster::MethodInfo::Streaming streaming =
      method.client_streaming()
          ? (method.server_streaming() ? cluster::MethodInfo::BIDI_STREAMING
                                       : cluster::MethodInfo::CLIENT_STREAMING)
          : (method.server_streaming() ? cluster::MethodInfo::SERVER_STREAMING
                                       : cluster::MethodInfo::UNARY);
  return absl::StrCat("  rpc ", method.name(), "(",
                      method.input_type()->full_name(), ") returns (",
                      method.output_type()->full_name(), ")  ",
                      cluster::MethodInfo::Streaming_Name(streaming), "\n");
}

int PrintMethod(const pb::MethodDescriptor& method) {
  std::cout << "method " << method.service()->full_name() << "/"
            << method.name() << "\n"
            << RpcLine(method) << "\n"
            << TypeDefinitions({method.input_type(), method.output_type()}, {})
            << std::flush;
  return kOk;
}

int DescribeNamespace(Cluster& c, const std::string& ns) {
  NamespaceDescriptors descriptors;
  if (std::optional<int> failed = LoadNamespace(c, ns, &descriptors)) {
    return *failed;
  }
  std::string text = absl::StrCat("namespace ", ns, "\n");
  std::vector<const pb::Descriptor*> types;
  // The published records, not the service's descriptor, say which methods
  // the cluster serves; each record is checked as `call` would check it.
  for (const std::string& name : descriptors.methods) {
    Method method;
    if (std::optional<int> failed = LoadMethod(c, ns, name, &method)) {
      return *failed;
    }
    const pb::MethodDescriptor* in_first =
        descriptors.service->FindMethodByName(name);
    if (in_first == nullptr) {
      return Fail(kCallFailed,
                  absl::StrCat("the method records of ", ns,
                               " disagree: the descriptors of ",
                               descriptors.methods.front(), " lack ", name,
                               " (servers of two builds? see slackerctl ls)"));
    }
    absl::StrAppend(&text, RpcLine(*in_first));
    types.push_back(in_first->input_type());
    types.push_back(in_first->output_type());
  }
  std::cout << text << "\n" << TypeDefinitions(types, {}) << std::flush;
  return kOk;
}

// `name` as a message, enum or method (grpcurl's "Service.Method") of any
// namespace's descriptors; kUsage if none has it.
int DescribeSymbol(Cluster& c, const std::string& name) {
  absl::StatusOr<std::vector<std::string>> namespaces = ListNamespaces(c);
  if (!namespaces.ok()) {
    return Fail(kUnreachable, namespaces.status().ToString());
  }
  for (const std::string& ns : *namespaces) {
    absl::StatusOr<std::vector<std::string>> methods = ListMethods(c, ns);
    if (!methods.ok()) continue;
    absl::StatusOr<discovery::NodeData> data =
        c.zk().Get(c.layout().FunctionPath(ns, methods->front()));
    if (!data.ok()) continue;
    Method method;
    // A namespace whose records are malformed cannot hold the name; its own
    // describe says what is wrong with it.
    if (!ParseMethod(data->data, ns, methods->front(), &method).ok()) continue;
    if (const pb::Descriptor* message =
            method.pool.FindMessageTypeByName(name)) {
      std::cout << TypeDefinitions({message}, {}) << std::flush;
      return kOk;
    }
    if (const pb::EnumDescriptor* e = method.pool.FindEnumTypeByName(name)) {
      std::cout << TypeDefinitions({}, {e}) << std::flush;
      return kOk;
    }
    if (const pb::MethodDescriptor* m = method.pool.FindMethodByName(name)) {
      return PrintMethod(*m);
    }
  }
  return Fail(kUsage, NoNamespaceMessage(
                          c, name,
                          ", nor a message, enum or method of its namespaces"));
}

}  // namespace

int Describe(Cluster& c, const std::string& name) {
  if (const size_t slash = name.find('/'); slash != std::string::npos) {
    Method method;
    if (std::optional<int> failed = LoadMethod(
            c, name.substr(0, slash), name.substr(slash + 1), &method)) {
      return *failed;
    }
    return PrintMethod(*method.descriptor);
  }
  absl::StatusOr<std::vector<std::string>> methods = ListMethods(c, name);
  if (methods.ok()) return DescribeNamespace(c, name);
  if (!absl::IsNotFound(methods.status())) {
    return Fail(kUnreachable, methods.status().ToString());
  }
  return DescribeSymbol(c, name);
}

}  // namespace slacker::slackerctl
