// Calls to several servers: one logical call executed on every server of a
// namespace (or on the servers a grouping function chooses), in parallel,
// with the results combined: Slacker's grouping `all` and its result and
// error policies, over ordinary protobuf messages.
//
//   slacker::FanOutResult<Timestamp> result = slacker::FanOut<Timestamp>(
//       channel, "slacker.example.Api/Timestamp", google::protobuf::Empty());
//   absl::StatusOr<std::map<std::string, Timestamp>> by_server = result.Map();
//
// One implementation: a fan-out is one call through the cluster channel with
// grouping `all` (a generic call, see MarkGenericCall), which the channel's
// interceptor fans out exactly as it does a generated stub's call
// (cluster_interceptor.h, call_results.h); FanOut only chooses the servers
// when a function does (FanOutOptions::servers) and applies its options to
// every server's outcome. Each sub-call is pinned to its server by the
// channel's own load-balancing policy (no second set of connections), so it
// gets the channel's credentials, retries and health checks.
//
// The caller's ClientContext (the overloads that take one): its metadata,
// deadline and call credentials reach every sub-call, as for a stub call.
//   grpc::ClientContext context;
//   context.AddMetadata("x-request-id", "42");
//   context.set_deadline(std::chrono::system_clock::now() +
//                        std::chrono::seconds(1));
//   auto result = slacker::FanOut<Timestamp>(
//       channel, &context, "slacker.example.Api/Timestamp", request);
// The context is for this one call (as any ClientContext): do not call
// SetGrouping on it (FanOutOptions::servers chooses the servers; the fan-out
// fails with INVALID_ARGUMENT after the call otherwise) nor bind a
// CallResults to it (the FanOutResult holds the outcomes). Keep it alive
// until the call completes. With no deadline of its own it gets the options'
// timeout.
//
// Which servers: the READY, healthy publishers of the method's namespace as
// the channel sees them when the call starts (one consistent snapshot), or
// those a function registered with RegisterGroupingFunction returns from
// that list (FanOutOptions::servers).
//
// Results (accessors of FanOutResult): Single (the first success, by
// address), Vector (every success, by address), Map (address -> response),
// Reduce (your fold over every server's outcome).
// Errors (FanOutOptions::errors): kAll fails only when every server failed,
// kAny fails when any did; error_policy replaces both. A failed fan-out's
// status names every server's status, in its message and in its payload
// kFanOutDetailsUrl.
//
// Options apply per call (the argument), else per method
// (SetFanOutOptions(channel, "pkg.Service/Method", ...)), else per channel
// (SetFanOutOptions(channel, ...)), else the defaults below.

#ifndef SLACKER_FRAMEWORK_FAN_OUT_H_
#define SLACKER_FRAMEWORK_FAN_OUT_H_

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/proto_buffer_writer.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slacker {

// The type URL of the payload a failed fan-out's status carries: one line
// per server, "host:port CODE message".
inline constexpr char kFanOutDetailsUrl[] = "type.slacker.io/fan_out_details";

// One server's part of a fan-out call.
struct ServerOutcome {
  std::string address;  // "host:port"
  grpc::Status status;
  absl::Duration latency = absl::ZeroDuration();
  // The response when status.ok(), else null. Owned by the FanOutResult;
  // before_merge may change it.
  google::protobuf::Message* response = nullptr;
};

enum class FanOutErrors {
  kAll,  // Fail only when every server failed; otherwise use the successes.
  kAny,  // Fail when any server failed.
};

struct FanOutOptions {
  // "all" (every publisher), or the name of a grouping function
  // (RegisterGroupingFunction) whose returned servers are called.
  std::string servers = "all";
  FanOutErrors errors = FanOutErrors::kAll;
  // When set, decides instead of `errors`: OK means use the successes.
  std::function<absl::Status(const std::vector<ServerOutcome>& outcomes)>
      error_policy;
  // Deadline of every sub-call, from the start of the fan-out, unless the
  // caller's ClientContext has a deadline (which then applies): a slow server
  // cannot hold the call longer; its outcome is then DEADLINE_EXCEEDED.
  absl::Duration timeout = absl::Seconds(10);
  // When no server publishes the namespace: succeed with this value (JSON of
  // the response type) instead of failing with UNAVAILABLE.
  std::optional<std::string> unavailable_value;
  // Before the error policy looks at the outcomes (may rewrite responses),
  // and after it decided (logging). Called on the thread that completes the
  // fan-out.
  std::function<void(std::vector<ServerOutcome>& outcomes)> before_merge;
  std::function<void(const absl::Status& status,
                     const std::vector<ServerOutcome>& outcomes)>
      after_merge;
};

// Default options for fan-out calls on `channel` (a cluster channel), for
// every method or for one ("pkg.Service/Method"). Thread-safe; they apply to
// calls started afterwards. Kept while the channel lives.
void SetFanOutOptions(const std::shared_ptr<grpc::Channel>& channel,
                      FanOutOptions options);
void SetFanOutOptions(const std::shared_ptr<grpc::Channel>& channel,
                      const std::string& method, FanOutOptions options);

// The servers a fan-out on `channel` would call for namespace `ns` now: the
// READY, healthy publishers the channel sees, by address. Empty for a channel
// that has not resolved its cluster yet. Thread-safe.
std::vector<std::string> ReadyServers(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& ns);

// The outcome of a fan-out call. Movable, not copyable.
template <typename Response>
class FanOutResult {
 public:
  FanOutResult() = default;
  FanOutResult(FanOutResult&&) noexcept = default;
  FanOutResult& operator=(FanOutResult&&) noexcept = default;

  // OK, or why the fan-out failed (see FanOutErrors).
  const absl::Status& status() const { return status_; }
  // Every server called, by address.
  const std::vector<ServerOutcome>& outcomes() const { return outcomes_; }
  // Whether no server published the namespace and the unavailable value
  // stands in.
  bool unavailable() const { return unavailable_ != nullptr; }

  // The first success, by address (or the unavailable value).
  absl::StatusOr<Response> Single() const {
    if (!status_.ok()) return status_;
    if (unavailable_ != nullptr) return *unavailable_;
    for (const ServerOutcome& outcome : outcomes_) {
      if (outcome.response != nullptr) return Cast(outcome);
    }
    return absl::UnavailableError("no server answered");
  }
  // Every success, by address (or the unavailable value alone).
  absl::StatusOr<std::vector<Response>> Vector() const {
    if (!status_.ok()) return status_;
    std::vector<Response> values;
    if (unavailable_ != nullptr) values.push_back(*unavailable_);
    for (const ServerOutcome& outcome : outcomes_) {
      if (outcome.response != nullptr) values.push_back(Cast(outcome));
    }
    return values;
  }
  // "host:port" -> response, for every success (empty when the unavailable
  // value stands in).
  absl::StatusOr<std::map<std::string, Response>> Map() const {
    if (!status_.ok()) return status_;
    std::map<std::string, Response> values;
    for (const ServerOutcome& outcome : outcomes_) {
      if (outcome.response != nullptr) {
        values.emplace(outcome.address, Cast(outcome));
      }
    }
    return values;
  }
  // Your own combination of every server's outcome.
  template <typename T>
  absl::StatusOr<T> Reduce(
      const std::function<T(const std::vector<ServerOutcome>& outcomes)>& fold)
      const {
    if (!status_.ok()) return status_;
    return fold(outcomes_);
  }

 private:
  template <typename R, typename Q>
  friend class FanOutBuilder;

  static const Response& Cast(const ServerOutcome& outcome) {
    return static_cast<const Response&>(*outcome.response);
  }

  absl::Status status_;
  std::vector<ServerOutcome> outcomes_;
  std::vector<std::unique_ptr<google::protobuf::Message>> responses_;
  std::unique_ptr<Response> unavailable_;
};

// A fan-out in progress. Thread-safe.
class FanOutCall {
 public:
  virtual ~FanOutCall() = default;
  // Cancels every sub-call still running (their outcome: CANCELLED); the
  // completion callback still runs, once.
  virtual void Cancel() = 0;
};

namespace internal {

struct RawOutcome {
  std::string address;
  grpc::Status status;
  grpc::ByteBuffer response;
  absl::Duration latency = absl::ZeroDuration();
};

// How a fan-out went before typing: `status` is not OK when it could not
// start (e.g. not a cluster channel; no publisher and no unavailable value).
struct RawFanOut {
  absl::Status status;
  bool unavailable = false;  // No publisher; options.unavailable_value set.
  std::vector<RawOutcome> outcomes;  // By address.
};

using RawDone =
    std::function<void(const FanOutOptions& options, RawFanOut raw)>;

// Starts the fan-out's call; `done` runs once, on a gRPC thread (or on this
// one, when nothing could start). `method` is "pkg.Service/Method" or
// "/pkg.Service/Method". `context`, the caller's, may be null (the fan-out
// then makes its own); if not, it must outlive the call.
std::shared_ptr<FanOutCall> StartFanOut(
    const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
    const std::string& method, grpc::ByteBuffer request,
    std::optional<FanOutOptions> options, RawDone done);
std::shared_ptr<FanOutCall> StartFanOut(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
    grpc::ByteBuffer request, std::optional<FanOutOptions> options,
    RawDone done);

// `message` serialized.
grpc::ByteBuffer Serialize(const google::protobuf::Message& message);

// Parses `buffer` into `message`; false if it does not parse.
bool ParseMessage(grpc::ByteBuffer* buffer, google::protobuf::Message* message);

// Types raw outcomes: each success is parsed into a new message like
// `prototype`, owned by `responses`; one that does not parse becomes an
// INTERNAL failure.
std::vector<ServerOutcome> ParseOutcomes(
    std::vector<RawOutcome>& raw, const google::protobuf::Message& prototype,
    std::vector<std::unique_ptr<google::protobuf::Message>>* responses);

// Applies the error policy to outcomes that are already typed.
absl::Status ApplyErrorPolicy(const FanOutOptions& options,
                              const std::vector<ServerOutcome>& outcomes);

}  // namespace internal

// Builds a typed FanOutResult from a raw one. Implementation detail.
template <typename Response, typename Request>
class FanOutBuilder {
 public:
  static FanOutResult<Response> Build(const FanOutOptions& options,
                                      internal::RawFanOut raw) {
    FanOutResult<Response> result;
    if (!raw.status.ok()) {
      result.status_ = raw.status;
      return result;
    }
    if (raw.unavailable) {
      auto value = std::make_unique<Response>();
      google::protobuf::util::JsonParseOptions lenient;
      lenient.ignore_unknown_fields = true;
      if (!google::protobuf::util::JsonStringToMessage(
               *options.unavailable_value, value.get(), lenient)
               .ok()) {
        result.status_ = absl::InvalidArgumentError(
            "the unavailable value is not JSON of the response type " +
            Response::descriptor()->full_name());
        return result;
      }
      result.unavailable_ = std::move(value);
      return result;
    }
    result.outcomes_ = internal::ParseOutcomes(
        raw.outcomes, Response::default_instance(), &result.responses_);
    if (options.before_merge) options.before_merge(result.outcomes_);
    result.status_ = internal::ApplyErrorPolicy(options, result.outcomes_);
    if (options.after_merge) {
      options.after_merge(result.status_, result.outcomes_);
    }
    return result;
  }
};

// Starts a fan-out call of the unary method `method` ("pkg.Service/Method")
// with `request` on `channel`, a cluster channel, with the caller's
// `context` (see above; it must outlive the call); `done` gets the result
// once, on a gRPC thread (it must not block for long). Thread-safe.
template <typename Response, typename Request>
std::shared_ptr<FanOutCall> FanOutAsync(
    const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
    const std::string& method, const Request& request,
    std::function<void(FanOutResult<Response> result)> done,
    std::optional<FanOutOptions> options = std::nullopt) {
  return internal::StartFanOut(
      channel, context, method, internal::Serialize(request),
      std::move(options),
      [done = std::move(done)](const FanOutOptions& used,
                               internal::RawFanOut raw) {
        done(FanOutBuilder<Response, Request>::Build(used, std::move(raw)));
      });
}

// The same with a context of its own.
template <typename Response, typename Request>
std::shared_ptr<FanOutCall> FanOutAsync(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
    const Request& request,
    std::function<void(FanOutResult<Response> result)> done,
    std::optional<FanOutOptions> options = std::nullopt) {
  return FanOutAsync<Response, Request>(channel, nullptr, method, request,
                                        std::move(done), std::move(options));
}

// The synchronous form: returns once every sub-call has finished (at the
// latest at the context's deadline, else the options' timeout). Thread-safe.
template <typename Response, typename Request>
FanOutResult<Response> FanOut(
    const std::shared_ptr<grpc::Channel>& channel, grpc::ClientContext* context,
    const std::string& method, const Request& request,
    std::optional<FanOutOptions> options = std::nullopt) {
  std::mutex mu;
  std::condition_variable finished;
  std::optional<FanOutResult<Response>> result;
  FanOutAsync<Response, Request>(
      channel, context, method, request,
      [&](FanOutResult<Response> done) {
        std::lock_guard<std::mutex> lock(mu);
        result = std::move(done);
        finished.notify_all();
      },
      std::move(options));
  std::unique_lock<std::mutex> lock(mu);
  finished.wait(lock, [&] { return result.has_value(); });
  return *std::move(result);
}

// The same with a context of its own.
template <typename Response, typename Request>
FanOutResult<Response> FanOut(
    const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
    const Request& request,
    std::optional<FanOutOptions> options = std::nullopt) {
  return FanOut<Response, Request>(channel, nullptr, method, request,
                                   std::move(options));
}

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_FAN_OUT_H_
