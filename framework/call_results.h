// What a stub call on a cluster channel returns beyond its response: every
// server's outcome when the call's grouping picks several servers (`all`),
// and the results and errors policies of such calls.
//
//   grpc::ClientContext context;
//   slacker::CallResults<Timestamp> results(&context);   // before the call
//   grpc::Status status = stub->Timestamp(&context, request, &reply);
//   results.Vector(); results.Map(); results.outcomes();
//
// A call whose grouping picks one server is not touched: its CallResults
// stays empty (called() is false).
//
// Results policies. The stub's response can hold one answer only, so it
// always holds Single(): the answer of the first server, by address, that
// succeeded (or the unavailable value). `vector` and `map` say which form
// the caller wants; CallResults offers every form whatever the policy, and
// policy() tells which one the call's policy chose (a function policy sees
// the namespace, method and request).
//
// Errors policies: kAll (default) fails the call only when every server
// failed; kAny when any did; error_policy decides instead of both (OK: use
// the successes). A failed call's status names every server's status in its
// message (the stub's grpc::Status carries code and message only);
// CallResults::status() also carries the per-server lines as its payload
// kFanOutDetailsUrl (fan_out.h).
//
// Server-streaming calls whose grouping picks several servers: the stub
// reads every server's messages, each server's in the order it sent them,
// interleaved across servers in the order they arrive (at most one message
// per server waits for the stub's next read); then the status, from the
// errors policy over every server's status. Their outcomes carry no
// response (Map() and Vector() are empty); the unavailable value, if any,
// is the stream's one message. Client- and bidi-streaming calls cannot go
// to several servers (INVALID_ARGUMENT).
//
// Policies apply per call (CallResults::policies()), else per method
// (ClusterChannelOptions::method_policies, by "pkg.Service/Method" or
// "pkg.Service"), else per channel (ClusterChannelOptions::policies), field
// by field.
//
// Thread-safety: a CallResults belongs to one call. Set its policies before
// the call starts, keep it alive until the call completes, and read it after
// that; the channel writes it before completing the call.

#ifndef SLACKER_FRAMEWORK_CALL_RESULTS_H_
#define SLACKER_FRAMEWORK_CALL_RESULTS_H_

#include <google/protobuf/message.h>
#include <grpcpp/client_context.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "framework/fan_out.h"

namespace slacker {

enum class ResultsPolicy { kSingle, kVector, kMap };

// Chooses the results policy of one call. `request` is null when the call's
// messages are not protobuf messages the process knows (a generic call).
using ResultsFunction = std::function<ResultsPolicy(
    absl::string_view name_space, absl::string_view method,
    const google::protobuf::Message* request)>;

// Policies of calls whose grouping picks several servers. An unset field
// falls back to the next level (call, method, channel, default).
struct CallPolicies {
  std::optional<ResultsPolicy> results;  // Default kSingle.
  ResultsFunction results_function;      // When set, beats `results`.
  std::optional<FanOutErrors> errors;    // Default kAll.
  // When set, beats `errors`: OK means use the successes.
  std::function<absl::Status(const std::vector<ServerOutcome>& outcomes)>
      error_policy;
  // When no server publishes the namespace: the call succeeds with this value
  // (JSON of the response type) instead of failing with UNAVAILABLE. For
  // every grouping, one server or several. For a one-server grouping it is
  // read from the method's and the channel's policies only (not the call's),
  // and applies once the channel has resolved its cluster and sees no
  // publisher of the namespace, READY or connecting.
  std::optional<std::string> unavailable_value;
};

// Metadata key that marks a call whose messages are grpc::ByteBuffer (a
// grpc::GenericStub call): see MarkGenericCall.
inline constexpr char kGenericCallMetadata[] = "slacker-generic-call";

// How the channel knows what the stub's messages are. When a call's grouping
// picks several servers, the channel must write the stub's response itself.
// It takes the call's messages to be protobuf messages of the method's input
// and output types when the method ("pkg.Service/Method") is in the
// generated descriptor pool (DescriptorPool::generated_pool(): any linked
// generated code), unless the call is marked with MarkGenericCall, in which
// case they are grpc::ByteBuffer. A call to a method outside the pool that is
// not marked cannot pick several servers (INVALID_ARGUMENT).
// So: a grpc::GenericStub call that may fan out MUST be marked. Call it
// before the call starts. Not thread-safe for one context.
void MarkGenericCall(grpc::ClientContext* context);

namespace internal {

// The untyped part of CallResults, which the channel's interceptor fills.
class CallCollector {
 public:
  explicit CallCollector(grpc::ClientContext* context);
  virtual ~CallCollector();
  CallCollector(const CallCollector&) = delete;
  CallCollector& operator=(const CallCollector&) = delete;

  // The collector bound to `context`, or null. Thread-safe.
  static CallCollector* Find(grpc::ClientContext* context);

  CallPolicies& policies() { return policies_; }

  // For FanOut (fan_out.cc), which calls through the interceptor: the
  // servers ("host:port") the call must go to instead of every READY one of
  // the namespace; null for every READY one. Set before the call.
  const std::vector<std::string>* servers() const {
    return servers_.has_value() ? &*servers_ : nullptr;
  }

  // Written by the interceptor before the call completes.
  void Fill(ResultsPolicy policy, absl::Status status,
            std::vector<ServerOutcome> outcomes,
            std::vector<std::unique_ptr<google::protobuf::Message>> responses,
            std::unique_ptr<google::protobuf::Message> unavailable);
  // For a generic call (MarkGenericCall), whose responses the interceptor
  // does not parse: every server's outcome with its response's bytes. Before
  // the call completes (before Fill).
  void FillRaw(const std::vector<RawOutcome>& raw) { raw_ = raw; }

 protected:
  grpc::ClientContext* const context_;
  CallPolicies policies_;
  bool called_ = false;
  ResultsPolicy policy_ = ResultsPolicy::kSingle;
  absl::Status status_;
  std::vector<ServerOutcome> outcomes_;
  std::vector<std::unique_ptr<google::protobuf::Message>> responses_;
  std::unique_ptr<google::protobuf::Message> unavailable_;
  std::optional<std::vector<std::string>> servers_;
  std::vector<RawOutcome> raw_;
};

}  // namespace internal

// Binds to `context` until destroyed. Response is the stub's response type
// (a generated protobuf message); outcome responses are null for generic
// calls (MarkGenericCall).
template <typename Response>
class CallResults : public internal::CallCollector {
 public:
  explicit CallResults(grpc::ClientContext* context)
      : internal::CallCollector(context) {}

  // This call's own policies (set before the call).
  CallPolicies& policies() { return policies_; }

  // Whether the call went to several servers (or to none, with the
  // unavailable value standing in) through the channel's interceptor.
  bool called() const { return called_; }
  // The results policy the call's policies chose.
  ResultsPolicy policy() const { return policy_; }
  // The call's status, as the stub returned it.
  const absl::Status& status() const { return status_; }
  // Every server called, by address.
  const std::vector<ServerOutcome>& outcomes() const { return outcomes_; }
  // Whether no server published the namespace and the unavailable value
  // stood in.
  bool unavailable() const { return unavailable_ != nullptr; }

  // The first success by address (what the stub's response holds).
  absl::StatusOr<Response> Single() const {
    if (!status_.ok()) return status_;
    if (unavailable_ != nullptr) return Cast(*unavailable_);
    for (const ServerOutcome& outcome : outcomes_) {
      if (outcome.response != nullptr) return Cast(*outcome.response);
    }
    return absl::FailedPreconditionError(
        called_ ? "no server answered with a message"
                : "the call did not go to several servers");
  }
  // Every success, by address (or the unavailable value alone).
  absl::StatusOr<std::vector<Response>> Vector() const {
    if (!status_.ok()) return status_;
    std::vector<Response> values;
    if (unavailable_ != nullptr) values.push_back(Cast(*unavailable_));
    for (const ServerOutcome& outcome : outcomes_) {
      if (outcome.response != nullptr) {
        values.push_back(Cast(*outcome.response));
      }
    }
    return values;
  }
  // "host:port" -> response, for every success.
  absl::StatusOr<std::map<std::string, Response>> Map() const {
    if (!status_.ok()) return status_;
    std::map<std::string, Response> values;
    for (const ServerOutcome& outcome : outcomes_) {
      if (outcome.response != nullptr) {
        values.emplace(outcome.address, Cast(*outcome.response));
      }
    }
    return values;
  }

 private:
  // The interceptor builds responses from the generated pool's prototype of
  // the method's output type, which is Response for a generated stub.
  static const Response& Cast(const google::protobuf::Message& message) {
    return static_cast<const Response&>(message);
  }
};

// The data ("" for none) of server `address` ("host:port") as `channel`, a
// cluster channel, sees it now, among the servers it can call. NotFound for
// a server it does not know (or before it resolved its cluster).
// Thread-safe.
absl::StatusOr<std::string> ServerData(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view address);

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_CALL_RESULTS_H_
