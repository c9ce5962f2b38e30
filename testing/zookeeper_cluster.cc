#include "testing/zookeeper_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "testing/child_process.h"
#include "testing/zookeeper_raw_session.h"

namespace slacker::testing {
namespace {

constexpr char kJarDir[] = "/usr/share/java/";
// ZooKeeper 3.8 and what it needs at run time, from Debian's packages.
// slf4j-simple prints warnings and errors to the node's log file.
constexpr const char* kJars[] = {
    "zookeeper.jar",    "zookeeper-jute.jar", "slf4j-api.jar",
    "slf4j-simple.jar", "netty-all.jar",      "commons-cli.jar",
    "metrics-core.jar", "snappy-java.jar",
};
constexpr absl::Duration kPollInterval = absl::Milliseconds(20);
constexpr absl::Duration kStopGrace = absl::Seconds(10);
constexpr int kStartAttempts = 3;

absl::Status ErrnoError(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Starts argv[0] with `args`, stdout and stderr appended to `log_path`, stdin
// from /dev/null, in a process group of its own, killed when this process
// dies (the fork rule of testing/child_process.h). Returns its pid.
absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& args,
                                 const std::string& log_path) {
  const int log_fd =
      open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoError(absl::StrCat("cannot open ", log_path));
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) {
    close(log_fd);
    return ErrnoError("cannot open /dev/null");
  }
  ChildProcessOptions options;
  options.stdin_fd = null_fd;
  options.stdout_fd = log_fd;
  options.stderr_fd = log_fd;
  // The whole group is signalled: the JVM has no children today, but a group
  // signal also reaches anything it might start.
  options.own_process_group = true;
  absl::StatusOr<pid_t> pid = StartChildProcess(args, options);
  close(log_fd);
  close(null_fd);
  return pid;
}

absl::StatusOr<std::string> FindJava() {
  const char* path = getenv("PATH");
  for (absl::string_view dir :
       absl::StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    if (dir.empty()) continue;
    std::string candidate = absl::StrCat(dir, "/java");
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::FailedPreconditionError(
      "no `java` on PATH: ZooKeeper needs a Java runtime; run tools/setup.sh "
      "(it installs default-jre-headless)");
}

absl::StatusOr<std::string> ClassPath() {
  std::vector<std::string> jars;
  for (const char* jar : kJars) {
    std::string path = absl::StrCat(kJarDir, jar);
    if (access(path.c_str(), R_OK) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ZooKeeper's ", path,
          " is missing; run tools/setup.sh (it installs the zookeeper "
          "package)"));
    }
    jars.push_back(std::move(path));
  }
  return absl::StrJoin(jars, ":");
}

// Binds `count` distinct free loopback ports at once, then releases them.
absl::StatusOr<std::vector<int>> PickFreePorts(int count) {
  std::vector<int> fds, ports;
  absl::Status status;
  for (int i = 0; i < count && status.ok(); ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      status = ErrnoError("socket");
      break;
    }
    fds.push_back(fd);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      status = ErrnoError("cannot reserve a free loopback port");
      break;
    }
    ports.push_back(ntohs(address.sin_port));
  }
  for (int fd : fds) close(fd);
  if (!status.ok()) return status;
  return ports;
}

// FailedPrecondition if 127.0.0.1:port cannot be bound right now.
absl::Status CheckPortFree(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket");
  const int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  const int rc =
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  const int bind_errno = errno;
  close(fd);
  if (rc == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "cannot listen on 127.0.0.1:", port, ": ", std::strerror(bind_errno),
      bind_errno == EADDRINUSE ? " (another process has it)" : ""));
}

absl::StatusOr<std::string> MakeTempDir() {
  const char* parent = getenv("TEST_TMPDIR");
  if (parent == nullptr || *parent == '\0') parent = getenv("TMPDIR");
  if (parent == nullptr || *parent == '\0') parent = "/tmp";
  std::string dir = absl::StrCat(parent, "/zookeeper-XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    return ErrnoError(absl::StrCat("cannot create a folder under ", parent));
  }
  return dir;
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return ErrnoError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::StatusOr<std::string> SendFourLetterWord(int port,
                                               absl::string_view word) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoError("socket");
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  std::string answer;
  absl::Status status;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    status = absl::UnavailableError(absl::StrCat(
        "cannot connect to 127.0.0.1:", port, ": ", std::strerror(errno)));
  } else if (send(fd, word.data(), word.size(), MSG_NOSIGNAL) !=
             static_cast<ssize_t>(word.size())) {
    status = absl::UnavailableError(absl::StrCat("cannot send '", word,
                                                 "' to 127.0.0.1:", port, ": ",
                                                 std::strerror(errno)));
  } else {
    char buffer[4096];
    for (;;) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        answer.append(buffer, n);
      } else if (n == 0) {
        break;
      } else if (errno != EINTR) {
        status = absl::UnavailableError(
            absl::StrCat("no answer to '", word, "' from 127.0.0.1:", port,
                         ": ", std::strerror(errno)));
        break;
      }
    }
  }
  close(fd);
  if (!status.ok()) return status;
  return answer;
}

// "Mode: leader" -> "leader"; "" when the node does not serve yet.
std::string ModeOf(absl::string_view srvr) {
  for (absl::string_view line : absl::StrSplit(srvr, '\n')) {
    if (absl::ConsumePrefix(&line, "Mode: ")) return std::string(line);
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> ZooKeeperCluster::Start(
    const ZooKeeperClusterOptions& options) {
  if (options.nodes < 1 || (options.nodes > 1 && options.nodes % 2 == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a ZooKeeper cluster has 1 node or an odd number of 3 or more, not ",
        options.nodes));
  }
  if (options.first_client_port < 0 ||
      options.first_client_port + options.nodes - 1 > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client ports ", options.first_client_port, "..",
        options.first_client_port + options.nodes - 1, " are not valid ports"));
  }
  if (options.tick_time < absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("tick_time must be at least 1 ms");
  }
  if (absl::Status java = FindJava().status(); !java.ok()) return java;
  if (absl::Status jars = ClassPath().status(); !jars.ok()) return jars;
  if (options.first_client_port != 0) {
    for (int i = 0; i < options.nodes; ++i) {
      if (absl::Status free = CheckPortFree(options.first_client_port + i);
          !free.ok()) {
        return free;
      }
    }
  }

  std::string data_dir = options.data_dir;
  const bool owns_data_dir = data_dir.empty();
  if (owns_data_dir) {
    absl::StatusOr<std::string> temp = MakeTempDir();
    if (!temp.ok()) return temp.status();
    data_dir = *std::move(temp);
  }

  absl::Status last_error;
  for (int attempt = 1; attempt <= kStartAttempts; ++attempt) {
    // Ports of free-port clusters are picked anew on each attempt: another
    // process may have taken one between picking and binding.
    const bool ensemble = options.nodes > 1;
    const int picked_per_node =
        (options.first_client_port == 0 ? 1 : 0) + (ensemble ? 2 : 0);
    absl::StatusOr<std::vector<int>> ports =
        PickFreePorts(picked_per_node * options.nodes);
    if (!ports.ok()) return ports.status();
    std::vector<Node> nodes(options.nodes);
    auto next_port = ports->begin();
    for (int i = 0; i < options.nodes; ++i) {
      Node& node = nodes[i];
      node.client_port = options.first_client_port == 0
                             ? *next_port++
                             : options.first_client_port + i;
      if (ensemble) {
        node.quorum_port = *next_port++;
        node.election_port = *next_port++;
      }
      node.dir = absl::StrCat(data_dir, "/node-", i);
    }
    if (owns_data_dir && attempt > 1) {
      // Nothing of a failed attempt may leak into this one.
      for (const Node& node : nodes) {
        std::error_code ignored;
        std::filesystem::remove_all(node.dir, ignored);
      }
    }
    // The cluster owns the folder only once it has started: until then, a
    // failed attempt must not remove it.
    std::unique_ptr<ZooKeeperCluster> cluster(
        new ZooKeeperCluster(options, data_dir, std::move(nodes)));
    last_error = absl::OkStatus();
    for (int i = 0; i < options.nodes && last_error.ok(); ++i) {
      last_error = cluster->WriteConfig(i);
      if (last_error.ok()) last_error = cluster->Launch(i);
    }
    for (int i = 0; i < options.nodes && last_error.ok(); ++i) {
      last_error = cluster->WaitUntilServing(i);
    }
    if (last_error.ok()) {
      cluster->owns_data_dir_ = owns_data_dir;
      return cluster;
    }
    // The destructor kills what was started. A node that could not bind a
    // fixed port will not do better on a second try.
    if (options.first_client_port != 0 && !ensemble) break;
  }
  if (owns_data_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir, ignored);
  }
  return last_error;
}

ZooKeeperCluster::ZooKeeperCluster(const ZooKeeperClusterOptions& options,
                                   std::string data_dir,
                                   std::vector<Node> nodes)
    : options_(options),
      data_dir_(std::move(data_dir)),
      nodes_(std::move(nodes)) {}

ZooKeeperCluster::~ZooKeeperCluster() {
  for (int i = 0; i < size(); ++i) {
    KillNode(i).IgnoreError();  // Only fails if waitpid does; nothing to do.
  }
  if (owns_data_dir_) {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir_, ignored);
  }
}

std::string ZooKeeperCluster::ConnectString() const {
  std::vector<std::string> addresses;
  for (int i = 0; i < size(); ++i) addresses.push_back(NodeAddress(i));
  return absl::StrJoin(addresses, ",");
}

std::string ZooKeeperCluster::NodeAddress(int node) const {
  return absl::StrCat("127.0.0.1:", ClientPort(node));
}

int ZooKeeperCluster::ClientPort(int node) const {
  std::lock_guard<std::mutex> lock(mu_);
  return nodes_.at(node).client_port;
}

std::string ZooKeeperCluster::LogPath(int node) const {
  return absl::StrCat(nodes_.at(node).dir, "/zookeeper.log");
}

absl::Status ZooKeeperCluster::WriteConfig(int node) const {
  const Node& n = nodes_.at(node);
  const std::string data = absl::StrCat(n.dir, "/data");
  std::error_code error;
  std::filesystem::create_directories(data, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", data, ": ", error.message()));
  }
  const int64_t tick_ms = absl::ToInt64Milliseconds(options_.tick_time);
  std::string config = absl::StrCat(
      "# Written by slacker's ZooKeeperCluster "
      "(testing/zookeeper_cluster.cc).\n",
      "tickTime=", tick_ms, "\n", "dataDir=", data, "\n",
      "clientPort=", ClientPort(node), "\n", "clientPortAddress=127.0.0.1\n",
      "admin.enableServer=false\n", "4lw.commands.whitelist=*\n",
      // A development server: no fsync, small preallocated logs.
      "forceSync=no\n", "preAllocSize=4096\n");
  // Every client of a test or benchmark connects from 127.0.0.1, and past
  // ZooKeeper's default of 60 connections per address it refuses the rest
  // (seen with 100 views in bench/discovery_cost_benchmark): no limit here.
  absl::StrAppend(&config, "maxClientCnxns=0\n");
  if (size() > 1) {
    // Followers get 10 s to sync whatever the tick.
    const int64_t limit = std::max<int64_t>(10, 10000 / tick_ms);
    absl::StrAppend(&config, "initLimit=", limit, "\n", "syncLimit=", limit,
                    "\n");
    for (int i = 0; i < size(); ++i) {
      // With the client address, so that /zookeeper/config tells clients
      // every member's address (ZooKeeper 3.5+'s dynamic-config form).
      absl::StrAppend(&config, "server.", i + 1,
                      "=127.0.0.1:", nodes_[i].quorum_port, ":",
                      nodes_[i].election_port,
                      ":participant;127.0.0.1:", ClientPort(i), "\n");
    }
    if (absl::Status s = WriteFile(absl::StrCat(data, "/myid"),
                                   absl::StrCat(node + 1, "\n"));
        !s.ok()) {
      return s;
    }
  }
  return WriteFile(absl::StrCat(n.dir, "/zoo.cfg"), config);
}

absl::Status ZooKeeperCluster::Launch(int node) {
  absl::StatusOr<std::string> java = FindJava();
  if (!java.ok()) return java.status();
  absl::StatusOr<std::string> class_path = ClassPath();
  if (!class_path.ok()) return class_path.status();
  const Node& n = nodes_.at(node);
  std::vector<std::string> args = {
      *java,
      // Small, quick-starting JVMs: a test may run several at once.
      "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
      "-Djava.net.preferIPv4Stack=true",
      "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", *class_path,
      size() > 1 ? "org.apache.zookeeper.server.quorum.QuorumPeerMain"
                 : "org.apache.zookeeper.server.ZooKeeperServerMain",
      absl::StrCat(n.dir, "/zoo.cfg")};
  std::lock_guard<std::mutex> lock(mu_);
  if (ReapLocked(node)) {
    return absl::FailedPreconditionError(
        absl::StrCat("ZooKeeper node ", node, " is already running"));
  }
  absl::StatusOr<pid_t> pid = SpawnChild(args, LogPath(node));
  if (!pid.ok()) return pid.status();
  nodes_[node].pid = *pid;
  return absl::OkStatus();
}

absl::Status ZooKeeperCluster::WaitUntilServing(int node) {
  const absl::Time deadline = absl::Now() + options_.start_timeout;
  bool answered_ruok = false;
  std::string last_answer;
  while (absl::Now() < deadline) {
    if (!IsRunning(node)) {
      return absl::UnavailableError(
          absl::StrCat("ZooKeeper node ", node, " (", NodeAddress(node),
                       ") exited while starting; the end of ", LogPath(node),
                       ":\n", LogTail(node)));
    }
    // ruok answers imok as soon as the port is open; srvr reports a mode only
    // once the node serves requests (for an ensemble: once it has a quorum).
    if (!answered_ruok) {
      absl::StatusOr<std::string> ruok =
          SendFourLetterWord(ClientPort(node), "ruok");
      answered_ruok = ruok.ok() && *ruok == "imok";
    }
    if (answered_ruok) {
      absl::StatusOr<std::string> srvr =
          SendFourLetterWord(ClientPort(node), "srvr");
      if (srvr.ok()) {
        if (!ModeOf(*srvr).empty()) return absl::OkStatus();
        last_answer = *srvr;
      }
    }
    absl::SleepFor(kPollInterval);
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "ZooKeeper node ", node, " (", NodeAddress(node),
      ") did not serve within ", absl::FormatDuration(options_.start_timeout),
      answered_ruok ? absl::StrCat("; its last srvr answer: ", last_answer)
                    : "; it never answered ruok",
      "; the end of ", LogPath(node), ":\n", LogTail(node)));
}

bool ZooKeeperCluster::ReapLocked(int node) {
  Node& n = nodes_.at(node);
  if (n.pid == 0) return false;
  int status = 0;
  const pid_t rc = waitpid(n.pid, &status, WNOHANG);
  if (rc == 0) return true;  // Still running.
  n.pid = 0;  // Exited (rc == pid), or not our child any more (rc < 0).
  return false;
}

bool ZooKeeperCluster::IsRunning(int node) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReapLocked(node);
}

pid_t ZooKeeperCluster::Pid(int node) {
  std::lock_guard<std::mutex> lock(mu_);
  return ReapLocked(node) ? nodes_[node].pid : 0;
}

absl::Status ZooKeeperCluster::Signal(int node, int signal,
                                      absl::Duration grace) {
  pid_t pid;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!ReapLocked(node)) return absl::OkStatus();
    pid = nodes_[node].pid;
  }
  // The whole group: the JVM has no children today, but a group signal also
  // reaches anything it might start.
  kill(-pid, signal);
  const absl::Time deadline = absl::Now() + grace;
  for (;;) {
    int status = 0;
    const pid_t rc = waitpid(pid, &status, WNOHANG);
    if (rc == pid || (rc < 0 && errno == ECHILD)) break;
    if (rc < 0 && errno != EINTR) return ErrnoError("waitpid");
    if (absl::Now() > deadline && signal != SIGKILL) {
      kill(-pid, SIGKILL);
      signal = SIGKILL;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (nodes_[node].pid == pid) nodes_[node].pid = 0;
  return absl::OkStatus();
}

absl::Status ZooKeeperCluster::StopNode(int node) {
  return Signal(node, SIGTERM, kStopGrace);
}

absl::Status ZooKeeperCluster::KillNode(int node) {
  return Signal(node, SIGKILL, absl::ZeroDuration());
}

absl::Status ZooKeeperCluster::StartNode(int node) {
  if (absl::Status launched = Launch(node); !launched.ok()) return launched;
  return WaitUntilServing(node);
}

absl::Status ZooKeeperCluster::RestartNode(int node) {
  if (absl::Status stopped = StopNode(node); !stopped.ok()) return stopped;
  return StartNode(node);
}

absl::Status ZooKeeperCluster::MoveNode(int node) {
  if (absl::Status stopped = StopNode(node); !stopped.ok()) return stopped;
  absl::StatusOr<std::vector<int>> port = PickFreePorts(1);
  if (!port.ok()) return port.status();
  {
    std::lock_guard<std::mutex> lock(mu_);
    nodes_.at(node).client_port = port->front();
  }
  // Every node's file names the new address; running nodes keep the one
  // they read at start (their client ports are their own, so the quorum is
  // unaffected), and a node started later reads the new one.
  for (int i = 0; i < size(); ++i) {
    if (absl::Status written = WriteConfig(i); !written.ok()) return written;
  }
  return StartNode(node);
}

absl::StatusOr<int> ZooKeeperCluster::LeaderIndex() {
  for (int i = 0; i < size(); ++i) {
    if (!IsRunning(i)) continue;
    absl::StatusOr<std::string> srvr = FourLetterWord(i, "srvr");
    if (!srvr.ok()) continue;
    const std::string mode = ModeOf(*srvr);
    if (mode == "leader" || mode == "standalone") return i;
  }
  return absl::NotFoundError("no running ZooKeeper node is leading");
}

absl::StatusOr<std::string> ZooKeeperCluster::FourLetterWord(
    int node, absl::string_view word) const {
  return SendFourLetterWord(ClientPort(node), word);
}

absl::Status ZooKeeperCluster::ExpireSession(const clientid_t& session) const {
  // Taking the session over with a second handle and closing that handle ends
  // the session for good. The first handle may take it back in between (they
  // steal it from each other while both are connected), so this repeats until
  // an attempt to resume the session is refused as expired.
  const std::string hosts = ConnectString();
  bool closed_once = false;
  for (int attempt = 0; attempt < 10; ++attempt) {
    absl::StatusOr<std::unique_ptr<ZooKeeperRawSession>> thief =
        ZooKeeperRawSession::Connect(hosts, absl::Seconds(4), absl::Seconds(20),
                                     &session);
    if (absl::IsNotFound(thief.status())) {
      if (closed_once) return absl::OkStatus();
      return absl::NotFoundError(absl::StrCat("ZooKeeper session 0x",
                                              absl::Hex(session.client_id),
                                              " had already ended"));
    }
    if (!thief.ok()) return thief.status();
    thief->reset();  // zookeeper_close: the server closes the session.
    closed_once = true;
  }
  return absl::InternalError(absl::StrCat("ZooKeeper session 0x",
                                          absl::Hex(session.client_id),
                                          " still resumes after 10 closes"));
}

absl::Status ZooKeeperCluster::ExpireSession(int64_t session_id,
                                             absl::string_view password) const {
  clientid_t session{};
  session.client_id = session_id;
  std::memcpy(session.passwd, password.data(),
              std::min(password.size(), sizeof(session.passwd)));
  return ExpireSession(session);
}

std::string ZooKeeperCluster::LogTail(int node) const {
  std::ifstream in(LogPath(node));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > 20) lines.erase(lines.begin());
  }
  if (lines.empty()) return "(empty)";
  return absl::StrJoin(lines, "\n");
}

}  // namespace slacker::testing
