#include "testing/run_command.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace slacker::testing {

CommandRun RunCommand(const std::string& command) {
  CommandRun run;
  const char* tmp = getenv("TEST_TMPDIR");
  std::string err_path =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/command.err.XXXXXX");
  const int err_fd = mkstemp(err_path.data());
  if (err_fd < 0) return run;
  close(err_fd);

  FILE* pipe =
      popen(absl::StrCat("(", command, ") 2>'", err_path, "'").c_str(), "r");
  if (pipe == nullptr) {
    unlink(err_path.c_str());
    return run;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    run.out.append(buffer, n);
  }
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

  std::ifstream err(err_path, std::ios::binary);
  std::stringstream contents;
  contents << err.rdbuf();
  run.err = contents.str();
  unlink(err_path.c_str());
  return run;
}

}  // namespace slacker::testing
