#include "framework/internal/discovery_stats.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/time/clock.h"

namespace slacker::internal {
namespace {

struct StatsTable {
  std::mutex mu;
  std::map<std::string, DiscoveryStatsRecord> records;
};
StatsTable& Stats() {
  static StatsTable* table = new StatsTable();
  return *table;
}

}  // namespace

void RecordDiscoveryUpdate(const std::string& target, absl::Duration latency) {
  StatsTable& table = Stats();
  std::lock_guard<std::mutex> lock(table.mu);
  DiscoveryStatsRecord& record = table.records[target];
  ++record.updates;
  record.last = latency;
  record.max = std::max(record.max, latency);
  record.last_update = absl::Now();
}

DiscoveryStatsRecord GetDiscoveryStatsRecord(const std::string& target) {
  StatsTable& table = Stats();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.records.find(target);
  return it == table.records.end() ? DiscoveryStatsRecord() : it->second;
}

}  // namespace slacker::internal
