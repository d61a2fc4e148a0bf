#include "services/object/locality_traffic.h"

#include <map>
#include <string>

#include "absl/strings/match.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

v1::Location At(const std::string& site, const std::string& zone, const std::string& isp) {
  v1::Location l;
  l.set_site(site);
  l.set_zone(zone);
  l.set_isp(isp);
  return l;
}

TEST(ReachBetweenTest, TheWidestBoundaryCrossed) {
  EXPECT_EQ(ReachBetween(At("a", "z1", "isp1"), At("a", "z1", "isp1")), Reach::kSameZone);
  EXPECT_EQ(ReachBetween(At("a", "", ""), At("a", "", "")), Reach::kSameZone);
  EXPECT_EQ(ReachBetween(At("a", "z1", "isp1"), At("a", "z2", "isp1")), Reach::kCrossZone);
  EXPECT_EQ(ReachBetween(At("a", "z1", "isp1"), At("b", "z1", "isp1")), Reach::kCrossSite);
  EXPECT_EQ(ReachBetween(At("a", "z1", "isp1"), At("b", "z1", "isp2")), Reach::kCrossIsp);
  // An ISP boundary counts even within one site name (two providers into one building).
  EXPECT_EQ(ReachBetween(At("a", "z1", "isp1"), At("a", "z1", "isp2")), Reach::kCrossIsp);
  // One side without an ISP: judged by site and zone.
  EXPECT_EQ(ReachBetween(At("a", "z1", ""), At("b", "z1", "isp2")), Reach::kCrossSite);
  EXPECT_EQ(ReachBetween(At("", "", ""), At("b", "z1", "isp2")), Reach::kUnknown);
  EXPECT_EQ(ReachBetween(At("a", "z1", "isp1"), At("", "", "")), Reach::kUnknown);
  EXPECT_STREQ(ReachName(Reach::kCrossIsp), "cross_isp");
  EXPECT_STREQ(ReachName(Reach::kUnknown), "unknown");
}

class Recorder final : public p2p::TransferObserver {
 public:
  void OnTransfer(const std::string& peer, p2p::TransferDirection, uint64_t bytes,
                  absl::Duration) override {
    seen[peer] += bytes;
  }
  std::map<std::string, uint64_t> seen;
};

double Sample(const Registry& registry, const std::string& labels) {
  const std::string text = registry.Serialize();
  const std::string prefix = "tessera_slice_traffic_bytes_total{" + labels + "} ";
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + prefix.size()));
}

TEST(LocalityTrafficTest, CountsBytesByReachAndPassesTransfersOn) {
  Registry registry;
  auto next = std::make_shared<Recorder>();
  const std::map<std::string, v1::Location> nodes = {{"near:1", At("a", "z1", "isp1")},
                                                     {"zone:1", At("a", "z2", "isp1")},
                                                     {"far:1", At("b", "z1", "isp1")},
                                                     {"other-isp:1", At("c", "z1", "isp2")}};
  ASSERT_OK_AND_ASSIGN(auto traffic,
                       LocalityTraffic::Create(
                           At("a", "z1", "isp1"),
                           [&](const std::string& address) -> std::optional<v1::Location> {
                             auto it = nodes.find(address);
                             if (it == nodes.end()) return std::nullopt;
                             return it->second;
                           },
                           next, &registry));
  using D = p2p::TransferDirection;
  traffic->OnTransfer("near:1", D::kSend, 100, absl::Milliseconds(1));
  traffic->OnTransfer("zone:1", D::kSend, 200, absl::Milliseconds(1));
  traffic->OnTransfer("far:1", D::kReceive, 300, absl::Milliseconds(1));
  traffic->OnTransfer("far:1", D::kReceive, 5, absl::Milliseconds(1));
  traffic->OnTransfer("other-isp:1", D::kSend, 400, absl::Milliseconds(1));
  traffic->OnTransfer("gone:1", D::kReceive, 7, absl::Milliseconds(1));

  EXPECT_EQ(Sample(registry, "direction=\"sent\",reach=\"same_zone\""), 100);
  EXPECT_EQ(Sample(registry, "direction=\"sent\",reach=\"cross_zone\""), 200);
  EXPECT_EQ(Sample(registry, "direction=\"received\",reach=\"cross_site\""), 305);
  EXPECT_EQ(Sample(registry, "direction=\"sent\",reach=\"cross_isp\""), 400);
  EXPECT_EQ(Sample(registry, "direction=\"received\",reach=\"unknown\""), 7);
  EXPECT_EQ(Sample(registry, "direction=\"received\",reach=\"same_zone\""), 0);
  // Every transfer reached the bandwidth estimator behind it.
  EXPECT_EQ(
      next->seen,
      (std::map<std::string, uint64_t>{
          {"near:1", 100}, {"zone:1", 200}, {"far:1", 305}, {"other-isp:1", 400}, {"gone:1", 7}}));

  // A second backend in the same process shares the family.
  ASSERT_OK_AND_ASSIGN(auto second,
                       LocalityTraffic::Create(At("", "", ""), nullptr, nullptr, &registry));
  second->OnTransfer("near:1", D::kSend, 1, absl::Milliseconds(1));
  EXPECT_EQ(Sample(registry, "direction=\"sent\",reach=\"unknown\""), 1);
}

}  // namespace
}  // namespace tessera::services
