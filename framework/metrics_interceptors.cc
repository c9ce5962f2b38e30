#include "framework/metrics_interceptors.h"

#include <utility>

#include "absl/time/clock.h"

namespace slacker::internal {
namespace {

using grpc::experimental::InterceptionHookPoints;
using grpc::experimental::InterceptorBatchMethods;

class ClientMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit ClientMetricsInterceptor(MethodMetrics* method)
      : method_(method), started_(absl::Now()) {}

  void Intercept(InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_STATUS)) {
      method_->CallFinished(absl::Now() - started_);
    }
    methods->Proceed();
  }

 private:
  MethodMetrics* const method_;  // Owned by the channel's ClientMetrics.
  const absl::Time started_;
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
  }
  ~ServerMetricsInterceptor() override {
    if (!finished_) Finish(grpc::StatusCode::CANCELLED);
  }

  void Intercept(InterceptorBatchMethods* methods) override {
    if (!finished_ && methods->QueryInterceptionHookPoint(
                          InterceptionHookPoints::PRE_SEND_STATUS)) {
      Finish(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Finish(grpc::StatusCode code) {
    finished_ = true;
    series_->in_flight->Decrement();
    series_->calls.Increment(static_cast<int>(code));
    series_->latency->Observe(absl::ToDoubleSeconds(absl::Now() - started_));
  }

  ServerMetrics::MethodSeries* const series_;  // Owned by ServerMetrics.
  const absl::Time started_;
  // gRPC runs one call's interceptions one at a time.
  bool finished_ = false;
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
