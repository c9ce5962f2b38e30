// One thread that runs tasks one at a time, in the order they were posted
// (delayed tasks: in order of their due time). The ZooKeeper client's event
// and listener threads are two of these; the framework's process-wide
// background thread (framework/internal/background.h) is a third.

#ifndef SLACKER_COMMON_SERIAL_EXECUTOR_H_
#define SLACKER_COMMON_SERIAL_EXECUTOR_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace slacker::internal {

// Thread-safe. The destructor calls Shutdown().
class SerialExecutor {
 public:
  explicit SerialExecutor(std::string name);
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  // Queues `task`. Returns false, dropping it, once Shutdown() has begun.
  bool Post(std::function<void()> task);
  // Queues `task` to run once `delay` has passed.
  void PostAfter(absl::Duration delay, std::function<void()> task);

  // Runs every task already due, drops delayed ones not yet due, and joins the
  // thread. Idempotent. REQUIRES: not called on this executor's thread (nor
  // the destructor run there): checked, the process ends with a message.
  void Shutdown();

  bool IsCurrentThread() const;

  // Returns once every task posted before the call has run (at once on the
  // executor's own thread, or once Shutdown() has begun).
  void Barrier();

 private:
  void Loop();

  const std::string name_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> ready_ ABSL_GUARDED_BY(mu_);
  // Due time and a tie-breaking sequence number -> task.
  std::map<std::pair<absl::Time, uint64_t>, std::function<void()>> delayed_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // Last: starts once the members above exist.
};

}  // namespace slacker::internal

#endif  // SLACKER_COMMON_SERIAL_EXECUTOR_H_
