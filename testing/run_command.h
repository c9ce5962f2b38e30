// Runs a shell command to its end and keeps what it printed, for tests of
// command-line programs (slackerctl, the example server's tools):
//
//   CommandRun run = RunCommand(absl::StrCat(slackerctl, " ls --json"));
//   EXPECT_EQ(run.exit_code, 0) << run.err;
//
// Thread-safe: each call has its own pipe and its own stderr file.

#ifndef SLACKER_TESTING_RUN_COMMAND_H_
#define SLACKER_TESTING_RUN_COMMAND_H_

#include <string>

namespace slacker::testing {

struct CommandRun {
  // The command's exit code; -1 if it could not be run or ended by a signal.
  int exit_code = -1;
  std::string out;  // Its stdout.
  std::string err;  // Its stderr.
};

// Runs `command` with /bin/sh, waits for it, and returns its exit code and
// both outputs. stderr goes through a private file in $TEST_TMPDIR (or
// /tmp), removed afterwards, so that a chatty stderr cannot block the
// command while stdout is read. `command` must not redirect stderr itself.
CommandRun RunCommand(const std::string& command);

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_RUN_COMMAND_H_
