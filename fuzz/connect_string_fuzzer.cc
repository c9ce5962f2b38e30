// Fuzz target: discovery::ParseConnectString, which reads --zk flags and
// every connect string a program is given.
//
// Beyond not crashing: what it accepts splits back into the same parts.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "discovery/connect_string.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<slacker::discovery::ConnectString> parsed =
      slacker::discovery::ParseConnectString(text);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  FUZZ_CHECK(!parsed->hosts.empty());
  FUZZ_CHECK(parsed->hosts.find('/') == std::string::npos);
  FUZZ_CHECK(parsed->chroot.empty() ||
             (parsed->chroot[0] == '/' && parsed->chroot != "/"));
  // The parts, put together again, parse to themselves.
  absl::StatusOr<slacker::discovery::ConnectString> again =
      slacker::discovery::ParseConnectString(parsed->hosts + parsed->chroot);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->hosts == parsed->hosts);
  FUZZ_CHECK(again->chroot == parsed->chroot);
  return 0;
}
