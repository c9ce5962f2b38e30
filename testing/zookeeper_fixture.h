// gtest fixtures that give each test its own real ZooKeeper: a standalone
// server (ZooKeeperTest) or a three-node ensemble (ZooKeeperEnsembleTest) on
// free loopback ports, with data under $TEST_TMPDIR. Everything the fixture
// started is killed when the test ends, and also if the test process crashes
// (see testing/zookeeper_cluster.h).
//
//   class RegistryTest : public slacker::testing::ZooKeeperTest {};
//   TEST_F(RegistryTest, Works) {
//     auto session = Connect();
//     zookeeper().KillNode(0);
//   }

#ifndef SLACKER_TESTING_ZOOKEEPER_FIXTURE_H_
#define SLACKER_TESTING_ZOOKEEPER_FIXTURE_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/zookeeper_cluster.h"
#include "testing/zookeeper_raw_session.h"

namespace slacker::testing {

// Not thread-safe itself (gtest drives it from one thread); the cluster it
// exposes is.
class ZooKeeperTest : public ::testing::Test {
 protected:
  // The cluster SetUp starts; override to change nodes, tick, ...
  virtual ZooKeeperClusterOptions ClusterOptions() const;

  // Starts the cluster; a failure to start fails the test with ZooKeeper's log.
  void SetUp() override;
  // Kills every node and removes the data.
  void TearDown() override;

  ZooKeeperCluster& zookeeper() { return *zookeeper_; }
  std::string ConnectString() const { return zookeeper_->ConnectString(); }

  // A C client session on the whole cluster, connected; nullptr (and a test
  // failure) if it cannot connect.
  std::unique_ptr<ZooKeeperRawSession> Connect(
      absl::Duration session_timeout = absl::Seconds(4));

  // Polls `done` every 10 ms until it returns true or `timeout` passes; returns
  // its last value. For conditions that settle asynchronously (an election, a
  // watch); never a substitute for an event the code under test offers.
  static bool Eventually(const std::function<bool()>& done,
                         absl::Duration timeout = absl::Seconds(30));

 private:
  std::unique_ptr<ZooKeeperCluster> zookeeper_;
};

class ZooKeeperEnsembleTest : public ZooKeeperTest {
 protected:
  ZooKeeperClusterOptions ClusterOptions() const override;
};

}  // namespace slacker::testing

#endif  // SLACKER_TESTING_ZOOKEEPER_FIXTURE_H_
