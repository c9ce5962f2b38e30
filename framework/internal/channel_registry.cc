#include "framework/internal/channel_registry.h"

#include <atomic>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "framework/internal/plugin_names.h"

namespace slacker::internal {
namespace {

struct Table {
  std::mutex mu;
  std::map<ChannelId, ChannelEntry> by_id;
  std::map<const grpc::ChannelInterface*, ChannelId> by_channel;
  ChannelIdReader reader;
};
Table& Channels() {
  static Table* table = new Table();
  return *table;
}

[[noreturn]] void Broken(absl::string_view what) {
  FailWithMessage(absl::StrCat("RegisterChannel: ", what));
}

}  // namespace

ChannelId NewChannelId() {
  static std::atomic<ChannelId> next{1};
  return next.fetch_add(1);
}

void RegisterChannelById(ChannelId id,
                         std::shared_ptr<const ChannelSettings> settings) {
  if (id <= 0) Broken("the id did not come from NewChannelId");
  if (settings == nullptr) Broken("null settings");
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  if (table.by_id.count(id) > 0) Broken("the id is already registered");
  ChannelEntry& entry = table.by_id[id];
  entry.id = id;
  entry.settings = std::move(settings);
}

void RegisterChannel(ChannelId id, const grpc::ChannelInterface* channel,
                     std::shared_ptr<const ChannelSettings> settings) {
  if (channel == nullptr) Broken("null channel");
  RegisterChannelById(id, std::move(settings));
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  table.by_channel[channel] = id;
}

void SetChannelIdReader(ChannelIdReader reader) {
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  table.reader = std::move(reader);
}

void ForgetChannel(ChannelId id) {
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  if (table.by_id.erase(id) == 0) return;
  for (auto it = table.by_channel.begin(); it != table.by_channel.end(); ++it) {
    if (it->second == id) {
      table.by_channel.erase(it);
      break;
    }
  }
}

std::optional<ChannelEntry> FindChannel(ChannelId id) {
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.by_id.find(id);
  if (it == table.by_id.end()) return std::nullopt;
  return it->second;
}

std::optional<ChannelEntry> FindChannelByPointer(
    const grpc::ChannelInterface* channel) {
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  auto id = table.by_channel.find(channel);
  if (id == table.by_channel.end()) return std::nullopt;
  auto it = table.by_id.find(id->second);
  if (it == table.by_id.end()) return std::nullopt;
  return it->second;
}

std::optional<ChannelEntry> FindChannel(const grpc::ChannelInterface* channel) {
  std::optional<ChannelEntry> entry = FindChannelByPointer(channel);
  if (entry.has_value()) return entry;
  ChannelIdReader reader;
  {
    Table& table = Channels();
    std::lock_guard<std::mutex> lock(table.mu);
    reader = table.reader;
  }
  if (!reader || channel == nullptr) return std::nullopt;
  // Outside the lock: the reader asks the channel, which takes its own.
  std::optional<ChannelId> id = reader(channel);
  if (!id.has_value()) return std::nullopt;
  return FindChannel(*id);
}

void PublishServers(ChannelId id,
                    std::shared_ptr<const ServersByNamespace> servers) {
  Table& table = Channels();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.by_id.find(id);
  if (it != table.by_id.end()) it->second.servers = std::move(servers);
}

const NamespaceServers* ServersOf(const ServersByNamespace& servers,
                                  const std::string& ns) {
  auto it = servers.find(ns);
  if (it == servers.end()) it = servers.find(kAnyNamespace);
  return it == servers.end() ? nullptr : &it->second;
}

}  // namespace slacker::internal
