// The README's tutorial, run: its server and client against a real ZooKeeper.

#include <sys/wait.h>

#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "gtest/gtest.h"
#include "testing/child.h"
#include "testing/zookeeper_fixture.h"

ABSL_FLAG(std::string, server, "", "path of greeter_server");
ABSL_FLAG(std::string, client, "", "path of greeter_client");

namespace {

using ::slacker::testing::Child;

class TutorialTest : public slacker::testing::ZooKeeperTest {};

TEST_F(TutorialTest, TheClientGreetsThroughTheCluster) {
  Child server({absl::GetFlag(FLAGS_server), ConnectString()});
  ASSERT_TRUE(server.WaitForLine("published ").has_value());
  Child client({absl::GetFlag(FLAGS_client), ConnectString()});
  EXPECT_TRUE(client.WaitForLine("Hello, cluster").has_value());
  const int status = client.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  return RUN_ALL_TESTS();
}
