// Scale of the view: a client's memory and its view-update time with 10, 100
// and 1,000 servers registered. One helper process
// (testing/programs/many_servers) serves all the ports and registers
// them as a cluster server would.
//   - BM_Memory/<cluster|plain>/<n>: a fresh process (this program, run with
//     --measure) creates one channel, calls round_robin until every server
//     has answered a call, and reports its resident memory before and after.
//     `plain` is gRPC's round_robin over an `ipv4:` target listing the same
//     addresses, the baseline.
//   - BM_Update/<n>: with a cluster channel that has called every server,
//     the spare port's namespace node is created and deleted 200 times each;
//     times from the ZooKeeper write returning to the channel's new picker
//     (GetDiscoveryStats' last update), and the channel's own share of it
//     (from its view rebuild to the picker: last_propagation).

#include <grpc/grpc.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/cluster_channel.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/zookeeper_cluster.h"

ABSL_FLAG(std::string, helper_program, "",
          "path of testing/programs/many_servers");
// For the measuring child process (this program run again).
ABSL_FLAG(std::string, measure, "", "cluster or plain: measure one channel");
ABSL_FLAG(std::string, target, "", "with --measure: ZooKeeper or addresses");
ABSL_FLAG(std::string, cluster, "", "with --measure=cluster");
ABSL_FLAG(int, servers, 0, "with --measure: servers to wait for");
ABSL_FLAG(int, give_up_s, 120, "with --measure: seconds to reach every server");
ABSL_FLAG(std::string, warm_up, "", "with --measure: address of one server");
ABSL_FLAG(std::string, discovery, "auto",
          "BM_Update's channel: auto, watches or recursive "
          "(ClusterChannelOptions::discovery)");

namespace {

using slacker::testing::Child;
using slacker::testing::EchoService;
using slacker::testing::Ping;

constexpr char kNamespace[] = "slacker.testing.EchoService";
constexpr int kTrials = 200;

int64_t ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    int64_t kib = 0;
    if (line.rfind("VmRSS:", 0) == 0 &&
        absl::SimpleAtoi(absl::StripSuffix(
                             absl::StripAsciiWhitespace(line.substr(6)), " kB"),
                         &kib)) {
      return kib;
    }
  }
  return 0;
}

// Calls `channel` until `servers` distinct peers have answered; false if that
// takes over two minutes.
bool CallEveryServer(const std::shared_ptr<grpc::Channel>& channel,
                     int servers) {
  auto stub = EchoService::NewStub(channel);
  std::set<std::string> peers;
  grpc::Status last_error;
  Ping request;
  request.set_text("scale");
  const absl::Time give_up =
      absl::Now() + absl::Seconds(absl::GetFlag(FLAGS_give_up_s));
  while (static_cast<int>(peers.size()) < servers) {
    if (absl::Now() > give_up) {
      std::fprintf(stderr,
                   "bench: %zu of %d servers answered; last error: %s\n",
                   peers.size(), servers, last_error.error_message().c_str());
      return false;
    }
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    Ping response;
    grpc::Status status = stub->Echo(&context, request, &response);
    if (status.ok()) {
      peers.insert(context.peer());
    } else {
      last_error = status;
    }
  }
  return true;
}

// --measure: one channel in a fresh process. Prints its figures.
int Measure() {
  const std::string kind = absl::GetFlag(FLAGS_measure);
  const int servers = absl::GetFlag(FLAGS_servers);
  grpc_init();  // gRPC's global state is not the channel's cost.
  if (!slacker::InitClusterChannels().ok()) return 1;
  {
    // Nor the first channel's and first call's one-time costs.
    auto warm = grpc::CreateChannel(absl::GetFlag(FLAGS_warm_up),
                                    grpc::InsecureChannelCredentials());
    if (!CallEveryServer(warm, 1)) return 1;
  }
  const int64_t before = ResidentKiB();
  const absl::Time start = absl::Now();
  std::shared_ptr<grpc::Channel> channel;
  if (kind == "cluster") {
    slacker::ClusterChannelOptions options;
    options.grouping = "round_robin";
    auto created = slacker::CreateClusterChannel(
        absl::GetFlag(FLAGS_target), absl::GetFlag(FLAGS_cluster), options);
    if (!created.ok()) {
      std::fprintf(stderr, "bench: %s\n", created.status().ToString().c_str());
      return 1;
    }
    channel = *std::move(created);
  } else {
    grpc::ChannelArguments arguments;
    arguments.SetLoadBalancingPolicyName("round_robin");
    // The default authority of an `ipv4:` target is its whole address list:
    // with 1,000 servers over the servers' 8 KiB metadata limit.
    arguments.SetString(GRPC_ARG_DEFAULT_AUTHORITY, "scale.bench");
    channel = grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target),
                                        grpc::InsecureChannelCredentials(),
                                        arguments);
  }
  if (!CallEveryServer(channel, servers)) return 1;
  const absl::Duration ready = absl::Now() - start;
  absl::SleepFor(absl::Seconds(1));  // Health watches and buffers settle.
  std::printf("resident_kib %lld %lld %.1f\n", static_cast<long long>(before),
              static_cast<long long>(ResidentKiB()),
              absl::ToDoubleMilliseconds(ready));
  std::fflush(stdout);
  std::_Exit(0);  // Not the channel's teardown: only its figures matter.
}

// ZooKeeper, and one helper process at a time serving `n` servers.
class Setup {
 public:
  static Setup& Get() {
    static Setup* setup = new Setup();
    return *setup;
  }

  // The helper for `n` servers (a new one when `n` changed).
  void Serve(int n) {
    if (n == servers_) return;
    helper_.reset();
    servers_ = n;
    cluster_ = absl::StrCat("scale", n);
    helper_ = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_helper_program),
        "--zookeeper=" + zookeeper_->ConnectString(), "--cluster=" + cluster_,
        absl::StrCat("--count=", n)});
    std::optional<std::string> spare = helper_->WaitForLine("spare ");
    std::optional<std::string> addresses =
        helper_->WaitForLine("addresses ", absl::Minutes(2));
    if (!spare.has_value() || !addresses.has_value()) {
      std::fprintf(stderr, "bench: the helper did not register %d servers\n",
                   n);
      std::exit(1);
    }
    spare_ = *spare;
    addresses_ = *addresses;
  }

  std::string connect_string() const { return zookeeper_->ConnectString(); }
  const std::string& cluster() const { return cluster_; }
  const std::string& spare() const { return spare_; }
  const std::string& addresses() const { return addresses_; }
  slacker::discovery::ZooKeeperClient& client() { return *client_; }

 private:
  Setup() {
    auto zookeeper = slacker::testing::ZooKeeperCluster::Start(
        slacker::testing::ZooKeeperClusterOptions());
    if (!zookeeper.ok()) std::exit(1);
    zookeeper_ = *std::move(zookeeper);
    slacker::discovery::ZooKeeperOptions options;
    options.connect_string = zookeeper_->ConnectString();
    auto client = slacker::discovery::ZooKeeperClient::Connect(options);
    if (!client.ok()) std::exit(1);
    client_ = *std::move(client);
  }

  std::unique_ptr<slacker::testing::ZooKeeperCluster> zookeeper_;
  std::unique_ptr<slacker::discovery::ZooKeeperClient> client_;
  std::unique_ptr<Child> helper_;
  int servers_ = 0;
  std::string cluster_;
  std::string spare_;
  std::string addresses_;
};

void BM_Memory(benchmark::State& state, const std::string& kind) {
  const int n = static_cast<int>(state.range(0));
  Setup& setup = Setup::Get();
  setup.Serve(n);
  std::string target = kind == "cluster"
                           ? setup.connect_string()
                           : absl::StrCat("ipv4:", setup.addresses());
  for (auto _ : state) {
    Child child({"/proc/self/exe", "--measure=" + kind, "--target=" + target,
                 "--cluster=" + setup.cluster(), absl::StrCat("--servers=", n),
                 "--warm_up=" + setup.spare()});
    std::optional<std::string> line =
        child.WaitForLine("resident_kib ", absl::Minutes(3));
    std::vector<std::string> fields = line.has_value()
                                          ? absl::StrSplit(*line, ' ')
                                          : std::vector<std::string>();
    double before = 0, after = 0, ready_ms = 0;
    if (fields.size() != 3 || !absl::SimpleAtod(fields[0], &before) ||
        !absl::SimpleAtod(fields[1], &after) ||
        !absl::SimpleAtod(fields[2], &ready_ms)) {
      state.SkipWithError("the measuring process gave no figures");
      return;
    }
    child.Wait();
    state.SetIterationTime(ready_ms / 1e3);
    state.counters["channel_kib"] = after - before;
    state.counters["per_server_kib"] = (after - before) / n;
    state.counters["ready_ms"] = ready_ms;
  }
}

void Percentiles(benchmark::State& state, const std::string& name,
                 std::vector<double> millis) {
  if (millis.empty()) return;
  std::sort(millis.begin(), millis.end());
  // Nearest rank: the smallest value with at least p of them at or below.
  auto rank = [&](double p) {
    const size_t index = static_cast<size_t>(std::ceil(p * millis.size()));
    return millis[std::clamp<size_t>(index, 1, millis.size()) - 1];
  };
  state.counters[name + "_p50_ms"] = rank(0.50);
  state.counters[name + "_p99_ms"] = rank(0.99);
}

void BM_Update(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Setup& setup = Setup::Get();
  setup.Serve(n);
  slacker::ClusterChannelOptions options;
  options.grouping = "round_robin";
  const std::string discovery = absl::GetFlag(FLAGS_discovery);
  if (discovery == "watches") {
    options.discovery = slacker::ClusterChannelOptions::Discovery::kWatches;
  } else if (discovery == "recursive") {
    options.discovery =
        slacker::ClusterChannelOptions::Discovery::kPersistentRecursive;
  } else if (discovery != "auto") {
    state.SkipWithError("--discovery must be auto, watches or recursive");
    return;
  }
  auto channel = slacker::CreateClusterChannel(setup.connect_string(),
                                               setup.cluster(), options);
  if (!channel.ok() || !CallEveryServer(*channel, n)) {
    state.SkipWithError("the channel did not reach every server");
    return;
  }
  const std::string target =
      slacker::ClusterTarget(setup.connect_string(), setup.cluster());
  const std::string node =
      slacker::discovery::RegistryLayout(
          slacker::discovery::kDefaultRegistryRoot, setup.cluster())
          .MemberPath(kNamespace, setup.spare());
  // A publisher counts only with a servers/ node of its own session
  // (discovery/cluster_rules.h): the spare gets one, kept for every run.
  const absl::Status server_node =
      setup.client()
          .Create(slacker::discovery::RegistryLayout(
                      slacker::discovery::kDefaultRegistryRoot, setup.cluster())
                      .ServerPath(setup.spare()),
                  "{}", slacker::discovery::CreateMode::kEphemeral)
          .status();
  if (!server_node.ok() && !absl::IsAlreadyExists(server_node)) {
    state.SkipWithError("cannot create the spare's server node");
    return;
  }
  std::vector<double> join, leave, own;
  // Waits for the picker after a write that returned at `written`.
  auto next_update = [&](int64_t updates_before, absl::Time written,
                         std::vector<double>& into) {
    slacker::DiscoveryStats stats;
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while ((stats = slacker::GetDiscoveryStats(target)).updates ==
           updates_before) {
      if (absl::Now() > give_up) return false;
      absl::SleepFor(absl::Microseconds(20));
    }
    // The notification can beat the writer's own answer: then 0.
    into.push_back(
        std::max(0.0, absl::ToDoubleMilliseconds(stats.last_update - written)));
    own.push_back(absl::ToDoubleMilliseconds(stats.last_propagation));
    return true;
  };
  for (auto _ : state) {
    const int64_t before = slacker::GetDiscoveryStats(target).updates;
    absl::Status written =
        setup.client()
            .Create(node, "", slacker::discovery::CreateMode::kEphemeral)
            .status();
    const absl::Time created = absl::Now();
    if (!written.ok() || !next_update(before, created, join)) {
      state.SkipWithError("no view update after a join");
      return;
    }
    const int64_t joined = slacker::GetDiscoveryStats(target).updates;
    written = setup.client().Delete(node);
    const absl::Time deleted = absl::Now();
    if (!written.ok() || !next_update(joined, deleted, leave)) {
      state.SkipWithError("no view update after a leave");
      return;
    }
    state.SetIterationTime(absl::ToDoubleSeconds(absl::Now() - created) / 2);
  }
  Percentiles(state, "join", join);
  Percentiles(state, "leave", leave);
  Percentiles(state, "own", own);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_measure).empty()) return Measure();
  // By size, so that each size's helper starts once.
  for (int n : {10, 100, 1000}) {
    for (const char* kind : {"cluster", "plain"}) {
      benchmark::RegisterBenchmark(
          absl::StrCat("BM_Memory/", kind).c_str(),
          [kind](benchmark::State& state) { BM_Memory(state, kind); })
          ->Arg(n)
          ->Iterations(1)
          ->UseManualTime();
    }
    benchmark::RegisterBenchmark("BM_Update", BM_Update)
        ->Arg(n)
        ->Iterations(kTrials)
        ->UseManualTime();
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::fflush(stdout);
  std::_Exit(0);  // Channels and the helper are not torn down one by one.
}
