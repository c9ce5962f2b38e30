// slackerctl: inspect a Slacker cluster and call any of its methods from the
// shell. See README.md, "slackerctl", for every command and flag.
//
//   slackerctl --zk=HOSTS --cluster=NAME [--root=PATH] COMMAND ...
//
// Exit codes: 0 success; 1 the call failed (its status printed as JSON on
// stdout); 2 usage error; 3 cluster or ZooKeeper unreachable. Errors go to
// stderr in one line.

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "discovery/leader_election.h"
#include "discovery/zookeeper_client.h"
#include "discovery/zookeeper_paths.h"
#include "framework/cluster_channel.h"
#include "framework/fan_out.h"
#include "framework/internal/cluster_view.h"
#include "protos/slacker/cluster/manager.grpc.pb.h"
#include "protos/slacker/cluster/registry.pb.h"

ABSL_FLAG(std::string, zk, "",
          "ZooKeeper connect string host:port[,host:port]");
ABSL_FLAG(std::string, cluster, "", "cluster name");
ABSL_FLAG(std::string, root, "/slacker/cluster", "root path of clusters");
ABSL_FLAG(bool, json, false, "ls: print JSON");
ABSL_FLAG(std::string, grouping, "random",
          "call: random|round_robin|first|sticky|leader|least_in_flight|"
          "weighted|hash|all|HOST:PORT");
ABSL_FLAG(std::string, hash_key, "", "call: the key of grouping=hash");
ABSL_FLAG(std::string, results, "single",
          "call --grouping=all: single|vector|map");
ABSL_FLAG(std::string, errors, "all", "call --grouping=all: all|any");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(10), "call: deadline");
ABSL_FLAG(int, count, 1, "call: how many calls (prints calls per server)");
ABSL_FLAG(std::string, server, "",
          "offline|online|server-data|shutdown: HOST:PORT");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(5),
          "how long to wait for ZooKeeper");

namespace slacker {
namespace {

using google::protobuf::Message;

constexpr int kOk = 0;
constexpr int kCallFailed = 1;
constexpr int kUsage = 2;
constexpr int kUnreachable = 3;

int Fail(int code, absl::string_view message) {
  std::cerr << "slackerctl: " << message << std::endl;
  return code;
}

std::string ToJson(const Message& message) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = false;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options)
           .ok()) {
    return "null";
  }
  return json;
}

// A failed call: its status as JSON on stdout, one line on stderr.
int CallFailed(grpc::StatusCode code, absl::string_view message) {
  const std::string name =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  std::cout << "{\"code\":" << internal::JsonString(name)
            << ",\"message\":" << internal::JsonString(message) << "}"
            << std::endl;
  return Fail(kCallFailed, absl::StrCat("call failed: ", name, ": ", message));
}

class Cluster {
 public:
  std::string Path(absl::string_view child) const {
    return discovery::JoinPath(discovery::JoinPath(root, cluster), child);
  }
  std::unique_ptr<discovery::ZooKeeperClient> zk;
  std::string root;
  std::string cluster;
};

// --- ls ---------------------------------------------------------------------

int Ls(Cluster& c) {
  absl::StatusOr<discovery::NodeChildren> names =
      c.zk->GetChildren(c.Path("namespaces"));
  if (!names.ok() && !absl::IsNotFound(names.status())) {
    return Fail(kUnreachable, names.status().ToString());
  }
  std::vector<std::string> namespaces =
      names.ok() ? names->names : std::vector<std::string>{};
  std::sort(namespaces.begin(), namespaces.end());
  struct Ns {
    std::string name;
    std::vector<std::string> servers;
    std::string leader;
  };
  std::vector<Ns> all;
  for (const std::string& ns : namespaces) {
    Ns entry{ns, {}, ""};
    const std::string path = c.Path(absl::StrCat("namespaces/", ns));
    absl::StatusOr<discovery::NodeChildren> publishers =
        c.zk->GetChildren(path);
    if (publishers.ok()) {
      for (const std::string& name : publishers->names) {
        if (name != "_leader") entry.servers.push_back(name);
      }
    }
    std::sort(entry.servers.begin(), entry.servers.end());
    absl::StatusOr<std::string> leader =
        discovery::LeaderElection::CurrentLeader(
            *c.zk, discovery::JoinPath(path, "_leader"));
    if (leader.ok()) entry.leader = *leader;
    all.push_back(std::move(entry));
  }
  std::map<std::string, std::string> server_data;
  absl::StatusOr<discovery::NodeChildren> servers =
      c.zk->GetChildren(c.Path("servers"));
  if (servers.ok()) {
    for (const std::string& name : servers->names) {
      absl::StatusOr<discovery::NodeData> data =
          c.zk->Get(c.Path(absl::StrCat("servers/", name)));
      internal::ClusterServer parsed;
      if (data.ok() && internal::ParseServerInfo(data->data, &parsed).ok()) {
        server_data[name] = parsed.server_data;
      } else {
        server_data[name] = "";
      }
    }
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::string out =
        "{\"cluster\":" + internal::JsonString(c.cluster) + ",\"namespaces\":[";
    for (size_t i = 0; i < all.size(); ++i) {
      std::vector<std::string> quoted;
      for (const std::string& s : all[i].servers)
        quoted.push_back(internal::JsonString(s));
      absl::StrAppend(
          &out, i == 0 ? "" : ",",
          "{\"name\":", internal::JsonString(all[i].name), ",\"servers\":[",
          absl::StrJoin(quoted, ","), "],\"leader\":",
          all[i].leader.empty() ? "null" : internal::JsonString(all[i].leader),
          "}");
    }
    absl::StrAppend(&out, "],\"servers\":{");
    bool first = true;
    for (const auto& [name, data] : server_data) {
      absl::StrAppend(&out, first ? "" : ",", internal::JsonString(name), ":",
                      data.empty() ? "null" : data);
      first = false;
    }
    std::cout << out << "}}" << std::endl;
    return kOk;
  }
  std::cout << "cluster " << c.cluster << " (" << c.Path("") << ")\n";
  for (const Ns& ns : all) {
    std::cout << "namespace " << ns.name << "  leader "
              << (ns.leader.empty() ? "-" : ns.leader) << "\n";
    for (const std::string& server : ns.servers) {
      std::cout << "  " << server << "\n";
    }
  }
  for (const auto& [name, data] : server_data) {
    std::cout << "server " << name << "  data " << (data.empty() ? "-" : data)
              << "\n";
  }
  std::cout << std::flush;
  return kOk;
}

// --- describe / call: descriptors from ZooKeeper ----------------------------

struct Method {
  cluster::MethodInfo info;
  google::protobuf::DescriptorPool pool;
  const google::protobuf::MethodDescriptor* descriptor = nullptr;
};

// Loads NAMESPACE/METHOD's metadata; exit code and message on failure.
std::optional<int> LoadMethod(Cluster& c, const std::string& ns,
                              const std::string& method, Method* out) {
  absl::StatusOr<discovery::NodeData> data =
      c.zk->Get(c.Path(absl::StrCat("functions/", ns, "/", method)));
  if (!data.ok()) {
    if (absl::IsNotFound(data.status())) {
      return Fail(kUsage, absl::StrCat("unknown method ", ns, "/", method,
                                       " in cluster ", c.cluster,
                                       " (see: slackerctl describe ", ns, ")"));
    }
    return Fail(kUnreachable, data.status().ToString());
  }
  google::protobuf::util::JsonParseOptions lenient;
  lenient.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(data->data, &out->info,
                                                   lenient)
           .ok()) {
    return Fail(kCallFailed, absl::StrCat("malformed method metadata for ", ns,
                                          "/", method));
  }
  google::protobuf::FileDescriptorSet files;
  if (!files.ParseFromString(out->info.file_descriptor_set())) {
    return Fail(kCallFailed, absl::StrCat("malformed descriptors for ", ns));
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
    return Fail(kCallFailed, absl::StrCat("the descriptors of ", ns,
                                          " do not describe ", method));
  }
  return std::nullopt;
}

int Describe(Cluster& c, const std::string& ns) {
  absl::StatusOr<discovery::NodeChildren> methods =
      c.zk->GetChildren(c.Path(absl::StrCat("functions/", ns)));
  if (!methods.ok()) {
    if (absl::IsNotFound(methods.status())) {
      return Fail(kUsage, absl::StrCat("unknown namespace ", ns, " in cluster ",
                                       c.cluster, " (see: slackerctl ls)"));
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

std::string Peer(const grpc::ClientContext& context) {
  const std::string peer = context.peer();
  absl::string_view address = peer;
  absl::ConsumePrefix(&address, "ipv4:");
  absl::ConsumePrefix(&address, "ipv6:");
  return std::string(address);
}

int CallOne(Cluster& c, const std::shared_ptr<grpc::Channel>& channel,
            const Method& method, const std::string& path,
            const grpc::ByteBuffer& request, Message* response,
            std::map<std::string, int>* counts, grpc::Status* status) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_deadline)));
  SetGrouping(&context, absl::GetFlag(FLAGS_grouping));
  if (!absl::GetFlag(FLAGS_hash_key).empty()) {
    SetHashKey(&context, absl::GetFlag(FLAGS_hash_key));
  }
  grpc::CompletionQueue cq;
  grpc::ByteBuffer reply;
  auto reader = stub.PrepareUnaryCall(&context, path, request, &cq);
  reader->StartCall();
  reader->Finish(&reply, status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  if (!status->ok()) return kCallFailed;
  ++(*counts)[Peer(context)];
  if (!internal::ParseMessage(&reply, response)) {
    *status = grpc::Status(
        grpc::StatusCode::INTERNAL,
        "the response does not parse as " + method.info.response_type());
    return kCallFailed;
  }
  return kOk;
}

int ServerStream(const std::shared_ptr<grpc::Channel>& channel,
                 const std::string& path, const grpc::ByteBuffer& request,
                 Message* prototype) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_deadline)));
  SetGrouping(&context, absl::GetFlag(FLAGS_grouping));
  grpc::CompletionQueue cq;
  void* tag;
  bool ok;
  auto stream = stub.PrepareCall(&context, path, &cq);
  stream->StartCall(reinterpret_cast<void*>(1));
  cq.Next(&tag, &ok);
  stream->Write(request, reinterpret_cast<void*>(2));
  cq.Next(&tag, &ok);
  stream->WritesDone(reinterpret_cast<void*>(3));
  cq.Next(&tag, &ok);
  while (true) {
    grpc::ByteBuffer message;
    stream->Read(&message, reinterpret_cast<void*>(4));
    cq.Next(&tag, &ok);
    if (!ok) break;
    std::unique_ptr<Message> response(prototype->New());
    internal::ParseMessage(&message, response.get());
    std::cout << ToJson(*response) << std::endl;
  }
  grpc::Status status;
  stream->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  if (!status.ok()) {
    return CallFailed(status.error_code(), status.error_message());
  }
  return kOk;
}

// A fresh channel connects to the servers one by one; a one-shot command
// should see the whole cluster, so it waits (briefly) until every publisher of
// the namespace is ready, or has had its chance. Waiting on the channel's
// state keeps gRPC polling meanwhile.
void WaitForPublishers(Cluster& c,
                       const std::shared_ptr<grpc::Channel>& channel,
                       const std::string& ns) {
  absl::StatusOr<discovery::NodeChildren> publishers =
      c.zk->GetChildren(c.Path(absl::StrCat("namespaces/", ns)));
  if (!publishers.ok()) return;
  size_t expected = 0;
  for (const std::string& name : publishers->names)
    expected += name != "_leader";
  const absl::Time until = absl::Now() + absl::Seconds(2);
  while (absl::Now() < until && ReadyServers(channel, ns).size() < expected) {
    channel->WaitForStateChange(
        channel->GetState(true),
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(10)));
  }
}

int Call(Cluster& c, const std::string& target, const std::string& json) {
  const std::vector<std::string> parts = absl::StrSplit(target, '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return Fail(kUsage, absl::StrCat("bad method '", target,
                                     "': expected NAMESPACE/METHOD"));
  }
  Method method;
  if (std::optional<int> failed = LoadMethod(c, parts[0], parts[1], &method)) {
    return *failed;
  }
  if (method.descriptor->client_streaming()) {
    return Fail(kUsage, absl::StrCat(target,
                                     " is client-streaming; slackerctl "
                                     "calls unary and server-streaming "
                                     "methods"));
  }
  google::protobuf::DynamicMessageFactory factory(&method.pool);
  std::unique_ptr<Message> request(
      factory.GetPrototype(method.descriptor->input_type())->New());
  const Message* response_type =
      factory.GetPrototype(method.descriptor->output_type());
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      json.empty() ? "{}" : json, request.get());
  if (!parsed.ok()) {
    return Fail(kUsage, absl::StrCat("the request is not JSON of ",
                                     method.info.request_type(), ": ",
                                     std::string(parsed.message())));
  }
  std::string bytes = request->SerializeAsString();
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);
  ClusterChannelOptions options;
  options.root = c.root;
  const std::string grouping = absl::GetFlag(FLAGS_grouping);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateClusterChannel(absl::GetFlag(FLAGS_zk), c.cluster, options);
  if (!channel.ok()) return Fail(kUsage, channel.status().ToString());
  const std::string path = absl::StrCat("/", target);
  WaitForPublishers(c, *channel, parts[0]);
  if (method.descriptor->server_streaming()) {
    return ServerStream(*channel, path, buffer,
                        const_cast<Message*>(response_type));
  }
  if (grouping == "all") {
    FanOutOptions fan_out;
    fan_out.timeout = absl::GetFlag(FLAGS_deadline);
    const std::string errors = absl::GetFlag(FLAGS_errors);
    if (errors != "all" && errors != "any") {
      return Fail(kUsage, "--errors must be all or any");
    }
    fan_out.errors = errors == "any" ? FanOutErrors::kAny : FanOutErrors::kAll;
    const std::string results = absl::GetFlag(FLAGS_results);
    if (results != "single" && results != "vector" && results != "map") {
      return Fail(kUsage, "--results must be single, vector or map");
    }
    std::mutex mu;
    std::condition_variable done_cv;
    std::optional<internal::RawFanOut> raw;
    internal::StartFanOut(*channel, target, buffer, fan_out,
                          [&](const FanOutOptions&, internal::RawFanOut r) {
                            std::lock_guard<std::mutex> lock(mu);
                            raw = std::move(r);
                            done_cv.notify_all();
                          });
    std::unique_lock<std::mutex> lock(mu);
    done_cv.wait(lock, [&] { return raw.has_value(); });
    if (!raw->status.ok()) {
      return CallFailed(static_cast<grpc::StatusCode>(raw->status.code()),
                        raw->status.message());
    }
    std::vector<std::unique_ptr<Message>> responses;
    std::vector<ServerOutcome> outcomes =
        internal::ParseOutcomes(raw->outcomes, *response_type, &responses);
    absl::Status status = internal::ApplyErrorPolicy(fan_out, outcomes);
    if (!status.ok()) {
      return CallFailed(static_cast<grpc::StatusCode>(status.code()),
                        status.message());
    }
    std::vector<std::string> values;
    for (const ServerOutcome& outcome : outcomes) {
      if (outcome.response == nullptr) continue;
      values.push_back(results == "map"
                           ? absl::StrCat(internal::JsonString(outcome.address),
                                          ":", ToJson(*outcome.response))
                           : ToJson(*outcome.response));
    }
    if (results == "single") {
      std::cout << (values.empty() ? "null" : values.front()) << std::endl;
    } else if (results == "vector") {
      std::cout << "[" << absl::StrJoin(values, ",") << "]" << std::endl;
    } else {
      std::cout << "{" << absl::StrJoin(values, ",") << "}" << std::endl;
    }
    return kOk;
  }
  const int count = absl::GetFlag(FLAGS_count);
  if (count < 1) return Fail(kUsage, "--count must be at least 1");
  std::map<std::string, int> counts;
  std::unique_ptr<Message> response(response_type->New());
  for (int i = 0; i < count; ++i) {
    grpc::Status status;
    if (CallOne(c, *channel, method, path, buffer, response.get(), &counts,
                &status) != kOk) {
      return CallFailed(status.error_code(), status.error_message());
    }
  }
  if (count == 1) {
    std::cout << ToJson(*response) << std::endl;
    return kOk;
  }
  std::vector<std::string> per_server;
  for (const auto& [server, n] : counts) {
    per_server.push_back(absl::StrCat(internal::JsonString(server), ":", n));
  }
  std::cout << "{\"response\":" << ToJson(*response) << ",\"calls\":" << count
            << ",\"counts\":{" << absl::StrJoin(per_server, ",") << "}}"
            << std::endl;
  return kOk;
}

// --- watch -----------------------------------------------------------------

int Watch(Cluster& c) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  internal::ClusterViewOptions options;
  options.zookeeper = absl::GetFlag(FLAGS_zk);
  options.root = c.root;
  options.cluster = c.cluster;
  std::map<std::string, internal::ClusterServer> last;
  bool first = true;
  auto view = internal::ClusterView::Start(
      options, [&](const absl::StatusOr<internal::ClusterSnapshot>& snapshot) {
        if (!snapshot.ok()) {
          std::cerr << "slackerctl: " << snapshot.status().message()
                    << std::endl;
          return;
        }
        std::map<std::string, internal::ClusterServer> now;
        for (const auto& server : snapshot->servers)
          now[server.address] = server;
        if (first) {
          std::cout << "watching " << c.Path("") << ": " << now.size()
                    << " server(s)" << std::endl;
          first = false;
        }
        for (const auto& [address, server] : now) {
          auto before = last.find(address);
          if (before == last.end()) {
            std::cout << "joined " << address << " ["
                      << absl::StrJoin(server.namespaces, ",") << "]"
                      << std::endl;
            for (const std::string& ns : server.leads) {
              std::cout << "leader " << ns << " " << address << std::endl;
            }
            continue;
          }
          if (before->second.namespaces != server.namespaces) {
            std::cout << "namespaces " << address << " ["
                      << absl::StrJoin(server.namespaces, ",") << "]"
                      << std::endl;
          }
          for (const std::string& ns : server.leads) {
            if (!std::binary_search(before->second.leads.begin(),
                                    before->second.leads.end(), ns)) {
              std::cout << "leader " << ns << " " << address << std::endl;
            }
          }
          if (before->second.server_data != server.server_data) {
            std::cout << "data " << address << " " << server.server_data
                      << std::endl;
          }
        }
        for (const auto& [address, server] : last) {
          if (now.count(address) == 0)
            std::cout << "left " << address << std::endl;
        }
        last = std::move(now);
      });
  if (!view.ok()) return Fail(kUsage, view.status().ToString());
  int signal = 0;
  sigwait(&signals, &signal);
  view->reset();
  return kOk;
}

// --- manager commands ------------------------------------------------------

int Manage(const std::string& command, const std::vector<std::string>& args) {
  const std::string server = absl::GetFlag(FLAGS_server);
  if (server.empty()) {
    return Fail(kUsage, absl::StrCat(command, " needs --server=HOST:PORT"));
  }
  auto channel =
      grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto stub = cluster::ClusterManager::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(
      absl::ToChronoTime(absl::Now() + absl::GetFlag(FLAGS_deadline)));
  google::protobuf::Empty empty;
  grpc::Status status;
  if (command == "offline" || command == "online") {
    if (args.empty()) {
      status = command == "offline" ? stub->Offline(&context, empty, &empty)
                                    : stub->Online(&context, empty, &empty);
    } else {
      cluster::NamespaceRequest request;
      request.set_namespace_(args[0]);
      status = command == "offline"
                   ? stub->OfflineNamespace(&context, request, &empty)
                   : stub->OnlineNamespace(&context, request, &empty);
    }
  } else if (command == "server-data") {
    google::protobuf::Value value;
    if (args.empty()) {
      status = stub->GetServerData(&context, empty, &value);
      if (status.ok()) std::cout << ToJson(value) << std::endl;
    } else {
      if (!google::protobuf::util::JsonStringToMessage(args[0], &value).ok()) {
        return Fail(kUsage, "server data must be JSON");
      }
      status = stub->SetServerData(&context, value, &empty);
    }
  } else {
    status = stub->Shutdown(&context, empty, &empty);
  }
  if (!status.ok()) {
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cout << "{\"code\":"
                << internal::JsonString(absl::StatusCodeToString(
                       static_cast<absl::StatusCode>(status.error_code())))
                << ",\"message\":"
                << internal::JsonString(status.error_message()) << "}"
                << std::endl;
      return Fail(kUnreachable,
                  absl::StrCat("server ", server,
                               " unreachable: ", status.error_message()));
    }
    return CallFailed(status.error_code(), status.error_message());
  }
  if (command != "server-data" || !args.empty()) std::cout << "ok" << std::endl;
  return kOk;
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "slackerctl --zk=HOSTS --cluster=NAME [--root=PATH] COMMAND ...\n"
      "  ls [--json] | describe NAMESPACE | call NAMESPACE/METHOD 'JSON' "
      "[--grouping=..] [--hash_key=..] [--results=single|vector|map] "
      "[--errors=all|any] [--deadline=10s] [--count=N] | watch |\n"
      "  offline [NS] | online [NS] | server-data [JSON] | shutdown "
      "(with --server=HOST:PORT)");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  std::vector<std::string> args(rest.begin() + 1, rest.end());
  if (args.empty()) return Fail(kUsage, "no command (see --help)");
  const std::string command = args[0];
  args.erase(args.begin());
  if (command == "offline" || command == "online" || command == "server-data" ||
      command == "shutdown") {
    return Manage(command, args);
  }
  const std::set<std::string> known = {"ls", "describe", "call", "watch"};
  if (known.count(command) == 0) {
    return Fail(kUsage,
                absl::StrCat("unknown command '", command, "' (see --help)"));
  }
  Cluster c;
  c.root = absl::GetFlag(FLAGS_root);
  c.cluster = absl::GetFlag(FLAGS_cluster);
  if (absl::GetFlag(FLAGS_zk).empty() || c.cluster.empty()) {
    return Fail(kUsage, "--zk and --cluster are required");
  }
  absl::Status name = discovery::ValidateNodeName(c.cluster, "cluster name");
  if (name.ok()) name = discovery::ValidatePath(c.root);
  if (!name.ok()) return Fail(kUsage, name.message());
  if (command == "watch") return Watch(c);
  if (command == "describe" && args.size() != 1) {
    return Fail(kUsage, "describe takes one NAMESPACE");
  }
  if (command == "call" && (args.empty() || args.size() > 2)) {
    return Fail(kUsage,
                "call takes NAMESPACE/METHOD and an optional JSON request");
  }
  discovery::ZooKeeperOptions zk;
  zk.connect_string = absl::GetFlag(FLAGS_zk);
  zk.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  absl::StatusOr<std::unique_ptr<discovery::ZooKeeperClient>> client =
      discovery::ZooKeeperClient::Connect(zk);
  if (!client.ok()) {
    return Fail(
        absl::IsInvalidArgument(client.status()) ? kUsage : kUnreachable,
        client.status().message());
  }
  c.zk = *std::move(client);
  if (command == "ls") return Ls(c);
  if (command == "describe") return Describe(c, args[0]);
  return Call(c, args[0], args.size() > 1 ? args[1] : "");
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) { return slacker::Main(argc, argv); }
