// slackerctl call NAMESPACE/METHOD [JSON]

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "framework/cluster_channel.h"
#include "framework/fan_out.h"
#include "framework/metrics.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

using google::protobuf::Message;

std::string Peer(const grpc::ClientContext& context) {
  const std::string peer = context.peer();
  absl::string_view address = peer;
  absl::ConsumePrefix(&address, "ipv4:");
  absl::ConsumePrefix(&address, "ipv6:");
  return std::string(address);
}

int CallOne(const CallOptions& options,
            const std::shared_ptr<grpc::Channel>& channel, const Method& method,
            const std::string& path, const grpc::ByteBuffer& request,
            Message* response, std::map<std::string, int>* counts,
            grpc::Status* status) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  SetGrouping(&context, options.grouping);
  if (!options.hash_key.empty()) {
    SetHashKey(&context, options.hash_key);
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

int ServerStream(const CallOptions& options,
                 const std::shared_ptr<grpc::Channel>& channel,
                 const std::string& path, const grpc::ByteBuffer& request,
                 Message* prototype) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  SetGrouping(&context, options.grouping);
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
  absl::StatusOr<std::vector<std::string>> members = c.Members(ns);
  if (!members.ok()) return;
  const size_t expected = members->size();
  const absl::Time until = absl::Now() + absl::Seconds(2);
  while (absl::Now() < until && ReadyServers(channel, ns).size() < expected) {
    channel->WaitForStateChange(
        channel->GetState(true),
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(10)));
  }
}

}  // namespace

int Call(Cluster& c, const std::string& target, const std::string& json,
         const CallOptions& options) {
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
  ClusterChannelOptions channel_options;
  channel_options.root = c.root();
  if (options.metrics_port >= 0) {
    channel_options.metrics = std::make_shared<Metrics>();
    if (absl::Status exposed =
            channel_options.metrics->Expose(options.metrics_port);
        !exposed.ok()) {
      return Fail(kUsage, exposed.ToString());
    }
    std::cerr << "metrics: http://0.0.0.0:" << channel_options.metrics->port()
              << "/metrics" << std::endl;
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateClusterChannel(c.zookeeper(), c.name(), channel_options);
  if (!channel.ok()) return Fail(kUsage, channel.status().ToString());
  const std::string path = absl::StrCat("/", target);
  WaitForPublishers(c, *channel, parts[0]);
  if (method.descriptor->server_streaming()) {
    return ServerStream(options, *channel, path, buffer,
                        const_cast<Message*>(response_type));
  }
  if (options.grouping == "all") {
    FanOutOptions fan_out;
    fan_out.timeout = options.deadline;
    const std::string& errors = options.errors;
    if (errors != "all" && errors != "any") {
      return Fail(kUsage, "--errors must be all or any");
    }
    fan_out.errors = errors == "any" ? FanOutErrors::kAny : FanOutErrors::kAll;
    const std::string& results = options.results;
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
  const int count = options.count;
  if (count < 1) return Fail(kUsage, "--count must be at least 1");
  std::map<std::string, int> counts;
  std::unique_ptr<Message> response(response_type->New());
  for (int i = 0; i < count; ++i) {
    grpc::Status status;
    if (CallOne(options, *channel, method, path, buffer, response.get(),
                &counts, &status) != kOk) {
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

}  // namespace slacker::slackerctl
