#include "testing/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace slacker::testing {

Child::Child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& arg : args) {
    argv.push_back(const_cast<char*>(arg.c_str()));
  }
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return;
  }
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ == 0) {
    // Only async-signal-safe calls until exec; the child dies with us.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(pipe_fds[1], STDOUT_FILENO);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  if (pid_ < 0) {
    ADD_FAILURE() << "fork: " << std::strerror(errno);
    close(pipe_fds[0]);
    return;
  }
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
        std::lock_guard<std::mutex> lock(mu_);
        lines_.push_back(pending.substr(0, newline));
        pending.erase(0, newline + 1);
        cv_.notify_all();
      }
    }
    close(fd);
  });
}

Child::~Child() { Kill(SIGKILL); }

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
