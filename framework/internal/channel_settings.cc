#include "framework/internal/channel_settings.h"

#include <grpc/grpc.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "absl/time/clock.h"

namespace slacker::internal {
namespace {

void* CopyHooks(void* p) {
  return new std::shared_ptr<ChannelHooks>(
      *static_cast<std::shared_ptr<ChannelHooks>*>(p));
}
void DestroyHooks(void* p) {
  delete static_cast<std::shared_ptr<ChannelHooks>*>(p);
}
int CompareHooks(void* a, void* b) {
  const ChannelHooks* x = static_cast<std::shared_ptr<ChannelHooks>*>(a)->get();
  const ChannelHooks* y = static_cast<std::shared_ptr<ChannelHooks>*>(b)->get();
  return x < y ? -1 : (x > y ? 1 : 0);
}
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

std::shared_ptr<ChannelHooks> HooksFromArg(void* value) {
  if (value == nullptr) return nullptr;
  return *static_cast<std::shared_ptr<ChannelHooks>*>(value);
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
