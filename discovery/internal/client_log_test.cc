// The ZooKeeper C client's lines: taken apart, repeats collapsed, and a real
// client pointed at a closed port writing a bounded number of lines.

#include "discovery/internal/client_log.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "discovery/zookeeper_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Refused(int port) {
  return absl::StrCat(
      "2026-12-01 23:05:42,123:4711(0x7f0012345678):ZOO_ERROR@handle_socket_"
      "error_msg@1286: Socket [127.0.0.1:",
      port,
      "] zk retcode=-4, errno=111(Connection refused): server refused to "
      "accept the client\n");
}

TEST(ClientLogTest, ParsesTheCClientsPrefix) {
  const ClientLogLine line = ParseClientLogLine(Refused(2181));
  EXPECT_EQ(line.level, LogLevel::kWarning);
  EXPECT_EQ(line.function, "handle_socket_error_msg");
  EXPECT_EQ(line.line, 1286);
  EXPECT_EQ(line.text,
            "Socket [127.0.0.1:2181] zk retcode=-4, errno=111(Connection "
            "refused): server refused to accept the client");
  const ClientLogLine warn = ParseClientLogLine(
      "2026-12-01 23:05:42,123:1(0x1):ZOO_WARN@zookeeper_interest@2191: "
      "Delaying connection after exhaustively trying all servers");
  EXPECT_EQ(warn.level, LogLevel::kInfo);
  EXPECT_EQ(warn.function, "zookeeper_interest");
  EXPECT_EQ(warn.text,
            "Delaying connection after exhaustively trying all servers");
  const ClientLogLine other = ParseClientLogLine("not the C client's shape\n");
  EXPECT_EQ(other.level, LogLevel::kDebug);
  EXPECT_EQ(other.function, "");
  EXPECT_EQ(other.text, "not the C client's shape");
}

TEST(ClientLogTest, RepeatsAreCountedAndWrittenAtStateChanges) {
  std::vector<std::string> out;
  ClientLogCollapser collapser(
      [&](const ClientLogLine& line) { out.push_back(line.text); });
  // 150 refused attempts over two hosts of an ensemble: one kind.
  for (int i = 0; i < 150; ++i)
    collapser.Add(Refused(i % 2 == 0 ? 2181 : 2182));
  collapser.StateChanged("connected");
  // A later outage starts afresh; a single line has no count to add.
  collapser.Add(Refused(2181));
  collapser.StateChanged("the client closed");
  const std::string first =
      "Socket [127.0.0.1:2181] zk retcode=-4, errno=111(Connection refused): "
      "server refused to accept the client";
  EXPECT_THAT(
      out, ElementsAre(first, first + " (100 times so far)",
                       first + " (150 times in all, until connected)", first));
}

TEST(ClientLogTest, DifferentKindsInterleavedAreEachCounted) {
  std::vector<std::string> out;
  ClientLogCollapser collapser(
      [&](const ClientLogLine& line) { out.push_back(line.text); });
  for (int i = 0; i < 3; ++i) {
    collapser.Add(Refused(2181));
    collapser.Add(
        "2026-12-01 23:05:42,123:1(0x1):ZOO_ERROR@zookeeper_interest@2191: "
        "something else");
  }
  collapser.StateChanged("connected");
  ASSERT_EQ(out.size(), 4u);
  EXPECT_THAT(out[0], HasSubstr("Connection refused"));
  EXPECT_EQ(out[1], "something else");
  // The summaries' order is the kinds' order, not the lines'.
  std::sort(out.begin() + 2, out.end());
  EXPECT_THAT(out[2], HasSubstr("Connection refused"));
  EXPECT_THAT(out[2], HasSubstr("(3 times in all, until connected)"));
  EXPECT_EQ(out[3], "something else (3 times in all, until connected)");
}

// A port nothing listens on (bound, then closed).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), size);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
  close(fd);
  return ntohs(address.sin_port);
}

TEST(ClientLogTest, AClientOfAClosedPortWritesABoundedNumberOfLines) {
  std::mutex mu;
  std::vector<std::string> zookeeper_lines;
  SetLogRecordSink([&](const LogRecord& record) {
    if (record.component != "zookeeper") return;
    std::lock_guard<std::mutex> lock(mu);
    zookeeper_lines.push_back(FormatLogLine(record));
  });
  const LogLevel before = GetLogLevel();
  SetLogLevel(LogLevel::kWarning);  // The default.
  ZooKeeperOptions options;
  options.connect_string = absl::StrCat("127.0.0.1:", ClosedPort());
  options.connect_timeout = absl::Seconds(4);
  options.session_timeout = absl::Seconds(4);
  auto client = ZooKeeperClient::Connect(options);
  EXPECT_FALSE(client.ok());
  SetLogLevel(before);
  SetLogRecordSink(nullptr);

  std::lock_guard<std::mutex> lock(mu);
  std::string all;
  for (const std::string& line : zookeeper_lines) all += line + "\n";
  // The first refusal in full and its count when the client closed (about
  // 25 attempts in 4 s); at most one line of another kind besides.
  ASSERT_GE(zookeeper_lines.size(), 2u) << all;
  EXPECT_LE(zookeeper_lines.size(), 3u) << all;
  EXPECT_THAT(zookeeper_lines.front(), HasSubstr("Connection refused")) << all;
  EXPECT_THAT(zookeeper_lines.front(), HasSubstr(" WARNING ")) << all;
  EXPECT_THAT(zookeeper_lines.front(), HasSubstr(" zookeeper ")) << all;
  EXPECT_THAT(all, HasSubstr("times in all, until the client closed")) << all;
}

}  // namespace
}  // namespace slacker::discovery::internal
