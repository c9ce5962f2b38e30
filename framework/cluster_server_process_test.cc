// Cluster servers in child processes (framework/testing:cluster_server_main),
// so that one can be killed with SIGKILL or stopped with SIGTERM: the leader
// of a namespace killed -9 is replaced within the session timeout, and
// SIGTERM (ShutdownOnSignal) shuts a server down gracefully.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "discovery/leader_election.h"
#include "discovery/zookeeper_client.h"
#include "gtest/gtest.h"
#include "tests/zookeeper/zookeeper_fixture.h"

ABSL_FLAG(std::string, server_program, "",
          "path of framework/testing/cluster_server_main");

namespace slacker {
namespace {

constexpr char kEchoNamespace[] =
    "/slacker/cluster/test/namespaces/slacker.testing.EchoService";

// A child process whose stdout lines are collected.
class Child {
 public:
  explicit Child(const std::vector<std::string>& args) {
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
  ~Child() { Kill(SIGKILL); }

  // The first line starting with `prefix`, without it; nullopt after 30 s.
  std::optional<std::string> WaitForLine(const std::string& prefix) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<std::string> found;
    cv_.wait_for(lock, std::chrono::seconds(30), [&] {
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

  // Sends `signal` and reaps the process; returns its wait status.
  int Kill(int signal) {
    int status = -1;
    if (pid_ > 0) {
      kill(pid_, signal);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = 0;
    }
    if (reader_.joinable()) reader_.join();
    return status;
  }

 private:
  pid_t pid_ = 0;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
};

class ClusterServerProcessTest : public slacker::testing::ZooKeeperTest {
 protected:
  void SetUp() override {
    ZooKeeperTest::SetUp();
    discovery::ZooKeeperOptions options;
    options.connect_string = ConnectString();
    options.session_timeout = absl::Seconds(4);
    auto client = discovery::ZooKeeperClient::Connect(options);
    ASSERT_TRUE(client.ok()) << client.status();
    zk_ = *std::move(client);
  }
  void TearDown() override {
    zk_.reset();
    ZooKeeperTest::TearDown();
  }

  std::unique_ptr<Child> StartServer() {
    const std::string program = absl::GetFlag(FLAGS_server_program);
    EXPECT_FALSE(program.empty()) << "pass --server_program=<program>";
    return std::make_unique<Child>(std::vector<std::string>{
        program, "--zookeeper=" + ConnectString(), "--session_timeout_ms=2000",
        "--drain_ms=300"});
  }
  std::string Data(const std::string& path) {
    auto data = zk_->Get(path);
    return data.ok() ? data->data : "";
  }
  bool Exists(const std::string& path) {
    auto stat = zk_->Exists(path);
    return stat.ok() && stat->has_value();
  }
  std::string Leader() {
    auto leader = discovery::LeaderElection::CurrentLeader(
        *zk_, absl::StrCat(kEchoNamespace, "/_leader"));
    return leader.ok() ? *leader : "";
  }

  std::unique_ptr<discovery::ZooKeeperClient> zk_;
};

TEST_F(ClusterServerProcessTest, KilledLeaderIsReplacedWithinSessionTimeout) {
  std::unique_ptr<Child> first = StartServer();
  const std::optional<std::string> first_address =
      first->WaitForLine("published ");
  ASSERT_TRUE(first_address.has_value());
  ASSERT_TRUE(Eventually([&] {
    return Leader() == *first_address &&
           Data(absl::StrCat(kEchoNamespace, "/_leader")) == *first_address;
  }));
  std::unique_ptr<Child> second = StartServer();
  const std::optional<std::string> second_address =
      second->WaitForLine("published ");
  ASSERT_TRUE(second_address.has_value());
  auto participants = discovery::LeaderElection::Participants(
      *zk_, absl::StrCat(kEchoNamespace, "/_leader"));
  ASSERT_TRUE(Eventually([&] {
    participants = discovery::LeaderElection::Participants(
        *zk_, absl::StrCat(kEchoNamespace, "/_leader"));
    return participants.ok() && participants->size() == 2;
  }));
  EXPECT_EQ(Leader(), *first_address);  // Exactly one leader: the first.

  const absl::Time killed = absl::Now();
  first->Kill(SIGKILL);
  ASSERT_TRUE(Eventually([&] {
    return Leader() == *second_address &&
           Data(absl::StrCat(kEchoNamespace, "/_leader")) == *second_address;
  }));
  const absl::Duration takeover = absl::Now() - killed;
  std::cout << "measured: kill -9 of the leader to the other leading, with "
               "_leader's data following: "
            << takeover << " (session timeout 2s)" << std::endl;
  // The session ends 2 s (one timeout) after the last heartbeat, checked on
  // ZooKeeper's ticks; the margin covers a loaded machine.
  EXPECT_LT(takeover, absl::Seconds(6));
  EXPECT_FALSE(Exists(absl::StrCat(kEchoNamespace, "/", *first_address)));
  EXPECT_FALSE(
      Exists(absl::StrCat("/slacker/cluster/test/servers/", *first_address)));
}

TEST_F(ClusterServerProcessTest, SigtermShutsDownGracefully) {
  std::unique_ptr<Child> server = StartServer();
  const std::optional<std::string> address = server->WaitForLine("published ");
  ASSERT_TRUE(address.has_value());
  const std::string server_path =
      absl::StrCat("/slacker/cluster/test/servers/", *address);
  ASSERT_TRUE(Exists(server_path));
  const int status = server->Kill(SIGTERM);
  // Exited by itself, after the graceful path, and unregistered at once (not
  // after the session timeout: the session was closed).
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(server->WaitForLine("stopped").has_value());
  EXPECT_FALSE(Exists(server_path));
  EXPECT_FALSE(Exists(absl::StrCat(kEchoNamespace, "/", *address)));
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
