#include "framework/fan_out.h"

#include <grpcpp/client_context.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "framework/cluster_channel.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/internal/channel_registry.h"
#include "framework/internal/completion_driver.h"
#include "framework/internal/plugin_names.h"

namespace slacker {
namespace {

// Options set per channel and per method; entries whose channel is gone are
// dropped as they are met.
struct OptionsTable {
  struct Entry {
    std::weak_ptr<grpc::Channel> channel;
    std::optional<FanOutOptions> channel_options;
    std::map<std::string, FanOutOptions> methods;
  };
  std::mutex mu;
  std::map<const grpc::Channel*, Entry> entries;
};
OptionsTable& Options() {
  static OptionsTable* table = new OptionsTable();
  return *table;
}

OptionsTable::Entry& EntryHoldingMu(
    OptionsTable& table, const std::shared_ptr<grpc::Channel>& channel)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(table.mu) {
  OptionsTable::Entry& entry = table.entries[channel.get()];
  if (entry.channel.lock() != channel) {
    entry = OptionsTable::Entry();
    entry.channel = channel;
  }
  return entry;
}

FanOutOptions OptionsFor(const std::shared_ptr<grpc::Channel>& channel,
                         const std::string& method,
                         std::optional<FanOutOptions> call) {
  if (call.has_value()) return *std::move(call);
  OptionsTable& table = Options();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.entries.find(channel.get());
  if (it == table.entries.end()) return FanOutOptions();
  if (it->second.channel.lock() != channel) {
    table.entries.erase(it);
    return FanOutOptions();
  }
  auto by_method = it->second.methods.find(method);
  if (by_method != it->second.methods.end()) return by_method->second;
  return it->second.channel_options.value_or(FanOutOptions());
}

// The channel's entry in the channel registry: nullopt if CreateClusterChannel
// did not make it.
std::optional<internal::ChannelEntry> EntryOf(const grpc::Channel& channel) {
  return internal::FindChannel(&channel);
}

std::string Line(const ServerOutcome& outcome) {
  return absl::StrCat(
      outcome.address, " ", outcome.status.ok() ? "OK" : "failed: code ",
      outcome.status.ok() ? "" : absl::StrCat(outcome.status.error_code()),
      outcome.status.ok() ? "" : " ", outcome.status.error_message());
}

using internal::CompletionDriver;

// What a fan-out's call collects: every server's raw outcome, as the
// channel's interceptor hands it over for a generic call (call_results.h).
// The interceptor's own policies step aside: FanOut applies its options to
// the raw outcomes (FanOutBuilder), as it always has.
class RawCollector : public internal::CallCollector {
 public:
  RawCollector(grpc::ClientContext* context,
               std::optional<std::vector<std::string>> servers)
      : CallCollector(context) {
    servers_ = std::move(servers);
    policies_.errors = FanOutErrors::kAll;
    policies_.error_policy = [](const std::vector<ServerOutcome>&) {
      return absl::OkStatus();
    };
    policies_.results = ResultsPolicy::kSingle;
    policies_.results_function = [](absl::string_view, absl::string_view,
                                    const google::protobuf::Message*) {
      return ResultsPolicy::kSingle;
    };
  }
  bool called() const { return called_; }
  const absl::Status& status() const { return status_; }
  std::vector<internal::RawOutcome> TakeRaw() { return std::move(raw_); }
};

// One fan-out in flight: one generic unary call through the cluster channel
// with grouping `all`, which the channel's interceptor hijacks and fans out
// (cluster_interceptor.h), exactly as it does a stub's call.
class Call : public FanOutCall,
             public CompletionDriver::Tag,
             public std::enable_shared_from_this<Call> {
 public:
  Call(std::unique_ptr<grpc::ClientContext> owned, grpc::ClientContext* context,
       FanOutOptions options, internal::RawDone done)
      : owned_(std::move(owned)),
        context_(context),
        options_(std::move(options)),
        done_(std::move(done)) {}

  void Start(const std::shared_ptr<grpc::Channel>& channel,
             const std::string& path, const grpc::ByteBuffer& request,
             std::optional<std::vector<std::string>> servers) {
    SetGrouping(context_, "all");
    MarkGenericCall(context_);
    collector_ = std::make_unique<RawCollector>(context_, std::move(servers));
    grpc::GenericStub stub(channel);
    std::lock_guard<std::mutex> lock(mu_);
    self_ = shared_from_this();  // Until Complete.
    reader_ = stub.PrepareUnaryCall(context_, path, request,
                                    CompletionDriver::FanOutCalls().cq());
    reader_->StartCall();
    // The driver's thread reads this object after gRPC hands it over through
    // its own (uninstrumented) queue; this makes that visible to TSan.
    published_.store(true, std::memory_order_release);
    reader_->Finish(&response_, &status_,
                    static_cast<CompletionDriver::Tag*>(this));
  }

  void Cancel() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!finished_) context_->TryCancel();  // The interceptor cancels all.
  }

  // On the driver's thread.
  void Complete(bool) override {
    published_.load(std::memory_order_acquire);
    std::shared_ptr<Call> self;
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
      self = std::move(self_);
    }
    internal::RawFanOut raw;
    if (!collector_->called()) {
      // The interceptor did not fan the call out: the context's own grouping
      // (SetGrouping) came first, and either picked one server or was
      // refused (FanOut's `all` comes after it).
      raw.status = absl::InvalidArgumentError(absl::StrCat(
          "the fan-out's ClientContext has a grouping of its own "
          "(SetGrouping), so the call did not go to several servers (it ",
          status_.ok() ? "succeeded on one server"
                       : absl::StrCat("failed: ", status_.error_message()),
          "): FanOutOptions::servers chooses a fan-out's servers; do not call "
          "SetGrouping on its context"));
    } else {
      raw.outcomes = collector_->TakeRaw();
      if (raw.outcomes.empty()) {
        // No server by the time the interceptor looked.
        if (options_.unavailable_value.has_value()) {
          raw.unavailable = true;
        } else {
          raw.status = collector_->status();
        }
      }
    }
    // Now, while the context is surely alive (a caller's may go once done_
    // ran, while this object lives on in the caller's FanOutCall): the reader
    // lives in the context's call, and the collector's binding to the
    // context's address must not outlive it.
    reader_.reset();
    collector_.reset();
    done_(options_, std::move(raw));
  }

 private:
  const std::unique_ptr<grpc::ClientContext> owned_;  // Or null.
  grpc::ClientContext* const context_;
  const FanOutOptions options_;
  const internal::RawDone done_;
  std::unique_ptr<RawCollector> collector_;
  // Before context_ goes (arena-allocated in its call).
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader_;
  grpc::ByteBuffer response_;  // The first success's; FanOut reads raw.
  grpc::Status status_;
  std::atomic<bool> published_{false};

  std::mutex mu_;
  bool finished_ = false;
  std::shared_ptr<Call> self_;
};

// How long a fan-out waits for publishers that are still connecting.
constexpr absl::Duration kConnectWait = absl::Seconds(2);

class FinishedCall : public FanOutCall {
 public:
  void Cancel() override {}
};

}  // namespace

void SetFanOutOptions(const std::shared_ptr<grpc::Channel>& channel,
                      FanOutOptions options) {
  OptionsTable& table = Options();
  std::lock_guard<std::mutex> lock(table.mu);
  EntryHoldingMu(table, channel).channel_options = std::move(options);
}

void SetFanOutOptions(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& method, FanOutOptions options) {
  OptionsTable& table = Options();
  std::lock_guard<std::mutex> lock(table.mu);
  EntryHoldingMu(table, channel)
      .methods[std::string(absl::StripPrefix(method, "/"))] =
      std::move(options);
}

std::vector<std::string> ReadyServers(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& ns) {
  std::vector<std::string> addresses;
  if (channel == nullptr) return addresses;
  std::optional<internal::ChannelEntry> entry = EntryOf(*channel);
  if (!entry.has_value() || entry->servers == nullptr) return addresses;
  const internal::NamespaceServers* servers =
      internal::ServersOf(*entry->servers, ns);
  if (servers == nullptr) return addresses;
  for (const Candidate& server : servers->ready) {
    addresses.push_back(server.address);
  }
  return addresses;
}

namespace internal {

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  grpc::ByteBuffer buffer;
  grpc::ProtoBufferWriter writer(&buffer,
                                 grpc::kProtoBufferWriterMaxBufferLength,
                                 static_cast<int>(message.ByteSizeLong()));
  message.SerializeToZeroCopyStream(&writer);
  return buffer;
}

bool ParseMessage(grpc::ByteBuffer* buffer,
                  google::protobuf::Message* message) {
  grpc::ProtoBufferReader reader(buffer);
  return message->ParseFromZeroCopyStream(&reader);
}

std::vector<ServerOutcome> ParseOutcomes(
    std::vector<RawOutcome>& raw, const google::protobuf::Message& prototype,
    std::vector<std::unique_ptr<google::protobuf::Message>>* responses) {
  std::vector<ServerOutcome> outcomes;
  for (RawOutcome& raw_outcome : raw) {
    ServerOutcome outcome;
    outcome.address = std::move(raw_outcome.address);
    outcome.status = raw_outcome.status;
    outcome.latency = raw_outcome.latency;
    if (outcome.status.ok()) {
      std::unique_ptr<google::protobuf::Message> response(prototype.New());
      if (ParseMessage(&raw_outcome.response, response.get())) {
        outcome.response = response.get();
        responses->push_back(std::move(response));
      } else {
        outcome.status =
            grpc::Status(grpc::StatusCode::INTERNAL,
                         "the response does not parse as " +
                             prototype.GetDescriptor()->full_name());
      }
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

absl::Status ApplyErrorPolicy(const FanOutOptions& options,
                              const std::vector<ServerOutcome>& outcomes) {
  if (options.error_policy) return options.error_policy(outcomes);
  int failed = 0;
  const ServerOutcome* first_failure = nullptr;
  for (const ServerOutcome& outcome : outcomes) {
    if (outcome.status.ok()) continue;
    ++failed;
    if (first_failure == nullptr) first_failure = &outcome;
  }
  const bool fails = options.errors == FanOutErrors::kAny
                         ? failed > 0
                         : failed == static_cast<int>(outcomes.size());
  if (!fails) return absl::OkStatus();
  std::string details;
  for (const ServerOutcome& outcome : outcomes) {
    absl::StrAppend(&details, Line(outcome), "\n");
  }
  const absl::StatusCode code =
      first_failure == nullptr
          ? absl::StatusCode::kUnavailable
          : static_cast<absl::StatusCode>(first_failure->status.error_code());
  absl::Status status(
      code, absl::StrCat(failed, " of ", outcomes.size(),
                         " servers failed (errors policy ",
                         options.error_policy                   ? "custom"
                         : options.errors == FanOutErrors::kAny ? "any"
                                                                : "all",
                         "): ", absl::StripSuffix(details, "\n")));
  status.SetPayload(kFanOutDetailsUrl, absl::Cord(details));
  return status;
}

std::shared_ptr<FanOutCall> StartFanOut(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
    grpc::ByteBuffer request, std::optional<FanOutOptions> call_options,
    RawDone done) {
  return StartFanOut(channel, nullptr, method, std::move(request),
                     std::move(call_options), std::move(done));
}

std::shared_ptr<FanOutCall> StartFanOut(
    const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
    const std::string& method, grpc::ByteBuffer request,
    std::optional<FanOutOptions> call_options, RawDone done) {
  const std::string name(absl::StripPrefix(method, "/"));
  const FanOutOptions options =
      OptionsFor(channel, name, std::move(call_options));
  auto fail = [&](absl::Status status) {
    RawFanOut raw;
    raw.status = std::move(status);
    done(options, std::move(raw));
    return std::make_shared<FinishedCall>();
  };
  const size_t slash = name.find('/');
  if (channel == nullptr || slash == std::string::npos || slash == 0 ||
      slash + 1 == name.size()) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "bad fan-out method '", method, "': expected pkg.Service/Method")));
  }
  const std::string ns = name.substr(0, slash);
  // The caller's deadline, else the options' timeout.
  std::unique_ptr<grpc::ClientContext> owned;
  if (context == nullptr) {
    owned = std::make_unique<grpc::ClientContext>();
    context = owned.get();
  }
  if (context->deadline() == std::chrono::system_clock::time_point::max()) {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(options.timeout));
  }
  const absl::Time deadline = absl::FromChrono(context->deadline());
  // Before its first resolution a channel has no view, and publishers of the
  // namespace may still be connecting (or waiting for their first health
  // answer): wait for them, up to kConnectWait and the call's timeout.
  // Waiting on the channel's state drives gRPC's polling, which processes
  // those connections even while no call is in flight.
  const absl::Time wait_until = std::min(deadline, absl::Now() + kConnectWait);
  std::optional<ChannelEntry> entry = EntryOf(*channel);
  if (!entry.has_value()) {
    return fail(absl::InvalidArgumentError(absl::StrCat(
        "fan-out calls need a cluster channel made by CreateClusterChannel; "
        "this channel ",
        channel->GetLoadBalancingPolicyName() == kLbPolicyName
            ? "was made by grpc::CreateChannel(\"zk://...\"): make it with "
              "CreateClusterChannel instead"
            : "uses another load-balancing policy")));
  }
  while (true) {
    bool settled = entry->servers != nullptr;
    if (settled) {
      const NamespaceServers* servers = ServersOf(*entry->servers, ns);
      settled = servers == nullptr || servers->connecting == 0;
    }
    if (settled || absl::Now() >= wait_until) break;
    const grpc_connectivity_state state = channel->GetState(true);
    channel->WaitForStateChange(state, std::chrono::system_clock::now() +
                                           std::chrono::milliseconds(10));
    std::optional<ChannelEntry> now = EntryOf(*channel);
    if (!now.has_value()) break;  // Cannot happen: the caller holds it.
    entry = std::move(now);
  }
  if (entry->servers == nullptr) {
    return fail(absl::UnavailableError(
        absl::StrCat("the channel has no cluster view within ",
                     absl::FormatDuration(options.timeout),
                     " (is ZooKeeper reachable? is it a cluster channel?)")));
  }
  const std::string& cluster = entry->settings->cluster;
  std::vector<Candidate> servers;
  {
    const NamespaceServers* found = ServersOf(*entry->servers, ns);
    if (found != nullptr) servers = found->ready;
  }
  std::vector<std::string> addresses;
  const bool all = options.servers == "all";
  if (all) {
    for (const Candidate& server : servers) addresses.push_back(server.address);
  } else if (!servers.empty()) {
    absl::StatusOr<GroupingFunction> function =
        FindGroupingFunction(options.servers);
    if (!function.ok()) return fail(function.status());
    const std::vector<Candidate>& candidates = servers;
    CallInfo call;
    call.cluster = cluster;
    call.name_space = ns;
    call.method = absl::string_view(name).substr(slash + 1);
    absl::StatusOr<std::vector<size_t>> chosen = (*function)(call, candidates);
    if (!chosen.ok()) return fail(chosen.status());
    std::set<size_t> unique;
    for (size_t index : *chosen) {
      if (index >= candidates.size()) {
        return fail(absl::InternalError(absl::StrCat(
            "grouping function '", options.servers, "' returned index ", index,
            " of ", candidates.size(), " servers")));
      }
      if (unique.insert(index).second) {
        addresses.push_back(candidates[index].address);
      }
    }
    std::sort(addresses.begin(), addresses.end());
  }
  if (addresses.empty()) {
    if (options.unavailable_value.has_value()) {
      RawFanOut raw;
      raw.unavailable = true;
      done(options, std::move(raw));
      return std::make_shared<FinishedCall>();
    }
    return fail(absl::UnavailableError(absl::StrCat(
        servers.empty() ? "no server of cluster '"
                        : "no server chosen in cluster '",
        cluster, "' ", servers.empty() ? "publishes" : "for", " namespace '",
        ns, "'",
        servers.empty() ? " (or none is ready)"
                        : absl::StrCat(" by '", options.servers, "'"))));
  }
  auto call = std::make_shared<Call>(std::move(owned), context, options,
                                     std::move(done));
  // `all`: the interceptor takes the READY servers itself, as for a stub.
  call->Start(channel, "/" + name, request,
              all ? std::nullopt : std::make_optional(std::move(addresses)));
  return call;
}

}  // namespace internal
}  // namespace slacker
