// Failover under steady load: 4 threads call round_robin without pause
// through the cluster channel while servers go away; counters say how many
// calls failed of how many.
//   - BM_KillOne/no_retries, BM_KillOne/retries: kill -9 of 1 of 3 servers
//     (a new server replaces it afterwards), with and without a retry policy
//     for UNAVAILABLE in the channel's service config.
//   - BM_RollingRestart: each of the three servers in turn gets SIGTERM (the
//     graceful path: unpublish, drain, stop) and is replaced by a new one.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "framework/cluster_channel.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/zookeeper_cluster.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace {

using slacker::testing::Child;
using slacker::testing::EchoService;
using slacker::testing::Ping;

constexpr char kRetries[] = R"({"methodConfig": [{"name": [{}],
    "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s",
      "maxBackoff": "0.1s", "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]}}]})";

slacker::testing::ZooKeeperCluster& ZooKeeper() {
  static slacker::testing::ZooKeeperCluster* zookeeper = [] {
    auto started = slacker::testing::ZooKeeperCluster::Start(
        slacker::testing::ZooKeeperClusterOptions());
    if (!started.ok()) std::exit(1);
    return started->release();
  }();
  return *zookeeper;
}

std::unique_ptr<Child> StartServer(const std::string& cluster) {
  auto child = std::make_unique<Child>(std::vector<std::string>{
      absl::GetFlag(FLAGS_server_program),
      "--zookeeper=" + ZooKeeper().ConnectString(), "--cluster=" + cluster,
      "--session_timeout_ms=2000", "--drain_ms=500"});
  if (!child->WaitForLine("published ").has_value()) std::exit(1);
  return child;
}

// Calls from 4 threads until stopped; counts outcomes.
class Load {
 public:
  Load(const std::string& cluster, bool retries) {
    slacker::ClusterChannelOptions options;
    options.grouping = "round_robin";
    if (retries) options.service_config_json = kRetries;
    channel_ = *slacker::CreateClusterChannel(ZooKeeper().ConnectString(),
                                              cluster, options);
    for (int t = 0; t < 4; ++t) {
      threads_.emplace_back([this] {
        auto stub = EchoService::NewStub(channel_);
        while (!stop_.load()) {
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(5));
          Ping request, response;
          (stub->Echo(&context, request, &response).ok() ? ok_ : failed_)
              .fetch_add(1);
        }
      });
    }
    // Warm: every server connected and answering.
    while (ok_.load() < 1000) absl::SleepFor(absl::Milliseconds(10));
    ok_ = 0;
  }
  ~Load() {
    stop_ = true;
    for (std::thread& thread : threads_) thread.join();
  }
  void Report(benchmark::State& state) {
    state.counters["calls"] = static_cast<double>(ok_.load() + failed_.load());
    state.counters["failed"] = static_cast<double>(failed_.load());
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  std::atomic<int64_t> failed_{0};
};

void BM_KillOne(benchmark::State& state, bool retries) {
  const std::string cluster = retries ? "kill-retries" : "kill-plain";
  std::vector<std::unique_ptr<Child>> servers;
  for (int i = 0; i < 3; ++i) servers.push_back(StartServer(cluster));
  Load load(cluster, retries);
  for (auto _ : state) {
    absl::SleepFor(absl::Milliseconds(500));
    servers[0]->Kill(SIGKILL);
    absl::SleepFor(absl::Seconds(3));  // Past the session timeout.
    servers[0] = StartServer(cluster);
    absl::SleepFor(absl::Milliseconds(500));
  }
  load.Report(state);
}

void BM_RollingRestart(benchmark::State& state) {
  const std::string cluster = "rolling";
  std::vector<std::unique_ptr<Child>> servers;
  for (int i = 0; i < 3; ++i) servers.push_back(StartServer(cluster));
  Load load(cluster, /*retries=*/false);
  for (auto _ : state) {
    for (auto& server : servers) {
      server->Kill(SIGTERM);  // Graceful: returns once the server exited.
      server = StartServer(cluster);
      absl::SleepFor(absl::Milliseconds(300));
    }
  }
  load.Report(state);
}

}  // namespace

BENCHMARK_CAPTURE(BM_KillOne, no_retries, false)->Iterations(1)->UseRealTime();
BENCHMARK_CAPTURE(BM_KillOne, retries, true)->Iterations(1)->UseRealTime();
BENCHMARK(BM_RollingRestart)->Iterations(1)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  ZooKeeper();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
