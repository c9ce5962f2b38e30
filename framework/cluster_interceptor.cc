#include "framework/cluster_interceptor.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/channel.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/impl/codegen/proto_utils.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "framework/cluster_channel.h"
#include "framework/grouping/grouping_registry.h"
#include "framework/internal/channel_registry.h"
#include "framework/internal/client_metrics.h"
#include "framework/internal/completion_driver.h"
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

// One hijacked call: its sub-calls and its answer. A unary call answers the
// stub once every sub-call finished; a server-streaming call hands the stub
// each server's messages as they arrive, then the status once every sub-call
// finished.
class HijackedCall : public std::enable_shared_from_this<HijackedCall> {
 public:
  // A call that fails at once with `status`.
  explicit HijackedCall(absl::Status status) : done_(true) {
    status_ = std::move(status);
  }
  HijackedCall() = default;

  // What the call is; set before Start.
  std::string cluster, ns, name;  // name: "pkg.Service/Method".
  // The channel's metrics (fan-out counts); null: off.
  std::shared_ptr<ClientMetrics> metrics;
  bool streaming = false;                             // Server-streaming.
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
      if (streaming) {
        auto* sub = new SubStream(shared_from_this(), i);
        streams_.push_back(sub);
        sub->Start(stub_.get(), contexts_[i].get(), "/" + name);
        continue;
      }
      auto* sub = new SubCall(shared_from_this(), i);
      sub->reader =
          stub_->PrepareUnaryCall(contexts_[i].get(), "/" + name, request,
                                  CompletionDriver::SubCalls().cq());
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

  // On the thread that runs a hijacked batch's POST_RECV hooks (the stub's
  // caller, or whichever thread takes the completion), before the caller reads
  // what HandOver wrote: the hand-off between the two runs through gRPC's
  // completion queue, inside libgrpc, which ThreadSanitizer cannot see, so
  // the order is stated again here where it can.
  void Observe() const { handed_over_.load(std::memory_order_acquire); }

  // A hijacked batch that receives: answered now if what it waits for is
  // known, else when it is.
  void Answer(InterceptorBatchMethods* methods) {
    if (streaming && methods->QueryInterceptionHookPoint(
                         InterceptionHookPoints::PRE_RECV_MESSAGE)) {
      return AnswerRead(methods);
    }
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
  // One unary sub-call.
  struct SubCall : CompletionDriver::Tag {
    SubCall(std::shared_ptr<HijackedCall> c, size_t i)
        : call(std::move(c)), index(i) {}
    void Complete(bool) override {
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

  // One server-streaming sub-call: start, write the request and close, then
  // read one message at a time (the next only once the stub took the last,
  // so at most one message per server waits), then finish. Deletes itself
  // once finished with no operation outstanding.
  class SubStream {
   public:
    SubStream(std::shared_ptr<HijackedCall> call, size_t index)
        : call_(std::move(call)), index_(index) {}

    // Under the call's mu_.
    void Start(grpc::GenericStub* stub, grpc::ClientContext* context,
               const std::string& method) {
      stream_ =
          stub->PrepareCall(context, method, CompletionDriver::SubCalls().cq());
      Begin(&start_op_);
      stream_->StartCall(&start_op_);
    }

    // The stub took this server's last message: read the next.
    void ReadNext() {
      Begin(&read_op_);
      stream_->Read(&message_, &read_op_);
    }

   private:
    enum class Kind { kStart, kWrite, kRead, kFinish };
    struct Op : CompletionDriver::Tag {
      Op(SubStream* s, Kind k) : stream(s), kind(k) {}
      void Complete(bool ok) override { stream->Completed(kind, ok); }
      SubStream* const stream;
      const Kind kind;
    };

    void Begin(Op*) { outstanding_.fetch_add(1, std::memory_order_acq_rel); }

    // On the driver's thread, one at a time.
    void Completed(Kind kind, bool ok) {
      switch (kind) {
        case Kind::kStart:
          if (ok) {
            Begin(&write_op_);
            stream_->WriteLast(call_->request, grpc::WriteOptions(),
                               &write_op_);
            ReadNext();
          } else {
            Finish();
          }
          break;
        case Kind::kWrite:
          break;
        case Kind::kRead:
          if (ok) {
            call_->Push(index_, std::move(message_));
          } else {
            Finish();
          }
          break;
        case Kind::kFinish:
          finished_ = true;
          call_->Finished(index_, status_);
          break;
      }
      if (outstanding_.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
          finished_) {
        delete this;
      }
    }

    void Finish() {
      Begin(&finish_op_);
      stream_->Finish(&status_, &finish_op_);
    }

    const std::shared_ptr<HijackedCall> call_;
    const size_t index_;
    std::unique_ptr<grpc::GenericClientAsyncReaderWriter> stream_;
    grpc::ByteBuffer message_;
    grpc::Status status_;
    bool finished_ = false;  // Only on the driver's thread.
    std::atomic<int> outstanding_{0};
    Op start_op_{this, Kind::kStart};
    Op write_op_{this, Kind::kWrite};
    Op read_op_{this, Kind::kRead};
    Op finish_op_{this, Kind::kFinish};
  };

  // A server's message arrived (driver's thread): to a waiting read of the
  // stub, or kept until one comes.
  void Push(size_t index, grpc::ByteBuffer message) {
    InterceptorBatchMethods* read = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reads_.empty()) {
        messages_.emplace_back(index, std::move(message));
        return;
      }
      read = reads_.front();
      reads_.pop_front();
    }
    Deliver(read, index, &message);
  }

  void AnswerRead(InterceptorBatchMethods* methods) {
    std::pair<size_t, grpc::ByteBuffer> next;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (messages_.empty()) {
        if (!done_) {
          reads_.push_back(methods);
          return;
        }
        next.first = kNoMessage;
      } else {
        next = std::move(messages_.front());
        messages_.pop_front();
      }
    }
    if (next.first == kNoMessage) {
      methods->FailHijackedRecvMessage();  // The end of the stream.
      HandOver(methods);
      return;
    }
    Deliver(methods, next.first, &next.second);
  }

  // Hands one message to the stub's read, then reads that server's next.
  void Deliver(InterceptorBatchMethods* methods, size_t index,
               grpc::ByteBuffer* message) {
    void* into = methods->GetRecvMessage();
    if (output == nullptr) {
      *static_cast<grpc::ByteBuffer*>(into) = std::move(*message);
    } else if (!ParseMessage(message,
                             static_cast<google::protobuf::Message*>(into))) {
      static_cast<google::protobuf::Message*>(into)->Clear();
    }
    SubStream* stream = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (index < streams_.size()) stream = streams_[index];
    }
    if (stream != nullptr) stream->ReadNext();
    HandOver(methods);
  }

  void Finished(size_t i, const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      raw_[i].status = status;
      raw_[i].latency = absl::Now() - start_;
      if (i < streams_.size()) streams_[i] = nullptr;  // Deletes itself.
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
    if (metrics != nullptr && !raw.empty()) {
      MethodMetrics* method = metrics->ForMethod(name);
      method->FanOut();
      for (const RawOutcome& one : raw) {
        method->FanOutOutcome(one.address,
                              static_cast<int>(one.status.error_code()));
      }
    }
    absl::Status status;
    grpc::ByteBuffer unavailable_message;
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
        } else if (streaming) {
          bool own = false;
          grpc::GenericSerialize<grpc::ProtoBufferWriter,
                                 google::protobuf::Message>(
              *unavailable_, &unavailable_message, &own)
              .IgnoreError();
        }
      } else {
        status = absl::UnavailableError(absl::StrCat(
            "no server of cluster '", cluster, "' publishes namespace '", ns,
            "' (or none is ready)"));
      }
    } else {
      if (output != nullptr && !streaming) {
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
      if (status.ok() && chosen_ < 0 && !streaming) {
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
    std::deque<InterceptorBatchMethods*> reads;
    InterceptorBatchMethods* unavailable_read = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      status_ = std::move(status);
      done_ = true;
      pending.swap(pending_);
      if (streaming && unavailable_ != nullptr) {
        // The unavailable value is the stream's one message.
        if (reads_.empty()) {
          messages_.emplace_back(kNoStream, std::move(unavailable_message));
        } else {
          unavailable_read = reads_.front();
          reads_.pop_front();
        }
      }
      // Every server's messages were pushed before it finished: reads that
      // still wait find the end of the stream.
      reads.swap(reads_);
    }
    if (unavailable_read != nullptr) {
      Deliver(unavailable_read, kNoStream, &unavailable_message);
    }
    for (InterceptorBatchMethods* read : reads) {
      read->FailHijackedRecvMessage();
      HandOver(read);
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
      if (!ok || streaming) {
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
    HandOver(methods);
  }

  // Lets a batch whose receive ops were written go on (see Observe).
  void HandOver(InterceptorBatchMethods* methods) {
    handed_over_.fetch_add(1, std::memory_order_release);
    methods->Proceed();
  }

  // Index of a message that comes from no server (the unavailable value),
  // and the mark of "no message".
  static constexpr size_t kNoStream = static_cast<size_t>(-1);
  static constexpr size_t kNoMessage = static_cast<size_t>(-2);

  std::atomic<uint64_t> handed_over_{0};
  std::mutex mu_;
  bool done_ = false;
  bool cancelled_ = false;
  int remaining_ = 0;
  absl::Time start_;
  std::unique_ptr<grpc::GenericStub> stub_;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<RawOutcome> raw_;
  std::vector<InterceptorBatchMethods*> pending_;
  // Streaming: by server index, null once finished (guarded by mu_).
  std::vector<SubStream*> streams_;
  std::deque<std::pair<size_t, grpc::ByteBuffer>> messages_;
  std::deque<InterceptorBatchMethods*> reads_;
  // Immutable once done_.
  absl::Status status_;
  std::vector<ServerOutcome> outcomes_;
  std::vector<std::unique_ptr<google::protobuf::Message>> responses_;
  std::unique_ptr<google::protobuf::Message> unavailable_;
  int chosen_ = -1;
  grpc::ByteBuffer raw_answer_;
};

// What a grouping function decided for a call (see CallGroupingFunction).
enum class Decision { kPass, kSeveral, kFailed };

class ClusterInterceptor : public grpc::experimental::Interceptor {
 public:
  ClusterInterceptor(grpc::experimental::ClientRpcInfo* info,
                     std::shared_ptr<const InterceptorSettings> settings)
      : info_(info), settings_(std::move(settings)) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (pass_) {
      if (methods->QueryInterceptionHookPoint(
              InterceptionHookPoints::POST_RECV_STATUS)) {
        ExplainDeadline(methods->GetRecvStatus());
      }
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
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA) ||
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_MESSAGE) ||
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      call_->Observe();
    }
    methods->Proceed();
  }

 private:
  void Fail(absl::Status status) {
    call_ = std::make_shared<HijackedCall>(std::move(status));
  }
  void Fail(std::string message) {
    Fail(absl::InvalidArgumentError(std::move(message)));
  }

  // The channel's servers of `ns` as of its last picker, or null (not
  // resolved yet, or not in the registry).
  const NamespaceServers* Servers(const std::string& ns) {
    if (!entry_.has_value()) entry_ = FindChannel(settings_->channel_id);
    if (!entry_.has_value() || entry_->servers == nullptr) return nullptr;
    const NamespaceServers* servers = ServersOf(*entry_->servers, ns);
    return servers == nullptr ? &None() : servers;
  }
  static const NamespaceServers& None() {
    static const NamespaceServers* none = new NamespaceServers();
    return *none;
  }

  // The method's protobuf prototypes, or false for a method outside the
  // generated pool.
  static bool Prototypes(const std::string& ns, const std::string& name,
                         const google::protobuf::Message** input,
                         const google::protobuf::Message** output) {
    const google::protobuf::MethodDescriptor* method =
        google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
            absl::StrCat(ns, ".", name.substr(ns.size() + 1)));
    if (method == nullptr) return false;
    auto* factory = google::protobuf::MessageFactory::generated_factory();
    *input = factory->GetPrototype(method->input_type());
    *output = factory->GetPrototype(method->output_type());
    return true;
  }

  static void Pin(std::multimap<std::string, std::string>* metadata,
                  const std::string& grouping) {
    metadata->erase(kGroupingMetadata);
    metadata->emplace(kGroupingMetadata, grouping);
  }

  // Asks grouping function `function_name` for this call, with the parsed
  // request. kPass: the call goes on through the LB policy (pinned or
  // deferred in its metadata, or untouched, and *grouping says with which
  // grouping); kSeveral: to *several; kFailed: call_ fails.
  Decision Evaluate(InterceptorBatchMethods* methods,
                    const CallGroupingFunction& function,
                    const std::string& function_name, const std::string& name,
                    const std::string& ns, std::string* grouping,
                    std::vector<std::string>* several) {
    const NamespaceServers* servers = Servers(ns);
    if (servers == nullptr || servers->ready.empty()) {
      return Decision::kPass;  // The picker decides (queue or fail).
    }
    const std::vector<Candidate>& candidates = servers->ready;
    std::multimap<std::string, std::string>* metadata =
        methods->GetSendInitialMetadata();
    std::unique_ptr<google::protobuf::Message> request;
    const google::protobuf::Message* input = nullptr;
    const google::protobuf::Message* output = nullptr;
    if (Find(*metadata, kGenericCallMetadata) == nullptr &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_MESSAGE) &&
        Prototypes(ns, name, &input, &output)) {
      request.reset(input->New());
      grpc::ByteBuffer copy(*methods->GetSerializedSendMessage());
      if (!ParseMessage(&copy, request.get())) request.reset();
    }
    const std::string* hash_key = Find(*metadata, kHashKeyMetadata);
    CallInfo call;
    call.cluster = settings_->cluster;
    call.name_space = ns;
    call.method = absl::string_view(name).substr(ns.size() + 1);
    if (hash_key != nullptr) call.hash_key = *hash_key;
    call.request = request.get();
    call.metadata = metadata;
    absl::StatusOr<GroupingChoice> choice = function(call, candidates);
    if (!choice.ok()) {
      if (choice.status().code() != absl::StatusCode::kInvalidArgument) {
        return Decision::kPass;  // The picker asks again and decides.
      }
      Fail(absl::StrCat("grouping function ", function_name, " for ", name,
                        ": ", choice.status().message()));
      return Decision::kFailed;
    }
    if (!choice->grouping.empty()) {
      absl::Status valid =
          CheckDeferredGrouping(function_name, choice->grouping);
      if (!valid.ok()) {
        Fail(valid);
        return Decision::kFailed;
      }
      if (IsMultiServerGrouping(choice->grouping)) {
        for (const Candidate& server : candidates) {
          several->push_back(server.address);
        }
        return Decision::kSeveral;
      }
      *grouping = choice->grouping;
      Pin(metadata, *grouping);
      return Decision::kPass;
    }
    absl::StatusOr<std::vector<size_t>> chosen =
        ResolveGroupingChoice(function_name, *choice, call, candidates);
    if (!chosen.ok()) {
      Fail(chosen.status());
      return Decision::kFailed;
    }
    std::set<size_t> unique(chosen->begin(), chosen->end());
    if (unique.empty()) return Decision::kPass;  // Picker: none fits.
    if (unique.size() == 1) {
      *grouping = candidates[*unique.begin()].address;
      Pin(metadata, *grouping);
      return Decision::kPass;
    }
    for (size_t index : unique) several->push_back(candidates[index].address);
    return Decision::kSeveral;
  }

  // A call that waited for a server until its deadline while none of its
  // namespace's was READY: the status says why none was, when a connection
  // failure is known (a refused TLS handshake, say), instead of a bare
  // "Deadline Exceeded". The code stays DEADLINE_EXCEEDED.
  void ExplainDeadline(grpc::Status* status) {
    if (status == nullptr ||
        status->error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      return;
    }
    const std::string name(absl::StripPrefix(info_->method(), "/"));
    const std::string ns = name.substr(0, name.find('/'));
    std::optional<ChannelEntry> now = FindChannel(settings_->channel_id);
    if (!now.has_value() || now->servers == nullptr) return;
    const NamespaceServers* servers = ServersOf(*now->servers, ns);
    if (servers == nullptr || !servers->ready.empty() ||
        servers->last_error.empty()) {
      return;
    }
    *status = grpc::Status(
        status->error_code(),
        absl::StrCat(status->error_message(), " (no server of cluster '",
                     settings_->cluster, "' publishing '", ns,
                     "' was ready; last connection failure: ",
                     servers->last_error, ")"));
  }

  void Decide(InterceptorBatchMethods* methods) {
    std::multimap<std::string, std::string>* metadata =
        methods->GetSendInitialMetadata();
    const std::string name(absl::StripPrefix(info_->method(), "/"));
    const std::string ns = name.substr(0, name.find('/'));
    if (metadata->count(kGroupingMetadata) > 1) {
      return Fail(absl::StrCat(
          "SetGrouping was called more than once on the ClientContext of this "
          "call to ",
          name,
          ": a call has one grouping; call SetGrouping once per context"));
    }
    const std::string* call_grouping = Find(*metadata, kGroupingMetadata);
    std::string grouping;
    if (call_grouping != nullptr) {
      grouping = *call_grouping;
    } else if (const std::string* by_method =
                   ByMethod(settings_->method_groupings, name, ns)) {
      grouping = *by_method;
    } else {
      grouping = settings_->grouping;
    }
    std::vector<std::string> several;
    bool multi = IsMultiServerGrouping(grouping);
    if (!multi) {
      CallGroupingFunction function;
      if (call_grouping != nullptr) {
        absl::StatusOr<GroupingSpec> spec = ParseGroupingSpec(grouping);
        if (!spec.ok()) {
          return Fail(absl::StrCat("SetGrouping of this call to ", name, ": ",
                                   spec.status().message()));
        }
        if (spec->argument.empty()) {
          absl::StatusOr<CallGroupingFunction> found =
              FindCallGroupingFunction(grouping);
          if (found.ok()) function = *std::move(found);
        }
      } else if (auto it = settings_->functions.find(grouping);
                 it != settings_->functions.end()) {
        function = it->second;
      }
      if (function) {
        const std::string function_name = grouping;
        switch (Evaluate(methods, function, function_name, name, ns, &grouping,
                         &several)) {
          case Decision::kFailed:
            return;
          case Decision::kSeveral:
            multi = true;
            break;
          case Decision::kPass:
            break;
        }
      }
    }
    if (!multi) {
      if (grouping == "hash" && Find(*metadata, kHashKeyMetadata) == nullptr) {
        return Fail(absl::StrCat(
            "the grouping of ", name,
            " is `hash`, which needs a key: call slacker::SetHashKey(&context, "
            "key) before the call, or choose another grouping"));
      }
      if (!UnavailableStandsIn(*metadata, name, ns)) pass_ = true;
      return;
    }
    const auto type = info_->type();
    if (type != grpc::experimental::ClientRpcInfo::Type::UNARY &&
        type != grpc::experimental::ClientRpcInfo::Type::SERVER_STREAMING) {
      return Fail(absl::StrCat(
          "grouping '", grouping,
          "' calls several servers, which works for unary and "
          "server-streaming methods only; ",
          name,
          " is client- or bidi-streaming, and several servers cannot share "
          "one stream of requests: give it a grouping that picks one server "
          "(e.g. method_groupings[\"",
          name, "\"] = \"random\" or SetGrouping(&context, \"random\"))"));
    }
    if (!MakeCall(*metadata, name, ns)) return;
    if (call_->collector != nullptr && call_->collector->servers() != nullptr) {
      several = *call_->collector->servers();  // FanOut chose them.
    }
    if (several.empty()) {
      const NamespaceServers* servers = Servers(ns);
      if (servers != nullptr) {
        for (const Candidate& server : servers->ready) {
          several.push_back(server.address);
        }
      }
    }
    addresses_ = std::move(several);
    start_ = true;
  }

  // A one-server call whose method or channel has an unavailable value, when
  // no server publishes the namespace (none READY, none connecting, after
  // the channel resolved): it is answered with the value, as `all` is.
  bool UnavailableStandsIn(
      const std::multimap<std::string, std::string>& metadata,
      const std::string& name, const std::string& ns) {
    const auto type = info_->type();
    if (type != grpc::experimental::ClientRpcInfo::Type::UNARY &&
        type != grpc::experimental::ClientRpcInfo::Type::SERVER_STREAMING) {
      return false;
    }
    const CallPolicies* method = ByMethod(settings_->method_policies, name, ns);
    if ((method == nullptr || !method->unavailable_value.has_value()) &&
        !settings_->policies.unavailable_value.has_value()) {
      return false;
    }
    const NamespaceServers* servers = Servers(ns);
    if (servers == nullptr || !servers->ready.empty() ||
        servers->connecting > 0) {
      return false;
    }
    if (!MakeCall(metadata, name, ns)) return true;  // call_ fails.
    start_ = true;  // With no address: answers with the value.
    return true;
  }

  // Makes call_ for a hijacked call; false when call_ fails instead.
  bool MakeCall(const std::multimap<std::string, std::string>& metadata,
                const std::string& name, const std::string& ns) {
    auto call = std::make_shared<HijackedCall>();
    call->cluster = settings_->cluster;
    call->ns = ns;
    call->name = name;
    call->metrics = settings_->metrics;
    call->streaming = info_->type() ==
                      grpc::experimental::ClientRpcInfo::Type::SERVER_STREAMING;
    if (Find(metadata, kGenericCallMetadata) == nullptr &&
        !Prototypes(ns, name, &call->input, &call->output)) {
      Fail(absl::StrCat(
          name,
          " is not in this process's generated descriptor pool, so "
          "its messages are unknown and it cannot go to several servers: "
          "for a grpc::GenericStub call, call slacker::MarkGenericCall("
          "&context) first"));
      return false;
    }
    call->metadata = metadata;
    grpc::ClientContext* context = info_->client_context();
    call->deadline = context->deadline();
    call->credentials = context->credentials();
    call->collector = CallCollector::Find(context);
    call->policies = Merge(
        call->collector == nullptr ? nullptr : &call->collector->policies(),
        ByMethod(settings_->method_policies, name, ns), settings_->policies);
    call_ = std::move(call);
    return true;
  }

  grpc::experimental::ClientRpcInfo* const info_;
  const std::shared_ptr<const InterceptorSettings> settings_;
  bool pass_ = false;
  bool start_ = false;
  std::optional<ChannelEntry> entry_;  // Read once per call, when needed.
  std::vector<std::string> addresses_;
  std::shared_ptr<HijackedCall> call_;
};

class Factory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit Factory(std::shared_ptr<const InterceptorSettings> settings)
      : settings_(std::move(settings)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ClusterInterceptor(info, settings_);
  }

 private:
  const std::shared_ptr<const InterceptorSettings> settings_;
};

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
  return grouping == kAllGrouping;
}

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeClusterInterceptorFactory(
    std::shared_ptr<const InterceptorSettings> settings) {
  return std::make_unique<Factory>(std::move(settings));
}

grpc::experimental::Interceptor* NewClusterInterceptor(
    grpc::experimental::ClientRpcInfo* info,
    std::shared_ptr<const InterceptorSettings> settings) {
  return new ClusterInterceptor(info, std::move(settings));
}

void FindGroupingFunctions(InterceptorSettings* settings) {
  auto add = [settings](const std::string& grouping) {
    absl::StatusOr<CallGroupingFunction> function =
        FindCallGroupingFunction(grouping);
    if (function.ok()) settings->functions[grouping] = *std::move(function);
  };
  add(settings->grouping);
  for (const auto& [method, grouping] : settings->method_groupings) {
    add(grouping);
  }
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
