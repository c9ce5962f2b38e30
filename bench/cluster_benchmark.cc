// The cluster channel side by side with plain gRPC, in one run on one machine
// (tools/bench.sh runs it and writes bench/RESULTS.md):
//   - BM_Unary/<channel>: a small Echo call through the cluster channel with
//     random, round_robin and least_in_flight, through plain gRPC with an
//     ipv4: target over the same three servers and round_robin, and through a
//     direct channel to one server; same servers (child processes), same
//     client concurrency; p50/p99 latency as counters.
//     BM_Unary/cluster_random_no_interceptor is cluster_random on a channel
//     made without the cluster interceptor (an internal channel argument), to
//     measure what the interceptor costs a one-server call.
//     BM_Unary/cluster_random_metrics is cluster_random with metrics on
//     (ClusterChannelOptions::metrics; the registry is not scraped), to
//     measure what they cost: at most 3% of cluster_random's throughput is
//     the goal. Each reports the
//     client process's CPU per call (from /proc).
//   - BM_FanOut/<n>: fan-out to n servers (the FanOut API) against
//     BM_FanOutSingle, one call; BM_StubAll/<n>: the same through a generated
//     stub with grouping `all` (SetGrouping) and CallResults.
// The servers and ZooKeeper are started once, before the first benchmark.

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "framework/cluster_channel.h"
#include "framework/fan_out.h"
#include "framework/internal/channel_args.h"
#include "framework/metrics.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/zookeeper_cluster.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace {

using slacker::testing::Child;
using slacker::testing::EchoService;
using slacker::testing::Ping;

constexpr int kUnaryServers = 3;
constexpr int kMaxFanOut = 16;

// ZooKeeper and the servers, for the whole run. Never destroyed before exit
// (the children die with the process).
struct Cluster {
  std::unique_ptr<slacker::testing::ZooKeeperCluster> zookeeper;
  std::vector<std::unique_ptr<Child>> unary_servers;  // cluster "bench"
  std::vector<std::string> unary_addresses;
  std::vector<std::unique_ptr<Child>> fan_out_servers;  // cluster "fanout-<n>"
  std::map<std::string, std::vector<pid_t>> pids;       // By cluster name.
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels;
};

Cluster& Get() {
  static Cluster* cluster = [] {
    auto* c = new Cluster();
    slacker::testing::ZooKeeperClusterOptions options;
    auto zookeeper = slacker::testing::ZooKeeperCluster::Start(options);
    if (!zookeeper.ok()) {
      std::fprintf(stderr, "bench: %s\n",
                   zookeeper.status().ToString().c_str());
      std::exit(1);
    }
    c->zookeeper = *std::move(zookeeper);
    auto start = [&](const std::string& cluster_name) {
      auto child = std::make_unique<Child>(std::vector<std::string>{
          absl::GetFlag(FLAGS_server_program),
          "--zookeeper=" + c->zookeeper->ConnectString(),
          "--cluster=" + cluster_name, "--session_timeout_ms=4000"});
      std::optional<std::string> address = child->WaitForLine("published ");
      if (!address.has_value()) {
        std::fprintf(stderr, "bench: a server did not start\n");
        std::exit(1);
      }
      c->pids[cluster_name].push_back(child->pid());
      return std::make_pair(std::move(child), *address);
    };
    for (int i = 0; i < kUnaryServers; ++i) {
      auto [child, address] = start("bench");
      c->unary_servers.push_back(std::move(child));
      c->unary_addresses.push_back(address);
    }
    // Fan-out clusters of 1, 2, 4, 8 and 16 servers: "fanout-16" has 16.
    for (int n = 1; n <= kMaxFanOut; n *= 2) {
      for (int i = 0; i < n; ++i) {
        c->fan_out_servers.push_back(start(absl::StrCat("fanout-", n)).first);
      }
    }
    return c;
  }();
  return *cluster;
}

// A channel per kind, made (and connected to every server) once.
std::shared_ptr<grpc::Channel> ChannelFor(const std::string& kind) {
  Cluster& c = Get();
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto it = c.channels.find(kind);
  if (it != c.channels.end()) return it->second;
  std::shared_ptr<grpc::Channel> channel;
  if (kind == "plain_round_robin" || kind == "direct") {
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(
        R"({"loadBalancingConfig": [{"round_robin": {}}]})");
    const std::string target =
        kind == "direct" ? c.unary_addresses.front()
                         : "ipv4:" + absl::StrJoin(c.unary_addresses, ",");
    channel = grpc::CreateCustomChannel(
        target, grpc::InsecureChannelCredentials(), args);
  } else {
    slacker::ClusterChannelOptions options;
    std::string cluster = "bench";
    if (absl::StartsWith(kind, "fanout-")) {
      cluster = kind;
    } else if (kind == "cluster_random_metrics") {
      options.grouping = "random";
      options.metrics = std::make_shared<slacker::Metrics>();
    } else if (kind == "cluster_random_no_interceptor") {
      options.grouping = "random";
      options.channel_arguments.SetInt(
          slacker::internal::kWithoutInterceptorArg, 1);
    } else {
      options.grouping = kind.substr(std::string("cluster_").size());
    }
    channel = *slacker::CreateClusterChannel(c.zookeeper->ConnectString(),
                                             cluster, options);
  }
  // Warm up: connected to every server before timing.
  auto stub = EchoService::NewStub(channel);
  for (int i = 0; i < 200; ++i) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    Ping request, response;
    stub->Echo(&context, request, &response);
  }
  c.channels[kind] = channel;
  return channel;
}

// Per thread, averaged over the threads (Google Benchmark sums counters
// over threads unless told otherwise).
void Percentiles(benchmark::State& state, std::vector<double>& micros) {
  if (micros.empty()) return;
  std::sort(micros.begin(), micros.end());
  state.counters["p50_us"] = benchmark::Counter(
      micros[micros.size() / 2], benchmark::Counter::kAvgThreads);
  state.counters["p99_us"] = benchmark::Counter(
      micros[std::min(micros.size() - 1, micros.size() * 99 / 100)],
      benchmark::Counter::kAvgThreads);
}

// CPU time (user + system) used so far by process `pid`, in microseconds.
double CpuMicros(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces): state is field 3,
  // utime and stime are fields 14 and 15.
  const size_t end = text.rfind(')');
  if (end == std::string::npos) return 0;
  std::vector<std::string> fields =
      absl::StrSplit(text.substr(end + 2), ' ', absl::SkipEmpty());
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return 0;
  }
  return (utime + stime) * 1e6 / sysconf(_SC_CLK_TCK);
}

// CPU spent per iteration by this process and by the servers of `cluster`,
// as counters: on 2 cores, (client + servers) / 2 bounds the latency from
// below however parallel the calls are.
class CpuCounters {
 public:
  explicit CpuCounters(const std::string& cluster)
      : pids_(Get().pids[cluster]),
        client_(CpuMicros(getpid())),
        servers_(ServersMicros()) {}
  void Report(benchmark::State& state) {
    const double iterations = std::max<double>(1, state.iterations());
    state.counters["client_cpu_us"] =
        (CpuMicros(getpid()) - client_) / iterations;
    state.counters["servers_cpu_us"] =
        (ServersMicros() - servers_) / iterations;
  }

 private:
  double ServersMicros() const {
    double sum = 0;
    for (pid_t pid : pids_) sum += CpuMicros(pid);
    return sum;
  }
  std::vector<pid_t> pids_;
  double client_;
  double servers_;
};

void BM_Unary(benchmark::State& state, const std::string& kind) {
  std::shared_ptr<grpc::Channel> channel = ChannelFor(kind);
  auto stub = EchoService::NewStub(channel);
  Ping request;
  request.set_text("a small echo");
  std::vector<double> micros;
  micros.reserve(1 << 16);
  int64_t failed = 0;
  // The whole process's CPU, measured by the first thread over every
  // thread's calls (all threads run the same number of iterations).
  const double cpu_start = state.thread_index() == 0 ? CpuMicros(getpid()) : 0;
  for (auto _ : state) {
    grpc::ClientContext context;
    Ping response;
    const absl::Time start = absl::Now();
    if (!stub->Echo(&context, request, &response).ok()) ++failed;
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
  }
  if (state.thread_index() == 0) {
    state.counters["client_cpu_us"] =
        (CpuMicros(getpid()) - cpu_start) /
        std::max<double>(
            1, static_cast<double>(state.iterations()) * state.threads());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["failed"] = static_cast<double>(failed);
  Percentiles(state, micros);
}

void BM_FanOut(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::shared_ptr<grpc::Channel> channel =
      ChannelFor(absl::StrCat("fanout-", n));
  while (static_cast<int>(
             slacker::ReadyServers(channel, "slacker.testing.EchoService")
                 .size()) < n) {
    slacker::FanOut<Ping>(channel, "slacker.testing.EchoService/Echo", Ping());
  }
  std::vector<double> micros;
  CpuCounters cpu(absl::StrCat("fanout-", n));
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    auto result = slacker::FanOut<Ping>(
        channel, "slacker.testing.EchoService/Echo", Ping());
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (result.outcomes().size() != static_cast<size_t>(n)) {
      state.SkipWithError("a fan-out did not reach every server");
      break;
    }
  }
  cpu.Report(state);
  Percentiles(state, micros);
}

// As BM_FanOut, through a generated stub: grouping `all` for the call, every
// server's outcome in CallResults.
void BM_StubAll(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::shared_ptr<grpc::Channel> channel =
      ChannelFor(absl::StrCat("fanout-", n));
  while (static_cast<int>(
             slacker::ReadyServers(channel, "slacker.testing.EchoService")
                 .size()) < n) {
    slacker::FanOut<Ping>(channel, "slacker.testing.EchoService/Echo", Ping());
  }
  auto stub = EchoService::NewStub(channel);
  std::vector<double> micros;
  CpuCounters cpu(absl::StrCat("fanout-", n));
  for (auto _ : state) {
    const absl::Time start = absl::Now();
    grpc::ClientContext context;
    slacker::SetGrouping(&context, "all");
    slacker::CallResults<Ping> results(&context);
    Ping request, response;
    grpc::Status status = stub->Echo(&context, request, &response);
    micros.push_back(absl::ToDoubleMicroseconds(absl::Now() - start));
    if (!status.ok() || results.outcomes().size() != static_cast<size_t>(n)) {
      state.SkipWithError("a stub call with `all` did not reach every server");
      break;
    }
  }
  cpu.Report(state);
  Percentiles(state, micros);
}

void BM_FanOutSingle(benchmark::State& state) {
  CpuCounters cpu("bench");
  BM_Unary(state, "cluster_random");
  cpu.Report(state);
}

}  // namespace

BENCHMARK_CAPTURE(BM_Unary, plain_round_robin, std::string("plain_round_robin"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Unary, direct, std::string("direct"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Unary, cluster_random, std::string("cluster_random"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Unary, cluster_random_metrics,
                  std::string("cluster_random_metrics"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Unary, cluster_round_robin,
                  std::string("cluster_round_robin"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Unary, cluster_least_in_flight,
                  std::string("cluster_least_in_flight"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK_CAPTURE(BM_Unary, cluster_random_no_interceptor,
                  std::string("cluster_random_no_interceptor"))
    ->Threads(8)
    ->UseRealTime()
    ->MinTime(2);
BENCHMARK(BM_FanOutSingle)->UseRealTime()->MinTime(1);
BENCHMARK(BM_StubAll)
    ->RangeMultiplier(2)
    ->Range(1, 8)
    ->UseRealTime()
    ->MinTime(1);
BENCHMARK(BM_FanOut)
    ->RangeMultiplier(2)
    ->Range(1, kMaxFanOut)
    ->UseRealTime()
    ->MinTime(1);

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  Get();  // Start everything before the clock runs.
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
