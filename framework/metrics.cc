#include "framework/metrics.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "framework/internal/metric_families.h"

namespace slacker {

namespace internal {
MetricFamilies& FamiliesOf(Metrics& metrics) { return *metrics.families_; }
}  // namespace internal

Metrics::Metrics() : Metrics(std::make_shared<prometheus::Registry>()) {}

Metrics::Metrics(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)),
      families_(registry_ == nullptr
                    ? nullptr
                    : std::make_unique<internal::MetricFamilies>(*registry_)) {
  if (registry_ == nullptr) {
    internal::FailWithMessage(
        "slacker::Metrics: the registry is null; pass a "
        "std::make_shared<prometheus::Registry>() or use Metrics()");
  }
}

Metrics::~Metrics() = default;

absl::Status Metrics::Expose(int port, const std::string& host) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics port ", port, " is out of range: give 0..65535"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (exposer_ != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "metrics are already exposed on port ", port_, ": call Expose once"));
  }
  const std::string address = absl::StrCat(host, ":", port);
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address);
    exposer->RegisterCollectable(registry_);
    const std::vector<int> ports = exposer->GetListeningPorts();
    port_ = ports.empty() ? port : ports.front();
    exposer_ = std::move(exposer);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, " (", e.what(),
                     "): the port is most likely in use; pick another one"));
  }
  return absl::OkStatus();
}

int Metrics::port() const {
  std::lock_guard<std::mutex> lock(mu_);
  return port_;
}

}  // namespace slacker
