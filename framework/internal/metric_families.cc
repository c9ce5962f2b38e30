#include "framework/internal/metric_families.h"

#include <string>

namespace slacker::internal {
namespace {

template <typename T>
prometheus::Family<T>& Make(prometheus::Registry& registry, const char* name,
                            const char* help) {
  return prometheus::detail::Builder<T>().Name(name).Help(help).Register(
      registry);
}

}  // namespace

MetricFamilies::MetricFamilies(prometheus::Registry& r)
    : client_calls(Make<prometheus::Counter>(
          r, "slacker_client_calls_total",
          "Call attempts the cluster channel sent to a server, by namespace, "
          "method, server and gRPC status code")),
      client_in_flight(
          Make<prometheus::Gauge>(r, "slacker_client_calls_in_flight",
                                  "Call attempts in flight per server")),
      client_latency(Make<prometheus::Histogram>(
          r, "slacker_client_call_duration_seconds",
          "Call latency as the stub sees it (retries and fan-out included), "
          "by namespace and method")),
      client_servers(Make<prometheus::Gauge>(
          r, "slacker_client_servers",
          "Servers per namespace by state: known (publishing in ZooKeeper), "
          "ready (connected and healthy), set_aside (ready but set aside)")),
      client_server_changes(Make<prometheus::Counter>(
          r, "slacker_client_server_changes_total",
          "Servers that joined or left the cluster (change=joined|left)")),
      client_set_asides(Make<prometheus::Counter>(
          r, "slacker_client_set_asides_total",
          "Times a server was set aside after consecutive failures")),
      client_discovery_updates(Make<prometheus::Counter>(
          r, "slacker_client_discovery_updates_total",
          "Cluster changes from ZooKeeper applied to the channel's picker")),
      client_discovery_latency(Make<prometheus::Histogram>(
          r, "slacker_client_discovery_propagation_seconds",
          "From a ZooKeeper event reaching the process to the picker "
          "reflecting it")),
      client_zookeeper_connected(Make<prometheus::Gauge>(
          r, "slacker_client_zookeeper_connected",
          "1 while the channel's ZooKeeper session is connected, else 0")),
      client_zookeeper_expiries(Make<prometheus::Counter>(
          r, "slacker_client_zookeeper_session_expiries_total",
          "ZooKeeper sessions of the channel that expired")),
      client_fan_out_calls(Make<prometheus::Counter>(
          r, "slacker_client_fan_out_calls_total",
          "Calls sent to several servers (grouping all or a function)")),
      client_fan_out_outcomes(Make<prometheus::Counter>(
          r, "slacker_client_fan_out_server_outcomes_total",
          "Each server's outcome in fan-out calls, by server and code")),
      server_calls(Make<prometheus::Counter>(
          r, "slacker_server_calls_total",
          "Calls the cluster server answered, by namespace, method and gRPC "
          "status code")),
      server_latency(Make<prometheus::Histogram>(
          r, "slacker_server_call_duration_seconds",
          "Time from a call's arrival to its status being sent")),
      server_in_flight(Make<prometheus::Gauge>(
          r, "slacker_server_calls_in_flight", "Calls being served")),
      server_published(Make<prometheus::Gauge>(
          r, "slacker_server_namespace_published",
          "1 while the namespace is published in ZooKeeper, else 0")),
      server_leader(Make<prometheus::Gauge>(
          r, "slacker_server_namespace_leader",
          "1 while this server leads the namespace's election, else 0")),
      server_zookeeper_connected(Make<prometheus::Gauge>(
          r, "slacker_server_zookeeper_connected",
          "1 while the server's ZooKeeper session is connected, else 0")),
      server_zookeeper_expiries(Make<prometheus::Counter>(
          r, "slacker_server_zookeeper_session_expiries_total",
          "ZooKeeper sessions of the server that expired")),
      server_reregistrations(Make<prometheus::Counter>(
          r, "slacker_server_reregistrations_total",
          "New ZooKeeper sessions after an expiry, in which the server "
          "registered again")),
      server_phase(Make<prometheus::Gauge>(
          r, "slacker_server_phase",
          "1 for the server's current phase: starting, serving, draining "
          "(unpublished, waiting for clients to see it), stopping (calls in "
          "flight finishing), stopped")) {}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
  return *buckets;
}

MethodName SplitMethodPath(absl::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const size_t slash = path.find('/');
  if (slash == absl::string_view::npos) return {"", std::string(path)};
  return {std::string(path.substr(0, slash)),
          std::string(path.substr(slash + 1))};
}

}  // namespace slacker::internal
