#include "framework/internal/background.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace slacker::internal {
namespace {

class Background {
 public:
  static Background& Get() {
    static Background* background = new Background();
    return *background;
  }

  void Run(std::function<void()> task) {
    std::lock_guard<std::mutex> lock(mu_);
    tasks_.push_back(std::move(task));
    wake_.notify_one();
  }

 private:
  Background() {
    std::thread([this] {
      while (true) {
        std::function<void()> task;
        {
          std::unique_lock<std::mutex> lock(mu_);
          wake_.wait(lock, [this] { return !tasks_.empty(); });
          task = std::move(tasks_.front());
          tasks_.pop_front();
        }
        task();
      }
    }).detach();
  }

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
};

}  // namespace

void RunInBackground(std::function<void()> task) {
  Background::Get().Run(std::move(task));
}

}  // namespace slacker::internal
