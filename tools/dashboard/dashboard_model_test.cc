// The dashboard's document from hostile and ordinary registry contents, and
// the metrics text it reads, without a network.

#include "tools/dashboard/dashboard_model.h"

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/dashboard/metrics_scrape.h"

namespace slacker::dashboard {
namespace {

using nlohmann::json;

internal::ClusterSnapshot TwoServers() {
  internal::ClusterSnapshot snapshot;
  internal::ClusterServer a;
  a.address = "127.0.0.1:1001";
  a.namespaces = {"ns.A", "ns.B"};
  a.leads = {"ns.A"};
  a.server_data = R"({"metrics_port":9464,"zone":"x"})";
  internal::ClusterServer b;
  b.address = "127.0.0.1:1002";
  b.namespaces = {"ns.A"};
  b.leads = {};
  snapshot.servers = {a, b};
  snapshot.ignored = {{"/r/c/namespaces/ns.A/10.0.0.9:1", "no servers/ node"}};
  return snapshot;
}

discovery::NodeData Node(std::string data, int64_t zxid) {
  discovery::NodeData node;
  node.data = std::move(data);
  node.stat.czxid = zxid;
  node.stat.mzxid = zxid;
  return node;
}

TEST(DashboardModelTest, ListsNamespacesServersLeaderAndWhatIsIgnored) {
  DashboardModel model("c", "/r/c");
  model.SetSnapshot(TwoServers());
  const json doc = json::parse(
      model.Json({{"127.0.0.1:1001", Node(R"({"serverData":{}})", 5)}},
                 {"ns.A", "ns.B", "ns.Empty"}));
  EXPECT_EQ(doc["status"], "ok");
  ASSERT_EQ(doc["namespaces"].size(), 3u);
  EXPECT_EQ(doc["namespaces"][0]["name"], "ns.A");
  EXPECT_EQ(doc["namespaces"][0]["leader"], "127.0.0.1:1001");
  EXPECT_EQ(doc["namespaces"][0]["servers"].size(), 2u);
  EXPECT_TRUE(doc["namespaces"][1]["leader"].is_null());
  EXPECT_EQ(doc["namespaces"][2]["name"], "ns.Empty");
  EXPECT_TRUE(doc["namespaces"][2]["servers"].empty());
  ASSERT_EQ(doc["servers"].size(), 2u);
  EXPECT_EQ(doc["servers"][0]["data"]["zone"], "x");
  EXPECT_TRUE(doc["servers"][1]["data"].is_null());
  ASSERT_EQ(doc["ignored"].size(), 1u);
  EXPECT_EQ(doc["ignored"][0]["reason"], "no servers/ node");
  EXPECT_TRUE(doc["malformed"].empty());
}

TEST(DashboardModelTest, ShowsMalformedServerNodesAndEscapesNames) {
  DashboardModel model("c", "/r/c");
  model.SetSnapshot(TwoServers());
  const std::string bad_name = "bad\xff\xfe:1";
  const std::string text =
      model.Json({{"127.0.0.1:1002", Node("{not json", 7)},
                  {bad_name, Node(std::string(2000, '['), 8)}},
                 {"ns.\"<script>"});
  const json doc = json::parse(text);  // Valid JSON whatever the names.
  ASSERT_EQ(doc["malformed"].size(), 2u);
  EXPECT_EQ(doc["malformed"][0]["path"], "/r/c/servers/127.0.0.1:1002");
  EXPECT_NE(doc["malformed"][0]["reason"].get<std::string>().find("ServerInfo"),
            std::string::npos);
  // The server that counts by the trust rules is still listed, its data
  // marked as malformed.
  EXPECT_FALSE(doc["servers"][1]["data_error"].is_null());
  EXPECT_TRUE(doc["servers"][0]["data_error"].is_null());
  EXPECT_EQ(doc["namespaces"][0]["name"], "ns.\"<script>");
}

TEST(DashboardModelTest, ListsAreCapped) {
  DashboardModel model("c", "/r/c");
  model.SetSnapshot(internal::ClusterSnapshot{});
  std::map<std::string, discovery::NodeData> junk;
  std::vector<std::string> names;
  for (size_t i = 0; i < kMaxListed + 7; ++i) {
    junk["h" + std::to_string(i) + ":1"] = Node("junk", 1);
    names.push_back("ns" + std::to_string(i));
  }
  const json doc = json::parse(model.Json(junk, names));
  EXPECT_EQ(doc["malformed"].size(), kMaxListed);
  EXPECT_EQ(doc["truncated"]["malformed"], 7);
  EXPECT_EQ(doc["namespaces"].size(), kMaxListed);
  EXPECT_EQ(doc["truncated"]["namespaces"], 7);
}

TEST(DashboardModelTest, UnreachableZooKeeperIsTheStatus) {
  DashboardModel model("c", "/r/c");
  model.SetSnapshot(absl::UnavailableError("ZooKeeper at h:1 not reached"));
  const json doc = json::parse(model.Json({}, {}, "SUSPENDED"));
  EXPECT_EQ(doc["status"], "ZooKeeper at h:1 not reached");
  EXPECT_EQ(doc["zookeeper"], "SUSPENDED");
  EXPECT_TRUE(doc["servers"].empty());
}

TEST(DashboardModelTest, ChartsCallRateAndMeanLatencyAndForgetsLeftServers) {
  DashboardModel model("c", "/r/c");
  model.SetSnapshot(TwoServers());
  const absl::Time t0 = absl::Now();
  model.AddMetrics("127.0.0.1:1001", t0, HistogramTotals{100, 1.0});
  model.AddMetrics("127.0.0.1:1001", t0 + absl::Seconds(2),
                   HistogramTotals{140, 1.2});
  model.SetHealth("127.0.0.1:1001", {{"ns.A", "SERVING"}});
  json doc = json::parse(model.Json({}, {}));
  const json& points = doc["servers"][0]["metrics"]["points"];
  ASSERT_EQ(points.size(), 1u);
  EXPECT_DOUBLE_EQ(points[0][1].get<double>(), 20.0);  // 40 calls in 2 s.
  EXPECT_NEAR(points[0][2].get<double>(), 5.0, 1e-9);  // 0.2 s / 40 calls.
  EXPECT_EQ(doc["servers"][0]["health"]["ns.A"], "SERVING");
  model.AddMetrics("127.0.0.1:1001", t0 + absl::Seconds(3),
                   absl::UnavailableError("refused"));
  doc = json::parse(model.Json({}, {}));
  EXPECT_EQ(doc["servers"][0]["metrics"]["error"], "refused");
  EXPECT_EQ(doc["servers"][0]["metrics"]["points"].size(), 1u);

  internal::ClusterSnapshot one = TwoServers();
  one.servers.erase(one.servers.begin());
  model.SetSnapshot(one);
  model.SetSnapshot(TwoServers());  // Back: its old chart and health are gone.
  doc = json::parse(model.Json({}, {}));
  EXPECT_TRUE(doc["servers"][0]["metrics"].is_null());
  EXPECT_TRUE(doc["servers"][0]["health"].empty());
}

TEST(MetricsPortTest, OnlyAPortNumber) {
  EXPECT_EQ(MetricsPort(R"({"metrics_port":9464})"), 9464);
  EXPECT_EQ(MetricsPort(R"({"metrics_port":"9464"})"), std::nullopt);
  EXPECT_EQ(MetricsPort(R"({"metrics_port":70000})"), std::nullopt);
  EXPECT_EQ(MetricsPort(R"({"metrics_port":1.5})"), std::nullopt);
  EXPECT_EQ(MetricsPort(R"([1])"), std::nullopt);
  EXPECT_EQ(MetricsPort(""), std::nullopt);
}

TEST(HistogramTotalsTest, SumsEveryLabelSetAndSkipsJunk) {
  const std::string text =
      "# HELP h_seconds latency\n"
      "# TYPE h_seconds histogram\n"
      "h_seconds_bucket{le=\"0.1\"} 3\n"
      "h_seconds_count{method=\"a\",code=\"OK\"} 3\n"
      "h_seconds_sum{method=\"a\",code=\"OK\"} 0.25\n"
      "h_seconds_count{method=\"b}\"} 2 1700000000\n"
      "h_seconds_sum{method=\"b}\"} 0.5\n"
      "h_seconds_count garbage\n"
      "h_seconds_countx 100\n"
      "other_count 7\n";
  absl::StatusOr<HistogramTotals> totals = HistogramTotalsOf(text, "h_seconds");
  ASSERT_TRUE(totals.ok()) << totals.status();
  EXPECT_DOUBLE_EQ(totals->count, 5);
  EXPECT_DOUBLE_EQ(totals->sum, 0.75);
  EXPECT_TRUE(absl::IsNotFound(HistogramTotalsOf(text, "nope").status()));
}

}  // namespace
}  // namespace slacker::dashboard
