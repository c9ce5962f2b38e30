// Prometheus metrics of cluster channels and cluster servers, opt-in.
//
//   auto metrics = std::make_shared<slacker::Metrics>();
//   if (absl::Status s = metrics->Expose(9464); !s.ok()) return s;  // /metrics
//   slacker::ClusterChannelOptions channel_options;
//   channel_options.metrics = metrics;        // client side
//   slacker::ClusterOptions server_options;
//   server_options.metrics = metrics;         // server side
//
// or, for a process that already serves its own prometheus::Registry:
//
//   auto metrics = std::make_shared<slacker::Metrics>(my_registry);
//
// Off (ClusterChannelOptions::metrics / ClusterOptions::metrics left null,
// the default) nothing is counted and no call pays for it: no interceptor,
// call tracker hook or listener is installed. On, every series carries a
// `cluster` label, so one Metrics may serve several channels and servers;
// the names, types and labels are listed in README.md ("Metrics").
//
// Client side (cluster channel): calls by namespace, method, server and
// status code and in flight per server (counted per attempt where the LB
// policy hands a call to a server: a retried call counts once per server
// it reached); latency by namespace and method as the stub sees it; servers
// known / ready / set aside per namespace; servers joining and leaving;
// discovery updates and the ZooKeeper-event-to-picker latency; the
// channel's ZooKeeper session state and expiries; fan-out calls and each
// server's outcome in them.
// Server side (cluster server): calls by namespace, method and code, latency
// and in flight; published namespaces; leadership per namespace; ZooKeeper
// session state, expiries and re-registrations; the shutdown phase.
//
// Thread-safety: thread-safe. Lifetime: channels and servers given a Metrics
// share its ownership; the registry lives as long as the last of them.

#ifndef SLACKER_FRAMEWORK_METRICS_H_
#define SLACKER_FRAMEWORK_METRICS_H_

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace slacker {

class Metrics;
namespace internal {
struct MetricFamilies;
// The families every channel and server of `metrics` records into.
MetricFamilies& FamiliesOf(Metrics& metrics);
}  // namespace internal

class Metrics {
 public:
  // With a registry of its own.
  Metrics();
  // Records into `registry` (not null), which the caller may also fill and
  // serve. Slacker's families are registered in it now; a family of the same
  // name already there with another type or help text makes prometheus-cpp
  // throw std::invalid_argument here (the only throw of this class).
  explicit Metrics(std::shared_ptr<prometheus::Registry> registry);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // The registry the metrics are in.
  const std::shared_ptr<prometheus::Registry>& registry() const {
    return registry_;
  }

  // Serves the registry over HTTP at /metrics (Prometheus text format) on
  // `port` of `host` (0: a free port; see port()). InvalidArgument for a port
  // out of range; Unavailable, naming the address, when it cannot be bound
  // (in use: pick another port); FailedPrecondition if already exposed.
  // The endpoint stops with this object.
  absl::Status Expose(int port, const std::string& host = "0.0.0.0");
  // The bound port once exposed, else 0.
  int port() const;

 private:
  friend internal::MetricFamilies& internal::FamiliesOf(Metrics& metrics);

  const std::shared_ptr<prometheus::Registry> registry_;
  const std::unique_ptr<internal::MetricFamilies> families_;
  mutable std::mutex mu_;
  std::unique_ptr<prometheus::Exposer> exposer_;  // ABSL_GUARDED_BY(mu_)
  int port_ = 0;                                  // ABSL_GUARDED_BY(mu_)
};

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_METRICS_H_
