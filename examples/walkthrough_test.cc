// The example cluster end to end, as tools/demo.sh runs it: two example
// servers and the client walkthrough against a real ZooKeeper; then kill -9
// of the leader and the client's after-crash check.

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server, "", "path of examples/server");
ABSL_FLAG(std::string, client, "", "path of examples/client");

namespace slacker {
namespace {

using ::slacker::testing::Child;

class WalkthroughTest : public slacker::testing::ZooKeeperTest {
 protected:
  std::unique_ptr<Child> Server(const std::string& namespaces) {
    return std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_server), "--zk=" + ConnectString(),
        "--cluster=example-cluster", "--namespaces=" + namespaces});
  }
  std::unique_ptr<Child> Client(
      const std::string& extra = "--after_crash=false") {
    return std::make_unique<Child>(std::vector<std::string>{
        absl::GetFlag(FLAGS_client), "--zk=" + ConnectString(),
        "--cluster=example-cluster", extra});
  }
};

TEST_F(WalkthroughTest, EveryStepThenFailOver) {
  std::unique_ptr<Child> first = Server("api,api2");
  const std::optional<std::string> a = first->WaitForLine("published ");
  ASSERT_TRUE(a.has_value());
  std::unique_ptr<Child> second = Server("api");
  const std::optional<std::string> b = second->WaitForLine("published ");
  ASSERT_TRUE(b.has_value());

  std::unique_ptr<Child> client = Client();
  std::optional<std::string> line = client->WaitForLine("1. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, *a) && absl::StrContains(*line, *b))
      << *line;
  line = client->WaitForLine("2. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, "-> \"hello, cluster\" from ")) << *line;
  line = client->WaitForLine("   and as a map: ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, *a) && absl::StrContains(*line, *b))
      << *line;
  line = client->WaitForLine("4. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_FALSE(absl::StrContains(*line, "FAILED")) << *line;
  line = client->WaitForLine("5. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, "code 9: MakeError always fails"))
      << *line;
  line = client->WaitForLine("6. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::EndsWith(*line, *a)) << *line;  // First to publish leads.
  line = client->WaitForLine("7. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::EndsWith(*line, "from " + *a))
      << *line;  // Only a has Api2.
  line = client->WaitForLine("8. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, "(nobody serves Api3)")) << *line;
  line = client->WaitForLine("9. ");
  ASSERT_TRUE(line.has_value());
  EXPECT_FALSE(absl::StrContains(*line, "FAILED")) << *line;
  EXPECT_TRUE(absl::StrContains(*line, "from " + std::min(*a, *b)))
      << *line;  // The stub's reply: the first server by address.
  line = client->WaitForLine("   and as a map (CallResults): ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, *a + ": ") &&
              absl::StrContains(*line, *b + ": "))
      << *line;
  ASSERT_TRUE(client->WaitForLine("walkthrough done").has_value());
  int status = client->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  first->Kill(SIGKILL);  // The leader crashes.
  std::unique_ptr<Child> after = Client("--after_crash");
  line = after->WaitForLine("after the crash, 50 calls: ");
  ASSERT_TRUE(line.has_value());
  EXPECT_TRUE(absl::StrContains(*line, *b + " answered 50; 0 failed")) << *line;
  line = after->WaitForLine("the leader of slacker.example.Api is now ");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, *b);
}

}  // namespace
}  // namespace slacker

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
