// A small HTTP/1.0 server on a loopback port, for tests whose real HTTP
// endpoint cannot run here: a stand-in (e.g. for Exhibitor's REST API, a JVM
// web application that Debian does not package). Each request's reply comes
// from the test's handler, which can also misbehave on purpose: answer
// slowly, hang, or send more than any client should read.
//
//   auto exhibitor = HttpStandIn::Start([](const std::string& path) {
//     return HttpStandIn::Reply{200,
//     R"({"servers":["127.0.0.1"],"port":2181})"};
//   });
//   http://127.0.0.1:(*exhibitor)->port()/exhibitor/v1/cluster/list
//
// Thread-safe. One thread of its own answers the connections one after the
// other (a slow reply delays the next connection, never the test's thread);
// the destructor stops it.

#ifndef SLACKER_TESTING_HTTP_STAND_IN_H_
#define SLACKER_TESTING_HTTP_STAND_IN_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace slacker::testing {

class HttpStandIn {
 public:
  struct Reply {
    int status = 200;
    std::string body;
    // Sent one byte at a time, this far apart (a slow endpoint). Zero: at
    // once.
    absl::Duration byte_delay = absl::ZeroDuration();
    // Accept the request, answer nothing, hold the connection open until the
    // client gives up (or the server stops).
    bool hang = false;
  };
  // Called with the request's path, on the server's thread.
  using Handler = std::function<Reply(const std::string& path)>;

  // Listens on 127.0.0.1:`port` (0: a free one). Internal if it cannot.
  static absl::StatusOr<std::unique_ptr<HttpStandIn>> Start(Handler handler,
                                                            int port = 0);
  ~HttpStandIn();
  HttpStandIn(const HttpStandIn&) = delete;
  HttpStandIn& operator=(const HttpStandIn&) = delete;

  int port() const { return port_; }
  // Requests answered (or started) so far.
  int requests() const { return requests_.load(); }

 private:
  HttpStandIn(Handler handler, int listen_fd, int port, int wake_read,
              int wake_write);
  void Serve();
  void Answer(int fd);
  // Waits for `events` on fd; false when the server stops first.
  bool Wait(int fd, short events, absl::Duration timeout);

  const Handler handler_;
  const int listen_fd_;
  const int port_;
  const int wake_read_;
  const int wake_write_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_HTTP_STAND_IN_H_
