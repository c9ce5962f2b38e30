// Graceful shutdown on SIGTERM and SIGINT, for main():
//
//   int main(int argc, char** argv) {
//     slacker::BlockShutdownSignals();  // First, before any thread starts.
//     ... build and start the cluster server ...
//     slacker::ShutdownOnSignal on_signal(server.get());
//     server->Wait();  // Returns once the signal's shutdown has finished.
//   }
//
// The signals are taken with sigwait on a thread of ShutdownOnSignal, not in
// a signal handler, so the shutdown (unpublish, drain, stop) runs as ordinary
// code.

#ifndef SLACKER_FRAMEWORK_SHUTDOWN_H_
#define SLACKER_FRAMEWORK_SHUTDOWN_H_

#include <atomic>
#include <optional>
#include <thread>

#include "absl/time/time.h"
#include "framework/cluster_server.h"

namespace slacker {

// Blocks SIGTERM and SIGINT in the calling thread, and so in every thread it
// starts afterwards (gRPC's, ZooKeeper's): otherwise the signal may land on a
// thread that does not wait for it and kill the process. Call at the top of
// main(), before anything starts a thread.
void BlockShutdownSignals();

// While it lives, the first SIGTERM or SIGINT runs server->Shutdown(drain).
// REQUIRES: BlockShutdownSignals() was called before any thread started;
// `server` outlives this object. Not thread-safe (own it from one thread).
class ShutdownOnSignal {
 public:
  explicit ShutdownOnSignal(ClusterServer* server,
                            std::optional<absl::Duration> drain = std::nullopt);
  // Stops waiting for the signal; waits for a shutdown it started.
  ~ShutdownOnSignal();
  ShutdownOnSignal(const ShutdownOnSignal&) = delete;
  ShutdownOnSignal& operator=(const ShutdownOnSignal&) = delete;

 private:
  std::atomic<bool> stopping_{false};
  std::thread waiter_;
};

}  // namespace slacker

#endif  // SLACKER_FRAMEWORK_SHUTDOWN_H_
