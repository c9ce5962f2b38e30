// Every Prometheus family Slacker records into, registered once per
// slacker::Metrics (framework/metrics.h). The names here are the only
// spelling of them; README.md ("Metrics") lists them with their labels.
// Thread-safe (prometheus-cpp's families are).

#ifndef SLACKER_FRAMEWORK_INTERNAL_METRIC_FAMILIES_H_
#define SLACKER_FRAMEWORK_INTERNAL_METRIC_FAMILIES_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

#include "absl/strings/string_view.h"

namespace slacker::internal {

struct MetricFamilies {
  explicit MetricFamilies(prometheus::Registry& registry);

  // Client (cluster channel); every series has a `cluster` label.
  prometheus::Family<prometheus::Counter>&
      client_calls;  // ns, method, server, code
  prometheus::Family<prometheus::Gauge>& client_in_flight;         // server
  prometheus::Family<prometheus::Histogram>& client_latency;       // ns, method
  prometheus::Family<prometheus::Gauge>& client_servers;           // ns, state
  prometheus::Family<prometheus::Counter>& client_server_changes;  // change
  prometheus::Family<prometheus::Counter>& client_set_asides;      // server
  prometheus::Family<prometheus::Counter>& client_discovery_updates;
  prometheus::Family<prometheus::Histogram>& client_discovery_latency;
  prometheus::Family<prometheus::Gauge>& client_zookeeper_connected;
  prometheus::Family<prometheus::Counter>& client_zookeeper_expiries;
  prometheus::Family<prometheus::Counter>& client_fan_out_calls;  // ns, method
  // ns, method, server, code
  prometheus::Family<prometheus::Counter>& client_fan_out_outcomes;

  // Server (cluster server); every series has `cluster` and `server`.
  prometheus::Family<prometheus::Counter>& server_calls;  // ns, method, code
  prometheus::Family<prometheus::Histogram>& server_latency;  // ns, method
  prometheus::Family<prometheus::Gauge>& server_in_flight;    // ns
  prometheus::Family<prometheus::Gauge>& server_published;    // ns
  prometheus::Family<prometheus::Gauge>& server_leader;       // ns
  prometheus::Family<prometheus::Gauge>& server_zookeeper_connected;
  prometheus::Family<prometheus::Counter>& server_zookeeper_expiries;
  prometheus::Family<prometheus::Counter>& server_reregistrations;
  prometheus::Family<prometheus::Gauge>& server_phase;  // phase
};

// Call latency buckets, in seconds: 100 us to 10 s.
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

// "/pkg.Service/Method" -> {"pkg.Service", "Method"}; a path of another
// shape is {"", path}.
struct MethodName {
  std::string ns;
  std::string method;
};
MethodName SplitMethodPath(absl::string_view path);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_METRIC_FAMILIES_H_
