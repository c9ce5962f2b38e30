#include "tools/dashboard/dashboard_model.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace slacker::dashboard {
namespace {

using JsonValue = nlohmann::ordered_json;

// Untrusted names may hold any bytes: invalid UTF-8 becomes U+FFFD.
std::string Dump(const JsonValue& json) {
  return json.dump(-1, ' ', false, JsonValue::error_handler_t::replace);
}

// Server data as ClusterServer holds it (protobuf's own JSON of what
// ParseServerInfo accepted), as a JSON value; null if none.
JsonValue DataValue(const std::string& server_data) {
  if (server_data.empty()) return nullptr;
  JsonValue value =
      JsonValue::parse(server_data, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? JsonValue(nullptr) : value;
}

}  // namespace

std::optional<int> MetricsPort(const std::string& server_data) {
  if (server_data.empty()) return std::nullopt;
  const JsonValue value =
      JsonValue::parse(server_data, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return std::nullopt;
  auto it = value.find(kMetricsPortKey);
  if (it == value.end() || !it->is_number()) return std::nullopt;
  const double port = it->get<double>();
  if (port < 1 || port > 65535 || port != static_cast<int>(port)) {
    return std::nullopt;
  }
  return static_cast<int>(port);
}

DashboardModel::DashboardModel(std::string cluster, std::string cluster_path)
    : cluster_(std::move(cluster)), cluster_path_(std::move(cluster_path)) {}

void DashboardModel::SetSnapshot(
    const absl::StatusOr<internal::ClusterSnapshot>& snapshot) {
  std::lock_guard<std::mutex> lock(mu_);
  ++version_;
  if (!snapshot.ok()) {
    status_ = std::string(snapshot.status().message());
    return;
  }
  status_ = "ok";
  snapshot_ = *snapshot;
  // Forget what belongs to servers that left.
  std::set<std::string> live;
  for (const internal::ClusterServer& server : snapshot->servers) {
    live.insert(server.address);
  }
  for (auto it = health_.begin(); it != health_.end();) {
    it = live.count(it->first) ? std::next(it) : health_.erase(it);
  }
  for (auto it = metrics_.begin(); it != metrics_.end();) {
    it = live.count(it->first) ? std::next(it) : metrics_.erase(it);
  }
}

std::vector<internal::ClusterServer> DashboardModel::Servers() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!snapshot_.has_value()) return {};
  return snapshot_->servers;
}

void DashboardModel::SetHealth(const std::string& address,
                               std::map<std::string, std::string> health) {
  std::lock_guard<std::mutex> lock(mu_);
  health_[address] = std::move(health);
}

void DashboardModel::AddMetrics(const std::string& address, absl::Time when,
                                const absl::StatusOr<HistogramTotals>& totals) {
  std::lock_guard<std::mutex> lock(mu_);
  Metrics& metrics = metrics_[address];
  if (!totals.ok()) {
    metrics.error = std::string(totals.status().message());
    return;
  }
  metrics.error.clear();
  if (metrics.last.has_value() && when > metrics.last_time &&
      totals->count >= metrics.last->count) {
    const double calls = totals->count - metrics.last->count;
    const double seconds = absl::ToDoubleSeconds(when - metrics.last_time);
    Point point;
    point.seconds = absl::ToDoubleSeconds(when - started_);
    point.rate = calls / seconds;
    point.latency_ms =
        calls > 0 ? (totals->sum - metrics.last->sum) / calls * 1000 : 0;
    metrics.points.push_back(point);
    if (metrics.points.size() > kChartPoints) metrics.points.pop_front();
  } else if (metrics.last.has_value() && totals->count < metrics.last->count) {
    metrics.points.clear();  // The server restarted: its counters did.
  }
  metrics.last = *totals;
  metrics.last_time = when;
}

std::string DashboardModel::Json(
    const std::map<std::string, discovery::NodeData>& server_nodes,
    const std::vector<std::string>& namespace_names,
    const std::string& zookeeper) const {
  std::lock_guard<std::mutex> lock(mu_);
  JsonValue doc;
  doc["cluster"] = cluster_;
  doc["path"] = cluster_path_;
  doc["status"] = status_;
  doc["zookeeper"] = zookeeper;
  doc["version"] = version_;
  JsonValue truncated = JsonValue::object();

  // Namespaces: every child of namespaces/ and every namespace published.
  std::map<std::string, std::pair<std::vector<std::string>, std::string>> nss;
  for (const std::string& name : namespace_names) nss[name];
  std::vector<internal::ClusterServer> servers;
  if (snapshot_.has_value()) servers = snapshot_->servers;
  for (const internal::ClusterServer& server : servers) {
    for (const std::string& ns : server.namespaces) {
      nss[ns].first.push_back(server.address);
    }
    for (const std::string& ns : server.leads) nss[ns].second = server.address;
  }
  JsonValue namespaces = JsonValue::array();
  for (const auto& [name, members] : nss) {
    if (namespaces.size() == kMaxListed) {
      truncated["namespaces"] = nss.size() - kMaxListed;
      break;
    }
    JsonValue ns;
    ns["name"] = name;
    ns["servers"] = members.first;
    ns["leader"] =
        members.second.empty() ? JsonValue(nullptr) : JsonValue(members.second);
    namespaces.push_back(std::move(ns));
  }
  doc["namespaces"] = std::move(namespaces);

  // Verdicts on servers/ nodes, parsed once per version of each.
  std::map<std::string, ParsedNode> parsed;
  JsonValue malformed = JsonValue::array();
  size_t malformed_count = 0;
  for (const auto& [name, node] : server_nodes) {
    auto known = parsed_.find(name);
    if (known == parsed_.end() || known->second.czxid != node.stat.czxid ||
        known->second.mzxid != node.stat.mzxid) {
      ParsedNode verdict;
      verdict.czxid = node.stat.czxid;
      verdict.mzxid = node.stat.mzxid;
      internal::ClusterServer ignored;
      absl::Status status = internal::ParseServerInfo(node.data, &ignored);
      if (!status.ok()) verdict.error = std::string(status.message());
      known = parsed_.insert_or_assign(name, std::move(verdict)).first;
    }
    if (!known->second.error.empty()) {
      if (++malformed_count <= kMaxListed) {
        malformed.push_back(
            {{"path", absl::StrCat(cluster_path_, "/servers/", name)},
             {"reason", known->second.error}});
      }
    }
    parsed.insert(parsed_.extract(known));
  }
  parsed_.swap(parsed);
  if (malformed_count > kMaxListed) {
    truncated["malformed"] = malformed_count - kMaxListed;
  }

  JsonValue server_list = JsonValue::array();
  for (const internal::ClusterServer& server : servers) {
    if (server_list.size() == kMaxListed) {
      truncated["servers"] = servers.size() - kMaxListed;
      break;
    }
    JsonValue entry;
    entry["address"] = server.address;
    entry["namespaces"] = server.namespaces;
    entry["leads"] = server.leads;
    entry["data"] = DataValue(server.server_data);
    auto node = parsed_.find(server.address);
    entry["data_error"] = node != parsed_.end() && !node->second.error.empty()
                              ? JsonValue(node->second.error)
                              : JsonValue(nullptr);
    auto health = health_.find(server.address);
    entry["health"] = health == health_.end() ? JsonValue::object()
                                              : JsonValue(health->second);
    auto metrics = metrics_.find(server.address);
    if (metrics == metrics_.end()) {
      entry["metrics"] = nullptr;
    } else {
      JsonValue points = JsonValue::array();
      for (const Point& point : metrics->second.points) {
        points.push_back({point.seconds, point.rate, point.latency_ms});
      }
      entry["metrics"] = {{"points", std::move(points)},
                          {"error", metrics->second.error.empty()
                                        ? JsonValue(nullptr)
                                        : JsonValue(metrics->second.error)}};
    }
    server_list.push_back(std::move(entry));
  }
  doc["servers"] = std::move(server_list);

  JsonValue ignored = JsonValue::array();
  if (snapshot_.has_value()) {
    for (const internal::IgnoredNode& node : snapshot_->ignored) {
      if (ignored.size() == kMaxListed) {
        truncated["ignored"] = snapshot_->ignored.size() - kMaxListed;
        break;
      }
      ignored.push_back({{"path", node.path}, {"reason", node.reason}});
    }
  }
  doc["ignored"] = std::move(ignored);
  doc["malformed"] = std::move(malformed);
  doc["truncated"] = std::move(truncated);
  return Dump(doc);
}

}  // namespace slacker::dashboard
