// ParseConnectString: what the client accepts and how it splits it, and that
// every malformed string is refused with a message naming it. No network.

#include "discovery/connect_string.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slacker::discovery {
namespace {

using ::testing::HasSubstr;

TEST(ConnectStringTest, SplitsHostsAndChroot) {
  const struct {
    std::string given;
    std::string hosts;
    std::string chroot;
  } cases[] = {
      {"127.0.0.1:2181", "127.0.0.1:2181", ""},
      {"a:1,b:2,c:65535", "a:1,b:2,c:65535", ""},
      {"zk.example:2181/app", "zk.example:2181", "/app"},
      {"a:1,b:2/app/deep", "a:1,b:2", "/app/deep"},
      {"a:1/", "a:1", ""},  // A chroot of "/" is none.
      // Hosts are checked stripped, but passed on as given.
      {" a:1 , b:2", " a:1 , b:2", ""},
      // IPv6: the port is after the last ':'; the C client takes brackets.
      {"[::1]:2181", "[::1]:2181", ""},
      {"[::1]:2181,[fe80::1]:2182/c", "[::1]:2181,[fe80::1]:2182", "/c"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<ConnectString> parsed = ParseConnectString(c.given);
    ASSERT_TRUE(parsed.ok()) << c.given << ": " << parsed.status();
    EXPECT_EQ(parsed->hosts, c.hosts) << c.given;
    EXPECT_EQ(parsed->chroot, c.chroot) << c.given;
  }
}

TEST(ConnectStringTest, RefusesMalformedStringsSayingWhy) {
  const struct {
    std::string given;
    std::string why;
  } cases[] = {
      {"", "no host"},
      {"/app", "no host"},
      {"localhost", "\"localhost\" has no host:port"},
      {":2181", "\":2181\" has no host:port"},
      {"127.0.0.1:", "has no valid port"},
      {"127.0.0.1:0", "has no valid port"},
      {"127.0.0.1:65536", "has no valid port"},
      {"127.0.0.1:99999", "has no valid port"},
      {"127.0.0.1:http", "has no valid port"},
      {"127.0.0.1:2181,", "an empty host"},
      {"a:1,,b:2", "an empty host"},
      {"a:1, ,b:2", "an empty host"},
      {"127.0.0.1:2181/a//b", "bad chroot"},
      {"127.0.0.1:2181/a/", "bad chroot"},
      {"127.0.0.1:2181/a/../b", "bad chroot"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<ConnectString> parsed = ParseConnectString(c.given);
    ASSERT_FALSE(parsed.ok()) << c.given;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << c.given;
    EXPECT_THAT(
        parsed.status().message(),
        HasSubstr("malformed ZooKeeper connect string \"" + c.given + "\": "))
        << c.given;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.why)) << c.given;
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("expected host:port[,host:port...][/chroot]"))
        << c.given;
  }
}

}  // namespace
}  // namespace slacker::discovery
