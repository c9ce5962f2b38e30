// What a cluster channel records into slacker::Metrics (framework/metrics.h),
// in plain C++: the LB policy, the resolver and the interceptors call these,
// and none of them sees a Prometheus family. One ClientMetrics per channel;
// channels of one cluster share the series (counters add up; the gauges of
// servers per namespace and of the ZooKeeper session show the latest
// channel's view).
//
// Thread-safe. A ClientMetrics keeps its Metrics alive; ServerCallMetrics and
// MethodMetrics keep their ClientMetrics alive.

#ifndef SLACKER_FRAMEWORK_INTERNAL_CLIENT_METRICS_H_
#define SLACKER_FRAMEWORK_INTERNAL_CLIENT_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "framework/internal/metric_families.h"

namespace slacker {
class Metrics;
}  // namespace slacker

namespace slacker::internal {

// gRPC's status codes are 0..16.
inline constexpr int kStatusCodes = 17;

// A family's counters for one label set plus `code`, made on first use.
class CountersByCode {
 public:
  CountersByCode(prometheus::Family<prometheus::Counter>* family,
                 std::map<std::string, std::string> labels)
      : family_(family), labels_(std::move(labels)) {}
  // Adds one to the counter of `code` (a code outside 0..16 counts as 2,
  // UNKNOWN).
  void Increment(int code);

 private:
  prometheus::Family<prometheus::Counter>* const family_;
  const std::map<std::string, std::string> labels_;
  std::array<std::atomic<prometheus::Counter*>, kStatusCodes> counters_{};
};

class ClientMetrics;

// The calls of one channel to one server.
class ServerCallMetrics {
 public:
  ServerCallMetrics(std::shared_ptr<ClientMetrics> owner, std::string server);

  // The counters of calls to this server for one method path
  // ("/pkg.Service/Method"). The pointer stays valid as long as this object.
  CountersByCode* ForPath(absl::string_view path);
  void Started() { in_flight_->Increment(); }
  void Finished(CountersByCode* counters, int code) {
    in_flight_->Decrement();
    counters->Increment(code);
  }
  // The server was just set aside.
  void SetAside() { set_asides_->Increment(); }

 private:
  const std::shared_ptr<ClientMetrics> owner_;
  const std::string server_;
  prometheus::Gauge* const in_flight_;
  prometheus::Counter* const set_asides_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<CountersByCode>, std::less<>>
      by_path_;  // ABSL_GUARDED_BY(mu_)
};

// The calls of one channel to one method, as the stub sees them. Owned by
// its ClientMetrics (ForMethod), which outlives it: it holds a plain pointer
// back, since a shared one would be a cycle that is never freed.
class MethodMetrics {
 public:
  MethodMetrics(ClientMetrics* owner, absl::string_view path);
  void CallFinished(absl::Duration latency) {
    latency_->Observe(absl::ToDoubleSeconds(latency));
  }
  // A call that went to several servers; then each server's outcome.
  void FanOut() { fan_out_->Increment(); }
  void FanOutOutcome(const std::string& server, int code);

 private:
  ClientMetrics* const owner_;
  const MethodName name_;
  prometheus::Histogram* const latency_;
  prometheus::Counter* const fan_out_;
};

class ClientMetrics : public std::enable_shared_from_this<ClientMetrics> {
 public:
  // REQUIRES: metrics is not null.
  static std::shared_ptr<ClientMetrics> Create(std::shared_ptr<Metrics> metrics,
                                               std::string cluster);

  const std::string& cluster() const { return cluster_; }
  MetricFamilies& families() { return families_; }

  std::shared_ptr<ServerCallMetrics> ForServer(const std::string& server);
  // The same object for every call of the path (made on first use).
  MethodMetrics* ForMethod(absl::string_view path);

  // Servers per namespace now; namespaces missing from `counts` that had
  // servers before are set to zero.
  struct ServerCounts {
    int known = 0;
    int ready = 0;
    int set_aside = 0;
  };
  void SetServerCounts(const std::map<std::string, ServerCounts>& counts);
  void ServersChanged(int joined, int left);
  void DiscoveryUpdate(absl::Duration latency);
  void ZooKeeperConnected(bool connected);
  void ZooKeeperSessionExpired();

 private:
  ClientMetrics(std::shared_ptr<Metrics> metrics, std::string cluster);

  const std::shared_ptr<Metrics> metrics_;
  MetricFamilies& families_;
  const std::string cluster_;
  prometheus::Counter* const joined_;
  prometheus::Counter* const left_;
  prometheus::Counter* const updates_;
  prometheus::Histogram* const propagation_;
  prometheus::Gauge* const connected_;
  prometheus::Counter* const expiries_;
  std::mutex mu_;
  std::set<std::string> namespaces_;  // ABSL_GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<MethodMetrics>, std::less<>>
      methods_;  // ABSL_GUARDED_BY(mu_)
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_CLIENT_METRICS_H_
