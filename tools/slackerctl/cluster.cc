#include "tools/slackerctl/cluster.h"

#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/json_bounds.h"
#include "discovery/cluster_rules.h"
#include "discovery/registry_reading.h"
#include "tools/slackerctl/descriptors.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {

Cluster::Cluster(std::string zookeeper, std::string root, std::string cluster)
    : zookeeper_(std::move(zookeeper)), layout_(root, cluster) {}

absl::Status Cluster::Connect(absl::Duration timeout) {
  discovery::ZooKeeperOptions options;
  options.connect_string = zookeeper_;
  options.connect_timeout = timeout;
  options.digest = digest_;
  discovery::ApplyEnsembleOptions(ensemble_, &options);
  absl::StatusOr<std::unique_ptr<discovery::ZooKeeperClient>> client =
      discovery::ZooKeeperClient::Connect(options);
  if (!client.ok()) return client.status();
  zk_ = *std::move(client);
  return absl::OkStatus();
}

absl::StatusOr<discovery::ExhibitorOptions> ParseExhibitorFlag(
    const std::string& value, const std::string& backup) {
  const size_t colon = value.rfind(':');
  discovery::ExhibitorOptions options;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(value.substr(colon + 1), &options.port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--exhibitor=", value,
        ": expected HOST[,HOST...]:PORT, Exhibitor's hosts and REST port"));
  }
  options.hosts = absl::StrSplit(value.substr(0, colon), ',');
  // The backup is --zk without its chroot (the provider names hosts only).
  options.backup_connect_string = backup.substr(0, backup.find('/'));
  return options;
}

absl::StatusOr<std::vector<std::string>> Cluster::Members(
    const std::string& ns) {
  absl::StatusOr<discovery::NamespaceReading> reading =
      discovery::ReadNamespace(*zk_, layout_, ns);
  if (!reading.ok()) return reading.status();
  std::vector<std::string> members;
  for (const discovery::PublisherReading& publisher : reading->publishers) {
    if (publisher.verdict == discovery::PublisherVerdict::kCounts) {
      members.push_back(publisher.name);
    }
  }
  return members;
}

absl::Status ParseMethod(const std::string& json, const std::string& ns,
                         const std::string& method, Method* out) {
  if (absl::Status bounded = internal::CheckJsonBounds(
          json, discovery::kMethodInfoBounds, "the method metadata");
      !bounded.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed method metadata for ", ns, "/", method, ": ",
        bounded.message()));
  }
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(json, &out->info, lenient)
           .ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed method metadata for ", ns, "/", method));
  }
  google::protobuf::FileDescriptorSet files;
  if (!files.ParseFromString(out->info.file_descriptor_set())) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed descriptors for ", ns));
  }
  // Dependencies first: add until nothing more can be added.
  std::vector<const google::protobuf::FileDescriptorProto*> pending;
  for (const auto& file : files.file()) pending.push_back(&file);
  bool progress = true;
  while (!pending.empty() && progress) {
    progress = false;
    for (auto it = pending.begin(); it != pending.end();) {
      bool ready = true;
      for (const std::string& dep : (*it)->dependency()) {
        ready &= out->pool.FindFileByName(dep) != nullptr;
      }
      if (ready && out->pool.BuildFile(**it) != nullptr) {
        it = pending.erase(it);
        progress = true;
      } else {
        ++it;
      }
    }
  }
  out->descriptor = out->pool.FindMethodByName(absl::StrCat(ns, ".", method));
  if (out->descriptor == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("the descriptors of ", ns, " do not describe ", method));
  }
  return absl::OkStatus();
}

std::optional<int> LoadMethod(Cluster& c, const std::string& ns,
                              const std::string& method, Method* out) {
  absl::StatusOr<discovery::NodeData> data =
      c.zk().Get(c.layout().FunctionPath(ns, method));
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) {
      absl::StatusOr<std::vector<std::string>> methods = ListMethods(c, ns);
      if (!methods.ok()) return Fail(kUsage, NoNamespaceMessage(c, ns));
      return Fail(kUsage,
                  absl::StrCat("unknown method ", ns, "/", method,
                               " in cluster ", c.name(), "; ", ns,
                               " has: ", absl::StrJoin(*methods, ", ")));
    }
    return Fail(kUnreachable, data.status().ToString());
  }
  if (absl::Status parsed = ParseMethod(data->data, ns, method, out);
      !parsed.ok()) {
    return Fail(kCallFailed, parsed.message());
  }
  return std::nullopt;
}

}  // namespace slacker::slackerctl
