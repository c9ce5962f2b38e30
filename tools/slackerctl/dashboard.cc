// slackerctl dashboard: a web page of one cluster, live. Its parts live in
// tools/dashboard/: the model and its JSON document (dashboard_model.h), the
// page (dashboard_page.html), the HTTP server (http_server.h), the health
// prober and the metrics scraper. This file wires them to the cluster and
// runs until SIGINT or SIGTERM.
//
// Threads: the view's listener feeds the model; civetweb's workers answer
// requests from the model and the two watched caches; one prober thread
// checks each server's health and scrapes its metrics every
// DashboardOptions::probe_interval.

#include <civetweb.h>
#include <signal.h>

#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "discovery/children_cache.h"
#include "framework/internal/cluster_view.h"
#include "tools/dashboard/dashboard_model.h"
#include "tools/dashboard/dashboard_page.h"
#include "tools/dashboard/health_probe.h"
#include "tools/dashboard/http_server.h"
#include "tools/dashboard/metrics_scrape.h"
#include "tools/slackerctl/commands.h"
#include "tools/slackerctl/output.h"

namespace slacker::slackerctl {
namespace {

// Servers probed per round: a cluster of thousands still gets a bounded
// round; the rest show "not checked yet".
constexpr size_t kMaxProbed = 200;

// Checks health and scrapes metrics every `interval` until stopped.
class Prober {
 public:
  Prober(dashboard::DashboardModel* model, const DashboardOptions& options)
      : model_(model), options_(options), thread_([this] { Run(); }) {}

  ~Prober() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }

 private:
  void Run() {
    while (true) {
      std::vector<internal::ClusterServer> servers = model_->Servers();
      if (servers.size() > kMaxProbed) servers.resize(kMaxProbed);
      std::vector<std::string> live;
      for (const internal::ClusterServer& server : servers) {
        if (stopped()) return;
        live.push_back(server.address);
        model_->SetHealth(server.address,
                          health_.Probe(server.address, server.namespaces,
                                        options_.probe_deadline));
        const std::optional<int> port =
            dashboard::MetricsPort(server.server_data);
        if (!port.has_value()) continue;
        // The server's own registered host, never a host its data names.
        const std::string host =
            server.address.substr(0, server.address.rfind(':'));
        absl::StatusOr<std::string> text =
            dashboard::FetchMetrics(host, *port, options_.probe_deadline);
        model_->AddMetrics(
            server.address, absl::Now(),
            text.ok()
                ? dashboard::HistogramTotalsOf(*text,
                                               options_.metrics_histogram)
                : absl::StatusOr<dashboard::HistogramTotals>(text.status()));
      }
      health_.Retain(live);
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock,
                         absl::ToChronoMilliseconds(options_.probe_interval),
                         [this] { return stopped_; })) {
        return;
      }
    }
  }

  bool stopped() {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }

  dashboard::DashboardModel* const model_;
  const DashboardOptions options_;
  dashboard::HealthProbe health_;  // Prober thread only.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopped_ = false;  // Guarded by mu_.
  std::thread thread_;    // Last: starts once the rest is made.
};

}  // namespace

int Dashboard(Cluster& c, const DashboardOptions& options) {
  // Taken synchronously below; blocked before ZooKeeper's, gRPC's and
  // civetweb's threads start, so none of them is killed by a Ctrl-C.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (options.port < 0 || options.port > 65535) {
    return Fail(kUsage,
                absl::StrCat("--port must be 0..65535, not ", options.port));
  }
  if (absl::Status connected = c.Connect(options.connect_timeout);
      !connected.ok()) {
    return Fail(absl::IsInvalidArgument(connected) ? kUsage : kUnreachable,
                connected.message());
  }
  if (std::optional<int> missing = CheckClusterExists(c)) return *missing;
  mg_init_library(0);
  dashboard::DashboardModel model(c.name(), c.layout().ClusterPath());
  absl::StatusOr<std::unique_ptr<discovery::ChildrenCache>> server_nodes =
      discovery::ChildrenCache::Create(&c.zk(), c.layout().ServersPath());
  absl::StatusOr<std::unique_ptr<discovery::ChildrenCache>> namespace_nodes =
      discovery::ChildrenCache::Create(&c.zk(), c.layout().NamespacesPath());
  if (!server_nodes.ok()) return Fail(kUsage, server_nodes.status().message());
  if (!namespace_nodes.ok()) {
    return Fail(kUsage, namespace_nodes.status().message());
  }
  internal::ClusterViewOptions view_options;
  view_options.zookeeper = c.zookeeper();
  view_options.root = c.root();
  view_options.cluster = c.name();
  view_options.digest = c.digest();  // A creator-only cluster reads with it.
  view_options.ensemble = c.ensemble();
  view_options.connect_timeout = options.connect_timeout;
  view_options.report_ignored = true;
  auto view = internal::ClusterView::Start(
      view_options,
      [&model](const absl::StatusOr<internal::ClusterSnapshot>& snapshot) {
        model.SetSnapshot(snapshot);
      });
  if (!view.ok()) return Fail(kUsage, view.status().message());
  discovery::ChildrenCache* servers = server_nodes->get();
  discovery::ChildrenCache* namespaces = namespace_nodes->get();
  absl::StatusOr<std::unique_ptr<dashboard::HttpServer>> http =
      dashboard::HttpServer::Start(
          options.listen, options.port, dashboard::kDashboardPage,
          [&model, &c, servers, namespaces] {
            std::vector<std::string> names;
            for (const auto& [name, node] : namespaces->Snapshot()) {
              names.push_back(name);
            }
            return model.Json(
                servers->Snapshot(), names,
                std::string(discovery::ConnectionStateName(c.zk().state())));
          });
  if (!http.ok()) return Fail(kUnreachable, http.status().message());
  {
    auto prober = std::make_unique<Prober>(&model, options);
    std::cout << "dashboard of cluster " << c.name() << " on http://"
              << options.listen << ":" << (*http)->port() << "/" << std::endl;
    int signal = 0;
    sigwait(&signals, &signal);
    prober.reset();
  }
  http->reset();  // No request reads the caches or the model after this.
  view->reset();
  (*server_nodes)->Close();
  (*namespace_nodes)->Close();
  mg_exit_library();
  return kOk;
}

}  // namespace slacker::slackerctl
