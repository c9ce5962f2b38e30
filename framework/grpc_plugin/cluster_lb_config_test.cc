#include "framework/grpc_plugin/cluster_lb_config.h"

#include <string>

#include "gtest/gtest.h"

namespace slacker::internal {
namespace {

absl::StatusOr<ClusterLbOptions> Parse(const std::string& text) {
  absl::StatusOr<grpc_core::Json> json = grpc_core::Json::Parse(text);
  EXPECT_TRUE(json.ok()) << json.status();
  if (!json.ok()) return json.status();
  return ParseClusterLbOptions(*json);
}

TEST(ClusterLbConfigTest, EmptyObjectTakesTheDefaults) {
  absl::StatusOr<ClusterLbOptions> options = Parse("{}");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->grouping.text, "random");
  ASSERT_NE(options->grouping.spec.grouping, nullptr);
  EXPECT_EQ(options->grouping.spec.grouping->name(), "random");
  EXPECT_TRUE(options->methods.empty());
  EXPECT_EQ(options->set_aside.after, 5);
  EXPECT_EQ(options->set_aside.period, absl::Seconds(10));
  EXPECT_EQ(options->set_aside.slower_than, absl::InfiniteDuration());
  EXPECT_TRUE(options->health_checks);
}

TEST(ClusterLbConfigTest, ReadsEveryField) {
  absl::StatusOr<ClusterLbOptions> options = Parse(R"({
      "cluster": "orders", "target": "zk://zk:2181/orders",
      "namespacesPath": "/slacker/cluster/orders/namespaces",
      "grouping": "round_robin",
      "methods": {"pkg.Svc/Commit": "leader", "pkg.Other": "10.0.0.1:80"},
      "setAsideAfter": 0, "setAsideForMs": 250, "healthChecks": false,
      "unknown": [1, 2]})");
  ASSERT_TRUE(options.ok()) << options.status();
  EXPECT_EQ(options->cluster, "orders");
  EXPECT_EQ(options->target, "zk://zk:2181/orders");
  EXPECT_EQ(options->namespaces_path, "/slacker/cluster/orders/namespaces");
  EXPECT_EQ(options->grouping.text, "round_robin");
  ASSERT_EQ(options->methods.size(), 2u);
  EXPECT_EQ(options->methods.at("pkg.Svc/Commit").text, "leader");
  EXPECT_EQ(options->methods.at("pkg.Other").spec.argument, "10.0.0.1:80");
  EXPECT_EQ(options->set_aside.after, 0);
  EXPECT_EQ(options->set_aside.period, absl::Milliseconds(250));
  EXPECT_FALSE(options->health_checks);
}

TEST(ClusterLbConfigTest, SlowerThanIsOffAtZero) {
  absl::StatusOr<ClusterLbOptions> slow =
      Parse(R"({"setAsideSlowerThanMs": 750})");
  ASSERT_TRUE(slow.ok()) << slow.status();
  EXPECT_EQ(slow->set_aside.slower_than, absl::Milliseconds(750));
  absl::StatusOr<ClusterLbOptions> off =
      Parse(R"({"setAsideSlowerThanMs": 0})");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_EQ(off->set_aside.slower_than, absl::InfiniteDuration());
}

TEST(ClusterLbConfigTest, InvalidConfigsNameTheField) {
  struct Case {
    const char* json;
    const char* message;
  };
  for (const Case& c : {
           Case{"[]", "slacker_cluster config must be a JSON object"},
           Case{R"({"grouping": "no such"})", "grouping: "},
           Case{R"({"methods": []})", "methods must be a JSON object"},
           Case{R"({"methods": {"a.B": 3}})",
                "grouping of a.B must be a string"},
           Case{R"({"methods": {"a.B": "nope"}})", "grouping of a.B: "},
           Case{R"({"healthChecks": "yes"})",
                "healthChecks must be true or false"},
           Case{R"({"setAsideAfter": -1})",
                "setAsideAfter must be a whole number >= 0"},
           Case{R"({"setAsideForMs": 1.5})",
                "setAsideForMs must be a whole number >= 0"},
           Case{R"({"setAsideForMs": "10"})",
                "setAsideForMs must be a whole number >= 0"},
           Case{R"({"setAsideSlowerThanMs": -5})",
                "setAsideSlowerThanMs must be a whole number >= 0"},
       }) {
    absl::StatusOr<ClusterLbOptions> options = Parse(c.json);
    ASSERT_FALSE(options.ok()) << c.json;
    EXPECT_TRUE(absl::IsInvalidArgument(options.status())) << c.json;
    EXPECT_NE(options.status().message().find(c.message), std::string::npos)
        << c.json << ": " << options.status();
  }
}

}  // namespace
}  // namespace slacker::internal
