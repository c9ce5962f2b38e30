// slackerctl call NAMESPACE/METHOD [JSON | -d JSON|@FILE|@-]

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
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

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Grouping, hash key, deadline and metadata of every call.
void Prepare(const CallOptions& options, grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + options.deadline));
  SetGrouping(context, options.grouping);
  if (!options.hash_key.empty()) SetHashKey(context, options.hash_key);
  for (const auto& [key, value] : options.metadata) {
    context->AddMetadata(key, value);
  }
}

// The request text of --data: itself, or the contents of @FILE or @- (stdin).
absl::StatusOr<std::string> ReadData(const std::string& data) {
  if (!absl::StartsWith(data, "@")) return data;
  if (data == "@-") {
    return std::string(std::istreambuf_iterator<char>(std::cin),
                       std::istreambuf_iterator<char>());
  }
  const std::string path = data.substr(1);
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the request file ", path, ": ",
                     std::strerror(errno), " (-d @FILE)"));
  }
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

// One unary call: its status, and its response in `response` when OK.
struct Outcome {
  grpc::Status status;
  std::string server;  // "" if the call reached none.
  absl::Duration latency;
};

Outcome CallOne(const CallOptions& options,
                const std::shared_ptr<grpc::Channel>& channel,
                const Method& method, const std::string& path,
                const grpc::ByteBuffer& request, Message* response) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  Prepare(options, &context);
  grpc::CompletionQueue cq;
  grpc::ByteBuffer reply;
  Outcome outcome;
  const absl::Time start = absl::Now();
  auto reader = stub.PrepareUnaryCall(&context, path, request, &cq);
  reader->StartCall();
  reader->Finish(&reply, &outcome.status, reinterpret_cast<void*>(1));
  void* tag;
  bool ok;
  cq.Next(&tag, &ok);
  outcome.latency = absl::Now() - start;
  outcome.server = Peer(context);
  if (outcome.status.ok() && !internal::ParseMessage(&reply, response)) {
    outcome.status = grpc::Status(
        grpc::StatusCode::INTERNAL,
        "the response does not parse as " + method.info.response_type());
  }
  return outcome;
}

int ServerStream(const CallOptions& options,
                 const std::shared_ptr<grpc::Channel>& channel,
                 const std::string& path, const grpc::ByteBuffer& request,
                 const Message* prototype) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  Prepare(options, &context);
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
    std::cout << ToJson(*response, options.emit_defaults) << std::endl;
  }
  grpc::Status status;
  stream->Finish(&status, reinterpret_cast<void*>(5));
  cq.Next(&tag, &ok);
  if (!status.ok()) {
    return CallFailed(status.error_code(), status.error_message());
  }
  return kOk;
}

std::string Publishers(size_t n, const std::string& ns) {
  return absl::StrCat(n, n == 1 ? " publisher of " : " publishers of ", ns);
}

// A fresh channel connects to the servers one by one; a one-shot command
// should see the whole cluster, so it waits (up to `wait`) until every
// publisher of the namespace is ready, saying so on stderr when that lasts.
// Waiting on the channel's state keeps gRPC polling meanwhile. nullopt to go
// on (all ready, or some after `wait`); the exit code if none became ready.
std::optional<int> WaitForPublishers(
    Cluster& c, const std::shared_ptr<grpc::Channel>& channel,
    const std::string& ns, absl::Duration wait) {
  absl::StatusOr<std::vector<std::string>> members = c.Members(ns);
  if (!members.ok() || members->empty()) return std::nullopt;
  const size_t expected = members->size();
  const absl::Time until = absl::Now() + wait;
  size_t ready = ReadyServers(channel, ns).size();
  WaitLine line(absl::StrCat(Publishers(expected, ns), ": ", ready, " ready"));
  while (absl::Now() < until && ready < expected) {
    channel->WaitForStateChange(
        channel->GetState(true),
        absl::ToChronoTime(absl::Now() + absl::Milliseconds(10)));
    ready = ReadyServers(channel, ns).size();
    line.SetWhat(absl::StrCat(Publishers(expected, ns), ": ", ready, " ready"));
  }
  if (ready >= expected) {
    line.Finish(absl::StrCat("all ", expected, " ready"));
  } else if (ready > 0) {
    line.Finish(absl::StrCat(ready, " of ", expected, " ready after ",
                             absl::FormatDuration(wait),
                             " (--wait); calling those"));
  } else {
    return line.Fail(
        kUnreachable,
        absl::StrCat("no publisher of ", ns, " became ready within ",
                     absl::FormatDuration(wait),
                     " (--wait); published: ", absl::StrJoin(*members, ", ")));
  }
  return std::nullopt;
}

// Counts of a run of calls, overall or for one second of it.
struct Tally {
  int calls = 0;
  int ok = 0;
  std::map<std::string, int> codes;  // Status code name -> calls.
  std::vector<absl::Duration> latencies;

  void Add(const Outcome& outcome) {
    ++calls;
    if (outcome.status.ok()) ++ok;
    ++codes[CodeName(outcome.status.error_code())];
    latencies.push_back(outcome.latency);
  }
  // The latency below which `fraction` of the calls returned.
  double PercentileMs(double fraction) {
    if (latencies.empty()) return 0;
    std::sort(latencies.begin(), latencies.end());
    size_t index = static_cast<size_t>(
        std::ceil(fraction * static_cast<double>(latencies.size())));
    index = std::clamp<size_t>(index, 1, latencies.size()) - 1;
    return absl::ToDoubleMilliseconds(latencies[index]);
  }
  // The failed calls by code: "UNAVAILABLE 2, INTERNAL 1", or "none".
  std::string Failures() const {
    std::vector<std::string> parts;
    for (const auto& [code, n] : codes) {
      if (code != "OK") parts.push_back(absl::StrCat(code, " ", n));
    }
    return parts.empty() ? "none" : absl::StrJoin(parts, ", ");
  }
};

// Set by SIGINT or SIGTERM during a run of calls: stop and print the counts.
std::atomic<bool> interrupted{false};

// --count, --rate, --duration: calls one after another (paced at `rate`),
// going on through failures; a line per second on stderr when paced or
// timed; the counts on stdout, also when SIGINT or SIGTERM ends the run
// early. Exit 1 if any call failed.
int Repeat(const CallOptions& options,
           const std::shared_ptr<grpc::Channel>& channel, const Method& method,
           const std::string& path, const grpc::ByteBuffer& request,
           const Message& response_type) {
  const bool timed = options.duration > absl::ZeroDuration();
  const int limit = options.count > 0 ? options.count : timed ? INT_MAX : 1;
  const bool report = timed || options.rate > 0;
  const absl::Time start = absl::Now();
  const absl::Time end = start + options.duration;
  Tally total;
  Tally second;
  int64_t second_index = 1;
  std::map<std::string, int> per_server;
  std::unique_ptr<Message> response(response_type.New());
  std::unique_ptr<Message> last_ok;
  auto print_second = [&] {
    std::cerr << absl::StrFormat(
                     "slackerctl: %ds: %d calls, ok %d, failed %d (%s); p50 "
                     "%.1fms p99 %.1fms",
                     second_index, second.calls, second.ok,
                     second.calls - second.ok, second.Failures(),
                     second.PercentileMs(0.5), second.PercentileMs(0.99))
              << std::endl;
    second = Tally();
  };
  struct sigaction stop = {};
  stop.sa_handler = [](int) { interrupted.store(true); };
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  for (int i = 0; i < limit && !interrupted.load(); ++i) {
    if (timed && absl::Now() >= end) break;
    if (options.rate > 0) {
      const absl::Time next = start + absl::Seconds(i / options.rate);
      if (timed && next >= end) break;
      while (!interrupted.load() && absl::Now() < next) {
        absl::SleepFor(std::min(next - absl::Now(), absl::Milliseconds(50)));
      }
      if (interrupted.load()) break;
    }
    while (report && absl::Now() >= start + absl::Seconds(second_index)) {
      print_second();
      ++second_index;
    }
    Outcome outcome =
        CallOne(options, channel, method, path, request, response.get());
    total.Add(outcome);
    second.Add(outcome);
    ++per_server[outcome.server.empty() ? "(no server)" : outcome.server];
    if (outcome.status.ok()) {
      last_ok.reset(response->New());
      last_ok->CopyFrom(*response);
    }
  }
  if (report && second.calls > 0) print_second();
  std::vector<std::string> servers;
  for (const auto& [server, n] : per_server) {
    servers.push_back(absl::StrCat(internal::JsonString(server), ":", n));
  }
  std::vector<std::string> codes;
  for (const auto& [code, n] : total.codes) {
    codes.push_back(absl::StrCat(internal::JsonString(code), ":", n));
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::cout << "{\"response\":"
            << (last_ok ? ToJson(*last_ok, options.emit_defaults) : "null")
            << ",\"calls\":" << total.calls << ",\"ok\":" << total.ok
            << ",\"failed\":" << total.calls - total.ok << ",\"counts\":{"
            << absl::StrJoin(servers, ",") << "},\"codes\":{"
            << absl::StrJoin(codes, ",") << "}"
            << absl::StrFormat(
                   ",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"seconds\":%.3f",
                   total.PercentileMs(0.5), total.PercentileMs(0.99), seconds)
            << "}" << std::endl;
  if (total.ok == total.calls) return kOk;
  return Fail(kCallFailed,
              absl::StrCat(total.calls - total.ok, " of ", total.calls,
                           " calls failed (", total.Failures(),
                           "); counts per server and code on stdout"));
}

int FanOut(const CallOptions& options,
           const std::shared_ptr<grpc::Channel>& channel,
           const std::string& target, const grpc::ByteBuffer& buffer,
           const Message& response_type) {
  FanOutOptions fan_out;
  fan_out.timeout = options.deadline;
  fan_out.errors =
      options.errors == "any" ? FanOutErrors::kAny : FanOutErrors::kAll;
  grpc::ClientContext context;
  for (const auto& [key, value] : options.metadata) {
    context.AddMetadata(key, value);
  }
  std::mutex mu;
  std::condition_variable done_cv;
  std::optional<internal::RawFanOut> raw;
  internal::StartFanOut(channel, &context, target, buffer, fan_out,
                        [&](const FanOutOptions&, internal::RawFanOut r) {
                          std::lock_guard<std::mutex> lock(mu);
                          raw = std::move(r);
                          done_cv.notify_all();
                        });
  {
    std::unique_lock<std::mutex> lock(mu);
    done_cv.wait(lock, [&] { return raw.has_value(); });
  }
  if (!raw->status.ok()) {
    return CallFailed(static_cast<grpc::StatusCode>(raw->status.code()),
                      raw->status.message());
  }
  std::vector<std::unique_ptr<Message>> responses;
  std::vector<ServerOutcome> outcomes =
      internal::ParseOutcomes(raw->outcomes, response_type, &responses);
  absl::Status status = internal::ApplyErrorPolicy(fan_out, outcomes);
  if (!status.ok()) {
    // The per-server detail goes into the stdout JSON; stderr gets one line.
    int failed = 0;
    std::vector<std::string> servers;
    for (const ServerOutcome& outcome : outcomes) {
      if (!outcome.status.ok()) ++failed;
      servers.push_back(absl::StrCat(
          internal::JsonString(outcome.address), ":{\"code\":",
          internal::JsonString(CodeName(outcome.status.error_code())),
          ",\"message\":", internal::JsonString(outcome.status.error_message()),
          "}"));
    }
    return CallFailed(
        static_cast<grpc::StatusCode>(status.code()),
        absl::StrCat(failed, " of ", outcomes.size(),
                     " servers failed (--errors=", options.errors,
                     "); each server's status is in the JSON on stdout"),
        absl::StrCat(",\"servers\":{", absl::StrJoin(servers, ","), "}"));
  }
  std::vector<std::string> values;
  for (const ServerOutcome& outcome : outcomes) {
    if (outcome.response == nullptr) continue;
    const std::string json = ToJson(*outcome.response, options.emit_defaults);
    values.push_back(
        options.results == "map"
            ? absl::StrCat(internal::JsonString(outcome.address), ":", json)
            : json);
  }
  if (options.results == "single") {
    std::cout << (values.empty() ? "null" : values.front()) << std::endl;
  } else if (options.results == "vector") {
    std::cout << "[" << absl::StrJoin(values, ",") << "]" << std::endl;
  } else {
    std::cout << "{" << absl::StrJoin(values, ",") << "}" << std::endl;
  }
  return kOk;
}

}  // namespace

int Call(Cluster& c, const std::string& target, const CallOptions& options) {
  const std::vector<std::string> parts = absl::StrSplit(target, '/');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return Fail(kUsage, absl::StrCat("bad method '", target,
                                     "': expected NAMESPACE/METHOD"));
  }
  Method method;
  if (std::optional<int> failed = LoadMethod(c, parts[0], parts[1], &method)) {
    return *failed;
  }
  const google::protobuf::MethodDescriptor& descriptor = *method.descriptor;
  if (descriptor.client_streaming()) {
    return Fail(kUsage, absl::StrCat(target,
                                     " is client-streaming; slackerctl "
                                     "calls unary and server-streaming "
                                     "methods"));
  }
  const bool streaming = descriptor.server_streaming();
  if (streaming &&
      (options.grouping == "all" || options.count > 1 || options.rate > 0 ||
       options.duration > absl::ZeroDuration())) {
    return Fail(kUsage, absl::StrCat(target,
                                     " is server-streaming: --grouping=all, "
                                     "--count, --rate and --duration are for "
                                     "unary methods"));
  }
  absl::StatusOr<std::string> data = ReadData(options.data);
  if (!data.ok()) return Fail(kUsage, data.status().message());
  // From a file or stdin, a server-streaming method gets one request per
  // line; otherwise the text is one request.
  std::vector<std::string> texts;
  if (streaming && absl::StartsWith(options.data, "@")) {
    for (absl::string_view text : absl::StrSplit(*data, '\n')) {
      if (!absl::StripAsciiWhitespace(text).empty()) {
        texts.emplace_back(text);
      }
    }
  } else if (!absl::StripAsciiWhitespace(*data).empty()) {
    texts.push_back(*data);
  }
  if (texts.empty()) texts.push_back("{}");
  google::protobuf::DynamicMessageFactory factory(&method.pool);
  const Message* request_type = factory.GetPrototype(descriptor.input_type());
  const Message* response_type = factory.GetPrototype(descriptor.output_type());
  std::vector<grpc::ByteBuffer> requests;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::unique_ptr<Message> request(request_type->New());
    const auto parsed =
        google::protobuf::util::JsonStringToMessage(texts[i], request.get());
    if (!parsed.ok()) {
      // The parser's first line says what is wrong; the rest draws a caret.
      std::string why(parsed.message());
      why = why.substr(0, why.find('\n'));
      return Fail(kUsage, absl::StrCat("the request",
                                       texts.size() > 1
                                           ? absl::StrCat(" on line ", i + 1)
                                           : std::string(),
                                       " is not JSON of ",
                                       method.info.request_type(), ": ", why));
    }
    requests.push_back(internal::Serialize(*request));
  }
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
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeCredentials(options.security);
  if (!credentials.ok()) return Fail(kUsage, credentials.status().message());
  channel_options.zookeeper_digest = c.digest();
  channel_options.ensemble = c.ensemble();
  ApplyServerName(options.security, &channel_options.channel_arguments);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateClusterChannel(
      c.zookeeper(), c.name(), channel_options, *credentials);
  if (!channel.ok()) return Fail(kUsage, channel.status().ToString());
  const std::string path = absl::StrCat("/", target);
  if (std::optional<int> failed =
          WaitForPublishers(c, *channel, parts[0], options.wait)) {
    return *failed;
  }
  if (streaming) {
    for (const grpc::ByteBuffer& request : requests) {
      if (int code =
              ServerStream(options, *channel, path, request, response_type);
          code != kOk) {
        return code;
      }
    }
    return kOk;
  }
  if (options.grouping == "all") {
    return FanOut(options, *channel, target, requests[0], *response_type);
  }
  if (options.count > 1 || options.rate > 0 ||
      options.duration > absl::ZeroDuration()) {
    return Repeat(options, *channel, method, path, requests[0], *response_type);
  }
  std::unique_ptr<Message> response(response_type->New());
  Outcome outcome =
      CallOne(options, *channel, method, path, requests[0], response.get());
  if (!outcome.status.ok()) {
    return CallFailed(outcome.status.error_code(),
                      outcome.status.error_message());
  }
  std::cout << ToJson(*response, options.emit_defaults) << std::endl;
  return kOk;
}

}  // namespace slacker::slackerctl
