#include "services/repair/repair_worker.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

std::vector<StorageNode> Nodes(int n) {
  std::vector<StorageNode> nodes;
  for (int i = 0; i < n; ++i) {
    StorageNode node;
    node.id = absl::StrCat("node-", i);
    nodes.push_back(node);
  }
  return nodes;
}

TEST(PreferredRepairerTest, SpreadsBucketsAndMovesOnlyTheLostNodesShare) {
  std::vector<StorageNode> nodes = Nodes(5);
  const ClusterSnapshot all(nodes);
  std::map<std::string, std::string> before;
  std::map<std::string, int> per_node;
  for (int b = 0; b < 1000; ++b) {
    const std::string bucket = absl::StrCat("bucket-", b);
    before[bucket] = PreferredRepairer(all, bucket);
    ++per_node[before[bucket]];
  }
  ASSERT_EQ(per_node.size(), 5u);
  for (const auto& [node, count] : per_node) {
    EXPECT_GT(count, 120) << node;
    EXPECT_LT(count, 280) << node;
  }
  nodes[2].alive = false;
  const ClusterSnapshot one_down(nodes);
  for (const auto& [bucket, node] : before) {
    const std::string now = PreferredRepairer(one_down, bucket);
    if (node == "node-2") {
      EXPECT_NE(now, "node-2");
    } else {
      EXPECT_EQ(now, node) << bucket << " moved although its repairer is alive";
    }
  }
  EXPECT_EQ(PreferredRepairer(ClusterSnapshot({}), "b"), "");
}

TEST(RepairWorkerOptionsTest, ValidateNamesTheField) {
  RepairWorkerOptions o;
  EXPECT_NE(o.Validate().message().find("node_id"), std::string::npos);
  o.node_id = "n";
  EXPECT_NE(o.Validate().message().find("self_address"), std::string::npos);
  o.self_address = "127.0.0.1:1";
  EXPECT_TRUE(o.Validate().ok());
  o.repair.parallel_stripes = 0;
  EXPECT_NE(o.Validate().message().find("parallel_stripes"), std::string::npos);
}

}  // namespace
}  // namespace tessera::services
