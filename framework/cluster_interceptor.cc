#include "framework/cluster_interceptor.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/channel.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "framework/cluster_channel.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/internal/channel_registry.h"
#include "framework/internal/plugin_names.h"

namespace slacker {
namespace internal {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

// Collectors by the context they are bound to.
struct CollectorTable {
  std::mutex mu;
  std::map<grpc::ClientContext*, CallCollector*> by_context;
};
CollectorTable& Collectors() {
  static CollectorTable* table = new CollectorTable();
  return *table;
}

// Completes every sub-call of this library's interceptors: one completion
// queue and one thread for the process, never shut down (as fan_out.cc's,
// for the same reasons).
class Driver {
 public:
  class Tag {
   public:
    virtual ~Tag() = default;
    virtual void Complete() = 0;
  };
  static Driver& Get() {
    static Driver* driver = new Driver();
    return *driver;
  }
  grpc::CompletionQueue* cq() { return &cq_; }

 private:
  Driver() {
    std::thread([this] {
      void* tag = nullptr;
      bool ok = false;
      while (cq_.Next(&tag, &ok)) static_cast<Tag*>(tag)->Complete();
    }).detach();
  }
  grpc::CompletionQueue cq_;
};

// The value of the first `key` in `metadata`, or null.
const std::string* Find(const std::multimap<std::string, std::string>& metadata,
                        const char* key) {
  auto it = metadata.find(key);
  return it == metadata.end() ? nullptr : &it->second;
}

template <typename T>
const T* ByMethod(const std::map<std::string, T>& table,
                  const std::string& name, const std::string& ns) {
  auto it = table.find(name);
  if (it == table.end()) it = table.find(ns);
  return it == table.end() ? nullptr : &it->second;
}

// Field by field: call, method, channel.
CallPolicies Merge(const CallPolicies* call, const CallPolicies* method,
                   const CallPolicies& channel) {
  CallPolicies merged;
  for (const CallPolicies* level : {call, method, &channel}) {
    if (level == nullptr) continue;
    if (!merged.results) merged.results = level->results;
    if (!merged.results_function) {
      merged.results_function = level->results_function;
    }
    if (!merged.errors) merged.errors = level->errors;
    if (!merged.error_policy) merged.error_policy = level->error_policy;
    if (!merged.unavailable_value) {
      merged.unavailable_value = level->unavailable_value;
    }
  }
  return merged;
}

// One hijacked call: its sub-calls and its answer.
class HijackedCall : public std::enable_shared_from_this<HijackedCall> {
 public:
  // A call that fails at once with `status`.
  explicit HijackedCall(absl::Status status) : done_(true) {
    status_ = std::move(status);
  }
  HijackedCall() = default;

  // What the call is; set before Start.
  std::string cluster, ns, name;  // name: "pkg.Service/Method".
  bool generic = false;
  const google::protobuf::Message* input = nullptr;   // Prototypes, or null
  const google::protobuf::Message* output = nullptr;  // for generic calls.
  std::multimap<std::string, std::string> metadata;
  std::chrono::system_clock::time_point deadline;
  std::shared_ptr<grpc::CallCredentials> credentials;
  CallPolicies policies;
  CallCollector* collector = nullptr;
  grpc::ByteBuffer request;

  void Start(std::shared_ptr<grpc::ChannelInterface> intercepted,
             std::vector<std::string> addresses) {
    std::sort(addresses.begin(), addresses.end());
    if (addresses.empty()) {
      Combine();
      return;
    }
    stub_ = std::make_unique<grpc::GenericStub>(std::move(intercepted));
    std::lock_guard<std::mutex> lock(mu_);
    start_ = absl::Now();
    remaining_ = static_cast<int>(addresses.size());
    for (const std::string& address : addresses) {
      auto context = std::make_unique<grpc::ClientContext>();
      context->set_deadline(deadline);
      if (credentials != nullptr) context->set_credentials(credentials);
      for (const auto& [key, value] : metadata) {
        if (key == kGroupingMetadata || key == kGenericCallMetadata) continue;
        context->AddMetadata(key, value);
      }
      SetGrouping(context.get(), address);  // Pinned by the channel's LB.
      if (cancelled_) context->TryCancel();
      contexts_.push_back(std::move(context));
      RawOutcome outcome;
      outcome.address = address;
      raw_.push_back(std::move(outcome));
    }
    for (size_t i = 0; i < addresses.size(); ++i) {
      auto* sub = new SubCall(shared_from_this(), i);
      sub->reader = stub_->PrepareUnaryCall(contexts_[i].get(), "/" + name,
                                            request, Driver::Get().cq());
      sub->reader->StartCall();
      sub->published.store(true, std::memory_order_release);
      sub->reader->Finish(&raw_[i].response, &sub->status, sub);
    }
  }

  void Cancel() {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    for (auto& context : contexts_) context->TryCancel();
  }

  // A hijacked batch that receives: answered now if the outcome is known,
  // else when it is.
  void Answer(InterceptorBatchMethods* methods) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!done_) {
        pending_.push_back(methods);
        return;
      }
    }
    Fill(methods);
  }

 private:
  struct SubCall : Driver::Tag {
    SubCall(std::shared_ptr<HijackedCall> c, size_t i)
        : call(std::move(c)), index(i) {}
    void Complete() override {
      published.load(std::memory_order_acquire);
      call->Finished(index, status);
      delete this;
    }
    std::shared_ptr<HijackedCall> call;
    const size_t index;
    std::unique_ptr<grpc::GenericClientAsyncResponseReader> reader;
    grpc::Status status;
    std::atomic<bool> published{false};
  };

  void Finished(size_t i, const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      raw_[i].status = status;
      raw_[i].latency = absl::Now() - start_;
      if (--remaining_ > 0) return;
    }
    Combine();
  }

  // Every sub-call finished (or none started): decide the call's outcome,
  // then answer the batches that wait for it.
  void Combine() {
    std::vector<RawOutcome> raw;
    bool cancelled;
    {
      std::lock_guard<std::mutex> lock(mu_);
      raw = std::move(raw_);
      cancelled = cancelled_;
    }
    absl::Status status;
    if (raw.empty()) {
      if (policies.unavailable_value.has_value() && output != nullptr) {
        unavailable_.reset(output->New());
        google::protobuf::util::JsonParseOptions lenient;
        lenient.ignore_unknown_fields = true;
        if (!google::protobuf::util::JsonStringToMessage(
                 *policies.unavailable_value, unavailable_.get(), lenient)
                 .ok()) {
          unavailable_.reset();
          status = absl::InvalidArgumentError(absl::StrCat(
              "the unavailable value of ", name, " is not JSON of ",
              output->GetDescriptor()->full_name(), ": fix it"));
        }
      } else {
        status = absl::UnavailableError(absl::StrCat(
            "no server of cluster '", cluster, "' publishes namespace '", ns,
            "' (or none is ready)"));
      }
    } else {
      if (output != nullptr) {
        outcomes_ = ParseOutcomes(raw, *output, &responses_);
      } else {
        if (collector != nullptr) collector->FillRaw(raw);
        for (RawOutcome& one : raw) {
          ServerOutcome outcome;
          outcome.address = one.address;
          outcome.status = one.status;
          outcome.latency = one.latency;
          outcomes_.push_back(std::move(outcome));
        }
      }
      FanOutOptions options;
      options.errors = policies.errors.value_or(FanOutErrors::kAll);
      options.error_policy = policies.error_policy;
      status = ApplyErrorPolicy(options, outcomes_);
      for (size_t i = 0; i < outcomes_.size() && status.ok(); ++i) {
        if (!outcomes_[i].status.ok()) continue;
        chosen_ = static_cast<int>(i);
        if (output == nullptr) raw_answer_ = std::move(raw[i].response);
        break;
      }
      if (status.ok() && chosen_ < 0) {
        status = absl::UnavailableError(
            absl::StrCat("no server of cluster '", cluster, "' answered ", name,
                         " (the errors policy accepted only failures)"));
      }
      if (cancelled) {
        status = absl::CancelledError(
            absl::StrCat("cancelled by the caller while calling ",
                         outcomes_.size(), " servers"));
      }
    }
    std::vector<InterceptorBatchMethods*> pending;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(status);
      done_ = true;
      pending.swap(pending_);
    }
    for (InterceptorBatchMethods* methods : pending) Fill(methods);
  }

  ResultsPolicy Policy() {
    if (!policies.results_function) {
      return policies.results.value_or(ResultsPolicy::kSingle);
    }
    std::unique_ptr<google::protobuf::Message> parsed;
    if (input != nullptr) {
      parsed.reset(input->New());
      grpc::ByteBuffer copy(request);
      if (!ParseMessage(&copy, parsed.get())) parsed.reset();
    }
    return policies.results_function(ns, absl::StripPrefix(name, ns + "/"),
                                     parsed.get());
  }

  // Writes the outcome into a batch's receive ops, then lets it go on. Only
  // after done_; each batch once.
  void Fill(InterceptorBatchMethods* methods) {
    const bool ok = status_.ok();
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_RECV_MESSAGE)) {
      void* message = methods->GetRecvMessage();
      if (!ok) {
        methods->FailHijackedRecvMessage();
      } else if (output == nullptr) {
        *static_cast<grpc::ByteBuffer*>(message) = raw_answer_;
      } else {
        static_cast<google::protobuf::Message*>(message)->CopyFrom(
            unavailable_ != nullptr ? *unavailable_
                                    : *outcomes_[chosen_].response);
      }
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_RECV_STATUS)) {
      grpc::Status status =
          ok ? grpc::Status::OK
             : grpc::Status(static_cast<grpc::StatusCode>(status_.code()),
                            std::string(status_.message()));
      if (collector != nullptr) {
        collector->Fill(ok ? Policy() : ResultsPolicy::kSingle, status_,
                        std::move(outcomes_), std::move(responses_),
                        std::move(unavailable_));
        collector = nullptr;
      }
      *methods->GetRecvStatus() = std::move(status);
    }
    methods->Proceed();
  }

  std::mutex mu_;
  bool done_ = false;
  bool cancelled_ = false;
  int remaining_ = 0;
  absl::Time start_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<RawOutcome> raw_;
  std::vector<InterceptorBatchMethods*> pending_;
  // Immutable once done_.
  absl::Status status_;
  std::vector<ServerOutcome> outcomes_;
  std::vector<std::unique_ptr<google::protobuf::Message>> responses_;
  std::unique_ptr<google::protobuf::Message> unavailable_;
  int chosen_ = -1;
  grpc::ByteBuffer raw_answer_;
};

class ClusterInterceptor : public grpc::experimental::Interceptor {
 public:
  ClusterInterceptor(grpc::experimental::ClientRpcInfo* info,
                     const InterceptorSettings* settings)
      : info_(info), settings_(settings) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (pass_) {
      methods->Proceed();
      return;
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_CANCEL)) {
      if (call_ != nullptr) call_->Cancel();
      methods->Proceed();
      return;
    }
    if (call_ == nullptr) {
      if (!methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
        methods->Proceed();
        return;
      }
      Decide(methods);
      if (pass_) {
        methods->Proceed();
        return;
      }
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::PRE_SEND_MESSAGE)) {
        call_->request = *methods->GetSerializedSendMessage();
      }
      // Re-enters Intercept with this batch's receive ops, if any.
      methods->Hijack();
      if (start_) {
        call_->Start(std::shared_ptr<grpc::ChannelInterface>(
                         methods->GetInterceptedChannel()),
                     std::move(addresses_));
      }
      return;
    }
    // A hijacked call.
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      methods->FailHijackedSendMessage();  // Streaming writes: refused.
    }
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_RECV_MESSAGE) ||
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_RECV_STATUS)) {
      call_->Answer(methods);
      return;
    }
    methods->Proceed();
  }

 private:
  void Fail(std::string message) {
    call_ = std::make_shared<HijackedCall>(
        absl::InvalidArgumentError(std::move(message)));
  }

  void Decide(InterceptorBatchMethods* methods) {
    const std::multimap<std::string, std::string>& metadata =
        *methods->GetSendInitialMetadata();
    const std::string name(absl::StripPrefix(info_->method(), "/"));
    const std::string ns = name.substr(0, name.find('/'));
    const std::string* call_grouping = Find(metadata, kGroupingMetadata);
    const std::string* grouping = call_grouping;
    if (grouping == nullptr) {
      grouping = ByMethod(settings_->method_groupings, name, ns);
    }
    if (grouping == nullptr) grouping = &settings_->grouping;
    const bool multi = IsMultiServerGrouping(*grouping);
    if (!multi) {
      if (call_grouping != nullptr) {
        absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(*call_grouping);
        if (!spec.ok()) {
          return Fail(absl::StrCat("SetGrouping of this call to ", name, ": ",
                                   spec.status().message()));
        }
      }
      if (*grouping == "hash" && Find(metadata, kHashKeyMetadata) == nullptr) {
        return Fail(absl::StrCat(
            "the grouping of ", name,
            " is `hash`, which needs a key: call slacker::SetHashKey(&context, "
            "key) before the call, or choose another grouping"));
      }
      pass_ = true;
      return;
    }
    if (info_->type() != grpc::experimental::ClientRpcInfo::Type::UNARY) {
      return Fail(absl::StrCat(
          "grouping '", *grouping,
          "' calls several servers, which works for "
          "unary methods only; ",
          name,
          " streams: give it a grouping that "
          "picks one server (e.g. method_groupings[\"",
          name, "\"] = \"random\" or SetGrouping(&context, \"random\"))"));
    }
    auto call = std::make_shared<HijackedCall>();
    call->cluster = settings_->cluster;
    call->ns = ns;
    call->name = name;
    call->generic = Find(metadata, kGenericCallMetadata) != nullptr;
    if (!call->generic) {
      const google::protobuf::MethodDescriptor* method =
          google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
              absl::StrCat(ns, ".", name.substr(ns.size() + 1)));
      if (method == nullptr) {
        return Fail(absl::StrCat(
            name,
            " is not in this process's generated descriptor pool, so "
            "its messages are unknown and it cannot go to several servers: "
            "for a grpc::GenericStub call, call slacker::MarkGenericCall("
            "&context) first"));
      }
      auto* factory = google::protobuf::MessageFactory::generated_factory();
      call->input = factory->GetPrototype(method->input_type());
      call->output = factory->GetPrototype(method->output_type());
    }
    call->metadata = metadata;
    grpc::ClientContext* context = info_->client_context();
    call->deadline = context->deadline();
    call->credentials = context->credentials();
    call->collector = CallCollector::Find(context);
    call->policies = Merge(
        call->collector == nullptr ? nullptr : &call->collector->policies(),
        ByMethod(settings_->method_policies, name, ns), settings_->policies);
    auto* channel = dynamic_cast<grpc::Channel*>(info_->channel());
    if (call->collector != nullptr && call->collector->servers() != nullptr) {
      addresses_ = *call->collector->servers();  // FanOut chose them.
    } else if (channel != nullptr) {
      // Not owning: the channel outlives its calls.
      addresses_ = ReadyServers(std::shared_ptr<grpc::Channel>(
                                    std::shared_ptr<grpc::Channel>(), channel),
                                ns);
    }
    call_ = std::move(call);
    start_ = true;
  }

  grpc::experimental::ClientRpcInfo* const info_;
  const InterceptorSettings* const settings_;
  bool pass_ = false;
  bool start_ = false;
  std::vector<std::string> addresses_;
  std::shared_ptr<HijackedCall> call_;
};

class Factory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit Factory(std::shared_ptr<const InterceptorSettings> settings)
      : settings_(std::move(settings)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ClusterInterceptor(info, settings_.get());
  }

 private:
  const std::shared_ptr<const InterceptorSettings> settings_;
};

// The value of "name":"..." in a cluster channel's service config (as
// fan_out.cc reads it).
std::string ConfigString(const std::string& json, absl::string_view name) {
  const std::string key = absl::StrCat("\"", name, "\":\"");
  const size_t start = json.find(key);
  if (start == std::string::npos) return "";
  const size_t from = start + key.size();
  const size_t end = json.find('"', from);
  return end == std::string::npos ? "" : json.substr(from, end - from);
}

}  // namespace

CallCollector::CallCollector(grpc::ClientContext* context) : context_(context) {
  CollectorTable& table = Collectors();
  std::lock_guard<std::mutex> lock(table.mu);
  table.by_context[context] = this;
}

CallCollector::~CallCollector() {
  CollectorTable& table = Collectors();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.by_context.find(context_);
  if (it != table.by_context.end() && it->second == this) {
    table.by_context.erase(it);
  }
}

CallCollector* CallCollector::Find(grpc::ClientContext* context) {
  CollectorTable& table = Collectors();
  std::lock_guard<std::mutex> lock(table.mu);
  auto it = table.by_context.find(context);
  return it == table.by_context.end() ? nullptr : it->second;
}

void CallCollector::Fill(
    ResultsPolicy policy, absl::Status status,
    std::vector<ServerOutcome> outcomes,
    std::vector<std::unique_ptr<google::protobuf::Message>> responses,
    std::unique_ptr<google::protobuf::Message> unavailable) {
  called_ = true;
  policy_ = policy;
  status_ = std::move(status);
  outcomes_ = std::move(outcomes);
  responses_ = std::move(responses);
  unavailable_ = std::move(unavailable);
}

bool IsMultiServerGrouping(const std::string& grouping) {
  return grouping == "all";
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeClusterInterceptorFactory(
    std::shared_ptr<const InterceptorSettings> settings) {
  return std::make_unique<Factory>(std::move(settings));
}

}  // namespace internal

void MarkGenericCall(grpc::ClientContext* context) {
  context->AddMetadata(kGenericCallMetadata, "1");
}

absl::StatusOr<std::string> ServerData(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view address) {
  std::optional<internal::ChannelEntry> entry =
      internal::FindChannel(channel.get());
  if (entry.has_value() && entry->servers != nullptr) {
    for (const auto& [ns, servers] : *entry->servers) {
      for (const Candidate& server : servers.ready) {
        if (server.address == address) return server.server_data;
      }
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "the channel knows no ready server at '", address,
      "' (it may not have resolved its cluster yet, or the server left)"));
}

}  // namespace slacker
