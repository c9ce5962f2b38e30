// Discovery propagation under a steady stream of calls: the time from a
// server's publish (the manager's OnlineNamespace returning, i.e. its node is
// in ZooKeeper) to the first call it answers, and from its unpublish
// (OfflineNamespace returning) to the last call it answers. Each iteration is
// one trial; p50/p99 over the trials are counters (tools/bench.sh runs 100).

#include <grpcpp/create_channel.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
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
#include "protos/slacker/cluster/manager.grpc.pb.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/zookeeper_cluster.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace {

using slacker::testing::Child;
using slacker::testing::EchoService;
using slacker::testing::Ping;

constexpr char kNamespace[] = "slacker.testing.EchoService";

// ZooKeeper, a server that stays, the server that comes and goes, and a
// caller thread that calls round_robin without pause and notes when the
// toggled server answered first and last.
class Setup {
 public:
  static Setup& Get() {
    static Setup* setup = new Setup();
    return *setup;
  }

  // Unpublishes (or publishes) the toggled server's namespace; returns when
  // the manager answered (its ZooKeeper node is gone, or there).
  absl::Time Toggle(bool publish) {
    grpc::ClientContext context;
    slacker::cluster::NamespaceRequest request;
    request.set_namespace_(kNamespace);
    google::protobuf::Empty empty;
    grpc::Status status =
        publish ? manager_->OnlineNamespace(&context, request, &empty)
                : manager_->OfflineNamespace(&context, request, &empty);
    if (!status.ok()) {
      std::fprintf(stderr, "bench: %s\n", status.error_message().c_str());
      std::exit(1);
    }
    return absl::Now();
  }

  // Times (Unix ns) of the first answer from the toggled server at or after
  // `since`, and of the last answer so far.
  std::optional<int64_t> FirstSince(int64_t since) {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t t : answers_) {
      if (t >= since) return t;
    }
    return std::nullopt;
  }
  int64_t Last() {
    std::lock_guard<std::mutex> lock(mu_);
    return answers_.empty() ? 0 : answers_.back();
  }
  void Forget() {
    std::lock_guard<std::mutex> lock(mu_);
    answers_.clear();
  }

 private:
  Setup() {
    auto zookeeper = slacker::testing::ZooKeeperCluster::Start(
        slacker::testing::ZooKeeperClusterOptions());
    if (!zookeeper.ok()) std::exit(1);
    zookeeper_ = *std::move(zookeeper);
    auto start = [&] {
      auto child = std::make_unique<Child>(std::vector<std::string>{
          absl::GetFlag(FLAGS_server_program),
          "--zookeeper=" + zookeeper_->ConnectString(), "--cluster=disc",
          "--manager", "--session_timeout_ms=4000"});
      std::optional<std::string> address = child->WaitForLine("published ");
      if (!address.has_value()) std::exit(1);
      return std::make_pair(std::move(child), *address);
    };
    std::tie(stays_, std::ignore) = start();
    std::tie(toggled_, toggled_address_) = start();
    manager_ = slacker::cluster::ClusterManager::NewStub(grpc::CreateChannel(
        toggled_address_, grpc::InsecureChannelCredentials()));
    slacker::ClusterChannelOptions options;
    options.grouping = "round_robin";
    channel_ = *slacker::CreateClusterChannel(zookeeper_->ConnectString(),
                                              "disc", options);
    caller_ = std::thread([this] {
      auto stub = EchoService::NewStub(channel_);
      Ping request;
      request.set_text("whoami");
      while (true) {
        grpc::ClientContext context;
        context.set_wait_for_ready(true);
        Ping response;
        if (stub->Echo(&context, request, &response).ok() &&
            response.text() == toggled_address_) {
          std::lock_guard<std::mutex> lock(mu_);
          answers_.push_back(absl::ToUnixNanos(absl::Now()));
        }
      }
    });
    caller_.detach();
  }

  std::unique_ptr<slacker::testing::ZooKeeperCluster> zookeeper_;
  std::unique_ptr<Child> stays_;
  std::unique_ptr<Child> toggled_;
  std::string toggled_address_;
  std::unique_ptr<slacker::cluster::ClusterManager::Stub> manager_;
  std::shared_ptr<grpc::Channel> channel_;
  std::thread caller_;
  std::mutex mu_;
  std::vector<int64_t> answers_;
};

void Percentiles(benchmark::State& state, std::vector<double>& millis) {
  if (millis.empty()) return;
  std::sort(millis.begin(), millis.end());
  state.counters["p50_ms"] = millis[millis.size() / 2];
  state.counters["p99_ms"] =
      millis[std::min(millis.size() - 1, millis.size() * 99 / 100)];
  state.counters["max_ms"] = millis.back();
}

// Publish to the first call the server answers.
void BM_PublishToFirstCall(benchmark::State& state) {
  Setup& setup = Setup::Get();
  std::vector<double> millis;
  for (auto _ : state) {
    setup.Toggle(false);
    absl::SleepFor(absl::Milliseconds(20));  // Let the unpublish settle.
    setup.Forget();
    const absl::Time published = setup.Toggle(true);
    const int64_t since = absl::ToUnixNanos(published);
    std::optional<int64_t> first;
    while (!(first = setup.FirstSince(since)).has_value()) {
      absl::SleepFor(absl::Microseconds(100));
    }
    const double ms = (*first - since) / 1e6;
    millis.push_back(ms);
    state.SetIterationTime(ms / 1e3);
  }
  Percentiles(state, millis);
}

// Unpublish to the last call the server answers.
void BM_UnpublishToLastCall(benchmark::State& state) {
  Setup& setup = Setup::Get();
  std::vector<double> millis;
  for (auto _ : state) {
    setup.Toggle(true);
    absl::SleepFor(absl::Milliseconds(20));  // Calls reach it again.
    const absl::Time unpublished = setup.Toggle(false);
    absl::SleepFor(
        absl::Milliseconds(50));  // Longer than any propagation seen.
    const double ms = std::max<double>(
        0, (setup.Last() - absl::ToUnixNanos(unpublished)) / 1e6);
    millis.push_back(ms);
    state.SetIterationTime(std::max(ms, 1e-6) / 1e3);
  }
  Percentiles(state, millis);
}

}  // namespace

BENCHMARK(BM_PublishToFirstCall)->Iterations(100)->UseManualTime();
BENCHMARK(BM_UnpublishToLastCall)->Iterations(100)->UseManualTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  Setup::Get();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::fflush(stdout);
  std::_Exit(0);  // The caller thread runs until the process ends.
}
