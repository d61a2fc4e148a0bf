#include "services/cli/cluster_status.h"

#include "gtest/gtest.h"

namespace tessera::cli {
namespace {

sdk::NodeStatus Node(const std::string& id, uint64_t slices) {
  sdk::NodeStatus n;
  n.node_id = id;
  n.address = "127.0.0.1:1";
  n.state = "alive";
  n.reported = true;
  n.slice_count = slices;
  n.has_scrub = true;
  n.scrub.slices_checked = 10;
  n.scrub.corrupt_found = 1;
  return n;
}

sdk::ClusterStatus ThreeNodes() {
  sdk::ClusterStatus st;
  st.data_shards = 4;
  st.parity_shards = 2;
  sdk::NodeStatus a = Node("a", 100);
  a.has_repair = true;
  a.repair.degraded_stripes = {{"0", 2}, {"1", 10}};
  a.repair.queue_stripes = 12;
  a.repair.queue_bytes = 3 << 20;
  a.repair.bytes_per_second = 1 << 20;
  a.repair.time_to_redundancy_seconds = 3;
  a.repair.stripes_repaired = 5;
  sdk::NodeStatus b = Node("b", 50);
  b.has_repair = true;
  b.repair.degraded_stripes = {{"1", 4}, {"unreadable", 1}};
  b.repair.queue_stripes = 4;
  b.repair.time_to_redundancy_seconds = 30;
  b.repair.stripes_repaired = 7;
  sdk::NodeStatus dead = Node("c", 0);
  dead.state = "dead";
  dead.reported = false;  // its figures must not count
  dead.has_repair = true;
  dead.repair.degraded_stripes = {{"0", 1000}};
  st.nodes = {a, b, dead};
  return st;
}

TEST(ClusterStatusTest, TotalsSumTheReportingNodesAndTakeTheLongestTimeToRedundancy) {
  const RepairTotals t = SumRepair(ThreeNodes());
  EXPECT_EQ(t.nodes_reported, 2);
  EXPECT_EQ(t.nodes_repairing, 2);
  EXPECT_EQ(t.degraded_total, 17u);
  EXPECT_EQ(t.degraded_stripes.at("0"), 2u);
  EXPECT_EQ(t.degraded_stripes.at("1"), 14u);
  EXPECT_EQ(t.degraded_stripes.at("unreadable"), 1u);
  EXPECT_EQ(t.queue_stripes, 16u);
  EXPECT_EQ(t.stripes_repaired, 12u);
  EXPECT_EQ(t.time_to_redundancy_seconds, 30);
  EXPECT_EQ(t.slices, 150u);
  EXPECT_EQ(t.scrub_slices_checked, 20u);
  EXPECT_EQ(t.scrub_corrupt_found, 2u);
}

TEST(ClusterStatusTest, AnUnmeasuredRateMakesTheTimeUnknown) {
  sdk::ClusterStatus st = ThreeNodes();
  st.nodes[1].repair.time_to_redundancy_seconds = -1;
  EXPECT_EQ(SumRepair(st).time_to_redundancy_seconds, -1);
  st.nodes[0].repair.time_to_redundancy_seconds = 100;  // a later node does not hide the unknown
  EXPECT_EQ(SumRepair(st).time_to_redundancy_seconds, -1);
}

TEST(ClusterStatusTest, TextNamesTheDegradedStripesAndUnreportedNodes) {
  const std::string text = FormatClusterStatus("gw:1", ThreeNodes());
  EXPECT_NE(text.find("repair: 17 stripes degraded (0 spare: 2, 1 spare: 14, unreadable: 1), "
                      "16 queued"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("full redundancy in 30 s"), std::string::npos) << text;
  EXPECT_NE(text.find("scrub: 20 slices checked, 2 corrupt found"), std::string::npos) << text;
  // The dead node's row says it did not report.
  const size_t row = text.find("\nc ");
  ASSERT_NE(row, std::string::npos) << text;
  EXPECT_NE(text.find("?", row), std::string::npos) << text;
}

TEST(ClusterStatusTest, HealthyClusterSaysSo) {
  sdk::ClusterStatus st = ThreeNodes();
  st.nodes.resize(2);
  for (sdk::NodeStatus& n : st.nodes) n.repair = sdk::NodeStatus::Repair();
  const std::string text = FormatClusterStatus("gw:1", st);
  EXPECT_NE(text.find("repair: every stripe at full redundancy"), std::string::npos) << text;
}

TEST(ClusterStatusTest, JsonCarriesTotalsAndPerNodeFigures) {
  const std::string json = ClusterStatusJson("gw:1", ThreeNodes());
  EXPECT_EQ(json.back(), '\n');
  EXPECT_NE(json.find("\"degraded_total\":17"), std::string::npos) << json;
  EXPECT_NE(json.find("\"degraded_stripes\":{\"0\":2,\"1\":14,\"unreadable\":1}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"time_to_redundancy_seconds\":30"), std::string::npos) << json;
  EXPECT_NE(json.find("\"node_id\":\"c\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"reported\":false"), std::string::npos) << json;
}

}  // namespace
}  // namespace tessera::cli
