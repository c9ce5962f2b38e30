// One participant of a leader election, as a process of its own, so that a
// test can kill -9 it. It connects to ZooKeeper, joins the election and
// reports on stdout, one flushed line each:
//   JOINED <id>   Start() succeeded
//   TAKEN <id>    it became the leader
//   LOST <id>     it stopped being the leader
// It runs until it is killed. Exits with 1 if it cannot connect or join.
// With --selector it joins as a LeaderSelector (discovery/leader_selector.h)
// whose function holds leadership until its token is stopped: TAKEN when
// the function starts, LOST when leadership is lost under it.
//
//   election_participant --zookeeper=127.0.0.1:2181 --path=/app/_leader
//       --id=p1 --session_timeout=2s [--selector]

#include <unistd.h>

#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "discovery/leader_election.h"
#include "discovery/leader_selector.h"
#include "discovery/zookeeper_client.h"
#include "testing/program_output.h"

ABSL_FLAG(std::string, zookeeper, "", "ZooKeeper connect string (required).");
ABSL_FLAG(std::string, path, "", "The election path (required).");
ABSL_FLAG(std::string, id, "", "This participant's id (required).");
ABSL_FLAG(absl::Duration, session_timeout, absl::Seconds(2),
          "Requested ZooKeeper session timeout.");
ABSL_FLAG(bool, selector, false,
          "Join as a LeaderSelector rather than a LeaderElection (latch).");

namespace {

using slacker::testing::ReportLine;

int Fail(const absl::Status& status) {
  return slacker::testing::FailProgram("election_participant", status);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string id = absl::GetFlag(FLAGS_id);

  slacker::discovery::ZooKeeperOptions options;
  options.connect_string = absl::GetFlag(FLAGS_zookeeper);
  options.session_timeout = absl::GetFlag(FLAGS_session_timeout);
  absl::StatusOr<std::unique_ptr<slacker::discovery::ZooKeeperClient>> client =
      slacker::discovery::ZooKeeperClient::Connect(options);
  if (!client.ok()) return Fail(client.status());

  if (absl::GetFlag(FLAGS_selector)) {
    slacker::discovery::LeaderSelectorOptions selector_options;
    selector_options.take_leadership =
        [id](slacker::discovery::LeadershipToken& token) {
          ReportLine("TAKEN", id);
          token.WaitForStop(absl::InfiniteDuration());
        };
    selector_options.on_lost = [id](const slacker::discovery::LeadershipLoss&) {
      ReportLine("LOST", id);
    };
    absl::StatusOr<std::unique_ptr<slacker::discovery::LeaderSelector>>
        selector = slacker::discovery::LeaderSelector::Create(
            client->get(), absl::GetFlag(FLAGS_path), id,
            std::move(selector_options));
    if (!selector.ok()) return Fail(selector.status());
    if (absl::Status started = (*selector)->Start(); !started.ok()) {
      return Fail(started);
    }
    ReportLine("JOINED", id);
    while (true) pause();  // Until a signal ends the process.
  }

  slacker::discovery::LeaderElectionOptions election_options;
  election_options.on_taken = [id] { ReportLine("TAKEN", id); };
  election_options.on_lost = [id](const slacker::discovery::LeadershipLoss&) {
    ReportLine("LOST", id);
  };
  absl::StatusOr<std::unique_ptr<slacker::discovery::LeaderElection>> election =
      slacker::discovery::LeaderElection::Create(client->get(),
                                                 absl::GetFlag(FLAGS_path), id,
                                                 std::move(election_options));
  if (!election.ok()) return Fail(election.status());
  if (absl::Status started = (*election)->Start(); !started.ok()) {
    return Fail(started);
  }
  ReportLine("JOINED", id);
  while (true) pause();  // Until a signal ends the process.
}
