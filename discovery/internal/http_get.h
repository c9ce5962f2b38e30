// A small blocking HTTP/1.0 GET over a TCP socket, for the Exhibitor-style
// ensemble provider (discovery/ensemble_provider.h). Whatever the server
// does, the call is bounded: one deadline covers connecting, sending and
// reading (a server that sends one byte a second is cut off there), and the
// answer is bounded in size (headers and body), so a hostile or broken
// endpoint costs at most `timeout` and `max_body_bytes` + 8 KiB of memory.
//
// HTTP/1.0 without keep-alive: the server closes the connection after its
// answer, so no chunked encoding is expected (one is refused). Host names
// are resolved with getaddrinfo, which the deadline does not cover (a numeric
// address resolves at once; a hung resolver is not bounded here).
//
// Thread-safe (no shared state).

#ifndef SLACKER_DISCOVERY_INTERNAL_HTTP_GET_H_
#define SLACKER_DISCOVERY_INTERNAL_HTTP_GET_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slacker::discovery::internal {

struct HttpResponse {
  int status = 0;    // 200, 404, ...
  std::string body;  // Exactly Content-Length bytes when the server gave one.
};

// At most this many bytes of status line and headers are read.
inline constexpr size_t kMaxHttpHeaderBytes = 8 * 1024;

// GET http://host:port<path>. Unavailable when the server cannot be reached,
// closes early or the answer is malformed; DeadlineExceeded when `timeout`
// passes first; ResourceExhausted when the headers pass kMaxHttpHeaderBytes
// or the body `max_body_bytes`. A non-2xx status is a response, not an error.
absl::StatusOr<HttpResponse> HttpGet(const std::string& host, int port,
                                     const std::string& path,
                                     absl::Duration timeout,
                                     size_t max_body_bytes);

}  // namespace slacker::discovery::internal

#endif  // SLACKER_DISCOVERY_INTERNAL_HTTP_GET_H_
