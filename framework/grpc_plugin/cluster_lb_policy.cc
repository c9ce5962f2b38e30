#include "framework/grpc_plugin/cluster_lb_policy.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/logging.h"
#include "framework/grouping/grouping.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/grpc_plugin/server_attribute.h"
#include "framework/internal/channel_settings.h"
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

// A grouping as the config names it: the text (which keys its pickers) and
// what it parsed to.
struct NamedGrouping {
  std::string text;
  GroupingSpec spec;
};

class ClusterConfig : public LoadBalancingPolicy::Config {
 public:
  absl::string_view name() const override { return kLbPolicyName; }

  std::string cluster;
  std::string target;
  std::string namespaces_path;
  std::string channel_id;
  NamedGrouping grouping{"random", {}};
  // "pkg.Service/Method" or "pkg.Service" -> grouping.
  std::map<std::string, NamedGrouping, std::less<>> methods;
  int set_aside_after = 5;
  absl::Duration set_aside_for = absl::Seconds(10);
  bool health_checks = true;
};

// A server's counters, shared by the policy, its pickers and call trackers.
struct ServerStats : ServerLoad {
  std::atomic<int> consecutive_unavailable{0};
  std::atomic<int64_t> set_aside_until_ns{0};  // Unix ns; 0 = not set aside.
};

class ClusterLbPolicy;

// Everything a picker needs for one namespace, fixed when the picker is made.
struct NamespaceChoices {
  std::vector<Candidate> candidates;  // READY, not set aside; by address.
  std::vector<RefCountedPtr<SubchannelInterface>> subchannels;
  std::vector<std::shared_ptr<ServerStats>> stats;
  int publishers = 0;  // Every server publishing it, READY or not.
  int connecting = 0;  // Publishers that may become READY soon.
  std::string last_error;
  // Pickers for the groupings the config names, made up front (read-only);
  // others (per-call groupings) are parsed, made and used under `mu`.
  std::map<std::string, std::unique_ptr<GroupingPicker>, std::less<>> pickers;
  struct CallGrouping {
    GroupingSpec spec;
    std::unique_ptr<GroupingPicker> picker;
  };
  std::mutex mu;
  std::map<std::string, CallGrouping, std::less<>> call_pickers;

  // gRPC ends a picker's last pick before it destroys the picker, but orders
  // that in uninstrumented libgrpc; taking `mu` states the order to TSan for
  // what picks made and used under it.
  ~NamespaceChoices() {
    std::lock_guard<std::mutex> lock(mu);
    call_pickers.clear();
  }
};

// By namespace; heterogeneous lookup, so a pick does not allocate.
using ChoicesByNamespace =
    std::map<std::string, std::shared_ptr<NamespaceChoices>, std::less<>>;

// Counts calls in flight and UNAVAILABLE streaks for one server.
class CallTracker : public LoadBalancingPolicy::SubchannelCallTrackerInterface {
 public:
  CallTracker(std::shared_ptr<ServerStats> stats,
              RefCountedPtr<ClusterLbPolicy> policy,
              RefCountedPtr<ClusterConfig> config)
      : stats_(std::move(stats)),
        policy_(std::move(policy)),
        config_(std::move(config)) {
    published_.store(true, std::memory_order_release);
  }
  void Start() override {
    published_.load(std::memory_order_acquire);
    stats_->in_flight.fetch_add(1);
  }
  void Finish(FinishArgs args) override;

 private:
  std::shared_ptr<ServerStats> stats_;
  RefCountedPtr<ClusterLbPolicy> policy_;
  RefCountedPtr<ClusterConfig> config_;
  // gRPC hands a tracker from the picking thread to the threads that start
  // and finish the call through its own (uninstrumented) synchronization;
  // this makes that hand-off visible to ThreadSanitizer. Same in the picker.
  std::atomic<bool> published_{false};
};

class ClusterPicker : public LoadBalancingPolicy::SubchannelPicker {
 public:
  ClusterPicker(RefCountedPtr<ClusterLbPolicy> policy,
                RefCountedPtr<ClusterConfig> config, ChoicesByNamespace choices)
      : policy_(std::move(policy)),
        config_(std::move(config)),
        choices_(std::move(choices)) {
    published_.store(true, std::memory_order_release);
  }

  LoadBalancingPolicy::PickResult Pick(
      LoadBalancingPolicy::PickArgs args) override;

 private:
  // The call's own grouping (SetGrouping) over `choices`; InvalidArgument
  // for a grouping that does not parse. REQUIRES: choices.mu held (and kept
  // while the result is used).
  static absl::StatusOr<const NamespaceChoices::CallGrouping*> CallGroupingFor(
      NamespaceChoices& choices, absl::string_view text);

  RefCountedPtr<ClusterLbPolicy> policy_;
  RefCountedPtr<ClusterConfig> config_;
  ChoicesByNamespace choices_;
  std::atomic<bool> published_{false};  // See CallTracker.
};

class ClusterLbPolicy : public LoadBalancingPolicy {
 public:
  explicit ClusterLbPolicy(Args args) : LoadBalancingPolicy(std::move(args)) {}

  absl::string_view name() const override { return kLbPolicyName; }

  absl::Status UpdateLocked(UpdateArgs args) override {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    config_ = std::move(args.config);
    const ClusterConfig& config = static_cast<const ClusterConfig&>(*config_);
    if (!configured_) {
      configured_ = true;
      health_checks_ = config.health_checks;
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
    for (auto it = servers_.begin(); it != servers_.end();) {
      if (wanted.count(it->first) == 0) {
        CancelHealthLocked(it->second);
        it->second.subchannel->CancelConnectivityStateWatch(it->second.watcher);
        it = servers_.erase(it);
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
      server.subchannel = channel_control_helper()->CreateSubchannel(
          *want.address, channel_args());
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
    }
    UpdatePickerLocked();
    if (absl::optional<absl::string_view> event =
            args.args.GetString(kEventTimeArg)) {
      int64_t ns = 0;
      if (absl::SimpleAtoi(*event, &ns) && ns != last_event_ns_) {
        last_event_ns_ = ns;
        RecordDiscoveryUpdate(config.target,
                              absl::Now() - absl::FromUnixNanos(ns));
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
  void OnSetAside() {
    grpc_core::ApplicationCallbackExecCtx callback_exec_ctx;
    grpc_core::ExecCtx exec_ctx;
    RunInSerializer<&ClusterLbPolicy::SetAsideLocked>();
  }

 private:
  class StateWatcher
      : public SubchannelInterface::ConnectivityStateWatcherInterface {
   public:
    StateWatcher(ClusterLbPolicy* policy, std::string key)
        : policy_(policy), key_(std::move(key)) {
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
    ClusterLbPolicy* policy_;  // Outlives the watch: cancelled at shutdown.
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
    absl::Status status;
    std::shared_ptr<ServerStats> stats;
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

  // Watches the health of exactly the namespaces the server publishes now.
  void SyncHealthLocked(const std::string& key, Server& server) {
    if (server.core == nullptr || !health_checks_) return;
    for (auto it = server.health.begin(); it != server.health.end();) {
      if (!std::binary_search(server.info->namespaces.begin(),
                              server.info->namespaces.end(), it->first)) {
        server.core->CancelConnectivityStateWatch(it->first,
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
      server.core->WatchConnectivityState(ns, health.watcher);
    }
  }

  void CancelHealthLocked(Server& server) {
    for (auto& [ns, health] : server.health) {
      server.core->CancelConnectivityStateWatch(ns, health.watcher.get());
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
    const auto& config = static_cast<const ClusterConfig&>(*config_);
    StartRebuildTimerLocked(config.set_aside_for + absl::Milliseconds(1));
  }

  void StartRebuildTimerLocked(absl::Duration after) {
    auto* timer =
        new RebuildTimer(static_cast<ClusterLbPolicy*>(Ref().release()));
    timers_[timer] = channel_control_helper()->GetEventEngine()->RunAfter(
        absl::ToChronoNanoseconds(after), timer);
  }

  // Connectivity and health changes reach the picker through here. A picker
  // is made from every server, so with many servers changing at once (1,000
  // connecting at start-up) a picker per change would make the work
  // quadratic: 3,000 pickers of 1,000 servers. So a new picker waits until
  // four times the last one's build time has passed since that one was
  // built: at once in practice for tens of servers (a build takes
  // microseconds), at most about 1 ms late for 1,000. A call picked meanwhile
  // on a server whose connection just broke is queued by gRPC until the next
  // picker, not failed.
  void PickerChangedLocked() {
    if (shut_down_ || picker_deferred_) return;
    const absl::Time now = absl::Now();
    const absl::Time due = last_picker_at_ + 4 * last_picker_cost_;
    if (now >= due) {
      UpdatePickerLocked();
      return;
    }
    picker_deferred_ = true;
    StartRebuildTimerLocked(due - now);
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
    if (!views_key_.empty()) ForgetViews(views_key_);
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
      server.status = status;
    }
    if (state == GRPC_CHANNEL_READY) {
      server.stats->consecutive_unavailable.store(0);
    }
    const bool changed = server.state != state;
    server.state = state;
    // A server that closed its connection (GOAWAY, restart) is reconnected
    // at once, so it is READY again when it is picked.
    if (state == GRPC_CHANNEL_IDLE) server.subchannel->RequestConnection();
    if (changed) PickerChangedLocked();
  }

  void UpdatePickerLocked() {
    if (shut_down_ || config_ == nullptr) return;
    const absl::Time started = absl::Now();
    const auto& config = static_cast<const ClusterConfig&>(*config_);
    const int64_t now_ns = absl::ToUnixNanos(started);
    ChoicesByNamespace choices;
    int ready = 0;
    int connecting = 0;
    absl::Status failure;
    for (auto& [key, server] : servers_) {
      ready += server.state == GRPC_CHANNEL_READY;
      connecting += server.state == GRPC_CHANNEL_CONNECTING ||
                    server.state == GRPC_CHANNEL_IDLE;
      if (!server.status.ok()) failure = server.status;
    }
    // Pass 1: the READY servers not set aside; pass 2 (a namespace whose
    // servers are all set aside): every READY one, since a server that may
    // fail beats none.
    for (int pass = 0; pass < 2; ++pass) {
      for (auto& [key, server] : servers_) {
        for (const std::string& ns : server.info->namespaces) {
          std::shared_ptr<NamespaceChoices>& entry = choices[ns];
          if (entry == nullptr) entry = std::make_shared<NamespaceChoices>();
          if (pass == 1 && !entry->candidates.empty()) continue;
          const grpc_connectivity_state state = StateFor(server, ns);
          if (pass == 0) {
            ++entry->publishers;
            if (state == GRPC_CHANNEL_CONNECTING ||
                state == GRPC_CHANNEL_IDLE) {
              ++entry->connecting;
            }
            if (server.state == GRPC_CHANNEL_READY &&
                state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
              entry->last_error = absl::StrCat(key, " reports NOT_SERVING");
            }
            if (!server.status.ok()) {
              entry->last_error = std::string(server.status.message());
            }
          }
          if (state != GRPC_CHANNEL_READY) continue;
          const bool aside = server.stats->set_aside_until_ns.load() > now_ns;
          if (pass == 0 && aside) continue;
          if (pass == 1 && !aside) continue;
          Candidate candidate;
          candidate.address = key;
          candidate.server_data = server.info->server_data;
          candidate.weight = server.info->weight;
          candidate.leader = std::binary_search(server.info->leads.begin(),
                                                server.info->leads.end(), ns);
          candidate.load = server.stats;
          entry->candidates.push_back(std::move(candidate));
          entry->subchannels.push_back(server.subchannel);
          entry->stats.push_back(server.stats);
        }
      }
    }
    // The groupings the config names, for every namespace, made now so that
    // calls find them without a lock; each continues the previous picker's
    // state (round_robin's position, sticky's server).
    for (auto& [ns, entry] : choices) {
      if (entry->candidates.empty()) continue;
      std::vector<const NamedGrouping*> groupings = {&config.grouping};
      for (const auto& [name, grouping] : config.methods) {
        groupings.push_back(&grouping);
      }
      for (const NamedGrouping* grouping : groupings) {
        const std::string& text = grouping->text;
        if (entry->pickers.count(text) > 0) continue;
        const GroupingPicker* previous = nullptr;
        auto old = previous_.find(ns);
        if (old != previous_.end()) {
          auto it = old->second->pickers.find(text);
          if (it != old->second->pickers.end()) previous = it->second.get();
        }
        entry->pickers[text] =
            grouping->spec.grouping->Prepare(entry->candidates, previous);
      }
    }
    previous_ = choices;
    if (ShouldLog(LogLevel::kDebug)) {
      std::string states;
      for (const auto& [key, server] : servers_) {
        absl::StrAppend(&states, " ", key, "=",
                        grpc_core::ConnectivityStateName(server.state));
        for (const auto& [ns, health] : server.health) {
          absl::StrAppend(&states, "/",
                          grpc_core::ConnectivityStateName(health.state));
        }
      }
      Log(LogLevel::kDebug, absl::StrCat(config.target, ": picker:", states));
    }
    auto views = std::make_shared<NamespaceViews>();
    for (const auto& [ns, entry] : choices) {
      NamespaceView& view = (*views)[ns];
      view.connecting = entry->connecting;
      for (const Candidate& candidate : entry->candidates) {
        view.servers.push_back(ServerView{candidate.address,
                                          candidate.server_data,
                                          candidate.weight, candidate.leader});
      }
    }
    views_key_ = ViewKey(config.target, config.channel_id);
    PublishViews(views_key_, std::move(views));
    grpc_connectivity_state state =
        ready > 0 ? GRPC_CHANNEL_READY
                  : (connecting > 0 ? GRPC_CHANNEL_CONNECTING
                                    : GRPC_CHANNEL_TRANSIENT_FAILURE);
    absl::Status status;
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE) {
      status = servers_.empty()
                   ? absl::UnavailableError(absl::StrCat(
                         "cluster '", config.cluster, "' has no servers"))
                   : (failure.ok() ? absl::UnavailableError("no server ready")
                                   : failure);
    }
    channel_control_helper()->UpdateState(
        state, status,
        std::make_unique<ClusterPicker>(RefAsSubclass(), config_,
                                        std::move(choices)));
    last_picker_at_ = absl::Now();
    last_picker_cost_ = last_picker_at_ - started;
    picker_deferred_ = false;
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
  std::string views_key_;  // Where this channel's views are published.
  bool shut_down_ = false;
  // See PickerChangedLocked.
  absl::Time last_picker_at_ = absl::InfinitePast();
  absl::Duration last_picker_cost_;
  bool picker_deferred_ = false;
  // From the first config; a later config cannot turn it on or off.
  bool health_checks_ = true;
  bool configured_ = false;
};

void CallTracker::Finish(FinishArgs args) {
  published_.load(std::memory_order_acquire);
  stats_->in_flight.fetch_sub(1);
  if (args.status.code() != absl::StatusCode::kUnavailable) {
    stats_->consecutive_unavailable.store(0);
    return;
  }
  const int streak = stats_->consecutive_unavailable.fetch_add(1) + 1;
  if (config_->set_aside_after <= 0 || streak < config_->set_aside_after) {
    return;
  }
  // Set aside (Curator's note-error, gRPC's outlier ejection): one caller
  // wins the exchange and tells the policy.
  const int64_t now = absl::ToUnixNanos(absl::Now());
  int64_t until = stats_->set_aside_until_ns.load();
  if (until > now) return;
  const int64_t next = now + absl::ToInt64Nanoseconds(config_->set_aside_for);
  if (!stats_->set_aside_until_ns.compare_exchange_strong(until, next)) return;
  stats_->consecutive_unavailable.store(0);
  policy_->OnSetAside();
}

LoadBalancingPolicy::PickResult ClusterPicker::Pick(
    LoadBalancingPolicy::PickArgs args) {
  using PickResult = LoadBalancingPolicy::PickResult;
  published_.load(std::memory_order_acquire);
  // "/package.Service/Method"
  absl::string_view path = args.path;
  absl::ConsumePrefix(&path, "/");
  const size_t slash = path.find('/');
  const absl::string_view ns = path.substr(0, slash);
  const absl::string_view method =
      slash == absl::string_view::npos ? "" : path.substr(slash + 1);
  const ClusterConfig& config = *config_;
  auto found = choices_.find(ns);
  if (found == choices_.end()) {
    return PickResult::Fail(absl::UnavailableError(absl::StrCat(
        "no server of cluster '", config.cluster, "' publishes namespace '", ns,
        "' (nothing under ", config.namespaces_path, "/", ns,
        "): start a server that registers this service in this cluster, or "
        "check the cluster name")));
  }
  NamespaceChoices& choices = *found->second;
  if (choices.candidates.empty()) {
    if (choices.connecting > 0) return PickResult::Queue();
    return PickResult::Fail(absl::UnavailableError(absl::StrCat(
        "none of the ", choices.publishers, " server(s) of cluster '",
        config.cluster, "' publishing '", ns, "' is reachable",
        choices.last_error.empty() ? "" : " (last error: ", choices.last_error,
        choices.last_error.empty() ? "" : ")")));
  }
  std::string grouping_buffer;
  std::string hash_buffer;
  absl::optional<absl::string_view> per_call =
      args.initial_metadata->Lookup(kGroupingMetadata, &grouping_buffer);
  absl::optional<absl::string_view> hash_key =
      args.initial_metadata->Lookup(kHashKeyMetadata, &hash_buffer);
  const NamedGrouping* named = &config.grouping;
  if (!config.methods.empty()) {
    auto by_method = config.methods.find(path);
    if (by_method == config.methods.end()) by_method = config.methods.find(ns);
    if (by_method != config.methods.end()) named = &by_method->second;
  }
  const GroupingSpec* spec = &named->spec;
  GroupingPicker* picker = nullptr;
  std::unique_lock<std::mutex> call_grouping_lock;
  if (per_call.has_value() && *per_call != named->text) {
    call_grouping_lock = std::unique_lock<std::mutex>(choices.mu);
    absl::StatusOr<const NamespaceChoices::CallGrouping*> call_grouping =
        CallGroupingFor(choices, *per_call);
    if (!call_grouping.ok()) return PickResult::Drop(call_grouping.status());
    spec = &(*call_grouping)->spec;
    picker = (*call_grouping)->picker.get();
  } else {
    picker = choices.pickers.find(named->text)->second.get();
  }
  CallInfo call;
  call.cluster = config.cluster;
  call.name_space = ns;
  call.method = method;
  call.hash_key = hash_key.value_or("");
  call.server = spec->argument;
  absl::StatusOr<size_t> index = picker->Pick(call);
  if (!index.ok()) {
    if (absl::IsUnavailable(index.status())) {
      if (choices.connecting > 0) return PickResult::Queue();
      return PickResult::Fail(index.status());
    }
    return PickResult::Drop(index.status());
  }
  return PickResult::Complete(
      choices.subchannels[*index],
      std::make_unique<CallTracker>(choices.stats[*index], policy_, config_));
}

absl::StatusOr<const NamespaceChoices::CallGrouping*>
ClusterPicker::CallGroupingFor(NamespaceChoices& choices,
                               absl::string_view text) {
  auto it = choices.call_pickers.find(text);
  if (it != choices.call_pickers.end()) return &it->second;
  // Parsed once per grouping text and picker, not once per call.
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(text);
  if (!spec.ok()) return spec.status();
  NamespaceChoices::CallGrouping grouping;
  grouping.picker = spec->grouping->Prepare(choices.candidates, nullptr);
  grouping.spec = *std::move(spec);
  return &choices.call_pickers.emplace(std::string(text), std::move(grouping))
              .first->second;
}

absl::StatusOr<GroupingSpec> ParseSpec(const Json& json,
                                       absl::string_view what) {
  if (json.type() != Json::Type::STRING) {
    return absl::InvalidArgumentError(absl::StrCat(what, " must be a string"));
  }
  absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(json.string_value());
  if (!spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", spec.status().message()));
  }
  return spec;
}

class ClusterLbPolicyFactory : public grpc_core::LoadBalancingPolicyFactory {
 public:
  grpc_core::OrphanablePtr<LoadBalancingPolicy> CreateLoadBalancingPolicy(
      LoadBalancingPolicy::Args args) const override {
    return grpc_core::MakeOrphanable<ClusterLbPolicy>(std::move(args));
  }

  absl::string_view name() const override { return kLbPolicyName; }

  absl::StatusOr<RefCountedPtr<LoadBalancingPolicy::Config>>
  ParseLoadBalancingConfig(const Json& json) const override {
    if (json.type() != Json::Type::OBJECT) {
      return absl::InvalidArgumentError(
          "slacker_cluster config must be a JSON object");
    }
    auto config = grpc_core::MakeRefCounted<ClusterConfig>();
    auto string_field = [&](const char* name, std::string* out) {
      auto it = json.object_value().find(name);
      if (it != json.object_value().end() &&
          it->second.type() == Json::Type::STRING) {
        *out = it->second.string_value();
      }
    };
    string_field("cluster", &config->cluster);
    string_field("target", &config->target);
    string_field("namespacesPath", &config->namespaces_path);
    string_field("channelId", &config->channel_id);
    string_field("grouping", &config->grouping.text);
    absl::StatusOr<GroupingSpec> default_grouping =
        ParseSpec(Json(config->grouping.text), "grouping");
    if (!default_grouping.ok()) return default_grouping.status();
    config->grouping.spec = std::move(*default_grouping);
    for (const auto& [name, value] : json.object_value()) {
      if (name == "methods") {
        if (value.type() != Json::Type::OBJECT) {
          return absl::InvalidArgumentError("methods must be a JSON object");
        }
        for (const auto& [method, spec_json] : value.object_value()) {
          absl::StatusOr<GroupingSpec> spec =
              ParseSpec(spec_json, absl::StrCat("grouping of ", method));
          if (!spec.ok()) return spec.status();
          config->methods[method] =
              NamedGrouping{spec_json.string_value(), std::move(*spec)};
        }
      } else if (name == "healthChecks") {
        if (value.type() != Json::Type::JSON_TRUE &&
            value.type() != Json::Type::JSON_FALSE) {
          return absl::InvalidArgumentError(
              "healthChecks must be true or false");
        }
        config->health_checks = value.type() == Json::Type::JSON_TRUE;
      } else if (name == "setAsideAfter" || name == "setAsideForMs") {
        int64_t number = 0;
        if (value.type() != Json::Type::NUMBER ||
            !absl::SimpleAtoi(value.string_value(), &number) || number < 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(name, " must be a whole number >= 0"));
        }
        if (name == "setAsideAfter") {
          config->set_aside_after = static_cast<int>(number);
        } else {
          config->set_aside_for = absl::Milliseconds(number);
        }
      }
    }
    return config;
  }
};

}  // namespace

std::unique_ptr<grpc_core::LoadBalancingPolicyFactory>
MakeClusterLbPolicyFactory() {
  return std::make_unique<ClusterLbPolicyFactory>();
}

}  // namespace slacker::internal
