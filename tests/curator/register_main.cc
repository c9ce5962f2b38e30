// One Curator service instance, registered by CuratorServiceInstance from a
// process of its own, so that curator_interop_test can kill -9 it. Reports on
// stdout, one flushed line each:
//   REGISTERED <path>   the node exists
//   PAYLOAD <path>      SIGUSR1 set the payload to --next_payload
//   CLOSED <path>       SIGTERM unregistered it; the process then exits 0
// Exits with 1 if it cannot connect or register.
//
//   curator_register --zookeeper=127.0.0.1:2181 --service=api
//       --address=127.0.0.1 --port=50051 --payload='{"zone":"a"}'

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "discovery/curator_service_instance.h"
#include "discovery/zookeeper_client.h"
#include "testing/program_output.h"

ABSL_FLAG(std::string, zookeeper, "", "ZooKeeper connect string (required).");
ABSL_FLAG(std::string, base_path, "/services", "Curator's base path.");
ABSL_FLAG(std::string, service, "", "The service name (required).");
ABSL_FLAG(std::string, id, "", "The instance id; empty: address:port.");
ABSL_FLAG(std::string, address, "127.0.0.1", "The instance's address.");
ABSL_FLAG(int, port, 0, "The instance's port (required).");
ABSL_FLAG(std::string, payload, "", "The payload: a JSON object, or empty.");
ABSL_FLAG(std::string, next_payload, "", "The payload SIGUSR1 sets.");
ABSL_FLAG(absl::Duration, session_timeout, absl::Seconds(2),
          "Requested ZooKeeper session timeout.");

namespace {

using slacker::testing::ReportLine;

int Fail(const absl::Status& status) {
  return slacker::testing::FailProgram("curator_register", status);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  // Taken by sigwait below, before any thread exists to inherit them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  slacker::discovery::ZooKeeperOptions options;
  options.connect_string = absl::GetFlag(FLAGS_zookeeper);
  options.session_timeout = absl::GetFlag(FLAGS_session_timeout);
  absl::StatusOr<std::unique_ptr<slacker::discovery::ZooKeeperClient>> client =
      slacker::discovery::ZooKeeperClient::Connect(options);
  if (!client.ok()) return Fail(client.status());

  slacker::discovery::CuratorServiceInstanceOptions instance_options;
  instance_options.base_path = absl::GetFlag(FLAGS_base_path);
  instance_options.service_name = absl::GetFlag(FLAGS_service);
  instance_options.id = absl::GetFlag(FLAGS_id);
  instance_options.address = absl::GetFlag(FLAGS_address);
  instance_options.port = absl::GetFlag(FLAGS_port);
  instance_options.payload_json = absl::GetFlag(FLAGS_payload);
  absl::StatusOr<std::unique_ptr<slacker::discovery::CuratorServiceInstance>>
      instance = slacker::discovery::CuratorServiceInstance::Start(
          client->get(), instance_options);
  if (!instance.ok()) return Fail(instance.status());
  if (absl::Status registered =
          (*instance)->WaitForRegistration(absl::Seconds(30));
      !registered.ok()) {
    return Fail(registered);
  }
  ReportLine("REGISTERED", (*instance)->path());

  while (true) {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == SIGUSR1) {
      absl::Status set =
          (*instance)->SetPayload(absl::GetFlag(FLAGS_next_payload));
      if (!set.ok()) return Fail(set);
      ReportLine("PAYLOAD", (*instance)->path());
      continue;
    }
    if (absl::Status closed = (*instance)->Close(); !closed.ok()) {
      return Fail(closed);
    }
    ReportLine("CLOSED", (*instance)->path());
    return 0;
  }
}
