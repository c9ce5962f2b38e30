#include "framework/grpc_plugin/server_attribute.h"

namespace slacker::internal {

const char* ServerAttribute::Key() {
  static const char kKey[] = "slacker_server";
  return kKey;
}

}  // namespace slacker::internal
