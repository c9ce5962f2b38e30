#include "framework/shutdown.h"

#include <pthread.h>
#include <signal.h>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace slacker {
namespace {

sigset_t ShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  return signals;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t signals = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

ShutdownOnSignal::ShutdownOnSignal(ClusterServer* server,
                                   std::optional<absl::Duration> drain) {
  waiter_ = std::thread([this, server, drain] {
    const sigset_t signals = ShutdownSignals();
    int signal = 0;
    while (sigwait(&signals, &signal) != 0) {
    }
    // The destructor wakes this thread with a SIGTERM of its own.
    if (stopping_.load()) return;
    internal::Log(LogLevel::kInfo,
                  absl::StrCat("signal ", signal, ": shutting down ",
                               server->address(), " gracefully"));
    server->Shutdown(drain);
  });
}

ShutdownOnSignal::~ShutdownOnSignal() {
  stopping_.store(true);
  // Sent to the waiter alone; harmless if it already took a signal and left.
  pthread_kill(waiter_.native_handle(), SIGTERM);
  waiter_.join();
}

}  // namespace slacker
