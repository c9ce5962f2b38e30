#include "framework/internal/channel_settings.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/time/clock.h"

namespace slacker::internal {
namespace {

struct HooksTable {
  std::mutex mu;
  std::map<int, std::shared_ptr<ChannelHooks>> hooks;
};
HooksTable& Hooks() {
  static HooksTable* table = new HooksTable();
  return *table;
}

struct ViewTable {
  std::mutex mu;
  std::map<std::string, std::shared_ptr<const NamespaceViews>> views;
};
ViewTable& Views() {
  static ViewTable* table = new ViewTable();
  return *table;
}

struct StatsTable {
  std::mutex mu;
  std::map<std::string, DiscoveryStatsRecord> records;
};
StatsTable& Stats() {
  static StatsTable* table = new StatsTable();
  return *table;
}

}  // namespace

void RegisterChannelHooks(int channel_id, std::shared_ptr<ChannelHooks> hooks) {
  HooksTable& table = Hooks();
  std::lock_guard<std::mutex> lock(table.mu);
  table.hooks[channel_id] = std::move(hooks);
}

void ForgetChannelHooks(int channel_id) {
  HooksTable& table = Hooks();
  std::lock_guard<std::mutex> lock(table.mu);
  table.hooks.erase(channel_id);
}

std::shared_ptr<ChannelHooks> FindChannelHooks(int channel_id) {
  HooksTable& table = Hooks();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.hooks.find(channel_id);
  return it == table.hooks.end() ? nullptr : it->second;
}

std::string ViewKey(const std::string& target, const std::string& channel_id) {
  return channel_id.empty() ? target : target + "#" + channel_id;
}

void PublishViews(const std::string& key,
                  std::shared_ptr<const NamespaceViews> views) {
  ViewTable& table = Views();
  std::lock_guard<std::mutex> lock(table.mu);
  table.views[key] = std::move(views);
}

void ForgetViews(const std::string& key) {
  ViewTable& table = Views();
  std::lock_guard<std::mutex> lock(table.mu);
  table.views.erase(key);
}

std::shared_ptr<const NamespaceViews> GetViews(const std::string& key) {
  ViewTable& table = Views();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.views.find(key);
  return it == table.views.end() ? nullptr : it->second;
}

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
