// Ensemble providers: where a ZooKeeper client finds the hosts of its
// ensemble, and how it follows them when they change. What Apache Curator's
// EnsembleProvider, FixedEnsembleProvider and ExhibitorEnsembleProvider are
// to Java; the same choices exist on every level of this project
// (ZooKeeperOptions, ClusterOptions::ensemble, ClusterChannelOptions::
// ensemble, slackerctl --exhibitor):
//
//   - fixed hosts: the connect string's (the default), or
//     FixedEnsembleProvider for a list given apart from the chroot;
//   - ZooKeeper's own dynamic configuration (/zookeeper/config, 3.5+):
//     EnsembleOptions::follow_config;
//   - an Exhibitor-style REST endpoint: ExhibitorEnsembleProvider polls
//     http://<host>:<port>/exhibitor/v1/cluster/list on a list of Exhibitor
//     hosts, and answers a backup connect string when none of them answers.
//
//   auto exhibitor = ExhibitorEnsembleProvider::Start(
//       {.hosts = {"exhibitor1", "exhibitor2"}, .port = 8080,
//        .backup_connect_string = "zk1:2181,zk2:2181,zk3:2181"});
//   ClusterOptions options;
//   options.zookeeper = "zk1:2181,zk2:2181,zk3:2181";  // Also the backup.
//   options.ensemble.provider = (*exhibitor)->AsProvider();
//
// A provider is asked by the ZooKeeper client for its first session, on every
// disconnection and new session, and every EnsembleOptions::check_interval;
// it must answer at once, from memory (see ZooKeeperOptions::
// ensemble_provider).

#ifndef SLACKER_DISCOVERY_ENSEMBLE_PROVIDER_H_
#define SLACKER_DISCOVERY_ENSEMBLE_PROVIDER_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "discovery/zookeeper_client.h"

namespace slacker::discovery {

// Answers the ensemble's hosts now, "host:port,..." without a chroot, or ""
// for no opinion (the client keeps its list). Must be thread-safe and quick.
using EnsembleProvider = std::function<std::string()>;

// Always `hosts` (Curator's FixedEnsembleProvider).
EnsembleProvider FixedEnsembleProvider(std::string hosts);

// How a client of this project finds and follows its ensemble; one field of
// ClusterOptions and of ClusterChannelOptions. The default follows nothing:
// the hosts of the connect string, fixed.
struct EnsembleOptions {
  // Keep the host list equal to ZooKeeper's /zookeeper/config (servers
  // configured with client addresses, `server.N=h:q:e;client_host:port`;
  // see ZooKeeperOptions::follow_ensemble_config).
  bool follow_config = false;
  // Asked for the host list (see above); null for none.
  EnsembleProvider provider;
  // How often `provider` is asked while the connection is fine.
  absl::Duration check_interval = absl::Seconds(1);
};

// Copies `ensemble` into the ZooKeeper client's options.
void ApplyEnsembleOptions(const EnsembleOptions& ensemble,
                          ZooKeeperOptions* options);

struct ExhibitorOptions {
  // The Exhibitor hosts first polled, names or IPv4 addresses (no port).
  // Required. As Curator's, the provider then polls the servers each answer
  // names (Exhibitor runs beside every ZooKeeper server), and falls back to
  // these when none of those answers.
  std::vector<std::string> hosts;
  // Exhibitor's REST port, the same on every host.
  int port = 8080;
  // "host:port,..." answered while no Exhibitor host answers (Curator's
  // backup connection string). Empty: the last good answer is kept.
  std::string backup_connect_string;
  // Between polls (Curator's pollingMs; its wrapper's default is 10 s).
  absl::Duration poll_interval = absl::Seconds(10);
  // Each poll tries the hosts in a random order; each host up to this many
  // times, `retry_delay` apart (Curator's RetryPolicy), before the next.
  int attempts_per_host = 2;
  absl::Duration retry_delay = absl::Milliseconds(100);
  // One request, connect to last byte; a slower endpoint counts as failed.
  absl::Duration request_timeout = absl::Seconds(2);
  // A longer answer counts as failed, unread.
  size_t max_response_bytes = 64 * 1024;
  // Exhibitor's cluster-list resource.
  std::string path = "/exhibitor/v1/cluster/list";
};

// What an Exhibitor cluster list says: {"servers":["h1","h2"],"port":2181}.
struct ExhibitorClusterList {
  std::vector<std::string> servers;
  int port = 0;
  // "h1:2181,h2:2181".
  std::string ConnectString() const;
};

// At most this many servers in one answer.
inline constexpr size_t kMaxExhibitorServers = 255;

// Parses an answer of /exhibitor/v1/cluster/list, untrusted: bounded in size
// (max_bytes), depth and items before the JSON parser sees it; InvalidArgument
// saying what is wrong when it is not an object with a non-empty "servers"
// array (at most kMaxExhibitorServers) of host names (letters, digits, '.',
// '-', '_') and an integer "port" in 1..65535. Thread-safe.
absl::StatusOr<ExhibitorClusterList> ParseExhibitorClusterList(
    absl::string_view body, size_t max_bytes);

// Polls Exhibitor on a thread of its own and answers the last good cluster
// list (or the backup) from memory. Thread-safe. Shared-owned: AsProvider's
// function holds a reference, so the poller runs while any client may ask.
// The last release stops the poll thread and joins it, waiting for a poll in
// progress (at most hosts x attempts_per_host x request_timeout); the poll
// thread holds no reference, so that release never happens on it.
class ExhibitorEnsembleProvider
    : public std::enable_shared_from_this<ExhibitorEnsembleProvider> {
 public:
  // Polls once before returning (at most hosts x attempts_per_host x
  // request_timeout), so that the first session already uses the answer,
  // then every poll_interval. A first poll that fails is not an error: the
  // backup is answered (logged as a warning). InvalidArgument for no hosts,
  // a bad port, a malformed backup or non-positive durations.
  static absl::StatusOr<std::shared_ptr<ExhibitorEnsembleProvider>> Start(
      ExhibitorOptions options);

  ~ExhibitorEnsembleProvider();
  ExhibitorEnsembleProvider(const ExhibitorEnsembleProvider&) = delete;
  ExhibitorEnsembleProvider& operator=(const ExhibitorEnsembleProvider&) =
      delete;

  // The answer now: the last cluster list, the backup while no host answers,
  // or "" before any (with no backup).
  std::string Hosts() const;
  // Hosts(), as a ZooKeeperOptions::ensemble_provider / EnsembleOptions::
  // provider; the function keeps this provider alive.
  EnsembleProvider AsProvider();

  // Polls now, on the caller's thread (blocking as Start's first poll); OK if
  // a host answered, else the last host's error (the backup is then in
  // force). For tools and tests; the poll thread keeps its own schedule.
  absl::Status PollNow();

  struct Stats {
    int64_t polls = 0;         // Completed polls.
    int64_t failed_polls = 0;  // Of which no host answered.
    std::string last_error;    // The last failed request's error, or "".
  };
  Stats stats() const;

 private:
  explicit ExhibitorEnsembleProvider(ExhibitorOptions options);
  void PollLoop();

  const ExhibitorOptions options_;
  // One poll at a time (PollNow and the thread).
  std::mutex poll_mu_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string hosts_ ABSL_GUARDED_BY(mu_);
  // Exhibitor hosts to poll next: those of the last answer, then
  // options_.hosts (deduplicated).
  std::vector<std::string> exhibitors_ ABSL_GUARDED_BY(mu_);
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace slacker::discovery

#endif  // SLACKER_DISCOVERY_ENSEMBLE_PROVIDER_H_
