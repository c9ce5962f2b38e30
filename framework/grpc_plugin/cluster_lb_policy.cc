#include "framework/grpc_plugin/cluster_lb_policy.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "framework/grpc_plugin/cluster_lb_config.h"
#include "framework/grpc_plugin/cluster_picker.h"
#include "framework/grpc_plugin/server_attribute.h"
#include "framework/internal/channel_args.h"
#include "framework/internal/channel_registry.h"
#include "framework/internal/client_metrics.h"
#include "framework/internal/discovery_stats.h"
#include "framework/internal/keepalive.h"
#include "framework/internal/namespace_picker.h"
#include "framework/internal/plugin_names.h"
#include "framework/internal/rebuild_throttle.h"
#include "framework/internal/tls_name.h"
#include "src/core/ext/filters/client_channel/subchannel.h"
#include "src/core/ext/filters/client_channel/subchannel_interface_internal.h"
#include "src/core/lib/channel/channel_args.h"
#include "src/core/lib/gprpp/work_serializer.h"
#include "src/core/lib/iomgr/exec_ctx.h"
#include "src/core/lib/json/json.h"
#include "src/core/lib/load_balancing/lb_policy.h"
#include "src/core/lib/load_balancing/subchannel_interface.h"
#include "src/core/lib/transport/connectivity_state.h"

namespace slacker::internal {
namespace {

using grpc_core::Json;
using grpc_core::LoadBalancingPolicy;
using grpc_core::RefCountedPtr;
using grpc_core::SubchannelInterface;

// Keeps one subchannel per server and makes a picker (cluster_picker.h)
// from their states; see cluster_lb_policy.h. Every method named ...Locked
// runs in gRPC's work serializer (gRPC's meaning of "Locked").
class ClusterLbPolicy : public SetAsideListener {
 public:
  explicit ClusterLbPolicy(Args args) : SetAsideListener(std::move(args)) {}

  absl::string_view name() const override { return kLbPolicyName; }

  absl::Status UpdateLocked(UpdateArgs args) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    config_ = std::move(args.config);
    const ClusterLbOptions& config = options();
    if (!configured_) {
      configured_ = true;
      health_checks_ = config.health_checks;
      channel_id_ = args.args.GetInt(kChannelIdArg).value_or(0);
      if (channel_id_ > 0) {
        if (std::optional<ChannelEntry> entry = FindChannel(channel_id_)) {
          metrics_ = entry->settings->metrics;
        }
      }
    }
    if (!args.addresses.ok()) {
      // ZooKeeper was never reached: nothing known yet to keep serving.
      if (servers_.empty()) {
        previous_.clear();
        channel_control_helper()->UpdateState(
            GRPC_CHANNEL_TRANSIENT_FAILURE, args.addresses.status(),
            std::make_unique<TransientFailurePicker>(args.addresses.status()));
      }
      return args.addresses.status();
    }
    // Pointing into args.addresses and their attributes, which outlive this
    // call.
    struct Wanted {
      const ClusterServer* info;
      const grpc_core::ServerAddress* address;
    };
    std::map<std::string, Wanted> wanted;
    for (const grpc_core::ServerAddress& address : *args.addresses) {
      const auto* attribute = static_cast<const ServerAttribute*>(
          address.GetAttribute(ServerAttribute::Key()));
      if (attribute == nullptr) {
        Log(LogLevel::kWarning,
            absl::StrCat(config.target,
                         ": address without server: ", address.ToString()));
        continue;
      }
      const std::string& key = attribute->server().address;
      wanted[key] = Wanted{&attribute->server(), &address};
    }
    // Servers that left: their subchannels go (and with the last reference,
    // their connections).
    int joined = 0;
    int left = 0;
    for (auto it = servers_.begin(); it != servers_.end();) {
      if (wanted.count(it->first) == 0) {
        CancelHealthLocked(it->second);
        it->second.subchannel->CancelConnectivityStateWatch(it->second.watcher);
        it = servers_.erase(it);
        ++left;
      } else {
        ++it;
      }
    }
    for (const auto& [key, want] : wanted) {
      auto it = servers_.find(key);
      if (it != servers_.end()) {
        if (*it->second.info == *want.info) continue;  // Most of them.
        it->second.info = std::make_shared<const ClusterServer>(*want.info);
        SyncHealthLocked(key, it->second);
        continue;
      }
      Server& server = servers_[key];
      server.info = std::make_shared<const ClusterServer>(*want.info);
      server.stats = std::make_shared<ServerStats>();
      if (metrics_ != nullptr) server.metrics = metrics_->ForServer(key);
      server.subchannel = channel_control_helper()->CreateSubchannel(
          *want.address, SubchannelArgs());
      if (server.subchannel == nullptr) {
        servers_.erase(key);
        continue;
      }
      auto watcher = std::make_unique<StateWatcher>(this, key);
      server.watcher = watcher.get();
      server.subchannel->WatchConnectivityState(std::move(watcher));
      if (health_checks_) {
        auto slot = std::make_shared<grpc_core::Subchannel*>(nullptr);
        server.subchannel->AddDataWatcher(
            std::make_unique<SubchannelGrabber>(slot));
        server.core = *slot;
        if (server.core == nullptr) {
          Log(LogLevel::kWarning,
              absl::StrCat(config.target, ": no health checks for ", key,
                           " (this gRPC build does not expose subchannels)"));
        }
        SyncHealthLocked(key, server);
      }
      server.subchannel->RequestConnection();
      ++joined;
    }
    if (metrics_ != nullptr) metrics_->ServersChanged(joined, left);
    UpdatePickerLocked();
    if (absl::optional<absl::string_view> event =
            args.args.GetString(kEventTimeArg)) {
      int64_t ns = 0;
      if (absl::SimpleAtoi(*event, &ns) && ns != last_event_ns_) {
        last_event_ns_ = ns;
        const absl::Duration latency = absl::Now() - absl::FromUnixNanos(ns);
        RecordDiscoveryUpdate(config.target, latency);
        if (metrics_ != nullptr) metrics_->DiscoveryUpdate(latency);
      }
    }
    return absl::OkStatus();
  }

  void ExitIdleLocked() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    for (auto& [key, server] : servers_) server.subchannel->RequestConnection();
  }

  void ResetBackoffLocked() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    for (auto& [key, server] : servers_) server.subchannel->ResetBackoff();
  }

  // From any thread: a server was set aside; re-pick without it now, and with
  // it again when its time is up.
  void OnSetAside() override {
    grpc_core::ApplicationCallbackExecCtx callback_exec_ctx;
    grpc_core::ExecCtx exec_ctx;
    RunInSerializer<&ClusterLbPolicy::SetAsideLocked>();
  }

 private:
  class StateWatcher
      : public SubchannelInterface::ConnectivityStateWatcherInterface {
   public:
    StateWatcher(ClusterLbPolicy* policy, std::string key)
        : policy_(policy),
          ref_(policy->Ref(DEBUG_LOCATION, "StateWatcher")),
          key_(std::move(key)) {
      published_.store(true, std::memory_order_release);
    }
    void OnConnectivityStateChange(grpc_connectivity_state state,
                                   absl::Status status) override {
      published_.load(std::memory_order_acquire);
      policy_->OnStateChangeLocked(key_, state, status);
    }
    grpc_pollset_set* interested_parties() override {
      published_.load(std::memory_order_acquire);
      return policy_->interested_parties();
    }

   private:
    // Kept alive by ref_: a cancelled watch may still deliver one change
    // that gRPC queued before the cancel (seen under ASan as a use after
    // free once the policy's last other ref went); OnStateChangeLocked then
    // finds no server and returns.
    ClusterLbPolicy* policy_;
    grpc_core::RefCountedPtr<grpc_core::LoadBalancingPolicy> ref_;
    std::string key_;
    // Made in the work serializer, called on another thread of it: gRPC's
    // ordering between the two is invisible to ThreadSanitizer, this is not.
    std::atomic<bool> published_{false};
  };

  // Hands out the grpc_core::Subchannel behind the channel's wrapper (the
  // client channel calls SetSubchannel when the watcher is added).
  class SubchannelGrabber
      : public grpc_core::InternalSubchannelDataWatcherInterface {
   public:
    explicit SubchannelGrabber(std::shared_ptr<grpc_core::Subchannel*> slot)
        : slot_(std::move(slot)) {}
    void SetSubchannel(grpc_core::Subchannel* subchannel) override {
      *slot_ = subchannel;
    }

   private:
    std::shared_ptr<grpc_core::Subchannel*> slot_;
  };

  // The health of one namespace on one server's connection, from gRPC's own
  // health-checking client (grpc.health.v1.Health/Watch on that connection;
  // a server without the health service counts as SERVING).
  class HealthWatcher
      : public grpc_core::Subchannel::ConnectivityStateWatcherInterface {
   public:
    HealthWatcher(RefCountedPtr<ClusterLbPolicy> policy, std::string key,
                  std::string ns)
        : policy_(std::move(policy)), key_(std::move(key)), ns_(std::move(ns)) {
      published_.store(true, std::memory_order_release);
    }
    // Runs on a gRPC thread; the state is applied in the work serializer.
    void OnConnectivityStateChange() override {
      published_.load(std::memory_order_acquire);
      {
        // Popped under the lock: notifications run on several threads at
        // once, and the queue's order must be the order they are applied in
        // (a CONNECTING applied after the READY that followed it would hide
        // a healthy server for good).
        std::lock_guard<std::recursive_mutex> lock(policy_->mu_);
        const ConnectivityStateChange change = PopConnectivityStateChange();
        policy_->health_events_.push_back(
            HealthEvent{key_, ns_, Ref(), change.state});
      }
      policy_->RunInSerializer<&ClusterLbPolicy::DrainHealthLocked>();
    }
    grpc_pollset_set* interested_parties() override {
      published_.load(std::memory_order_acquire);
      return policy_->interested_parties();
    }

   private:
    RefCountedPtr<ClusterLbPolicy> policy_;
    const std::string key_;
    const std::string ns_;
    std::atomic<bool> published_{false};  // See StateWatcher.
  };

  struct Server {
    std::shared_ptr<const ClusterServer> info;
    RefCountedPtr<SubchannelInterface> subchannel;
    StateWatcher* watcher = nullptr;  // Owned by the subchannel.
    grpc_connectivity_state state = GRPC_CHANNEL_IDLE;
    absl::Status status;         // The last connection failure, explained.
    std::string logged_failure;  // Logged since the last READY; "" if none.
    std::shared_ptr<ServerStats> stats;
    std::shared_ptr<ServerCallMetrics> metrics;  // Null: no metrics.
    // The subchannel behind the channel's wrapper, for health watches; null
    // if gRPC did not hand it out (then health is not checked).
    grpc_core::Subchannel* core = nullptr;
    // Per namespace: the standard health service's verdict on this
    // connection (READY = SERVING; CONNECTING until the first answer).
    struct Health {
      RefCountedPtr<HealthWatcher> watcher;
      grpc_connectivity_state state = GRPC_CHANNEL_CONNECTING;
    };
    std::map<std::string, Health> health;
  };

  // Where a server stands for one namespace: its connection's state, and
  // once connected, its health for that namespace.
  grpc_connectivity_state StateFor(const Server& server,
                                   const std::string& ns) const {
    if (server.state != GRPC_CHANNEL_READY || server.core == nullptr ||
        !health_checks_) {
      return server.state;
    }
    auto it = server.health.find(ns);
    return it == server.health.end() ? GRPC_CHANNEL_CONNECTING
                                     : it->second.state;
  }

  // The health service's name for a namespace: the namespace itself, or ""
  // (the server as a whole) for kAnyNamespace, which a server announced in a
  // foreign format serves (foreign_snapshot.h).
  static std::string HealthServiceName(const std::string& ns) {
    return ns == kAnyNamespace ? std::string() : ns;
  }

  // Watches the health of exactly the namespaces the server publishes now.
  void SyncHealthLocked(const std::string& key, Server& server) {
    if (server.core == nullptr || !health_checks_) return;
    for (auto it = server.health.begin(); it != server.health.end();) {
      if (!std::binary_search(server.info->namespaces.begin(),
                              server.info->namespaces.end(), it->first)) {
        server.core->CancelConnectivityStateWatch(HealthServiceName(it->first),
                                                  it->second.watcher.get());
        it = server.health.erase(it);
      } else {
        ++it;
      }
    }
    for (const std::string& ns : server.info->namespaces) {
      if (server.health.count(ns) > 0) continue;
      Server::Health& health = server.health[ns];
      health.watcher =
          grpc_core::MakeRefCounted<HealthWatcher>(RefAsSubclass(), key, ns);
      server.core->WatchConnectivityState(HealthServiceName(ns),
                                          health.watcher);
    }
  }

  void CancelHealthLocked(Server& server) {
    for (auto& [ns, health] : server.health) {
      server.core->CancelConnectivityStateWatch(HealthServiceName(ns),
                                                health.watcher.get());
    }
    server.health.clear();
  }

  void OnHealthLocked(const std::string& key, const std::string& ns,
                      const HealthWatcher* watcher,
                      grpc_connectivity_state state) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (shut_down_) return;
    auto server = servers_.find(key);
    if (server == servers_.end()) return;
    auto health = server->second.health.find(ns);
    if (health == server->second.health.end() ||
        health->second.watcher.get() != watcher ||
        health->second.state == state) {
      return;  // A watch already cancelled, or nothing new.
    }
    health->second.state = state;
    PickerChangedLocked();
  }

  // Runs `kMethod` in the work serializer, from any thread (with an ExecCtx).
  // The callback captures one raw pointer (holding a reference): a trivially
  // copyable callback is stored inside the std::function, so gRPC's copying
  // of it between threads, invisible to ThreadSanitizer, leaves nothing of
  // ours for it to report; what the method needs travels under mu_.
  template <void (ClusterLbPolicy::*kMethod)()>
  void RunInSerializer() {
    ClusterLbPolicy* self = static_cast<ClusterLbPolicy*>(Ref().release());
    work_serializer()->Run(
        [self] {
          RefCountedPtr<ClusterLbPolicy> owner(self);
          (self->*kMethod)();
        },
        DEBUG_LOCATION);
  }

  // Fires to build a new picker: once a set-aside period is over (to re-pick
  // with the server again), or when a deferred picker is due (see
  // PickerChangedLocked). Owned by the event engine's queue until it runs
  // (then it deletes itself) or is cancelled at shutdown (then the policy
  // deletes it).
  class RebuildTimer
      : public grpc_event_engine::experimental::EventEngine::Closure {
   public:
    explicit RebuildTimer(ClusterLbPolicy* policy) : policy_(policy) {
      published_.store(true, std::memory_order_release);  // See StateWatcher.
    }
    void Run() override {
      published_.load(std::memory_order_acquire);
      grpc_core::ApplicationCallbackExecCtx callback_exec_ctx;
      grpc_core::ExecCtx exec_ctx;
      RefCountedPtr<ClusterLbPolicy> owner(policy_);  // Adopts the reference.
      {
        std::lock_guard<std::recursive_mutex> lock(policy_->mu_);
        policy_->timers_.erase(this);
      }
      policy_->RunInSerializer<&ClusterLbPolicy::RebuildLocked>();
      delete this;
    }
    ClusterLbPolicy* policy() const { return policy_; }

   private:
    ClusterLbPolicy* policy_;  // Holds a reference.
    std::atomic<bool> published_{false};
  };

  void SetAsideLocked() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (shut_down_ || config_ == nullptr) return;
    UpdatePickerLocked();
    StartRebuildTimerLocked(options().set_aside.period + absl::Milliseconds(1));
  }

  void StartRebuildTimerLocked(absl::Duration after) {
    auto* timer =
        new RebuildTimer(static_cast<ClusterLbPolicy*>(Ref().release()));
    timers_[timer] = channel_control_helper()->GetEventEngine()->RunAfter(
        absl::ToChronoNanoseconds(after), timer);
  }

  // Connectivity and health changes reach the picker through here, at once
  // or a little later (see rebuild_throttle.h).
  void PickerChangedLocked() {
    if (shut_down_) return;
    const absl::Duration wait = throttle_.Changed(absl::Now());
    if (wait == absl::ZeroDuration()) {
      UpdatePickerLocked();
    } else if (wait != absl::InfiniteDuration()) {
      StartRebuildTimerLocked(wait);
    }
  }

  void RebuildLocked() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (!shut_down_) UpdatePickerLocked();
  }

  struct HealthEvent {
    std::string key;
    std::string ns;
    RefCountedPtr<HealthWatcher> watcher;
    grpc_connectivity_state state;
  };

  void DrainHealthLocked() {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    std::vector<HealthEvent> events;
    events.swap(health_events_);
    for (const HealthEvent& event : events) {
      OnHealthLocked(event.key, event.ns, event.watcher.get(), event.state);
    }
  }

  RefCountedPtr<ClusterLbPolicy> RefAsSubclass() {
    return RefCountedPtr<ClusterLbPolicy>(
        static_cast<ClusterLbPolicy*>(Ref().release()));
  }

  void ShutdownLocked() override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    shut_down_ = true;
    if (channel_id_ > 0) PublishServers(channel_id_, nullptr);
    // A timer that cannot be cancelled is running: it finds shut_down_.
    for (auto& [timer, handle] : timers_) {
      if (channel_control_helper()->GetEventEngine()->Cancel(handle)) {
        timer->policy()->Unref();
        delete timer;
      }
    }
    timers_.clear();
    for (auto& [key, server] : servers_) {
      CancelHealthLocked(server);
      server.subchannel->CancelConnectivityStateWatch(server.watcher);
    }
    servers_.clear();
  }

  void OnStateChangeLocked(const std::string& key,
                           grpc_connectivity_state state,
                           const absl::Status& status) {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    auto it = servers_.find(key);
    if (it == servers_.end()) return;
    Server& server = it->second;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE && !status.ok()) {
      server.status = ExplainFailureLocked(key, server, status);
      // Once per failure, not per reconnection attempt.
      if (server.status.message() != server.logged_failure) {
        server.logged_failure = std::string(server.status.message());
        Log(LogLevel::kWarning,
            absl::StrCat(options().target, ": cannot connect to ", key, ": ",
                         server.status.message()));
      }
    }
    if (state == GRPC_CHANNEL_READY) {
      server.stats->Connected();
      server.logged_failure.clear();
    }
    const bool changed = server.state != state;
    server.state = state;
    // A server that closed its connection (GOAWAY, restart) is reconnected
    // at once, so it is READY again when it is picked.
    if (state == GRPC_CHANNEL_IDLE) server.subchannel->RequestConnection();
    if (changed) PickerChangedLocked();
  }

  const ClusterLbOptions& options() const {
    return static_cast<const ClusterLbConfig&>(*config_).options();
  }

  // A connection failure's status, with, for a TLS failure, the name the
  // certificate was checked against and what to do (tls_name.h): it reaches
  // failed calls (the picker's "last error"), the channel's state and the
  // log.
  absl::Status ExplainFailureLocked(const std::string& key,
                                    const Server& server,
                                    const absl::Status& status) const {
    absl::optional<absl::string_view> shared =
        channel_args().GetString(GRPC_SSL_TARGET_NAME_OVERRIDE_ARG);
    const TlsNameSource source = shared.has_value() ? TlsNameSource::kChannel
                                 : server.info->tls_name.empty()
                                     ? TlsNameSource::kHost
                                     : TlsNameSource::kPublished;
    const std::string name = shared.has_value()
                                 ? std::string(*shared)
                                 : TlsNameOf(key, server.info->tls_name);
    return absl::Status(
        status.code(),
        ExplainConnectionFailure(status.message(), key, name, source));
  }

  // The channel's arguments, with hung-server detection (keepalive.h) where
  // they do not say otherwise: CreateClusterChannel always says, a channel
  // made by grpc::CreateChannel("zk://...") gets the defaults here.
  grpc_core::ChannelArgs SubchannelArgs() const {
    return channel_args()
        .SetIfUnset(GRPC_ARG_KEEPALIVE_TIME_MS,
                    static_cast<int>(absl::ToInt64Milliseconds(kKeepaliveTime)))
        .SetIfUnset(
            GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
            static_cast<int>(absl::ToInt64Milliseconds(kKeepaliveTimeout)))
        .SetIfUnset(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1)
        .SetIfUnset(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  }

  // Builds a picker from every server's state now and hands it to gRPC, with
  // the channel's state; publishes the servers it picks from.
  void UpdatePickerLocked() {
    if (shut_down_ || config_ == nullptr) return;
    const absl::Time started = absl::Now();
    ChoicesByNamespace choices = CollectChoicesLocked(started);
    PrepareConfiguredPickers(options(), previous_, choices);
    previous_ = choices;
    LogStatesLocked();
    if (metrics_ != nullptr) CountServersLocked(started);
    PublishServersLocked(choices);
    ReportStateLocked(std::move(choices));
    throttle_.Built(started, absl::Now());
  }

  // Per namespace: the candidates (with subchannels and counters) and the
  // counts behind a failed pick's message. Pass 1: the READY servers not set
  // aside; pass 2 (a namespace whose servers are all set aside): every READY
  // one, since a server that may fail beats none.
  ChoicesByNamespace CollectChoicesLocked(absl::Time now) {
    ChoicesByNamespace choices;
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& [key, server] : servers_) {
        for (const std::string& ns : server.info->namespaces) {
          std::shared_ptr<NamespaceChoices>& entry = choices[ns];
          if (entry == nullptr) entry = std::make_shared<SubchannelChoices>();
          if (pass == 1 && !entry->candidates.empty()) continue;
          const grpc_connectivity_state state = StateFor(server, ns);
          if (pass == 0) CountPublisher(key, server, state, *entry);
          if (state != GRPC_CHANNEL_READY) continue;
          const bool aside = server.stats->IsSetAside(now);
          if (aside != (pass == 1)) continue;
          AddCandidate(key, server, ns,
                       static_cast<SubchannelChoices&>(*entry));
        }
      }
    }
    return choices;
  }

  static void CountPublisher(const std::string& key, const Server& server,
                             grpc_connectivity_state state,
                             NamespaceChoices& entry) {
    ++entry.publishers;
    if (state == GRPC_CHANNEL_CONNECTING || state == GRPC_CHANNEL_IDLE) {
      ++entry.connecting;
    }
    if (server.state == GRPC_CHANNEL_READY &&
        state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      entry.last_error = absl::StrCat(key, " reports NOT_SERVING");
    }
    if (!server.status.ok()) {
      entry.last_error = std::string(server.status.message());
    }
  }

  static void AddCandidate(const std::string& key, const Server& server,
                           const std::string& ns, SubchannelChoices& entry) {
    Candidate candidate;
    candidate.address = key;
    candidate.server_data = server.info->server_data;
    candidate.weight = server.info->weight;
    candidate.leader = std::binary_search(server.info->leads.begin(),
                                          server.info->leads.end(), ns);
    candidate.load = server.stats;
    entry.candidates.push_back(std::move(candidate));
    entry.subchannels.push_back(server.subchannel);
    entry.stats.push_back(server.stats);
    if (server.metrics != nullptr) entry.metrics.push_back(server.metrics);
  }

  // The servers per namespace gauges (client_metrics.h): known = publishing
  // in ZooKeeper, ready = READY and healthy for it, set aside = ready but set
  // aside now.
  void CountServersLocked(absl::Time now) {
    std::map<std::string, ClientMetrics::ServerCounts> counts;
    for (const auto& [key, server] : servers_) {
      const bool aside = server.stats->IsSetAside(now);
      for (const std::string& ns : server.info->namespaces) {
        ClientMetrics::ServerCounts& count = counts[ns];
        ++count.known;
        if (StateFor(server, ns) != GRPC_CHANNEL_READY) continue;
        ++count.ready;
        if (aside) ++count.set_aside;
      }
    }
    metrics_->SetServerCounts(counts);
  }

  void LogStatesLocked() const {
    if (!ShouldLog(LogLevel::kDebug)) return;
    std::string states;
    for (const auto& [key, server] : servers_) {
      absl::StrAppend(&states, " ", key, "=",
                      grpc_core::ConnectivityStateName(server.state));
      for (const auto& [ns, health] : server.health) {
        absl::StrAppend(&states, "/",
                        grpc_core::ConnectivityStateName(health.state));
      }
    }
    Log(LogLevel::kDebug, absl::StrCat(options().target, ": picker:", states));
  }

  // For fan-out and other readers of the channel registry.
  void PublishServersLocked(const ChoicesByNamespace& choices) const {
    if (channel_id_ <= 0) return;  // Not made by CreateClusterChannel.
    auto servers = std::make_shared<ServersByNamespace>();
    for (const auto& [ns, entry] : choices) {
      NamespaceServers& view = (*servers)[ns];
      view.connecting = entry->connecting;
      view.ready = entry->candidates;
      view.last_error = entry->last_error;
    }
    PublishServers(channel_id_, std::move(servers));
  }

  // READY if any server is, else CONNECTING if any may become so, else
  // TRANSIENT_FAILURE with the last connection error.
  void ReportStateLocked(ChoicesByNamespace choices) {
    int ready = 0;
    int connecting = 0;
    absl::Status failure;
    for (const auto& [key, server] : servers_) {
      ready += server.state == GRPC_CHANNEL_READY;
      connecting += server.state == GRPC_CHANNEL_CONNECTING ||
                    server.state == GRPC_CHANNEL_IDLE;
      if (!server.status.ok()) failure = server.status;
    }
    grpc_connectivity_state state =
        ready > 0 ? GRPC_CHANNEL_READY
                  : (connecting > 0 ? GRPC_CHANNEL_CONNECTING
                                    : GRPC_CHANNEL_TRANSIENT_FAILURE);
    absl::Status status;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      status = servers_.empty()
                   ? absl::UnavailableError(absl::StrCat(
                         "cluster '", options().cluster, "' has no servers"))
                   : (failure.ok() ? absl::UnavailableError("no server ready")
                                   : failure);
    }
    channel_control_helper()->UpdateState(
        state, status,
        std::make_unique<ClusterPicker>(
            RefAsSubclass(),
            RefCountedPtr<ClusterLbConfig>(
                static_cast<ClusterLbConfig*>(config_->Ref().release())),
            std::move(choices)));
  }

  // Everything below is touched only in the work serializer. gRPC's work
  // serializer runs its callbacks one at a time but on varying threads, and
  // orders them with synchronization inside Debian's uninstrumented libgrpc,
  // which ThreadSanitizer cannot see; this uncontended mutex states the same
  // order in a way it can (recursive in case gRPC calls back synchronously).
  std::recursive_mutex mu_;
  std::vector<HealthEvent> health_events_;  // From gRPC threads.
  std::map<RebuildTimer*,
           grpc_event_engine::experimental::EventEngine::TaskHandle>
      timers_;
  RefCountedPtr<Config> config_;
  std::map<std::string, Server> servers_;
  // The last picker's choices: the next picker continues their state.
  ChoicesByNamespace previous_;
  int64_t last_event_ns_ = 0;
  ChannelId channel_id_ = 0;  // 0: none (not made by CreateClusterChannel).
  // From the channel's settings at the first config; null: no metrics.
  std::shared_ptr<ClientMetrics> metrics_;
  bool shut_down_ = false;
  RebuildThrottle throttle_;  // See PickerChangedLocked.
  // From the first config; a later config cannot turn it on or off.
  bool health_checks_ = true;
  bool configured_ = false;
};

class ClusterLbPolicyFactory : public grpc_core::LoadBalancingPolicyFactory {
 public:
  grpc_core::OrphanablePtr<LoadBalancingPolicy> CreateLoadBalancingPolicy(
      LoadBalancingPolicy::Args args) const override {
    return grpc_core::MakeOrphanable<ClusterLbPolicy>(std::move(args));
  }

  absl::string_view name() const override { return kLbPolicyName; }

  absl::StatusOr<RefCountedPtr<LoadBalancingPolicy::Config>>
  ParseLoadBalancingConfig(const Json& json) const override {
    absl::StatusOr<ClusterLbOptions> options = ParseClusterLbOptions(json);
    if (!options.ok()) return options.status();
    return grpc_core::MakeRefCounted<ClusterLbConfig>(*std::move(options));
  }
};

}  // namespace

std::unique_ptr<grpc_core::LoadBalancingPolicyFactory>
MakeClusterLbPolicyFactory() {
  return std::make_unique<ClusterLbPolicyFactory>();
}

}  // namespace slacker::internal
