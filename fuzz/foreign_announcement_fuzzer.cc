// Fuzz target: the reader of ServerSet member nodes
// (discovery/foreign_announcements.h), which a cluster channel over
// ServerSets runs on whatever anyone wrote under the path it watches.
//
// Beyond not crashing or stalling: data past the bounds is refused, and what
// is accepted describes endpoints a channel can dial (a host of 1..255
// printable bytes without '/', ports 1..65535).

#include <cstddef>
#include <cstdint>
#include <string>

#include "discovery/foreign_announcements.h"
#include "fuzz/fuzz_check.h"

namespace {

using slacker::discovery::AnnouncedEndpoint;

bool ValidHost(const std::string& host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host) {
    if (c <= ' ' || c > '~' || c == '/') return false;
  }
  return true;
}

bool ValidPort(int port) { return port >= 1 && port <= 65535; }

void CheckEndpoint(const AnnouncedEndpoint& endpoint) {
  FUZZ_CHECK(ValidHost(endpoint.host));
  FUZZ_CHECK(ValidPort(endpoint.port));
  FUZZ_CHECK(!endpoint.HostPort().empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bool within =
      size <= slacker::discovery::kForeignAnnouncementBounds.max_bytes;
  const auto member = slacker::discovery::ParseServerSetMember(text);
  if (member.ok()) {
    FUZZ_CHECK(within);
    CheckEndpoint(member->service_endpoint);
    for (const auto& [name, endpoint] : member->additional_endpoints) {
      CheckEndpoint(endpoint);
    }
    FUZZ_CHECK(!member->status.empty());
  } else {
    FUZZ_CHECK(member.status().code() == absl::StatusCode::kInvalidArgument);
  }
  return 0;
}
