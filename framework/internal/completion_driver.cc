#include "framework/internal/completion_driver.h"

#include <thread>

namespace slacker::internal {

CompletionDriver::CompletionDriver() {
  std::thread([this] {
    void* tag = nullptr;
    bool ok = false;
    while (cq_.Next(&tag, &ok)) static_cast<Tag*>(tag)->Complete(ok);
  }).detach();
}

CompletionDriver& CompletionDriver::SubCalls() {
  static CompletionDriver* driver = new CompletionDriver();
  return *driver;
}

CompletionDriver& CompletionDriver::FanOutCalls() {
  static CompletionDriver* driver = new CompletionDriver();
  return *driver;
}

}  // namespace slacker::internal
