#include "testing/child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"

namespace slacker::testing {

Child::Child(const std::vector<std::string>& args) : Child(args, nullptr) {}

Child::Child(const std::vector<std::string>& args,
             std::function<void(std::string line)> on_line)
    : on_line_(std::move(on_line)) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  ChildProcessOptions options;
  options.stdout_fd = pipe_fds[1];
  absl::StatusOr<pid_t> pid = StartChildProcess(args, options);
  close(pipe_fds[1]);
  if (!pid.ok()) {
    ADD_FAILURE() << pid.status();
    close(pipe_fds[0]);
    return;
  }
  pid_ = *pid;
  reader_ = std::thread([this, fd = pipe_fds[0]] {
    std::string pending;
    char buffer[512];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof(buffer))) > 0 ||
           (n < 0 && errno == EINTR)) {
      if (n < 0) continue;
      pending.append(buffer, n);
      size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        AddLine(pending.substr(0, newline));
        pending.erase(0, newline + 1);
      }
    }
    close(fd);
  });
}

Child::~Child() { Kill(SIGKILL); }

void Child::AddLine(std::string line) {
  if (on_line_) {
    on_line_(std::move(line));
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  lines_.push_back(std::move(line));
  cv_.notify_all();
}

std::optional<std::string> Child::WaitForLine(const std::string& prefix,
                                              absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  std::optional<std::string> found;
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
    for (const std::string& line : lines_) {
      if (absl::StartsWith(line, prefix)) {
        found = line.substr(prefix.size());
        return true;
      }
    }
    return false;
  });
  return found;
}

int Child::Kill(int signal) {
  int status = -1;
  if (pid_ > 0) {
    if (signal != 0) kill(pid_, signal);
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = 0;
  }
  if (reader_.joinable()) reader_.join();
  return status;
}

}  // namespace slacker::testing
