#include "services/node/bandwidth_reporter.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "base/fake_clock.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

p2p::MemberInfo Member(const std::string& id, bool self = false,
                       p2p::MemberLiveness liveness = p2p::MemberLiveness::kAlive) {
  p2p::MemberInfo m;
  m.node_id = id;
  m.grpc_address = "addr-" + id;
  m.is_self = self;
  m.liveness = liveness;
  return m;
}

class BandwidthReporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p2p::BandwidthEstimatorOptions eo;
    eo.clock = &clock_;
    estimator_ = std::make_shared<p2p::BandwidthEstimator>(eo);
    std::vector<p2p::MemberInfo> members = {Member("self", true),
                                            Member("dead", false, p2p::MemberLiveness::kDead)};
    for (int i = 0; i < 5; ++i) members.push_back(Member("peer" + std::to_string(i)));
    view_ = std::make_shared<const p2p::MembershipView>(1, members);
    BandwidthReporterDeps deps;
    deps.estimator = estimator_;
    deps.view = [this] { return view_; };
    deps.probe = [this](const std::string& node_id, const std::string& address) {
      EXPECT_EQ(address, "addr-" + node_id);
      probed_.push_back(node_id);
      return absl::OkStatus();
    };
    deps.publish = [this](const p2p::BandwidthSummary& s) { published_.push_back(s); };
    BandwidthReporterOptions o;
    o.max_probes_per_round = 2;
    reporter_ = std::make_unique<BandwidthReporter>(o, std::move(deps));
  }

  FakeClock clock_;
  std::shared_ptr<p2p::BandwidthEstimator> estimator_;
  std::shared_ptr<const p2p::MembershipView> view_;
  std::vector<std::string> probed_;
  std::vector<p2p::BandwidthSummary> published_;
  std::unique_ptr<BandwidthReporter> reporter_;
};

TEST_F(BandwidthReporterTest, ProbesOnlyAliveColdPeersAtABoundedRate) {
  reporter_->RunOnce();
  EXPECT_EQ(probed_.size(), 2u);  // bounded per round
  for (int round = 0; round < 20; ++round) reporter_->RunOnce();
  // Never self or the dead member; every alive peer probed; probes stop once peers are warm
  // (RTT confidence >= 0.5 needs 3 samples each: 5 peers x 3 = 15 probes at most).
  for (const std::string& p : probed_) {
    EXPECT_NE(p, "self");
    EXPECT_NE(p, "dead");
  }
  EXPECT_LE(probed_.size(), 15u);
  EXPECT_EQ(estimator_->Peers().size(), 5u);
  const size_t warm = probed_.size();
  reporter_->RunOnce();
  EXPECT_EQ(probed_.size(), warm);
  // As estimates age they go cold again and are re-probed.
  clock_.Advance(absl::Minutes(10));
  reporter_->RunOnce();
  EXPECT_EQ(probed_.size(), warm + 2);
}

TEST_F(BandwidthReporterTest, PublishesOnlyWhenTheSummaryMoves) {
  view_ = std::make_shared<const p2p::MembershipView>(
      1, std::vector<p2p::MemberInfo>{Member("self", true)});
  reporter_->RunOnce();
  EXPECT_TRUE(published_.empty());  // nothing measured: nothing published
  for (int i = 0; i < 5; ++i) {
    estimator_->OnTransfer("a", p2p::TransferDirection::kSend, 8 << 20, absl::Milliseconds(100));
  }
  reporter_->RunOnce();
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_NEAR(published_[0].egress_bytes_per_second, (8 << 20) / 0.1, 1);
  // A 5 % change is noise: no new record.
  estimator_->OnTransfer("a", p2p::TransferDirection::kSend, 8 << 20, absl::Milliseconds(70));
  reporter_->RunOnce();
  EXPECT_EQ(published_.size(), 1u);
  // A new peer changes the count: republished.
  estimator_->RecordRtt("b", absl::Milliseconds(1));
  reporter_->RunOnce();
  EXPECT_EQ(published_.size(), 2u);
}

TEST(BandwidthMetricsTextTest, OneSeriesPerMemberThatPublished) {
  p2p::MemberInfo a = Member("aaaa");
  a.bandwidth.egress_bytes_per_second = 1e8;
  a.bandwidth.ingress_bytes_per_second = 2e8;
  a.bandwidth.median_rtt = absl::Microseconds(500);
  a.bandwidth.peers = 3;
  p2p::MembershipView view(1, {a, Member("bbbb")});
  const std::string text = BandwidthMetricsText(view);
  EXPECT_TRUE(absl::StrContains(
      text, "tessera_member_bandwidth_egress_bytes_per_second{node=\"aaaa\"} 1e+08\n"))
      << text;
  EXPECT_TRUE(absl::StrContains(text, "tessera_member_median_rtt_seconds{node=\"aaaa\"} 0.0005\n"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "# TYPE tessera_member_bandwidth_ingress_bytes_per_second gauge"));
  EXPECT_FALSE(absl::StrContains(text, "bbbb"));
  EXPECT_EQ(BandwidthMetricsText(p2p::MembershipView(1, {Member("bbbb")})), "");
}

TEST(BandwidthReporterOptionsTest, Validate) {
  BandwidthReporterOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.interval = absl::ZeroDuration();
  EXPECT_FALSE(o.Validate().ok());
  o = {};
  o.min_confidence = 2;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace tessera::services
