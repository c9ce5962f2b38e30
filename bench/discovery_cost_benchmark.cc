// What discovery costs, counted rather than timed: for N registered servers
// and K watching cluster views (the watcher inside every cluster channel),
// in both discovery modes side by side (one-shot watches, kWatches; one
// persistent recursive watch, kPersistentRecursive), per change of one server
// (a join or a leave, writing what a cluster server writes: servers/<hp>, a
// namespace member, a leader candidate):
//
//   requests_per_change  requests each view sent ZooKeeper (`cons` "recved");
//                        idle_requests_per_change: those of an idle window
//                        as long right after (pings), for comparison
//   bytes_per_change     bytes each view's connection carried, both ways
//                        (counted by the TCP proxy every view connects through)
//   client_cpu_us        this process's CPU per change per view (getrusage;
//                        the registrar's three writes are in it, and small)
//   zookeeper_cpu_ms     ZooKeeper's CPU per change, all K views together
//                        (/proc/<pid>/stat, 10 ms ticks: averaged over changes)
//   watches_per_view     watches ZooKeeper holds (`wchs`) / K
//   fresh_reads          requests one fresh view makes to its first snapshot
//                        (with the recursive watch, batches of up to 1,000
//                        node reads each)
//   restart_s, cut_s     seconds until every view shows a change made while
//                        ZooKeeper was restarting, or while the views'
//                        connections were cut (2 s); -1 if not within
//                        2 minutes (not recovered); cut_s -2 when not
//                        measured (after a restart not recovered from)
// (K views starting at once may take up to 10 minutes to load.)
//
// Servers are registered without serving (one registrar session writes all
// three nodes per server, so the trust rules count them). tools/bench.sh runs
// it; --max_servers and
// --max_views bound a quick run.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "discovery/registry_layout.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/cluster_view.h"
#include "testing/tcp_proxy.h"
#include "testing/zookeeper_cluster.h"

ABSL_FLAG(int, max_servers, 10000, "largest N to run (100, 1000, 10000)");
ABSL_FLAG(int, max_views, 100, "largest K to run (1, 10, 100)");
ABSL_FLAG(int, changes, 6, "changes measured per case (joins and leaves)");

namespace {

using slacker::discovery::CreateMode;
using slacker::discovery::Op;
using slacker::discovery::OpResult;
using slacker::discovery::RegistryLayout;
using slacker::discovery::ZooKeeperClient;
using slacker::internal::ClusterServer;
using slacker::internal::ClusterSnapshot;
using slacker::internal::ClusterView;
using slacker::internal::ClusterViewOptions;
using slacker::internal::DiscoveryMode;

constexpr char kCluster[] = "cost";
constexpr char kNamespace[] = "slacker.testing.EchoService";
constexpr absl::Duration kSessionTimeout = absl::Seconds(30);
constexpr absl::Duration kRecoveryLimit = absl::Minutes(2);
// K fresh views at once: at N = 10,000 and K = 100 with one-shot watches,
// 2 million reads.
constexpr absl::Duration kLoadLimit = absl::Minutes(10);

std::string Address(int i) {
  return absl::StrCat("10.0.", i / 250, ".", i % 250, ":50051");
}

std::string CandidatePrefix(int i) {
  return absl::StrFormat("_c_%08x-0000-4000-8000-%012x-latch-", i, i);
}

double ProcessCpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

// utime + stime of `pid`, in ms; -1 if unreadable.
double PidCpuMs(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/stat"));
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string stat = contents.str();
  const size_t end = stat.rfind(')');
  if (end == std::string::npos) return -1;
  std::vector<std::string> fields = absl::StrSplit(stat.substr(end + 2), ' ');
  // After the name: state is field 0, utime 11, stime 12.
  double utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtod(fields[11], &utime) ||
      !absl::SimpleAtod(fields[12], &stime)) {
    return -1;
  }
  return (utime + stime) * 1e3 / sysconf(_SC_CLK_TCK);
}

// One watching view and what it last showed.
class WatchingView {
 public:
  // `spare`: the server whose presence WaitFor checks.
  absl::Status Start(const std::string& zookeeper, DiscoveryMode mode,
                     std::string spare) {
    spare_ = std::move(spare);
    ClusterViewOptions options;
    options.zookeeper = zookeeper;
    options.cluster = kCluster;
    options.session_timeout = kSessionTimeout;
    options.mode = mode;
    auto view = ClusterView::Start(
        options, [this](const absl::StatusOr<ClusterSnapshot>& snapshot) {
          if (!snapshot.ok()) return;
          std::string leader;
          bool with_spare = false;
          for (const ClusterServer& server : snapshot->servers) {
            if (!server.leads.empty()) leader = server.address;
            if (server.address == spare_) with_spare = true;
          }
          std::lock_guard<std::mutex> lock(mu_);
          servers_ = snapshot->servers.size();
          with_spare_ = with_spare;
          leader_ = std::move(leader);
          changed_.notify_all();
        });
    if (!view.ok()) return view.status();
    view_ = *std::move(view);
    return absl::OkStatus();
  }

  // Whether it shows `servers` servers, `spare` among them or not, led by
  // `leader`, within `limit`.
  bool WaitFor(size_t servers, bool with_spare, const std::string& leader,
               absl::Time limit) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!(servers_ == servers && leader_ == leader &&
             with_spare_ == with_spare)) {
      if (absl::Now() >= limit) return false;
      changed_.wait_for(lock, std::chrono::milliseconds(50));
    }
    return true;
  }

 private:
  std::string spare_;  // Set before the view starts.
  std::unique_ptr<ClusterView> view_;
  std::mutex mu_;
  std::condition_variable changed_;
  size_t servers_ = 0;
  bool with_spare_ = false;
  std::string leader_;
};

// The ZooKeeper, the proxy and the registered servers, shared by every case
// (servers are only added: N grows from case to case).
class Registry {
 public:
  static Registry& Get() {
    static Registry* registry = new Registry();
    return *registry;
  }

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  slacker::testing::ZooKeeperCluster& zookeeper() { return *zookeeper_; }
  slacker::testing::TcpProxy& proxy() { return *proxy_; }
  ZooKeeperClient& registrar() { return *registrar_; }
  const RegistryLayout& layout() const { return layout_; }

  // Registers servers until `n` are, pipelining the writes.
  bool EnsureServers(int n) {
    std::mutex mu;
    std::condition_variable done;
    int in_flight = 0;
    bool failed = false;
    for (; registered_ < n; ++registered_) {
      std::unique_lock<std::mutex> lock(mu);
      done.wait(lock, [&] { return in_flight < 200; });
      ++in_flight;
      lock.unlock();
      registrar_->MultiAsync(JoinOps(registered_),
                             [&](absl::StatusOr<std::vector<OpResult>> result) {
                               std::lock_guard<std::mutex> lock(mu);
                               if (!result.ok()) failed = true;
                               --in_flight;
                               done.notify_all();
                             });
    }
    std::unique_lock<std::mutex> lock(mu);
    done.wait(lock, [&] { return in_flight == 0; });
    return !failed;
  }
  int registered() const { return registered_; }

  // The spare server (index registered()) joins or leaves.
  absl::Status JoinSpare() {
    auto result = registrar_->Multi(JoinOps(registered_));
    if (!result.ok()) return result.status();
    spare_candidate_ = (*result)[2].created_path;
    return absl::OkStatus();
  }
  absl::Status LeaveSpare() {
    if (spare_candidate_.empty()) return absl::OkStatus();
    auto result = registrar_->Multi(
        {Op::Delete(spare_candidate_),
         Op::Delete(layout_.MemberPath(kNamespace, Address(registered_))),
         Op::Delete(layout_.ServerPath(Address(registered_)))});
    if (result.ok()) spare_candidate_.clear();
    return result.status();
  }

  // Requests received so far from each session but the registrar's, by
  // session id (`cons`).
  std::map<std::string, int64_t> SessionRequests() {
    std::map<std::string, int64_t> sessions;
    auto cons = zookeeper_->FourLetterWord(0, "cons");
    if (!cons.ok()) return sessions;
    const std::string registrar =
        absl::StrCat("0x", absl::Hex(registrar_->session_id()));
    for (absl::string_view line : absl::StrSplit(*cons, '\n')) {
      const size_t sid_at = line.find("sid=");
      const size_t at = line.find("recved=");
      if (sid_at == absl::string_view::npos || at == absl::string_view::npos) {
        continue;
      }
      absl::string_view sid = line.substr(sid_at + 4);
      sid = sid.substr(0, sid.find_first_of(",)"));
      if (sid == registrar) continue;
      absl::string_view count = line.substr(at + 7);
      count = count.substr(0, count.find(','));
      int64_t requests = 0;
      if (absl::SimpleAtoi(count, &requests))
        sessions[std::string(sid)] = requests;
    }
    return sessions;
  }

  int64_t Watches() {
    auto wchs = zookeeper_->FourLetterWord(0, "wchs");
    if (!wchs.ok()) return -1;
    for (absl::string_view line : absl::StrSplit(*wchs, '\n')) {
      int64_t count = 0;
      if (absl::ConsumePrefix(&line, "Total watches:") &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &count)) {
        return count;
      }
    }
    return -1;
  }

 private:
  Registry() {
    slacker::testing::ZooKeeperClusterOptions options;
    options.tick_time = absl::Seconds(2);  // Sessions up to 40 s.
    auto zookeeper = slacker::testing::ZooKeeperCluster::Start(options);
    if (!zookeeper.ok()) {
      error_ = zookeeper.status().ToString();
      return;
    }
    zookeeper_ = *std::move(zookeeper);
    auto proxy = slacker::testing::TcpProxy::Start(zookeeper_->NodeAddress(0));
    if (!proxy.ok()) {
      error_ = proxy.status().ToString();
      return;
    }
    proxy_ = *std::move(proxy);
    slacker::discovery::ZooKeeperOptions client;
    client.connect_string = zookeeper_->ConnectString();
    client.session_timeout = kSessionTimeout;
    auto registrar = ZooKeeperClient::Connect(client);
    if (!registrar.ok()) {
      error_ = registrar.status().ToString();
      return;
    }
    registrar_ = *std::move(registrar);
    for (const std::string& parent :
         {layout_.ServersPath(), layout_.LeaderPath(kNamespace)}) {
      auto made = registrar_->Create(parent, "", CreateMode::kPersistent,
                                     /*create_parents=*/true);
      if (!made.ok()) error_ = made.status().ToString();
    }
  }

  std::vector<Op> JoinOps(int i) const {
    const std::string address = Address(i);
    return {Op::Create(
                layout_.ServerPath(address),
                absl::StrCat(R"({"address":")", address, R"(","namespaces":[")",
                             kNamespace, R"("],"version":"bench"})"),
                CreateMode::kEphemeral),
            Op::Create(layout_.MemberPath(kNamespace, address), "",
                       CreateMode::kEphemeral),
            Op::Create(absl::StrCat(layout_.LeaderPath(kNamespace), "/",
                                    CandidatePrefix(i)),
                       address, CreateMode::kEphemeralSequential)};
  }

  std::string error_;
  std::unique_ptr<slacker::testing::ZooKeeperCluster> zookeeper_;
  std::unique_ptr<slacker::testing::TcpProxy> proxy_;
  std::unique_ptr<ZooKeeperClient> registrar_;
  const RegistryLayout layout_{
      std::string(slacker::discovery::kDefaultRegistryRoot), kCluster};
  int registered_ = 0;
  std::string spare_candidate_;
};

// Waits until every view shows the registry as it is now: `servers`
// servers, the spare present or not, Address(0) leading. Seconds taken, or
// -1 past the limit.
// Requests the sessions of `after` sent since `before` (sessions new since
// then: all of theirs; sessions gone meanwhile do not count).
double RequestsSince(const std::map<std::string, int64_t>& before,
                     const std::map<std::string, int64_t>& after) {
  int64_t total = 0;
  for (const auto& [sid, requests] : after) {
    auto old = before.find(sid);
    total += requests - (old == before.end() ? 0 : old->second);
  }
  return static_cast<double>(total);
}

double AllShow(std::vector<std::unique_ptr<WatchingView>>& views,
               size_t servers, bool with_spare, absl::Duration limit) {
  const absl::Time start = absl::Now();
  for (auto& view : views) {
    if (!view->WaitFor(servers, with_spare, Address(0), start + limit)) {
      return -1;
    }
  }
  return absl::ToDoubleSeconds(absl::Now() - start);
}

void BM_DiscoveryCost(benchmark::State& state, DiscoveryMode mode) {
  const int n = static_cast<int>(state.range(0));
  const int k = static_cast<int>(state.range(1));
  Registry& registry = Registry::Get();
  if (!registry.ok()) {
    state.SkipWithError(registry.error().c_str());
    return;
  }
  // A case that failed half way may have left the spare registered.
  (void)registry.LeaveSpare();
  // The last case's views close their sessions in the background, and one
  // still re-syncing would be counted as this case's: wait for them to go.
  for (absl::Time limit = absl::Now() + absl::Minutes(2);
       !registry.SessionRequests().empty() && absl::Now() < limit;) {
    absl::SleepFor(absl::Milliseconds(500));
  }
  if (!registry.EnsureServers(n)) {
    state.SkipWithError("could not register the servers");
    return;
  }
  const std::string via = registry.proxy().address();
  const std::string spare = Address(registry.registered());
  for (auto _ : state) {
    std::vector<std::unique_ptr<WatchingView>> views;
    // The first view alone: what a fresh channel reads.
    const auto before_fresh = registry.SessionRequests();
    views.push_back(std::make_unique<WatchingView>());
    if (!views.back()->Start(via, mode, spare).ok() ||
        AllShow(views, n, false, kLoadLimit) < 0) {
      state.SkipWithError("the first view did not show the cluster");
      return;
    }
    absl::SleepFor(absl::Milliseconds(500));
    state.counters["fresh_reads"] =
        RequestsSince(before_fresh, registry.SessionRequests());
    for (int i = 1; i < k; ++i) {
      views.push_back(std::make_unique<WatchingView>());
      if (!views.back()->Start(via, mode, spare).ok()) {
        state.SkipWithError("a view did not start");
        return;
      }
    }
    if (AllShow(views, n, false, kLoadLimit) < 0) {
      state.SkipWithError("the views did not show the cluster");
      return;
    }
    absl::SleepFor(absl::Seconds(1));
    state.counters["watches_per_view"] =
        static_cast<double>(registry.Watches()) / k;

    // Changes: the spare joins and leaves, alternately.
    const int changes = absl::GetFlag(FLAGS_changes);
    const auto requests_before = registry.SessionRequests();
    const int64_t bytes_before = registry.proxy().bytes_from_clients() +
                                 registry.proxy().bytes_from_target();
    const double zookeeper_before = PidCpuMs(registry.zookeeper().Pid(0));
    const double client_before = ProcessCpuMs();
    const absl::Time changes_start = absl::Now();
    for (int c = 0; c < changes; ++c) {
      const bool join = c % 2 == 0;
      const absl::Status written =
          join ? registry.JoinSpare() : registry.LeaveSpare();
      if (!written.ok() ||
          AllShow(views, n + (join ? 1 : 0), join, kRecoveryLimit) < 0) {
        state.SkipWithError("a change did not reach every view");
        return;
      }
    }
    absl::SleepFor(absl::Milliseconds(300));  // Reads after the snapshot.
    const absl::Duration window = absl::Now() - changes_start;
    const auto requests_after = registry.SessionRequests();
    const double client_after = ProcessCpuMs();
    const double zookeeper_after = PidCpuMs(registry.zookeeper().Pid(0));
    const int64_t bytes_after = registry.proxy().bytes_from_clients() +
                                registry.proxy().bytes_from_target();
    const double per = static_cast<double>(changes) * k;
    // The sessions' pings (one per view after 10 s without a request) can
    // fall into the window: an idle window as long, right after, shows how
    // many they can be (an upper bound: during the changes the views' own
    // requests put pings off), reported beside the count, not taken out.
    absl::SleepFor(window);
    const double idle =
        RequestsSince(requests_after, registry.SessionRequests());
    state.counters["requests_per_change"] =
        RequestsSince(requests_before, requests_after) / per;
    state.counters["idle_requests_per_change"] = idle / per;
    state.counters["bytes_per_change"] = (bytes_after - bytes_before) / per;
    state.counters["client_cpu_us"] =
        (client_after - client_before) * 1e3 / per;
    state.counters["zookeeper_cpu_ms"] =
        (zookeeper_after - zookeeper_before) / changes;

    // A ZooKeeper restart with a change made as it comes back.
    const absl::Time restart = absl::Now();
    if (!registry.zookeeper().RestartNode(0).ok()) {
      state.SkipWithError("ZooKeeper did not restart");
      return;
    }
    absl::Status joined = registry.JoinSpare();
    for (int tries = 0; !joined.ok() && tries < 50; ++tries) {
      absl::SleepFor(absl::Milliseconds(200));
      joined = registry.JoinSpare();
    }
    double shown =
        joined.ok() ? AllShow(views, n + 1, true, kRecoveryLimit) : -1;
    state.counters["restart_s"] =
        shown < 0 ? -1 : absl::ToDoubleSeconds(absl::Now() - restart);

    // The views' connections cut for 2 s, the spare leaving meanwhile; not
    // measured after a restart they did not recover from (-2).
    if (state.counters["restart_s"] < 0) {
      state.counters["cut_s"] = -2;
      views.clear();
      continue;
    }
    registry.proxy().Cut();
    const absl::Status left = registry.LeaveSpare();
    absl::SleepFor(absl::Seconds(2));
    const absl::Time restored = absl::Now();
    registry.proxy().Restore();
    shown = left.ok() ? AllShow(views, n, false, kRecoveryLimit) : -1;
    state.counters["cut_s"] =
        shown < 0 ? -1 : absl::ToDoubleSeconds(absl::Now() - restored);

    views.clear();
    absl::SleepFor(absl::Seconds(1));  // Their sessions close.
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  const int max_servers = absl::GetFlag(FLAGS_max_servers);
  const int max_views = absl::GetFlag(FLAGS_max_views);
  for (int n : {100, 1000, 10000}) {
    if (n > max_servers) continue;
    for (int k : {1, 10, 100}) {
      if (k > max_views) continue;
      for (const auto& [name, mode] :
           {std::pair<const char*, DiscoveryMode>{"watches",
                                                  DiscoveryMode::kWatches},
            {"recursive", DiscoveryMode::kPersistentRecursive}}) {
        benchmark::RegisterBenchmark(
            absl::StrCat("BM_DiscoveryCost/", name).c_str(),
            [mode = mode](benchmark::State& state) {
              BM_DiscoveryCost(state, mode);
            })
            ->Args({n, k})
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
