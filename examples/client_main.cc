// The example client: a walkthrough of the cluster channel and fan-out calls
// (through FanOut, and through the ordinary stub with grouping `all`)
// against the example cluster (examples/server_main.cc), saying what each
// step shows.
//
//   bazel run //examples:client -- --zk=127.0.0.1:2181
//   --cluster=example-cluster
//   ... --after_crash    # the short check tools/demo.sh runs after a kill -9

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <iostream>
#include <map>
#include <mutex>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "framework/cluster_channel.h"
#include "framework/fan_out.h"
#include "protos/slacker/example/api.grpc.pb.h"

ABSL_FLAG(std::string, zk, "127.0.0.1:2181", "ZooKeeper connect string");
ABSL_FLAG(std::string, cluster, "example-cluster", "cluster name");
ABSL_FLAG(bool, after_crash, false, "only the calls that show fail-over");

namespace {

using slacker::example::Api;
using slacker::example::Api2;
using slacker::example::EchoReply;
using slacker::example::EchoRequest;

void Say(const std::string& line) { std::cout << line << std::endl; }

// Which server answered each of `calls` Echo calls, with `grouping` ("" for
// the channel's default).
std::map<std::string, int> Spread(Api::Stub& api, int calls,
                                  const std::string& grouping, int* failed) {
  std::map<std::string, int> counts;
  for (int i = 0; i < calls; ++i) {
    grpc::ClientContext context;
    if (!grouping.empty()) slacker::SetGrouping(&context, grouping);
    EchoRequest request;
    request.set_text("ping");
    EchoReply reply;
    if (api.Echo(&context, request, &reply).ok()) {
      ++counts[reply.server()];
    } else {
      ++*failed;
    }
  }
  return counts;
}

std::string Counts(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& [server, n] : counts) {
    parts.push_back(absl::StrCat(server, " answered ", n));
  }
  return absl::StrJoin(parts, ", ");
}

std::string Leader(Api::Stub& api) {
  grpc::ClientContext context;
  slacker::SetGrouping(&context, "leader");
  EchoRequest request;
  EchoReply reply;
  grpc::Status status = api.Echo(&context, request, &reply);
  return status.ok() ? reply.server()
                     : "(none: " + status.error_message() + ")";
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // One channel for the whole cluster; ordinary generated stubs on it.
  slacker::ClusterChannelOptions options;
  options.service_config_json = R"({"methodConfig": [{"name": [{}],
      "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.05s",
        "maxBackoff": "0.2s", "backoffMultiplier": 2,
        "retryableStatusCodes": ["UNAVAILABLE"]}}]})";
  options.wait_for_ready = true;  // Wait for a server rather than fail.
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      slacker::CreateClusterChannel(absl::GetFlag(FLAGS_zk),
                                    absl::GetFlag(FLAGS_cluster), options);
  if (!channel.ok()) {
    std::cerr << "client: " << channel.status() << std::endl;
    return 1;
  }
  std::unique_ptr<Api::Stub> api = Api::NewStub(*channel);
  std::unique_ptr<Api2::Stub> api2 = Api2::NewStub(*channel);
  int failed = 0;

  if (absl::GetFlag(FLAGS_after_crash)) {
    std::map<std::string, int> counts = Spread(*api, 50, "", &failed);
    Say(absl::StrCat("after the crash, 50 calls: ", Counts(counts), "; ",
                     failed, " failed"));
    Say(absl::StrCat("the leader of slacker.example.Api is now ",
                     Leader(*api)));
    return failed == 0 ? 0 : 1;
  }

  // 1. The default grouping (random) spreads calls over the servers.
  std::map<std::string, int> counts = Spread(*api, 100, "", &failed);
  Say(absl::StrCat("1. 100 Echo calls, default grouping (random): ",
                   Counts(counts)));

  // 2. A plain call.
  {
    grpc::ClientContext context;
    EchoRequest request;
    request.set_text("hello, cluster");
    EchoReply reply;
    grpc::Status status = api->Echo(&context, request, &reply);
    Say(absl::StrCat("2. Echo(\"hello, cluster\") -> \"", reply.text(),
                     "\" from ", reply.server(), status.ok() ? "" : " FAILED"));
  }

  // 3. One call on every server, results as a vector and as a map.
  slacker::FanOutResult<slacker::example::TimestampReply> stamps =
      slacker::FanOut<slacker::example::TimestampReply>(
          *channel, "slacker.example.Api/Timestamp", google::protobuf::Empty());
  if (auto vector = stamps.Vector(); vector.ok()) {
    std::vector<std::string> millis;
    for (const auto& stamp : *vector) {
      millis.push_back(absl::StrCat(stamp.unix_millis()));
    }
    Say(absl::StrCat("3. Timestamp on all servers as a vector: [",
                     absl::StrJoin(millis, ", "), "]"));
  }
  if (auto map = stamps.Map(); map.ok()) {
    std::vector<std::string> entries;
    for (const auto& [server, stamp] : *map) {
      entries.push_back(absl::StrCat(server, ": ", stamp.unix_millis()));
    }
    Say(absl::StrCat("   and as a map: {", absl::StrJoin(entries, ", "), "}"));
  }

  // 4. An asynchronous call (callback API), to the least loaded server.
  {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    grpc::ClientContext context;
    slacker::SetGrouping(&context, "least_in_flight");
    slacker::example::SleepRequest request;
    request.set_millis(100);
    slacker::example::SleepReply reply;
    api->async()->Sleep(&context, &request, &reply, [&](grpc::Status status) {
      Say(absl::StrCat("4. async Sleep(100 ms), least_in_flight: answered by ",
                       reply.server(), status.ok() ? "" : " FAILED"));
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      done_cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    done_cv.wait(lock, [&] { return done; });
  }

  // 5. An error travels to the caller as a status.
  {
    grpc::ClientContext context;
    google::protobuf::Empty empty;
    grpc::Status status = api->MakeError(&context, empty, &empty);
    Say(absl::StrCat("5. MakeError -> expected error, code ",
                     status.error_code(), ": ", status.error_message()));
  }

  // 6. The namespace's leader (from its election in ZooKeeper).
  Say(absl::StrCat("6. the leader of slacker.example.Api is ", Leader(*api)));

  // 7. The second namespace, on the same channel.
  {
    grpc::ClientContext context;
    EchoRequest request;
    request.set_text("hello, Api2");
    EchoReply reply;
    grpc::Status status = api2->Echo2(&context, request, &reply);
    Say(absl::StrCat("7. Api2.Echo2 -> \"", reply.text(), "\" from ",
                     reply.server(), status.ok() ? "" : " FAILED"));
  }

  // 8. No server publishes slacker.example.Api3: an unavailable-value.
  {
    slacker::FanOutOptions fan_out;
    fan_out.unavailable_value = R"json({"text": "(nobody serves Api3)"})json";
    EchoRequest request;
    auto result = slacker::FanOut<EchoReply>(
        *channel, "slacker.example.Api3/Echo3", request, fan_out);
    auto single = result.Single();
    Say(absl::StrCat("8. Api3.Echo3 with an unavailable-value -> \"",
                     single.ok() ? single->text() : single.status().ToString(),
                     "\""));
  }
  // 9. Timestamp on all servers through the ordinary stub: grouping `all`
  // for this call; the stub's reply holds a single value (the first server's
  // by address), and CallResults every server's, here as a map.
  {
    grpc::ClientContext context;
    slacker::SetGrouping(&context, "all");
    slacker::CallResults<slacker::example::TimestampReply> results(&context);
    slacker::example::TimestampReply reply;
    grpc::Status status =
        api->Timestamp(&context, google::protobuf::Empty(), &reply);
    Say(
        absl::StrCat("9. Timestamp on all servers through the stub: single "
                     "value ",
                     reply.unix_millis(), " from ", reply.server(),
                     status.ok() ? "" : " FAILED"));
    if (auto map = results.Map(); map.ok()) {
      std::vector<std::string> entries;
      for (const auto& [server, stamp] : *map) {
        entries.push_back(absl::StrCat(server, ": ", stamp.unix_millis()));
      }
      Say(absl::StrCat("   and as a map (CallResults): {",
                       absl::StrJoin(entries, ", "), "}"));
    } else {
      Say(absl::StrCat("   and as a map (CallResults): FAILED ",
                       map.status().ToString()));
    }
  }
  Say("walkthrough done");
  return failed == 0 ? 0 : 1;
}
