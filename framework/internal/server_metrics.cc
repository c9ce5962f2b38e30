#include "framework/internal/server_metrics.h"

#include <utility>

#include "framework/metrics.h"

namespace slacker::internal {

absl::string_view ServerPhaseName(ServerPhase phase) {
  switch (phase) {
    case ServerPhase::kStarting:
      return "starting";
    case ServerPhase::kServing:
      return "serving";
    case ServerPhase::kDraining:
      return "draining";
    case ServerPhase::kStopping:
      return "stopping";
    case ServerPhase::kStopped:
      return "stopped";
  }
  return "unknown";
}

ServerMetrics::MethodSeries::MethodSeries(MetricFamilies& families,
                                          const std::string& cluster,
                                          const MethodName& name)
    : calls(&families.server_calls, {{"cluster", cluster},
                                     {"namespace", name.ns},
                                     {"method", name.method}}),
      latency(&families.server_latency.Add({{"cluster", cluster},
                                            {"namespace", name.ns},
                                            {"method", name.method}},
                                           LatencyBuckets())),
      in_flight(&families.server_in_flight.Add(
          {{"cluster", cluster}, {"namespace", name.ns}})) {}

ServerMetrics::ServerMetrics(std::shared_ptr<Metrics> metrics,
                             std::string cluster)
    : metrics_(std::move(metrics)),
      families_(FamiliesOf(*metrics_)),
      cluster_(std::move(cluster)),
      connected_(
          &families_.server_zookeeper_connected.Add({{"cluster", cluster_}})),
      expiries_(
          &families_.server_zookeeper_expiries.Add({{"cluster", cluster_}})),
      reregistrations_(
          &families_.server_reregistrations.Add({{"cluster", cluster_}})) {
  SetPhase(ServerPhase::kStarting);
}

ServerMetrics::MethodSeries* ServerMetrics::ForPath(absl::string_view path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = methods_.find(path);
  if (it != methods_.end()) return it->second.get();
  auto series = std::make_unique<MethodSeries>(families_, cluster_,
                                               SplitMethodPath(path));
  MethodSeries* result = series.get();
  methods_.emplace(std::string(path), std::move(series));
  return result;
}

void ServerMetrics::SetPublished(const std::string& ns, bool published) {
  families_.server_published.Add({{"cluster", cluster_}, {"namespace", ns}})
      .Set(published ? 1 : 0);
}

void ServerMetrics::SetLeader(const std::string& ns, bool leader) {
  families_.server_leader.Add({{"cluster", cluster_}, {"namespace", ns}})
      .Set(leader ? 1 : 0);
}

void ServerMetrics::ZooKeeperState(discovery::ConnectionState state) {
  using discovery::ConnectionState;
  connected_->Set(state == ConnectionState::kConnected ||
                          state == ConnectionState::kReconnected ||
                          state == ConnectionState::kNewSession
                      ? 1
                      : 0);
  if (state == ConnectionState::kExpired) expiries_->Increment();
  if (state == ConnectionState::kNewSession) reregistrations_->Increment();
}

void ServerMetrics::SetPhase(ServerPhase phase) {
  for (ServerPhase each :
       {ServerPhase::kStarting, ServerPhase::kServing, ServerPhase::kDraining,
        ServerPhase::kStopping, ServerPhase::kStopped}) {
    families_.server_phase
        .Add({{"cluster", cluster_},
              {"phase", std::string(ServerPhaseName(each))}})
        .Set(each == phase ? 1 : 0);
  }
}

}  // namespace slacker::internal
