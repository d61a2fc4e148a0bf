#include "p2p/placement/placement.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::p2p {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

std::vector<PlacementCandidate> Cluster(const std::vector<int>& nodes_per_site) {
  std::vector<PlacementCandidate> out;
  for (size_t s = 0; s < nodes_per_site.size(); ++s) {
    for (int i = 0; i < nodes_per_site[s]; ++i) {
      out.push_back({.node_id = "n" + std::to_string(s) + "-" + std::to_string(i),
                     .site = "site" + std::to_string(s),
                     .free_bytes = 100 * kGiB});
    }
  }
  return out;
}

std::map<std::string, int> SlicesPerSite(const std::vector<PlacementCandidate>& candidates,
                                         const std::vector<std::string>& placement) {
  std::map<std::string, int> per_site;
  for (const auto& id : placement) {
    auto it = std::find_if(candidates.begin(), candidates.end(),
                           [&](const PlacementCandidate& c) { return c.node_id == id; });
    EXPECT_NE(it, candidates.end()) << id;
    if (it != candidates.end()) ++per_site[it->site];
  }
  return per_site;
}

TEST(PlacementTest, SixNodesThreeSitesNeverPutsMoreThanMInASite) {
  auto candidates = Cluster({2, 2, 2});
  for (uint64_t seed = 0; seed < 500; ++seed) {
    ASSERT_OK_AND_ASSIGN(auto placement, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = seed}));
    ASSERT_EQ(placement.size(), 6u);
    EXPECT_EQ(std::set<std::string>(placement.begin(), placement.end()).size(), 6u);
    for (const auto& [site, count] : SlicesPerSite(candidates, placement)) {
      // Losing any one site still leaves k = 4 slices.
      EXPECT_LE(count, 2) << site << " seed " << seed;
    }
  }
}

TEST(PlacementTest, ManySitesSpreadsWithinCap) {
  auto candidates = Cluster({4, 4, 4, 4, 4});
  for (uint64_t seed = 0; seed < 200; ++seed) {
    ASSERT_OK_AND_ASSIGN(auto placement, PlaceStripe(candidates, {.k = 8, .m = 3, .seed = seed}));
    ASSERT_EQ(placement.size(), 11u);
    for (const auto& [site, count] : SlicesPerSite(candidates, placement)) EXPECT_LE(count, 3);
  }
}

TEST(PlacementTest, TooFewSitesSpreadsAsEvenlyAsPossible) {
  auto two_sites = Cluster({3, 3});
  ASSERT_OK_AND_ASSIGN(int cap, SiteCap(two_sites, {.k = 4, .m = 2}));
  EXPECT_EQ(cap, 3);
  ASSERT_OK_AND_ASSIGN(auto placement, PlaceStripe(two_sites, {.k = 4, .m = 2, .seed = 7}));
  auto per_site = SlicesPerSite(two_sites, placement);
  EXPECT_EQ(per_site["site0"], 3);
  EXPECT_EQ(per_site["site1"], 3);

  auto lopsided = Cluster({5, 1});
  ASSERT_OK_AND_ASSIGN(cap, SiteCap(lopsided, {.k = 4, .m = 2}));
  EXPECT_EQ(cap, 5);
  ASSERT_OK_AND_ASSIGN(placement, PlaceStripe(lopsided, {.k = 4, .m = 2, .seed = 1}));
  EXPECT_EQ(SlicesPerSite(lopsided, placement)["site1"], 1);
}

TEST(PlacementTest, NotEnoughNodesIsAClearError) {
  auto candidates = Cluster({2, 2});
  auto placement = PlaceStripe(candidates, {.k = 4, .m = 2});
  EXPECT_EQ(placement.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(placement.status().message().find("have 4"), absl::string_view::npos);
  EXPECT_EQ(PlaceStripe(candidates, {.k = 0, .m = 2}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(PlacementTest, SkipsDeadDrainingAndFullNodes) {
  auto candidates = Cluster({3, 3, 3});
  candidates[0].alive = false;
  candidates[3].draining = true;
  candidates[6].free_bytes = 10;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    ASSERT_OK_AND_ASSIGN(
        auto placement,
        PlaceStripe(candidates, {.k = 4, .m = 2, .slice_bytes = 1 << 20, .seed = seed}));
    for (const auto& id : placement) {
      EXPECT_NE(id, candidates[0].node_id);
      EXPECT_NE(id, candidates[3].node_id);
      EXPECT_NE(id, candidates[6].node_id);
    }
  }
}

TEST(PlacementTest, SameSeedSameAnswerWhateverTheCandidateOrder) {
  auto candidates = Cluster({3, 3, 3});
  ASSERT_OK_AND_ASSIGN(auto first, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = 42}));
  std::mt19937 rng(1);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(candidates.begin(), candidates.end(), rng);
    ASSERT_OK_AND_ASSIGN(auto again, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = 42}));
    EXPECT_EQ(again, first);
  }
  ASSERT_OK_AND_ASSIGN(auto other, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = 43}));
  std::set<std::vector<std::string>> distinct;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    ASSERT_OK_AND_ASSIGN(auto p, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = seed}));
    distinct.insert(p);
  }
  EXPECT_GT(distinct.size(), 10u) << "placements should vary with the seed";
}

TEST(PlacementTest, FreeSpaceWeightsTheChoice) {
  // One node with 11x the free space of each of 11 others should be drawn about half the time.
  std::vector<PlacementCandidate> candidates;
  for (int i = 0; i < 12; ++i) {
    candidates.push_back(
        {.node_id = "n" + std::to_string(i), .site = "s", .free_bytes = (i == 0 ? 11 : 1) * kGiB});
  }
  int big_first = 0;
  const int trials = 4000;
  for (int seed = 0; seed < trials; ++seed) {
    ASSERT_OK_AND_ASSIGN(
        auto p, PlaceStripe(candidates, {.k = 1, .m = 0, .seed = static_cast<uint64_t>(seed)}));
    if (p[0] == "n0") ++big_first;
  }
  EXPECT_GT(big_first, trials * 40 / 100);
  EXPECT_LT(big_first, trials * 60 / 100);
}

TEST(PlacementTest, SpeedWeightsTheChoice) {
  // Equal free space; one node measured at a tenth of the others' speed is drawn about a tenth
  // as often as each of them.
  std::vector<PlacementCandidate> candidates;
  for (int i = 0; i < 10; ++i) {
    candidates.push_back({.node_id = "n" + std::to_string(i),
                          .site = "s",
                          .free_bytes = kGiB,
                          .speed = i == 0 ? 0.1 : 1.0});
  }
  std::map<std::string, int> first;
  const int trials = 9100;
  for (int seed = 0; seed < trials; ++seed) {
    ASSERT_OK_AND_ASSIGN(
        auto p, PlaceStripe(candidates, {.k = 1, .m = 0, .seed = static_cast<uint64_t>(seed)}));
    ++first[p[0]];
  }
  // Expected: 100 for n0 and 1000 for each other node.
  EXPECT_GT(first["n0"], 50);
  EXPECT_LT(first["n0"], 170);
  for (int i = 1; i < 10; ++i) EXPECT_GT(first["n" + std::to_string(i)], 800);
  // Out-of-range speeds are clamped, never a reason to skip a node or to crash.
  candidates[0].speed = 0;
  candidates[1].speed = 7;
  candidates[2].speed = std::nan("");
  ASSERT_OK_AND_ASSIGN(auto all, PlaceStripe(candidates, {.k = 8, .m = 2, .seed = 1}));
  EXPECT_EQ(all.size(), 10u);
}

TEST(PlacementTest, ReplacementKeepsSiteCapAndAvoidsCurrentNodes) {
  auto candidates = Cluster({3, 3, 3});
  for (uint64_t seed = 0; seed < 100; ++seed) {
    ASSERT_OK_AND_ASSIGN(auto placement, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = seed}));
    std::string failed = placement[2];
    for (auto& c : candidates) c.alive = c.node_id != failed;
    ASSERT_OK_AND_ASSIGN(
        std::string replacement,
        PlaceReplacement(candidates, {.k = 4, .m = 2, .seed = seed}, placement, 2, {}));
    EXPECT_EQ(std::count(placement.begin(), placement.end(), replacement), 0);
    placement[2] = replacement;
    for (const auto& [site, count] : SlicesPerSite(candidates, placement)) EXPECT_LE(count, 2);
    for (auto& c : candidates) c.alive = true;
  }
}

TEST(PlacementTest, ReplacementFailsWhenNoNodeQualifies) {
  auto candidates = Cluster({2, 2, 2});
  ASSERT_OK_AND_ASSIGN(auto placement, PlaceStripe(candidates, {.k = 4, .m = 2, .seed = 3}));
  // Every node already holds a slice: nothing can take slice 0.
  auto result = PlaceReplacement(candidates, {.k = 4, .m = 2, .seed = 3}, placement, 0, {});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PlaceReplacement(candidates, {.k = 4, .m = 2}, placement, 9, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::p2p
