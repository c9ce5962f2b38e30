#include "framework/internal/channel_settings.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/time/clock.h"

namespace slacker::internal {
namespace {

void* CopyHooks(void* p) {
  static_cast<ChannelHooks*>(p)->refs.fetch_add(1, std::memory_order_acq_rel);
  return p;
}
void DestroyHooks(void* p) { ReleaseHooks(p); }
int CompareHooks(void* a, void* b) { return a < b ? -1 : (a > b ? 1 : 0); }
constexpr grpc_arg_pointer_vtable kHooksVtable = {CopyHooks, DestroyHooks,
                                                  CompareHooks};

struct StatsTable {
  std::mutex mu;
  std::map<std::string, DiscoveryStatsRecord> records;
};
StatsTable& Stats() {
  static StatsTable* table = new StatsTable();
  return *table;
}

}  // namespace

const void* ChannelHooksVtable() { return &kHooksVtable; }

void* NewHooksArg(ChannelHooks* hooks) {
  hooks->refs.store(1, std::memory_order_release);
  return hooks;
}

void ReleaseHooks(void* hooks) {
  auto* h = static_cast<ChannelHooks*>(hooks);
  if (h->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete h;
}

std::shared_ptr<ChannelHooks> HooksFromArg(void* value) {
  if (value == nullptr) return nullptr;
  auto* hooks = static_cast<ChannelHooks*>(CopyHooks(value));
  return std::shared_ptr<ChannelHooks>(hooks, ReleaseHooks);
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
