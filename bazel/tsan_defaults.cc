// Linked into every binary and test of a `--config=tsan` build (see .bazelrc
// and BUILD.bazel here): ThreadSanitizer reads its default options from this
// function before TSAN_OPTIONS.
//
// Debian's gRPC, absl, protobuf and ZooKeeper C client are not built with
// ThreadSanitizer. Their memory accesses and their locking (absl::Mutex,
// atomics) are invisible to it, but the libc calls they make (memcpy of a
// string handed to a gRPC thread, epoll on gRPC's event fds, sprintf into the
// C client's log buffer) are intercepted, and without the locking that orders
// them they look like races. ignore_noninstrumented_modules drops what such
// libraries do through libc; every access made by code compiled here, in
// callbacks those libraries run included, stays checked. This is also why the
// project locks with std::mutex (pthreads, which TSan intercepts) rather than
// Debian's absl::Mutex.

extern "C" const char* __tsan_default_options() {
  return "ignore_noninstrumented_modules=1";
}

// gRPC's default health service (which every cluster server runs) uses the
// callback API inside libgrpc++. The inline templates it uses (CallOpSet,
// InterceptorBatchMethodsImpl, callback handlers) are also instantiated,
// instrumented, in our generated *.grpc.pb.cc and get linked to those copies;
// the locking that orders them lives in uninstrumented gRPC core, so TSan
// reports races between gRPC's own threads there. Only those gRPC frames.
// The same holds for the callback API's client side (generated async()
// stubs, GenericStub::UnaryCall, which fan-out calls use).
//
// gRPC 1.51 ends its own threads itself. When the last gRPC object of a process
// is released on one of gRPC's threads (a channel whose final reference a
// connection attempt held, say), grpc_shutdown hands the cleanup to a detached
// thread, which joins the executor threads; a process that exits meanwhile
// leaves a finished, unjoined gRPC thread, and TSan reports it as a thread
// leak (seen: 1 run in 200 of `slackerctl --server=127.0.0.1:1 server-data`).
// Only threads that gRPC created are exempt; threads we create stay checked.
//
// The cluster interceptor answers a hijacked call on its own driver thread:
// HijackedCall combines the sub-calls' outcomes and writes the caller's
// response, status and CallResults, then lets the batch go on; the caller's
// thread (or, for callback stubs, gRPC's callback thread and then the caller)
// reads them once gRPC completes the call, an order that runs through gRPC's
// completion queue inside uninstrumented libgrpc; the caller cannot see the
// call complete before that Proceed. The interceptor states the order again
// where TSan can see it (a release before Proceed, an acquire in the
// POST_RECV hooks), but gRPC does not run those hooks on every path the answer
// takes, so reports with a HijackedCall frame on one side remain. Only the
// frames of that one class of ours.
extern "C" const char* __tsan_default_suppressions() {
  return "thread:grpc_core::Thread::Thread\n"
         "race:grpc::internal::CallOpSet\n"
         "race:grpc::internal::InterceptorBatchMethodsImpl\n"
         "race:grpc::internal::CallbackWithSuccessTag\n"
         "race:grpc::internal::CallbackUnaryHandler\n"
         "race:grpc::Server::CallbackRequest\n"
         "race:grpc::internal::CallbackWithStatusTag\n"
         "race:grpc::internal::CallbackUnaryCallImpl\n"
         "race:grpc::internal::ClientCallbackUnaryImpl\n"
         "race:slacker::internal::*HijackedCall::*\n";
}
