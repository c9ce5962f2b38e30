#include "discovery/internal/close_check.h"

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace slacker::discovery::internal {

void CheckClosedOffEventThread(const ZooKeeperClient& client,
                               absl::string_view recipe) {
  if (!client.IsEventThread()) return;
  slacker::internal::FailWithMessage(absl::StrCat(
      recipe,
      " closed or destroyed on the ZooKeeper client's event thread: it "
      "must not block that thread; close it from another thread (for "
      "example the listener thread, or your own)"));
}

}  // namespace slacker::discovery::internal
