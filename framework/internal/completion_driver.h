// A completion queue of this library's and the one thread that drains it, for
// the life of the process (never shut down: gRPC's callback API would tear
// its shared queue down and make it again as channels come and go, which
// Debian's gRPC 1.51 does not survive under AddressSanitizer, and a channel
// dropped on its threads breaks them).
//
// Two drivers, so that one kind of work cannot hold up the other: the client
// interceptor's sub-calls (cluster_interceptor.cc), and the fan-out API's
// calls (fan_out.cc), whose completions run the user's callbacks.
//
// Thread-safe. The drivers live as long as the process.

#ifndef SLACKER_FRAMEWORK_INTERNAL_COMPLETION_DRIVER_H_
#define SLACKER_FRAMEWORK_INTERNAL_COMPLETION_DRIVER_H_

#include <grpcpp/completion_queue.h>

namespace slacker::internal {

class CompletionDriver {
 public:
  // What an operation leaves on the queue as its tag: Complete runs on the
  // driver's thread, once per operation, and must not block.
  class Tag {
   public:
    virtual ~Tag() = default;
    virtual void Complete(bool ok) = 0;
  };

  // The driver of the cluster interceptor's sub-calls.
  static CompletionDriver& SubCalls();
  // The driver of FanOut's and FanOutAsync's calls.
  static CompletionDriver& FanOutCalls();

  grpc::CompletionQueue* cq() { return &cq_; }

 private:
  CompletionDriver();
  grpc::CompletionQueue cq_;
};

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_COMPLETION_DRIVER_H_
