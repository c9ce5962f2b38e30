#include "framework/metrics_interceptors.h"

#include <atomic>
#include <utility>

#include "absl/time/clock.h"

namespace slacker::internal {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

class ClientMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ClientMetricsInterceptor(MethodMetrics* method)
      : method_(method), started_(absl::Now()) {
    published_.store(true, std::memory_order_release);
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    published_.load(std::memory_order_acquire);
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      method_->CallFinished(absl::Now() - started_);
    }
    methods->Proceed();
  }

 private:
  MethodMetrics* const method_;  // Owned by the channel's ClientMetrics.
  const absl::Time started_;
  // Made on one thread, called on others: gRPC's ordering between the two
  // runs through its uninstrumented completion queue, invisible to
  // ThreadSanitizer; this release/acquire pair is not.
  std::atomic<bool> published_{false};
};

class ClientFactory
    : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit ClientFactory(std::shared_ptr<ClientMetrics> metrics)
      : metrics_(std::move(metrics)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    return new ClientMetricsInterceptor(metrics_->ForMethod(info->method()));
  }

 private:
  const std::shared_ptr<ClientMetrics> metrics_;
};

class ServerMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ServerMetricsInterceptor(ServerMetrics::MethodSeries* series)
      : series_(series), started_(absl::Now()) {
    series_->in_flight->Increment();
    finished_.store(false, std::memory_order_release);
  }
  ~ServerMetricsInterceptor() override {
    if (!finished_.load(std::memory_order_acquire)) {
      Finish(grpc::StatusCode::CANCELLED);
    }
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    if (!finished_.load(std::memory_order_acquire) &&
        methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    finished_.store(true, std::memory_order_release);
    series_->in_flight->Decrement();
    series_->calls.Increment(static_cast<int>(code));
    series_->latency->Observe(absl::ToDoubleSeconds(absl::Now() - started_));
  }

  ServerMetrics::MethodSeries* const series_;  // Owned by ServerMetrics.
  const absl::Time started_;
  // gRPC runs one call's interceptions one at a time, but not on the thread
  // that made the interceptor, ordered through its uninstrumented completion
  // queue: atomic, so that ThreadSanitizer sees the hand-off too.
  std::atomic<bool> finished_{false};
};

class ServerFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit ServerFactory(std::shared_ptr<ServerMetrics> metrics)
      : metrics_(std::move(metrics)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    const char* method = info->method();
    return new ServerMetricsInterceptor(
        metrics_->ForPath(method == nullptr ? "" : method));
  }

 private:
  const std::shared_ptr<ServerMetrics> metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>
MakeClientMetricsInterceptorFactory(std::shared_ptr<ClientMetrics> metrics) {
  return std::make_unique<ClientFactory>(std::move(metrics));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeServerMetricsInterceptorFactory(std::shared_ptr<ServerMetrics> metrics) {
  return std::make_unique<ServerFactory>(std::move(metrics));
}

}  // namespace slacker::internal
