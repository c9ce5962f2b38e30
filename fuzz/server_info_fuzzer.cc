// Fuzz target: internal::ParseServerInfo, which reads the data of every
// servers/<host:port> node a cluster channel or slackerctl sees, written by
// anyone who can write to ZooKeeper.
//
// Beyond not crashing: a refused node leaves the server as it was; an accepted
// one gives a positive, finite weight and server data that is JSON again.

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "framework/internal/cluster_view.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string json(reinterpret_cast<const char*>(data), size);
  slacker::internal::ClusterServer server;
  server.address = "127.0.0.1:1";
  server.server_data = "unchanged";
  server.weight = 7;
  const slacker::internal::ClusterServer before = server;
  const absl::Status status = slacker::internal::ParseServerInfo(json, &server);
  if (!status.ok()) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(server == before);
    return 0;
  }
  FUZZ_CHECK(server.address == before.address);
  FUZZ_CHECK(server.weight > 0 && std::isfinite(server.weight));
  if (!server.server_data.empty()) {
    google::protobuf::Value value;
    FUZZ_CHECK(
        google::protobuf::util::JsonStringToMessage(server.server_data, &value)
            .ok());
  }
  return 0;
}
