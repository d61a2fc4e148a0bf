#include "services/repair/stripe_health.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace tessera::services {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1700000000);

StorageNode Node(const std::string& id, bool alive, bool draining = false) {
  StorageNode n;
  n.id = id;
  n.address = id + ":1";
  n.site = "s";
  n.alive = alive;
  n.draining = draining;
  return n;
}

v1::StripeRecord Stripe(const std::vector<std::string>& holders) {
  v1::StripeRecord s;
  s.set_index(3);
  for (const std::string& h : holders) s.add_slices()->set_node_id(h);
  return s;
}

TEST(DownTrackerTest, RemembersFirstSeenDownAndForgetsOnRecovery) {
  DownTracker t;
  ClusterSnapshot down({Node("a", false)});
  t.Observe(down, kT0);
  t.Observe(down, kT0 + absl::Minutes(5));
  EXPECT_EQ(t.DownSince("a"), kT0);
  t.Observe(ClusterSnapshot({Node("a", true)}), kT0 + absl::Minutes(6));
  EXPECT_EQ(t.DownSince("a"), absl::InfiniteFuture());
  t.Observe(down, kT0 + absl::Minutes(7));
  EXPECT_EQ(t.DownSince("a"), kT0 + absl::Minutes(7));
}

TEST(StripeHealthTest, ClassifiesEverySlice) {
  auto snapshot = std::make_shared<const ClusterSnapshot>(
      std::vector<StorageNode>{Node("up1", true), Node("up2", true), Node("drain", true, true),
                               Node("down", false), Node("dead", false), Node("up3", true)});
  DownTracker t;
  t.Observe(ClusterSnapshot({Node("dead", false)}), kT0);
  t.Observe(*snapshot, kT0 + absl::Minutes(9));
  std::set<DamagedSlice> damaged = {{"up3", "v", 0, 3, 6}};
  NodeConditions nodes(snapshot, t, kT0 + absl::Minutes(10), absl::Minutes(5), damaged);
  EXPECT_EQ(nodes.Of("dead"), NodeCondition::kLost);
  EXPECT_EQ(nodes.Of("down"), NodeCondition::kDown);
  EXPECT_EQ(nodes.Of("gone"), NodeCondition::kLost);  // unknown to membership
  EXPECT_EQ(nodes.Of("drain"), NodeCondition::kDraining);

  // k = 2: slices 0,1 healthy; 2 moving (healthy); 3 down; 4 lost; 5 not stored; 6 damaged;
  // 7 on a node membership forgot.
  StripeAssessment a = AssessStripe(
      Stripe({"up1", "up2", "drain", "down", "dead", "", "up3", "gone"}), 2, "v", 0, nodes);
  EXPECT_EQ(a.healthy, 3);
  EXPECT_EQ(a.Redundancy(2), 1);
  EXPECT_EQ(a.moving, std::vector<int>({2}));
  EXPECT_EQ(a.down, std::vector<int>({3}));
  EXPECT_EQ(a.lost, std::vector<int>({4, 5, 6, 7}));
  EXPECT_EQ(a.damaged, std::vector<int>({6}));
  EXPECT_TRUE(a.NeedsRepair());
}

TEST(StripeHealthTest, WithNoSpareLeftDownSlicesAreRebuiltAtOnce) {
  auto snapshot = std::make_shared<const ClusterSnapshot>(
      std::vector<StorageNode>{Node("up1", true), Node("up2", true), Node("down", false)});
  DownTracker t;
  t.Observe(*snapshot, kT0);
  NodeConditions nodes(snapshot, t, kT0, absl::Hours(1), {});
  // k = 2 with two healthy: no spare; the down slice is not waited for.
  StripeAssessment a = AssessStripe(Stripe({"up1", "up2", "down"}), 2, "v", 0, nodes);
  EXPECT_EQ(a.Redundancy(2), 0);
  EXPECT_TRUE(a.down.empty());
  EXPECT_EQ(a.lost, std::vector<int>({2}));
  // k = 1: one spare, so the down slice waits for the grace.
  StripeAssessment b = AssessStripe(Stripe({"up1", "up2", "down"}), 1, "v", 0, nodes);
  EXPECT_EQ(b.down, std::vector<int>({2}));
  EXPECT_FALSE(b.NeedsRepair());
}

}  // namespace
}  // namespace tessera::services
