// What the programs a test runs as child processes (testing/programs/,
// tests/curator/) print: one event a line on stdout, flushed at once, so that
// the test reading the pipe sees each event as it happens (see Child's
// WaitForLine, testing/child.h); and one line on stderr when they give up.
//
// Thread-safe: each line is written with one call.

#ifndef SLACKER_TESTING_PROGRAM_OUTPUT_H_
#define SLACKER_TESTING_PROGRAM_OUTPUT_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace slacker::testing {

// Writes "<event> <subject>\n" to stdout and flushes it.
void ReportLine(absl::string_view event, absl::string_view subject);

// Writes "<program>: <status>" to stderr; returns 1, the exit code.
int FailProgram(absl::string_view program, const absl::Status& status);

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_PROGRAM_OUTPUT_H_
