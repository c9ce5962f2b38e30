// The health of one server per namespace, as a channel with health checks
// would see it: gRPC's standard health service (grpc.health.v1.Health/Check),
// asked once per namespace the server publishes.
//
// Thread-safe: each prober owns its channels; one thread calls Probe at a
// time in the dashboard, but nothing stops more.

#ifndef SLACKER_TOOLS_DASHBOARD_HEALTH_PROBE_H_
#define SLACKER_TOOLS_DASHBOARD_HEALTH_PROBE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}

namespace slacker::dashboard {

class HealthProbe {
 public:
  // Asks `address` (host:port, plaintext) for each of `namespaces`, each
  // call within `deadline`. Returns namespace -> "SERVING", "NOT_SERVING",
  // "SERVICE_UNKNOWN", or the failed call's "CODE: message".
  std::map<std::string, std::string> Probe(
      const std::string& address, const std::vector<std::string>& namespaces,
      absl::Duration deadline);

  // Drops the channels of servers not in `live`.
  void Retain(const std::vector<std::string>& live);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace slacker::dashboard

#endif  // SLACKER_TOOLS_DASHBOARD_HEALTH_PROBE_H_
