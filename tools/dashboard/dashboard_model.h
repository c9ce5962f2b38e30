// DashboardModel: what `slackerctl dashboard` knows about one cluster, and
// the JSON document its page polls (GET /api/cluster).
//
// Its inputs, each from its own thread:
//   - the cluster as a channel sees it: ClusterView snapshots with the
//     ignored publishers and candidates (framework/internal/cluster_view.h);
//   - each server's health per namespace and its call metrics, from the
//     dashboard's prober (health_probe.h, metrics_scrape.h);
//   - at each request, the raw servers/ and namespaces/ children, so that a
//     servers/ node whose data is not ServerInfo JSON shows as malformed, and
//     a namespace nobody publishes still shows.
// Everything read from ZooKeeper is untrusted: server data is parsed only
// through internal::ParseServerInfo (bounded before parsing), names are
// escaped in the JSON (invalid UTF-8 replaced), and the lists are capped
// (kMaxListed) so a registry with thousands of foreign nodes gives a bounded
// document.
//
// Thread-safe.

#ifndef SLACKER_TOOLS_DASHBOARD_DASHBOARD_MODEL_H_
#define SLACKER_TOOLS_DASHBOARD_DASHBOARD_MODEL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"
#include "framework/internal/cluster_view.h"
#include "tools/dashboard/metrics_scrape.h"

namespace slacker::dashboard {

// Entries listed per list of the document; the rest are counted.
inline constexpr size_t kMaxListed = 500;
// Points kept per server chart.
inline constexpr size_t kChartPoints = 60;

// The server-data key a server publishes its Prometheus port under
// ({"metrics_port": 9464}); the dashboard scrapes
// http://<the server's registered host>:<port>/metrics, never another host.
inline constexpr char kMetricsPortKey[] = "metrics_port";

// One server's port from its server data (JSON, as ClusterServer holds it),
// or nullopt if it names none or a value that is not a port.
std::optional<int> MetricsPort(const std::string& server_data);

class DashboardModel {
 public:
  // `cluster` is the cluster's name, `cluster_path` its registry node, both
  // shown on the page.
  DashboardModel(std::string cluster, std::string cluster_path);
  DashboardModel(const DashboardModel&) = delete;
  DashboardModel& operator=(const DashboardModel&) = delete;

  // The view's latest snapshot, or its error (ZooKeeper not reached yet).
  void SetSnapshot(const absl::StatusOr<internal::ClusterSnapshot>& snapshot);

  // The servers of the latest snapshot (empty before the first).
  std::vector<internal::ClusterServer> Servers() const;

  // `address`'s health per namespace: "SERVING", "NOT_SERVING", or the
  // failed check's status ("UNAVAILABLE: ...").
  void SetHealth(const std::string& address,
                 std::map<std::string, std::string> health);

  // A scrape of `address`'s metrics at `when`: the chart gains a point (call
  // rate and mean latency since the previous scrape). A failed scrape is
  // shown as `error`, the chart kept.
  void AddMetrics(const std::string& address, absl::Time when,
                  const absl::StatusOr<HistogramTotals>& totals);

  // The document: {"cluster", "path", "status", "zookeeper", "version",
  // "namespaces", "servers", "ignored", "malformed", "truncated"}; see
  // dashboard_page.html for how each field is shown. `server_nodes` are
  // servers/'s children as read, `namespace_names` namespaces/'s, and
  // `zookeeper` the dashboard's connection state (ConnectionStateName): while
  // it is not connected the page says that it shows the last picture.
  std::string Json(
      const std::map<std::string, discovery::NodeData>& server_nodes,
      const std::vector<std::string>& namespace_names,
      const std::string& zookeeper = "CONNECTED") const;

 private:
  struct Point {
    double seconds = 0;     // Since the dashboard started.
    double rate = 0;        // Calls per second.
    double latency_ms = 0;  // Mean latency of those calls; 0 if none.
  };
  struct Metrics {
    std::optional<HistogramTotals> last;
    absl::Time last_time;
    std::deque<Point> points;
    std::string error;
  };
  struct ParsedNode {
    int64_t czxid = 0;
    int64_t mzxid = 0;
    std::string error;  // "" if the data is ServerInfo JSON.
  };

  const std::string cluster_;
  const std::string cluster_path_;
  const absl::Time started_ = absl::Now();
  mutable std::mutex mu_;
  std::string status_ ABSL_GUARDED_BY(mu_) = "connecting to ZooKeeper";
  std::optional<internal::ClusterSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  int64_t version_ ABSL_GUARDED_BY(mu_) = 0;  // Snapshots received.
  std::map<std::string, std::map<std::string, std::string>> health_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, Metrics> metrics_ ABSL_GUARDED_BY(mu_);
  // servers/ nodes' verdicts, parsed once per version.
  mutable std::map<std::string, ParsedNode> parsed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace slacker::dashboard

#endif  // SLACKER_TOOLS_DASHBOARD_DASHBOARD_MODEL_H_
