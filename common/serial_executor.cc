#include "common/serial_executor.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace slacker::internal {

SerialExecutor::SerialExecutor(std::string name)
    : name_(std::move(name)), thread_([this] { Loop(); }) {
  // Linux allows 15 characters; a name helps in gdb and TSan reports.
  pthread_setname_np(thread_.native_handle(), name_.substr(0, 15).c_str());
}

SerialExecutor::~SerialExecutor() { Shutdown(); }

bool SerialExecutor::Post(std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  ready_.push_back(std::move(task));
  wake_.notify_one();
  return true;
}

void SerialExecutor::Barrier() {
  if (IsCurrentThread()) return;
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  const bool posted = Post([&] {
    std::lock_guard<std::mutex> lock(done_mu);
    done = true;
    done_cv.notify_all();
  });
  // A posted task always runs: Shutdown() drains what was queued.
  if (!posted) return;
  std::unique_lock<std::mutex> lock(done_mu);
  done_cv.wait(lock, [&] { return done; });
}

void SerialExecutor::PostAfter(absl::Duration delay,
                               std::function<void()> task) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return;
  delayed_.emplace(std::make_pair(absl::Now() + delay, next_sequence_++),
                   std::move(task));
  wake_.notify_one();
}

void SerialExecutor::Shutdown() {
  if (IsCurrentThread()) {
    FailWithMessage(absl::StrCat(
        "SerialExecutor '", name_,
        "' shut down or destroyed by one of its own tasks: its thread would "
        "join itself; shut it down or destroy it from another thread"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    delayed_.clear();
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

bool SerialExecutor::IsCurrentThread() const {
  return std::this_thread::get_id() == thread_.get_id();
}

void SerialExecutor::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // Move due delayed tasks to the ready queue.
    const absl::Time now = absl::Now();
    while (!delayed_.empty() && delayed_.begin()->first.first <= now) {
      ready_.push_back(std::move(delayed_.begin()->second));
      delayed_.erase(delayed_.begin());
    }
    if (!ready_.empty()) {
      std::function<void()> task = std::move(ready_.front());
      ready_.pop_front();
      lock.unlock();
      task();
      task = nullptr;  // Destroy captures outside the lock too.
      lock.lock();
      continue;
    }
    if (stopping_) return;
    if (delayed_.empty()) {
      wake_.wait(lock);
    } else {
      wake_.wait_for(
          lock, absl::ToChronoNanoseconds(delayed_.begin()->first.first - now));
    }
  }
}

}  // namespace slacker::internal
