// The first example: proves, end to end, the chain the framework builds on. It
// writes and reads a znode in the ZooKeeper given by --zk, then serves a
// generated gRPC service on a loopback port and calls it through the generated
// stub. tools/demo.sh runs it against a ZooKeeper that it starts itself.

#include <grpcpp/grpcpp.h>
#include <zookeeper/zookeeper.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "protos/slacker/testing/echo.grpc.pb.h"

ABSL_FLAG(std::string, zk, "127.0.0.1:2181", "ZooKeeper connect string");
ABSL_FLAG(std::string, znode, "/slacker-roundtrip",
          "znode the example writes and reads back");

namespace {

class EchoService final : public slacker::testing::EchoService::Service {
  grpc::Status Echo(grpc::ServerContext*, const slacker::testing::Ping* request,
                    slacker::testing::Ping* reply) override {
    *reply = *request;
    reply->set_sequence(request->sequence() + 1);
    return grpc::Status::OK;
  }
};

void OnSessionEvent(zhandle_t*, int type, int state, const char*, void* ctx) {
  if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
    static_cast<absl::Notification*>(ctx)->Notify();
  }
}

// Creates (or overwrites) the znode and reads it back; returns the data read.
int ZooKeeperRoundTrip(const std::string& hosts, const std::string& path,
                       std::string* read_back) {
  zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  absl::Notification connected;
  zhandle_t* zh = zookeeper_init(hosts.c_str(), OnSessionEvent, 10000, nullptr,
                                 &connected, 0);
  if (zh == nullptr) {
    std::fprintf(stderr, "roundtrip: malformed ZooKeeper address '%s'\n",
                 hosts.c_str());
    return 1;
  }
  if (!connected.WaitForNotificationWithTimeout(absl::Seconds(10))) {
    std::fprintf(stderr, "roundtrip: could not reach ZooKeeper at %s in 10 s\n",
                 hosts.c_str());
    zookeeper_close(zh);
    return 1;
  }
  const std::string data = "hello from slacker";
  int rc = zoo_create(zh, path.c_str(), data.data(), data.size(),
                      &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, nullptr, 0);
  if (rc == ZNODEEXISTS) {
    rc = zoo_set(zh, path.c_str(), data.data(), data.size(), -1);
  }
  char buffer[256];
  int length = sizeof(buffer);
  if (rc == ZOK) rc = zoo_get(zh, path.c_str(), 0, buffer, &length, nullptr);
  if (rc != ZOK) {
    std::fprintf(stderr, "roundtrip: ZooKeeper operation on %s failed: %s\n",
                 path.c_str(), zerror(rc));
    zookeeper_close(zh);
    return 1;
  }
  read_back->assign(buffer, length);
  zookeeper_close(zh);  // The znode is ephemeral: closing removes it.
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes and reads a znode, then makes one gRPC call to a local server.");
  absl::ParseCommandLine(argc, argv);
  const std::string hosts = absl::GetFlag(FLAGS_zk);
  const std::string path = absl::GetFlag(FLAGS_znode);

  std::string read_back;
  if (int rc = ZooKeeperRoundTrip(hosts, path, &read_back); rc != 0) return rc;
  std::printf("ZooKeeper %s: wrote and read back %s = \"%s\"\n", hosts.c_str(),
              path.c_str(), read_back.c_str());

  EchoService service;
  int port = 0;
  std::unique_ptr<grpc::Server> server =
      grpc::ServerBuilder()
          .AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                            &port)
          .RegisterService(&service)
          .BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr,
                 "roundtrip: could not start a gRPC server on 127.0.0.1\n");
    return 1;
  }
  const std::string address = absl::StrCat("127.0.0.1:", port);
  auto stub = slacker::testing::EchoService::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(5));
  slacker::testing::Ping request, reply;
  request.set_text(read_back);
  request.set_sequence(41);
  grpc::Status status = stub->Echo(&context, request, &reply);
  server->Shutdown();
  if (!status.ok()) {
    std::fprintf(stderr, "roundtrip: Echo to %s failed: %s\n", address.c_str(),
                 status.error_message().c_str());
    return 1;
  }
  std::printf("gRPC server %s: Echo(\"%s\", 41) answered (\"%s\", %lld)\n",
              address.c_str(), request.text().c_str(), reply.text().c_str(),
              static_cast<long long>(reply.sequence()));
  return 0;
}
