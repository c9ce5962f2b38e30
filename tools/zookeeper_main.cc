// `bazel run //tools:zookeeper -- [--port=2181] [--data_dir=DIR]
// [--ensemble=3]`
//
// Runs a local ZooKeeper (one node, or an ensemble on loopback) in the
// foreground. Once every node serves, prints the connect string alone on a
// line of stdout; everything else goes to stderr. Ctrl-C or SIGTERM stops the
// nodes cleanly. Exits 1 if ZooKeeper cannot start or a node dies, 2 on a
// usage error.

#include <signal.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "testing/zookeeper_cluster.h"

ABSL_FLAG(int, port, 2181,
          "client port of the first node; node i listens on port + i. 0 picks "
          "free ports");
ABSL_FLAG(std::string, data_dir, "",
          "folder for the nodes' configuration, data and logs, kept on exit; "
          "default: a fresh temporary folder, removed on exit");
ABSL_FLAG(int, ensemble, 1,
          "number of nodes: 1 for a standalone server, 3 (or another odd "
          "number) for an ensemble");
ABSL_FLAG(absl::Duration, tick_time, absl::Milliseconds(200),
          "ZooKeeper's tick; sessions time out after 2 to 20 ticks");

namespace {

void Say(const std::string& message) {
  std::fprintf(stderr, "zookeeper: %s\n", message.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Runs a local ZooKeeper in the foreground and prints its connect "
      "string.\nUsage: zookeeper [--port=2181] [--data_dir=DIR] "
      "[--ensemble=3] [--tick_time=200ms]");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) {
    Say(absl::StrCat("unexpected argument '", positional[1], "'; see --help"));
    return 2;
  }
  slacker::testing::ZooKeeperClusterOptions options;
  options.nodes = absl::GetFlag(FLAGS_ensemble);
  options.first_client_port = absl::GetFlag(FLAGS_port);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.tick_time = absl::GetFlag(FLAGS_tick_time);
  if (options.nodes < 1 || (options.nodes > 1 && options.nodes % 2 == 0)) {
    Say(absl::StrCat("--ensemble must be 1 or an odd number of 3 or more, not ",
                     options.nodes));
    return 2;
  }
  if (options.first_client_port < 0 || options.first_client_port > 65535) {
    Say(absl::StrCat("--port must be 0..65535, not ",
                     options.first_client_port));
    return 2;
  }

  // Signals are taken synchronously below. Blocked before any thread starts,
  // so no other thread receives them; the Java children unblock them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  absl::StatusOr<std::unique_ptr<slacker::testing::ZooKeeperCluster>> started =
      slacker::testing::ZooKeeperCluster::Start(options);
  if (!started.ok()) {
    std::string hint;
    if (absl::IsFailedPrecondition(started.status()) &&
        options.first_client_port != 0) {
      hint = "; choose another port with --port=N, or --port=0 for free ports";
    }
    Say(absl::StrCat("could not start: ", started.status().message(), hint));
    return 1;
  }
  slacker::testing::ZooKeeperCluster& zookeeper = **started;

  std::printf("%s\n", zookeeper.ConnectString().c_str());
  std::fflush(stdout);
  Say(absl::StrCat(
      "serving ",
      zookeeper.size() == 1
          ? "a standalone server"
          : absl::StrCat("an ensemble of ", zookeeper.size(), " nodes"),
      " at ", zookeeper.ConnectString(), "; data and logs in ",
      zookeeper.data_dir(),
      options.data_dir.empty() ? " (removed on exit)" : "",
      ". Ctrl-C stops it."));

  for (;;) {
    const timespec poll = {1, 0};
    const int signal = sigtimedwait(&stop_signals, nullptr, &poll);
    if (signal > 0) {
      Say(absl::StrCat("stopping (", strsignal(signal), ")..."));
      for (int i = 0; i < zookeeper.size(); ++i) {
        zookeeper.StopNode(i).IgnoreError();  // Never fails; see the header.
      }
      Say("stopped.");
      return 0;
    }
    for (int i = 0; i < zookeeper.size(); ++i) {
      if (!zookeeper.IsRunning(i)) {
        Say(absl::StrCat("node ", i, " (", zookeeper.NodeAddress(i),
                         ") exited unexpectedly; the end of its log:\n",
                         zookeeper.LogTail(i)));
        return 1;
      }
    }
  }
}
