// The one way the test harness starts a child process (ZooKeeper nodes in
// testing/zookeeper_cluster.h, test programs in testing/child.h), under one
// fork rule:
//
//   Every child is forked on the fork thread, a thread that starts with the
//   first child and lives as long as the process; never on the caller's
//   thread. Between fork and exec the child, using only async-signal-safe
//   calls, asks for SIGKILL when its parent dies (PR_SET_PDEATHSIG) and exits
//   at once if the parent is already gone, clears its signal mask, enters a
//   process group of its own if asked, takes the given stdin, stdout and
//   stderr, and execs args[0] with this process's environment.
//
// Why the fork thread: PR_SET_PDEATHSIG fires when the *thread* that forked the
// child ends, not when the process does. A child forked on a short-lived
// thread (a test's helper thread, a gRPC callback, a benchmark's worker) would
// be killed as soon as that thread returned. Forked on a thread that never
// ends, a child dies exactly when this process dies, however it dies (kill -9
// included), and not before.
//
// Why the signal mask is cleared: a child inherits the mask of the thread that
// forked it, and the fork thread inherits the mask of whichever thread first
// started a child. A program that blocks SIGTERM and SIGINT to wait for them
// (tools/zookeeper_main.cc does) would otherwise start children that never
// see SIGTERM.
//
// Example:
//   ChildProcessOptions options;
//   options.stdout_fd = log_fd;
//   absl::StatusOr<pid_t> pid = StartChildProcess({"/bin/sleep", "60"},
//                                                 options);
//   if (!pid.ok()) return pid.status();
//   ...
//   kill(*pid, SIGKILL);
//   waitpid(*pid, &status, 0);

#ifndef SLACKER_TESTING_CHILD_PROCESS_H_
#define SLACKER_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace slacker::testing {

struct ChildProcessOptions {
  // The descriptors the child gets as its stdin, stdout and stderr; -1 keeps
  // this process's own. They stay open in this process: the caller closes
  // them once StartChildProcess has returned.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;

  // Whether the child leads a process group of its own (its group id is its
  // pid), so that kill(-pid, signal) reaches it and whatever it starts. Set
  // from both sides of the fork, so a signal to the group sent as soon as
  // StartChildProcess returns cannot miss the child. False: the child stays
  // in this process's group (and gets a terminal's Ctrl-C with it).
  bool own_process_group = false;
};

// Starts the program at path args[0] (not searched on PATH) with argv `args`,
// under the fork rule above, and returns its pid. The caller owns the child:
// it must reap it (waitpid), or it stays a zombie until this process exits.
// InvalidArgument if `args` is empty; Internal if fork fails. A program that
// cannot be executed is not an error here: the child exits with status 127.
//
// Thread-safe: callers take turns on the fork thread.
absl::StatusOr<pid_t> StartChildProcess(
    const std::vector<std::string>& args,
    const ChildProcessOptions& options = {});

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_CHILD_PROCESS_H_
