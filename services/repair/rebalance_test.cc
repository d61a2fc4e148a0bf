#include "services/repair/rebalance.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::services {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

StorageNode Node(const std::string& id, uint64_t capacity, uint64_t free) {
  StorageNode n;
  n.id = id;
  n.capacity_bytes = capacity;
  n.free_bytes = free;
  return n;
}

TEST(RebalancePlanTest, FullNodesGiveTheirExcessToEmptierOnes) {
  // Three nodes at 60% used, a new one at 0%: mean 45%, each old node 15% of 10 GiB over it.
  ClusterSnapshot snapshot({Node("a", 10 * kGiB, 4 * kGiB), Node("b", 10 * kGiB, 4 * kGiB),
                            Node("c", 10 * kGiB, 4 * kGiB), Node("new", 10 * kGiB, 10 * kGiB)});
  RebalancePlan plan = RebalancePlan::Make(snapshot, {});
  ASSERT_TRUE(plan.active());
  EXPECT_NEAR(plan.spread(), 0.6, 1e-9);
  EXPECT_EQ(plan.targets(), (std::set<std::string>{"new"}));
  EXPECT_TRUE(plan.IsSource("a"));
  EXPECT_FALSE(plan.IsSource("new"));
  EXPECT_FALSE(plan.Claim("new", 1));
  // a's excess is 1.5 GiB: six 256 MiB claims fit, the seventh does not.
  int claims = 0;
  while (plan.Claim("a", 256 << 20)) ++claims;
  EXPECT_EQ(claims, 6);
  EXPECT_TRUE(plan.Claim("b", 256 << 20));
}

TEST(RebalancePlanTest, PassBudgetCapsTheClaims) {
  ClusterSnapshot snapshot({Node("a", 10 * kGiB, 0), Node("b", 10 * kGiB, 10 * kGiB)});
  RebalanceOptions o;
  o.max_bytes_per_pass = 1 * kGiB;
  RebalancePlan plan = RebalancePlan::Make(snapshot, o);
  ASSERT_TRUE(plan.active());
  int claims = 0;
  while (plan.Claim("a", 256 << 20)) ++claims;
  EXPECT_EQ(claims, 4);
  EXPECT_EQ(plan.claimed_bytes(), 1 * kGiB);
}

TEST(RebalancePlanTest, ShareScalesTheWorkAndNodesNearTheMeanAreNoTargets) {
  // 60, 60, 60, 44 and 0 percent used: mean 44.8%; the 44% node is within a quarter of the
  // threshold below it, so only the empty one receives.
  ClusterSnapshot snapshot({Node("a", 100 * kGiB, 40 * kGiB), Node("b", 100 * kGiB, 40 * kGiB),
                            Node("c", 100 * kGiB, 40 * kGiB), Node("near", 100 * kGiB, 56 * kGiB),
                            Node("new", 100 * kGiB, 100 * kGiB)});
  RebalanceOptions o;
  o.share = 0.5;  // two repairers
  RebalancePlan plan = RebalancePlan::Make(snapshot, o);
  ASSERT_TRUE(plan.active());
  EXPECT_EQ(plan.targets(), (std::set<std::string>{"new"}));
  // a's excess is 15.2 GiB; half of it is this repairer's, within half the 4 GiB budget: 2 GiB.
  uint64_t claimed = 0;
  while (plan.Claim("a", 256 << 20)) claimed += 256 << 20;
  EXPECT_EQ(claimed, 2 * kGiB);
}

TEST(RebalancePlanTest, InactiveWithinTheThresholdOffOrWithoutFigures) {
  // 5 points apart: within the default 10.
  EXPECT_FALSE(
      RebalancePlan::Make(ClusterSnapshot({Node("a", 100, 50), Node("b", 100, 55)}), {}).active());
  RebalanceOptions off;
  off.threshold = 0;
  EXPECT_FALSE(
      RebalancePlan::Make(ClusterSnapshot({Node("a", 100, 0), Node("b", 100, 100)}), off).active());
  // No capacity published, or the empty node is down or draining: nothing to even out.
  EXPECT_FALSE(
      RebalancePlan::Make(ClusterSnapshot({Node("a", 0, 0), Node("b", 100, 100)}), {}).active());
  StorageNode down = Node("b", 100, 100);
  down.alive = false;
  EXPECT_FALSE(RebalancePlan::Make(ClusterSnapshot({Node("a", 100, 0), down}), {}).active());
  StorageNode draining = Node("b", 100, 100);
  draining.draining = true;
  EXPECT_FALSE(RebalancePlan::Make(ClusterSnapshot({Node("a", 100, 0), draining}), {}).active());
}

}  // namespace
}  // namespace tessera::services
