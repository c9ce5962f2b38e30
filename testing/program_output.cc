#include "testing/program_output.h"

#include <cstdio>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"

namespace slacker::testing {

void ReportLine(absl::string_view event, absl::string_view subject) {
  const std::string line = absl::StrCat(event, " ", subject, "\n");
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

int FailProgram(absl::string_view program, const absl::Status& status) {
  std::cerr << program << ": " << status << std::endl;
  return 1;
}

}  // namespace slacker::testing
