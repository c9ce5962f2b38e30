#include "framework/internal/client_metrics.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "framework/metrics.h"

namespace slacker::internal {

void CountersByCode::Increment(int code) {
  if (code < 0 || code >= kStatusCodes) code = 2;  // UNKNOWN
  prometheus::Counter* counter =
      counters_[code].load(std::memory_order_acquire);
  if (counter == nullptr) {
    // Family::Add returns the same counter for the same labels, so two
    // threads racing here store the same pointer.
    std::map<std::string, std::string> labels = labels_;
    labels["code"] = std::to_string(code);
    counter = &family_->Add(labels);
    counters_[code].store(counter, std::memory_order_release);
  }
  counter->Increment();
}

ServerCallMetrics::ServerCallMetrics(std::shared_ptr<ClientMetrics> owner,
                                     std::string server)
    : owner_(std::move(owner)),
      server_(std::move(server)),
      in_flight_(&owner_->families().client_in_flight.Add(
          {{"cluster", owner_->cluster()}, {"server", server_}})),
      set_asides_(&owner_->families().client_set_asides.Add(
          {{"cluster", owner_->cluster()}, {"server", server_}})) {}

CountersByCode* ServerCallMetrics::ForPath(absl::string_view path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_path_.find(path);
  if (it != by_path_.end()) return it->second.get();
  const MethodName name = SplitMethodPath(path);
  auto counters = std::make_unique<CountersByCode>(
      &owner_->families().client_calls,
      std::map<std::string, std::string>{{"cluster", owner_->cluster()},
                                         {"namespace", name.ns},
                                         {"method", name.method},
                                         {"server", server_}});
  CountersByCode* result = counters.get();
  by_path_.emplace(std::string(path), std::move(counters));
  return result;
}

MethodMetrics::MethodMetrics(ClientMetrics* owner, absl::string_view path)
    : owner_(owner),
      name_(SplitMethodPath(path)),
      latency_(&owner_->families().client_latency.Add(
          {{"cluster", owner_->cluster()},
           {"namespace", name_.ns},
           {"method", name_.method}},
          LatencyBuckets())),
      fan_out_(&owner_->families().client_fan_out_calls.Add(
          {{"cluster", owner_->cluster()},
           {"namespace", name_.ns},
           {"method", name_.method}})) {}

void MethodMetrics::FanOutOutcome(const std::string& server, int code) {
  owner_->families()
      .client_fan_out_outcomes
      .Add({{"cluster", owner_->cluster()},
            {"namespace", name_.ns},
            {"method", name_.method},
            {"server", server},
            {"code", std::to_string(code)}})
      .Increment();
}

std::shared_ptr<ClientMetrics> ClientMetrics::Create(
    std::shared_ptr<Metrics> metrics, std::string cluster) {
  return std::shared_ptr<ClientMetrics>(
      new ClientMetrics(std::move(metrics), std::move(cluster)));
}

ClientMetrics::ClientMetrics(std::shared_ptr<Metrics> metrics,
                             std::string cluster)
    : metrics_(std::move(metrics)),
      families_(FamiliesOf(*metrics_)),
      cluster_(std::move(cluster)),
      joined_(&families_.client_server_changes.Add(
          {{"cluster", cluster_}, {"change", "joined"}})),
      left_(&families_.client_server_changes.Add(
          {{"cluster", cluster_}, {"change", "left"}})),
      updates_(
          &families_.client_discovery_updates.Add({{"cluster", cluster_}})),
      propagation_(&families_.client_discovery_latency.Add(
          {{"cluster", cluster_}}, LatencyBuckets())),
      connected_(
          &families_.client_zookeeper_connected.Add({{"cluster", cluster_}})),
      expiries_(
          &families_.client_zookeeper_expiries.Add({{"cluster", cluster_}})) {}

std::shared_ptr<ServerCallMetrics> ClientMetrics::ForServer(
    const std::string& server) {
  return std::make_shared<ServerCallMetrics>(shared_from_this(), server);
}

MethodMetrics* ClientMetrics::ForMethod(absl::string_view path) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = methods_.find(path);
  if (it != methods_.end()) return it->second.get();
  auto method = std::make_unique<MethodMetrics>(this, path);
  MethodMetrics* result = method.get();
  methods_.emplace(std::string(path), std::move(method));
  return result;
}

void ClientMetrics::SetServerCounts(
    const std::map<std::string, ServerCounts>& counts) {
  auto set = [this](const std::string& ns, const char* state, int value) {
    families_.client_servers
        .Add({{"cluster", cluster_}, {"namespace", ns}, {"state", state}})
        .Set(value);
  };
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& ns : namespaces_) {
    if (counts.count(ns) > 0) continue;
    set(ns, "known", 0);
    set(ns, "ready", 0);
    set(ns, "set_aside", 0);
  }
  namespaces_.clear();
  for (const auto& [ns, count] : counts) {
    namespaces_.insert(ns);
    set(ns, "known", count.known);
    set(ns, "ready", count.ready);
    set(ns, "set_aside", count.set_aside);
  }
}

void ClientMetrics::ServersChanged(int joined, int left) {
  if (joined > 0) joined_->Increment(joined);
  if (left > 0) left_->Increment(left);
}

void ClientMetrics::DiscoveryUpdate(absl::Duration latency) {
  updates_->Increment();
  propagation_->Observe(absl::ToDoubleSeconds(latency));
}

void ClientMetrics::ZooKeeperConnected(bool connected) {
  connected_->Set(connected ? 1 : 0);
}

void ClientMetrics::ZooKeeperSessionExpired() { expiries_->Increment(); }

}  // namespace slacker::internal
