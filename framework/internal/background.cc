#include "framework/internal/background.h"

#include <utility>

#include "common/serial_executor.h"

namespace slacker::internal {

void RunInBackground(std::function<void()> task) {
  // Never destroyed, so never shut down or joined: no static destructor waits
  // on a task, and tasks still queued at exit do not run.
  static SerialExecutor* const background = new SerialExecutor("slacker-bg");
  background->Post(std::move(task));
}

}  // namespace slacker::internal
