// The cost of one pick, for every built-in grouping, over 1, 10, 100 and
// 1,000 ready servers (no network: the picker alone, as the channel's LB
// policy calls it on every call). Single-threaded and with 4 threads.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"

namespace {

std::vector<slacker::Candidate> Candidates(int n) {
  std::vector<slacker::Candidate> candidates;
  for (int i = 0; i < n; ++i) {
    slacker::Candidate candidate;
    candidate.address = absl::StrCat("10.0.", i / 250, ".", i % 250, ":8080");
    candidate.weight = 1 + i % 5;
    candidate.leader = i == n / 2;
    candidate.load = std::make_shared<slacker::ServerLoad>();
    candidates.push_back(std::move(candidate));
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a.address < b.address; });
  return candidates;
}

void BM_Pick(benchmark::State& state, const std::string& name) {
  const int n = static_cast<int>(state.range(0));
  std::vector<slacker::Candidate> candidates = Candidates(n);
  const std::string spec = name == "server" ? candidates.back().address : name;
  absl::StatusOr<slacker::GroupingSpec> grouping =
      slacker::ParseGroupingSpec(spec);
  if (!grouping.ok()) {
    state.SkipWithError(std::string(grouping.status().message()).c_str());
    return;
  }
  std::unique_ptr<slacker::GroupingPicker> picker =
      grouping->grouping->Prepare(candidates, nullptr);
  slacker::CallInfo call;
  call.cluster = "bench";
  call.name_space = "bench.Service";
  call.method = "Method";
  call.server = grouping->argument;
  int64_t key = 0;
  std::string hash_key;
  for (auto _ : state) {
    if (name == "hash") {
      hash_key = absl::StrCat("key-", key++);
      call.hash_key = hash_key;
    }
    benchmark::DoNotOptimize(picker->Pick(call));
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (const char* name : {"random", "round_robin", "first", "sticky", "leader",
                           "least_in_flight", "weighted", "hash", "server"}) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_Pick/", name).c_str(),
                                 BM_Pick, std::string(name))
        ->RangeMultiplier(10)
        ->Range(1, 1000)
        ->ThreadRange(1, 4);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
