#include "framework/zk_channels.h"

#include <grpcpp/channel.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "framework/cluster_interceptor.h"
#include "framework/internal/cluster_lb_options.h"
#include "framework/internal/plugin_names.h"

namespace slacker::internal {
namespace {

using grpc::experimental::ClientInterceptorFactoryInterface;
using grpc::experimental::ClientRpcInfo;
using grpc::experimental::Interceptor;
using grpc::experimental::InterceptorBatchMethods;

// The id in one service config, or nullopt.
std::optional<ChannelId> ParseChannelId(const std::string& config) {
  const nlohmann::json json =
      nlohmann::json::parse(config, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  auto policies = json.find("loadBalancingConfig");
  if (policies == json.end() || !policies->is_array()) return std::nullopt;
  for (const nlohmann::json& policy : *policies) {
    if (!policy.is_object()) continue;
    auto ours = policy.find(kLbPolicyName);
    if (ours == policy.end() || !ours->is_object()) continue;
    auto id = ours->find(kLbConfigChannelId);
    if (id == ours->end() || !id->is_number_integer()) return std::nullopt;
    const int64_t value = id->get<int64_t>();
    if (value <= 0) return std::nullopt;
    return static_cast<ChannelId>(value);
  }
  return std::nullopt;
}

// Service configs already parsed: a channel's does not change while its
// resolver lives, and calls ask for it each time.
class ParsedConfigs {
 public:
  std::optional<ChannelId> Find(const std::string& config) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = ids_.find(config);
      if (it != ids_.end()) return it->second;
    }
    std::optional<ChannelId> id = ParseChannelId(config);
    std::lock_guard<std::mutex> lock(mu_);
    if (ids_.size() >= kMax) ids_.clear();  // Channels come and go.
    ids_.emplace(config, id);
    return id;
  }

 private:
  static constexpr size_t kMax = 256;
  std::mutex mu_;
  std::map<std::string, std::optional<ChannelId>> ids_;
};

// Lets every batch go on: a call the global factory has nothing for (gRPC
// requires its global factory to return an interceptor).
class PassThrough : public Interceptor {
 public:
  void Intercept(InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }
};

class GlobalFactory : public ClientInterceptorFactoryInterface {
 public:
  explicit GlobalFactory(ClientInterceptorFactoryInterface* yours)
      : yours_(yours) {}

  Interceptor* CreateClientInterceptor(ClientRpcInfo* info) override {
    if (std::shared_ptr<const InterceptorSettings> settings =
            SettingsFor(info->channel())) {
      return NewClusterInterceptor(info, std::move(settings));
    }
    Interceptor* interceptor =
        yours_ == nullptr ? nullptr : yours_->CreateClientInterceptor(info);
    return interceptor != nullptr ? interceptor : new PassThrough();
  }

 private:
  // The interceptor settings of a channel its resolver registered, or null.
  std::shared_ptr<const InterceptorSettings> SettingsFor(
      grpc::ChannelInterface* channel) {
    // Cheap tests first: most channels are not cluster channels, and
    // CreateClusterChannel's carry their own interceptor.
    auto* grpc_channel = dynamic_cast<grpc::Channel*>(channel);
    if (grpc_channel == nullptr ||
        grpc_channel->GetLoadBalancingPolicyName() != kLbPolicyName ||
        FindChannelByPointer(channel).has_value()) {
      return nullptr;
    }
    std::optional<ChannelId> id = ReadChannelId(channel);
    if (!id.has_value()) return nullptr;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = settings_.find(*id);
    if (it != settings_.end()) return it->second;
    std::optional<ChannelEntry> entry = FindChannel(*id);
    if (!entry.has_value()) return nullptr;
    auto settings = std::make_shared<InterceptorSettings>();
    settings->channel_id = *id;
    settings->cluster = entry->settings->cluster;
    settings->grouping = entry->settings->grouping.empty()
                             ? "random"
                             : entry->settings->grouping;
    settings->method_groupings = entry->settings->method_groupings;
    FindGroupingFunctions(settings.get());
    if (settings_.size() >= 256) settings_.clear();  // Channels come and go.
    settings_[*id] = settings;
    return settings;
  }

  ClientInterceptorFactoryInterface* const yours_;
  std::mutex mu_;
  std::map<ChannelId, std::shared_ptr<const InterceptorSettings>> settings_;
};

}  // namespace

std::optional<ChannelId> ReadChannelId(const grpc::ChannelInterface* channel) {
  static ParsedConfigs* parsed = new ParsedConfigs();
  const auto* grpc_channel = dynamic_cast<const grpc::Channel*>(channel);
  if (grpc_channel == nullptr) return std::nullopt;
  const std::string config = grpc_channel->GetServiceConfigJSON();
  if (config.empty()) return std::nullopt;
  return parsed->Find(config);
}

std::unique_ptr<ClientInterceptorFactoryInterface>
MakeGlobalClusterInterceptorFactory(ClientInterceptorFactoryInterface* yours) {
  return std::make_unique<GlobalFactory>(yours);
}

}  // namespace slacker::internal
