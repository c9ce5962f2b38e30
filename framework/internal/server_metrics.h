// What a cluster server records into slacker::Metrics (framework/metrics.h),
// in plain C++: the server's interceptor, its registration and the server
// itself call these. Every series has a `cluster` label (no server label:
// Prometheus adds the scraped instance; two servers of one cluster sharing
// one Metrics in one process add up).
//
// Thread-safe. Keeps its Metrics alive.

#ifndef SLACKER_FRAMEWORK_INTERNAL_SERVER_METRICS_H_
#define SLACKER_FRAMEWORK_INTERNAL_SERVER_METRICS_H_

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/client_metrics.h"
#include "framework/internal/metric_families.h"

namespace slacker {
class Metrics;
}  // namespace slacker

namespace slacker::internal {

// The phases of a cluster server's life, in order (ClusterServer::Shutdown
// goes serving -> draining -> stopping -> stopped).
enum class ServerPhase { kStarting, kServing, kDraining, kStopping, kStopped };
absl::string_view ServerPhaseName(ServerPhase phase);

class ServerMetrics {
 public:
  // The series of one method path ("/pkg.Service/Method").
  struct MethodSeries {
    MethodSeries(MetricFamilies& families, const std::string& cluster,
                 const MethodName& name);
    CountersByCode calls;
    prometheus::Histogram* latency;
    prometheus::Gauge* in_flight;  // Per namespace: shared by its methods.
  };

  // REQUIRES: metrics is not null. Sets the phase to starting.
  ServerMetrics(std::shared_ptr<Metrics> metrics, std::string cluster);

  // Valid as long as this object.
  MethodSeries* ForPath(absl::string_view path);

  void SetPublished(const std::string& ns, bool published);
  void SetLeader(const std::string& ns, bool leader);
  // A change of the server's ZooKeeper connection: connected or not,
  // kExpired counts an expiry and kNewSession a re-registration (the
  // recipes restore the server's nodes in the new session).
  void ZooKeeperState(discovery::ConnectionState state);
  void SetPhase(ServerPhase phase);

 private:
  const std::shared_ptr<Metrics> metrics_;
  MetricFamilies& families_;
  const std::string cluster_;
  prometheus::Gauge* const connected_;
  prometheus::Counter* const expiries_;
  prometheus::Counter* const reregistrations_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<MethodSeries>, std::less<>>
      methods_;  // ABSL_GUARDED_BY(mu_)
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_SERVER_METRICS_H_
