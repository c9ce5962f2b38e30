#include "testing/zookeeper_fixture.h"

#include <zookeeper/zookeeper.h>

#include <functional>

namespace slacker::testing {

ZooKeeperClusterOptions ZooKeeperTest::ClusterOptions() const {
  return ZooKeeperClusterOptions();
}

void ZooKeeperTest::SetUp() {
  // The C client logs every connection change at INFO; keep test logs to
  // what matters.
  zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  absl::StatusOr<std::unique_ptr<ZooKeeperCluster>> started =
      ZooKeeperCluster::Start(ClusterOptions());
  ASSERT_TRUE(started.ok())
      << "could not start ZooKeeper: " << started.status();
  zookeeper_ = *std::move(started);
}

void ZooKeeperTest::TearDown() { zookeeper_.reset(); }

std::unique_ptr<ZooKeeperRawSession> ZooKeeperTest::Connect(
    absl::Duration session_timeout) {
  absl::StatusOr<std::unique_ptr<ZooKeeperRawSession>> session =
      ZooKeeperRawSession::Connect(ConnectString(), session_timeout);
  EXPECT_TRUE(session.ok()) << session.status();
  return session.ok() ? *std::move(session) : nullptr;
}

bool ZooKeeperTest::Eventually(const std::function<bool()>& done,
                               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return done();
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

ZooKeeperClusterOptions ZooKeeperEnsembleTest::ClusterOptions() const {
  ZooKeeperClusterOptions options;
  options.nodes = 3;
  return options;
}

}  // namespace slacker::testing
