// Reading a server's Prometheus /metrics for the dashboard's charts: one
// bounded HTTP GET, and the totals of one histogram family in the text.
//
// The text is untrusted (any process may publish a metrics port): the body is
// cut off at kMaxMetricsBytes, lines that do not parse are skipped.
//
// Thread-safe (no shared state). REQUIRES: mg_init_library was called (the
// dashboard does, at start).

#ifndef SLACKER_TOOLS_DASHBOARD_METRICS_SCRAPE_H_
#define SLACKER_TOOLS_DASHBOARD_METRICS_SCRAPE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace slacker::dashboard {

inline constexpr size_t kMaxMetricsBytes = 4 << 20;

// GET http://host:port/metrics within `timeout`. UNAVAILABLE if the server
// cannot be reached or answers another status than 200; RESOURCE_EXHAUSTED
// past kMaxMetricsBytes.
absl::StatusOr<std::string> FetchMetrics(const std::string& host, int port,
                                         absl::Duration timeout);

// A histogram's totals, summed over all its label sets.
struct HistogramTotals {
  double count = 0;  // <family>_count
  double sum = 0;    // <family>_sum, in the family's unit (seconds).
};

// Totals of histogram `family` (e.g. "slacker_server_latency_seconds") in
// Prometheus text `text`. NOT_FOUND if the text has no `<family>_count`.
absl::StatusOr<HistogramTotals> HistogramTotalsOf(absl::string_view text,
                                                  absl::string_view family);

}  // namespace slacker::dashboard

#endif  // SLACKER_TOOLS_DASHBOARD_METRICS_SCRAPE_H_
