// One process-wide thread for work that must not run on the thread that
// triggers it: closing a ZooKeeper session from one of its own threads, or
// dropping the last reference to a gRPC channel on one of gRPC's callback
// threads (which would shut that thread's completion queue down under it).
// It is a common/serial_executor.h SerialExecutor that is never destroyed.

#ifndef SLACKER_FRAMEWORK_INTERNAL_BACKGROUND_H_
#define SLACKER_FRAMEWORK_INTERNAL_BACKGROUND_H_

#include <functional>

namespace slacker::internal {

// Queues `task` for the background thread, which runs tasks one at a time,
// in order. Thread-safe. The thread is created on first use and lives as
// long as the process (it is never joined, so no static destructor waits on
// it); tasks still queued at exit do not run.
void RunInBackground(std::function<void()> task);

}  // namespace slacker::internal

#endif  // SLACKER_FRAMEWORK_INTERNAL_BACKGROUND_H_
