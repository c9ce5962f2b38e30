// The dashboard's HTTP server, over civetweb: GET / answers the page, GET
// /api/cluster the document a callback builds; everything else is 404 (no
// files are served) and methods other than GET are 405. civetweb parses the
// requests; it bounds their size (16 kB of headers) and time, and answers
// malformed ones itself.
//
// Thread-safe. The callback runs on civetweb's worker threads, several at a
// time; it must be thread-safe.

#ifndef SLACKER_TOOLS_DASHBOARD_HTTP_SERVER_H_
#define SLACKER_TOOLS_DASHBOARD_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

struct mg_connection;
struct mg_context;

namespace slacker::dashboard {

class HttpServer {
 public:
  using Document = std::function<std::string()>;

  // Listens on `host`:`port` (0: a free port). UNAVAILABLE, naming the
  // address, if it cannot listen there (in use, or not a local address).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const std::string& host, int port, std::string page, Document document);

  // Stops listening and waits for the requests being answered.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  HttpServer(std::string page, Document document)
      : page_(std::move(page)), document_(std::move(document)) {}
  static int Handle(::mg_connection* conn, void* self);

  const std::string page_;
  const Document document_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace slacker::dashboard

#endif  // SLACKER_TOOLS_DASHBOARD_HTTP_SERVER_H_
