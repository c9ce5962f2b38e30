#include "tools/dashboard/http_server.h"

#include <civetweb.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace slacker::dashboard {
namespace {

void Send(mg_connection* conn, const char* type, const std::string& body) {
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: %s\r\n"
            "Content-Length: %zu\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            "Content-Security-Policy: default-src 'self'; script-src "
            "'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'\r\n"
            "Connection: close\r\n\r\n",
            type, body.size());
  mg_write(conn, body.data(), body.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const std::string& host, int port, std::string page, Document document) {
  std::unique_ptr<HttpServer> server(
      new HttpServer(std::move(page), std::move(document)));
  const std::string listen = absl::StrCat(host, ":", port);
  const char* options[] = {"listening_ports",
                           listen.c_str(),
                           "num_threads",
                           "8",
                           "request_timeout_ms",
                           "10000",
                           "enable_keep_alive",
                           "no",
                           "enable_directory_listing",
                           "no",
                           nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.log_message = [](const mg_connection*, const char*) {
    return 1;  // Hostile requests must not flood the terminal.
  };
  mg_init_data init;
  std::memset(&init, 0, sizeof(init));
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  char error_text[256] = "";
  mg_error_data error;
  std::memset(&error, 0, sizeof(error));
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  server->context_ = mg_start2(&init, &error);
  if (server->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve the dashboard on ", listen, ": ", error_text,
                     "; choose another --port (or --listen)"));
  }
  mg_server_port ports[4];
  if (mg_get_server_ports(server->context_, 4, ports) > 0) {
    server->port_ = ports[0].port;
  }
  mg_set_request_handler(server->context_, "/", &HttpServer::Handle,
                         server.get());
  return server;
}

HttpServer::~HttpServer() {
  if (context_ != nullptr) mg_stop(context_);
}

int HttpServer::Handle(mg_connection* conn, void* self) {
  const HttpServer& server = *static_cast<const HttpServer*>(self);
  const mg_request_info* request = mg_get_request_info(conn);
  if (request == nullptr || request->request_method == nullptr ||
      request->local_uri == nullptr) {
    mg_send_http_error(conn, 400, "%s", "Bad request");
    return 400;
  }
  if (std::strcmp(request->request_method, "GET") != 0) {
    mg_send_http_error(conn, 405, "%s", "Only GET");
    return 405;
  }
  const std::string uri = request->local_uri;
  if (uri == "/" || uri == "/index.html") {
    Send(conn, "text/html; charset=utf-8", server.page_);
    return 200;
  }
  if (uri == "/api/cluster") {
    Send(conn, "application/json", server.document_());
    return 200;
  }
  mg_send_http_error(conn, 404, "%s", "Not found");
  return 404;
}

}  // namespace slacker::dashboard
