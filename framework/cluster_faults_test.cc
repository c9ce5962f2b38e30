// A cluster channel's defaults under server faults, on the example-like
// cluster: three servers in child processes (testing/programs:cluster_server)
// and a steady stream of calls from a few caller threads, each call with a
// 1 s deadline. The tests count calls; they assert bounds on counts, never on
// times.
//
// - A hung server (SIGSTOP: process alive, sockets open), with the servers'
//   default 10 s ZooKeeper session and with a 4 s one: keepalive and
//   set-aside must drop it long before its session expires, so that the
//   failed calls are at most the calls in flight at the stop plus one
//   deadline's worth of new calls per caller.
// - A crashed server (kill -9), with the default retry policy: no call fails;
//   and the same without a retry policy, for comparison.

#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "framework/cluster_channel.h"
#include "gtest/gtest.h"
#include "protos/slacker/testing/echo.grpc.pb.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of testing/programs/cluster_server");

namespace slacker {
namespace {

using ::slacker::testing::Child;
using ::slacker::testing::EchoService;
using ::slacker::testing::Ping;

// Its own cluster name: gRPC's retry throttling is kept per cluster name for
// the whole process.
constexpr char kCluster[] = "faults";
constexpr int kCallers = 4;
constexpr absl::Duration kDeadline = absl::Seconds(1);

// What the caller threads saw.
struct Tally {
  std::atomic<int> ok{0};
  std::atomic<int> in_flight{0};
  std::mutex mu;
  std::vector<grpc::Status> failures;  // Guarded by mu.
  // Calls started since `since` (Unix ns; 0 = not counting yet) and before
  // `since` + kDeadline, and each caller's first call since `since`.
  std::atomic<int64_t> since_ns{0};
  std::atomic<int> started_within_a_deadline{0};
};

class ClusterFaultsTest : public slacker::testing::ZooKeeperTest {
 protected:
  // A 500 ms tick lets sessions of up to 10 s (20 ticks), the servers'
  // default.
  slacker::testing::ZooKeeperClusterOptions ClusterOptions() const override {
    slacker::testing::ZooKeeperClusterOptions options;
    options.tick_time = absl::Milliseconds(500);
    return options;
  }

  void TearDown() override {
    // A stopped server cannot die of SIGTERM: let it run again first.
    for (auto& [address, child] : servers_) kill(child->pid(), SIGCONT);
    servers_.clear();
    ZooKeeperTest::TearDown();
  }

  std::string StartServer(absl::Duration session_timeout, int delay_ms = 0) {
    auto child = std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server_program), "--zookeeper=" + ConnectString(),
        absl::StrCat("--cluster=", kCluster),
        absl::StrCat("--session_timeout_ms=",
                     absl::ToInt64Milliseconds(session_timeout)),
        "--drain_ms=200", absl::StrCat("--delay_ms=", delay_ms)});
    std::optional<std::string> address = child->WaitForLine("published ");
    EXPECT_TRUE(address.has_value()) << "server did not start";
    if (!address.has_value()) return "";
    servers_[*address] = std::move(child);
    return *address;
  }

  std::unique_ptr<EchoService::Stub> Stub(ClusterChannelOptions options) {
    auto channel = CreateClusterChannel(ConnectString(), kCluster, options);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? EchoService::NewStub(*channel) : nullptr;
  }

  // Until `stop`: each caller makes one call after the other.
  std::vector<std::thread> StartCallers(EchoService::Stub& stub,
                                        const std::atomic<bool>& stop,
                                        Tally& tally) {
    std::vector<std::thread> callers;
    for (int t = 0; t < kCallers; ++t) {
      callers.emplace_back([&] {
        bool started_since = false;  // This caller started a call since.
        while (!stop.load()) {
          // Counted in flight before `since` is read (HangOneServer stores
          // `since` before it reads in_flight): a call starting at the stop
          // is counted in one or both, never in neither.
          tally.in_flight.fetch_add(1);
          const int64_t since = tally.since_ns.load();
          const int64_t now = absl::GetCurrentTimeNanos();
          // A caller's first call since counts even when it starts later
          // than a deadline after `since`: it follows the call this caller
          // had in flight at the stop, whose end (its deadline) a loaded
          // machine reports late, and the server is set aside only once
          // such failures are seen. Without it the bound counts no new call
          // of a caller stuck past the window, one deadline's worth of new
          // calls per caller being at least that first one.
          if (since > 0 && (now < since + absl::ToInt64Nanoseconds(kDeadline) ||
                            !started_since)) {
            tally.started_within_a_deadline.fetch_add(1);
          }
          if (since > 0) started_since = true;
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + kDeadline));
          Ping request;
          request.set_text("whoami");
          Ping response;
          grpc::Status status = stub.Echo(&context, request, &response);
          tally.in_flight.fetch_sub(1);
          if (status.ok()) {
            tally.ok.fetch_add(1);
          } else {
            std::lock_guard<std::mutex> lock(tally.mu);
            tally.failures.push_back(status);
          }
        }
      });
    }
    return callers;
  }

  // SIGSTOP one of three servers under the call stream; SIGCONT after its
  // session has expired. Returns {failed, bound}.
  std::pair<int, int> HangOneServer(absl::Duration session_timeout,
                                    const ClusterChannelOptions& options) {
    StartServer(session_timeout);
    StartServer(session_timeout);
    const std::string hung = StartServer(session_timeout);
    auto stub = Stub(options);
    if (stub == nullptr) return {0, 0};
    std::atomic<bool> stop{false};
    Tally tally;
    std::vector<std::thread> callers = StartCallers(*stub, stop, tally);
    EXPECT_TRUE(Eventually([&] { return tally.ok.load() > 300; }));
    {
      std::lock_guard<std::mutex> lock(tally.mu);
      tally.failures.clear();
    }
    // At most kCallers; counted just before the stop, so it may count a call
    // that finishes before it (a looser bound, never a tighter one) but
    // misses none that was running at the stop. Read after `since` is set,
    // so that a caller starting a call now is seen here or sees `since`.
    tally.since_ns.store(absl::GetCurrentTimeNanos());
    const int in_flight = tally.in_flight.load();
    kill(servers_[hung]->pid(), SIGSTOP);
    const int ok_at_stop = tally.ok.load();
    // Past the session's expiry, when ZooKeeper drops the server anyway.
    absl::SleepFor(session_timeout + absl::Seconds(2));
    kill(servers_[hung]->pid(), SIGCONT);
    stop = true;
    for (std::thread& caller : callers) caller.join();
    std::lock_guard<std::mutex> lock(tally.mu);
    const int failed = static_cast<int>(tally.failures.size());
    const int bound = in_flight + tally.started_within_a_deadline.load();
    std::cout << "measured: SIGSTOP with a "
              << absl::FormatDuration(session_timeout) << " session: " << failed
              << " failed of " << failed + tally.ok.load() - ok_at_stop
              << " calls after the stop (" << in_flight
              << " in flight at the stop, "
              << tally.started_within_a_deadline.load()
              << " started in the deadline after it: bound " << bound << ")"
              << std::endl;
    for (const grpc::Status& failure : tally.failures) {
      EXPECT_TRUE(failure.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
                  failure.error_code() == grpc::StatusCode::UNAVAILABLE)
          << failure.error_code() << " " << failure.error_message();
    }
    return {failed, bound};
  }

  // kill -9 of one of three servers whose calls take 50 ms, under the call
  // stream. Returns the failed calls.
  int KillOneServer(const ClusterChannelOptions& options) {
    StartServer(absl::Seconds(4), 50);
    StartServer(absl::Seconds(4), 50);
    const std::string victim = StartServer(absl::Seconds(4), 50);
    auto stub = Stub(options);
    if (stub == nullptr) return -1;
    std::atomic<bool> stop{false};
    Tally tally;
    std::vector<std::thread> callers = StartCallers(*stub, stop, tally);
    EXPECT_TRUE(Eventually([&] { return tally.ok.load() > 100; }));
    {
      std::lock_guard<std::mutex> lock(tally.mu);
      tally.failures.clear();
    }
    servers_[victim]->Kill(SIGKILL);
    const int before = tally.ok.load();
    EXPECT_TRUE(Eventually([&] { return tally.ok.load() > before + 200; }));
    stop = true;
    for (std::thread& caller : callers) caller.join();
    std::lock_guard<std::mutex> lock(tally.mu);
    for (const grpc::Status& failure : tally.failures) {
      EXPECT_EQ(failure.error_code(), grpc::StatusCode::UNAVAILABLE)
          << failure.error_message();
    }
    std::cout << "measured: kill -9 "
              << (options.service_config_json.empty()
                      ? "with the default retry"
                      : "without a retry policy")
              << ": " << tally.failures.size() << " failed of "
              << tally.ok.load() - before + tally.failures.size()
              << " calls after the kill" << std::endl;
    return static_cast<int>(tally.failures.size());
  }

  std::map<std::string, std::unique_ptr<Child>> servers_;
};

TEST_F(ClusterFaultsTest, HungServerWithTheDefaultSessionTimeout) {
  const auto [failed, bound] =
      HangOneServer(absl::Seconds(10), ClusterChannelOptions());
  EXPECT_LE(failed, bound);
}

TEST_F(ClusterFaultsTest, HungServerWithAFourSecondSession) {
  const auto [failed, bound] =
      HangOneServer(absl::Seconds(4), ClusterChannelOptions());
  EXPECT_LE(failed, bound);
}

// The figure before hung-server detection, for comparison: no keepalive, no
// retries, no set-aside. Only measured (its failures depend on the session).
TEST_F(ClusterFaultsTest, HungServerWithoutDetectionIsOnlyMeasured) {
  ClusterChannelOptions options;
  options.keepalive_time = absl::ZeroDuration();
  options.service_config_json = "{}";
  options.set_aside_after = 0;
  HangOneServer(absl::Seconds(10), options);
}

// What the default retry guarantees: a call fails only after three attempts
// failed UNAVAILABLE; with two servers left, a retried call reaches one.
TEST_F(ClusterFaultsTest, KilledServerWithTheDefaultRetryFailsNoCall) {
  EXPECT_EQ(KillOneServer(ClusterChannelOptions()), 0);
}

// Without a retry policy the calls in flight on the killed server fail (and
// perhaps a caller's next one, picked before the channel saw the break).
TEST_F(ClusterFaultsTest, KilledServerWithoutRetriesFailsItsCallsInFlight) {
  ClusterChannelOptions options;
  options.service_config_json = "{}";
  EXPECT_LE(KillOneServer(options), 2 * kCallers);
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
