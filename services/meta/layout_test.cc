#include "services/meta/layout.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

std::vector<MetaMember> Members(int count, int sites) {
  std::vector<MetaMember> members;
  for (int i = 0; i < count; ++i) {
    members.push_back(MetaMember{absl::StrCat("node-", i), absl::StrCat("site-", i % sites),
                                 absl::StrCat("127.0.0.1:", 9000 + i)});
  }
  return members;
}

std::set<std::string> AsSet(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }

TEST(LayoutTest, EveryPartitionGetsNDistinctNodesOnDistinctSites) {
  ASSERT_OK_AND_ASSIGN(Layout layout, Layout::Compute(1, Members(12, 4), LayoutOptions{}));
  EXPECT_EQ(layout.partitions(), 256u);
  std::vector<int> load(12, 0);
  for (uint32_t p = 0; p < layout.partitions(); ++p) {
    const auto& replicas = layout.Replicas(p);
    ASSERT_EQ(replicas.size(), 3u);
    EXPECT_EQ(AsSet(replicas).size(), 3u);
    std::set<std::string> sites;
    for (const auto& id : replicas) {
      const MetaMember* m = layout.FindMember(id);
      ASSERT_NE(m, nullptr);
      sites.insert(m->site);
      ++load[std::stoi(id.substr(5))];
    }
    EXPECT_EQ(sites.size(), 3u) << "partition " << p;
  }
  // 768 replica slots over 12 nodes: 64 each on average; rendezvous keeps it roughly even.
  for (int l : load) {
    EXPECT_GT(l, 20);
    EXPECT_LT(l, 120);
  }
}

TEST(LayoutTest, FewerSitesThanReplicasUsesEverySiteThenFills) {
  ASSERT_OK_AND_ASSIGN(Layout layout, Layout::Compute(1, Members(6, 2), LayoutOptions{}));
  for (uint32_t p = 0; p < layout.partitions(); ++p) {
    std::set<std::string> sites;
    for (const auto& id : layout.Replicas(p)) sites.insert(layout.FindMember(id)->site);
    EXPECT_EQ(layout.Replicas(p).size(), 3u);
    EXPECT_EQ(sites.size(), 2u);
  }
  // Fewer members than N: every member replicates every partition.
  ASSERT_OK_AND_ASSIGN(Layout tiny, Layout::Compute(1, Members(2, 2), LayoutOptions{}));
  EXPECT_EQ(tiny.Replicas(7).size(), 2u);
  LayoutView view(tiny);
  auto sets = view.ReplicaSets(7);
  ASSERT_EQ(sets.size(), 1u);
  EXPECT_EQ(sets[0].write_quorum, 2u);
  EXPECT_EQ(sets[0].read_quorum, 1u);
}

TEST(LayoutTest, DeterministicWhateverTheMemberOrder) {
  std::vector<MetaMember> members = Members(9, 3);
  ASSERT_OK_AND_ASSIGN(Layout a, Layout::Compute(4, members, LayoutOptions{}));
  std::reverse(members.begin(), members.end());
  ASSERT_OK_AND_ASSIGN(Layout b, Layout::Compute(4, members, LayoutOptions{}));
  for (uint32_t p = 0; p < a.partitions(); ++p) EXPECT_EQ(a.Replicas(p), b.Replicas(p));
  // The rule is the documented one: the first replica is the top-ranked node.
  for (uint32_t p = 0; p < 16; ++p) {
    std::string best;
    uint64_t best_score = 0;
    for (const MetaMember& m : members) {
      uint64_t s = RendezvousScore(p, m.node_id);
      if (best.empty() || s > best_score) best = m.node_id, best_score = s;
    }
    EXPECT_EQ(a.Replicas(p)[0], best);
  }
}

TEST(LayoutTest, JoinAndLeaveMoveOnlyPartitionsTheNodeTouches) {
  std::vector<MetaMember> members = Members(12, 4);
  ASSERT_OK_AND_ASSIGN(Layout before, Layout::Compute(1, members, LayoutOptions{}));
  members.push_back(MetaMember{"node-new", "site-1", "127.0.0.1:1"});
  ASSERT_OK_AND_ASSIGN(Layout joined, Layout::Compute(2, members, LayoutOptions{}));
  int changed = 0;
  for (uint32_t p = 0; p < before.partitions(); ++p) {
    if (AsSet(before.Replicas(p)) == AsSet(joined.Replicas(p))) continue;
    ++changed;
    EXPECT_TRUE(AsSet(joined.Replicas(p)).count("node-new")) << "partition " << p;
    // Exactly one replica was replaced.
    std::vector<std::string> gone;
    for (const auto& id : before.Replicas(p)) {
      if (!AsSet(joined.Replicas(p)).count(id)) gone.push_back(id);
    }
    EXPECT_EQ(gone.size(), 1u);
  }
  // A 13th node takes about 3/13 of the replica slots: some partitions move, most do not.
  EXPECT_GT(changed, 10);
  EXPECT_LT(changed, 128);

  // Leave: node-3 goes away; only partitions it replicated change.
  std::vector<MetaMember> fewer;
  for (const auto& m : Members(12, 4)) {
    if (m.node_id != "node-3") fewer.push_back(m);
  }
  ASSERT_OK_AND_ASSIGN(Layout left, Layout::Compute(3, fewer, LayoutOptions{}));
  for (uint32_t p = 0; p < before.partitions(); ++p) {
    const bool had = AsSet(before.Replicas(p)).count("node-3") > 0;
    EXPECT_EQ(AsSet(before.Replicas(p)) != AsSet(left.Replicas(p)), had) << "partition " << p;
  }
}

TEST(LayoutTest, TransitionNeedsQuorumsInBothSets) {
  std::vector<MetaMember> members = Members(6, 3);
  ASSERT_OK_AND_ASSIGN(Layout old_layout, Layout::Compute(1, members, LayoutOptions{}));
  members.push_back(MetaMember{"node-new", "site-0", "x"});
  ASSERT_OK_AND_ASSIGN(Layout new_layout, Layout::Compute(2, members, LayoutOptions{}));
  ASSERT_OK_AND_ASSIGN(LayoutView view, LayoutView::Transition(old_layout, new_layout));
  EXPECT_TRUE(view.in_transition());
  int two_sets = 0;
  for (uint32_t p = 0; p < view.partitions(); ++p) {
    auto sets = view.ReplicaSets(p);
    const bool moved = AsSet(old_layout.Replicas(p)) != AsSet(new_layout.Replicas(p));
    ASSERT_EQ(sets.size(), moved ? 2u : 1u);
    EXPECT_EQ(sets[0].nodes, new_layout.Replicas(p));
    if (moved) {
      ++two_sets;
      EXPECT_EQ(sets[1].nodes, old_layout.Replicas(p));
      EXPECT_EQ(sets[1].write_quorum, 2u);
    }
  }
  EXPECT_GT(two_sets, 0);
  EXPECT_NE(view.FindMember("node-new"), nullptr);
  EXPECT_THAT(LayoutView::Transition(new_layout, old_layout),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(LayoutTest, PartitionFunctionsAreStableAndSpread) {
  EXPECT_EQ(PartitionForBucket("photos", 256), PartitionForBucket("photos", 256));
  std::set<uint32_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(PartitionForBucket(absl::StrCat("b", i), 256));
  EXPECT_GT(seen.size(), 100u);
  // Shards of one bucket land in different partitions; shard 0 differs from the bucket record's.
  std::set<uint32_t> shards;
  for (uint32_t s = 0; s < 16; ++s) shards.insert(PartitionForShard("photos", s, 256));
  EXPECT_GT(shards.size(), 10u);
  for (int i = 0; i < 100; ++i) EXPECT_LT(PartitionForShard(absl::StrCat("b", i), 0, 7), 7u);
}

TEST(LayoutTest, RejectsBadInput) {
  LayoutOptions bad;
  bad.write_quorum = 1;  // not a majority of 3
  EXPECT_THAT(Layout::Compute(1, Members(3, 3), bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad = LayoutOptions{};
  bad.read_quorum = 1;  // W + R = N
  EXPECT_THAT(bad.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Layout::Compute(1, {}, LayoutOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::vector<MetaMember> dup = Members(3, 3);
  dup.push_back(dup[0]);
  EXPECT_THAT(Layout::Compute(1, dup, LayoutOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::services
