#include "p2p/bandwidth/estimator.h"

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "base/fake_clock.h"
#include "gtest/gtest.h"

namespace tessera::p2p {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class EstimatorTest : public ::testing::Test {
 protected:
  BandwidthEstimator Make() {
    BandwidthEstimatorOptions o;
    o.clock = &clock_;
    return BandwidthEstimator(o);
  }
  // A call of `bytes` over a link with `rtt` and `bps`, one second after the previous one.
  void Transfer(BandwidthEstimator& e, const std::string& peer, TransferDirection d, uint64_t bytes,
                absl::Duration rtt, double bps) {
    clock_.Advance(absl::Seconds(1));
    e.OnTransfer(peer, d, bytes, rtt + absl::Seconds(static_cast<double>(bytes) / bps));
  }
  FakeClock clock_;
};

TEST_F(EstimatorTest, OptionsValidate) {
  BandwidthEstimatorOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.half_life = absl::ZeroDuration();
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.assumed_bytes_per_second = 0;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
  o = {};
  o.confidence_weight = -1;
  EXPECT_EQ(o.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(EstimatorTest, UnknownPeerHasNoEstimateAndZeroConfidence) {
  BandwidthEstimator e = Make();
  EXPECT_FALSE(e.Estimate("a").has_value());
  TransferPrediction p = e.PredictTransferTime("a", 100 * kMiB, TransferDirection::kSend);
  EXPECT_EQ(p.confidence, 0);
  // The assumed defaults: 1 ms + 100 MiB / 100 MB/s.
  EXPECT_NEAR(absl::ToDoubleSeconds(p.time), 0.001 + 100.0 * kMiB / 100e6, 1e-6);
}

TEST_F(EstimatorTest, ConvergesToAKnownRateAndRtt) {
  BandwidthEstimator e = Make();
  const absl::Duration rtt = absl::Milliseconds(10);
  for (int i = 0; i < 20; ++i) {
    Transfer(e, "a", TransferDirection::kSend, 4096, rtt, 50e6);
    Transfer(e, "a", TransferDirection::kSend, 8 * kMiB, rtt, 50e6);
    Transfer(e, "a", TransferDirection::kReceive, 8 * kMiB, rtt, 200e6);
  }
  std::optional<PeerEstimate> est = e.Estimate("a");
  ASSERT_TRUE(est.has_value());
  // The 4 KiB calls at 50 MB/s take 10 ms + 82 us: RTT within 1%.
  EXPECT_NEAR(est->rtt_seconds.mean, 0.010, 0.0001);
  EXPECT_NEAR(est->send_bytes_per_second.mean, 50e6, 50e6 * 0.01);
  EXPECT_NEAR(est->receive_bytes_per_second.mean, 200e6, 200e6 * 0.01);
  EXPECT_EQ(est->send_bytes_per_second.samples, 20u);
  EXPECT_LT(est->send_bytes_per_second.stddev, 50e6 * 0.01);
}

TEST_F(EstimatorTest, SmallTransfersDoNotReadAsASlowLink) {
  BandwidthEstimator e = Make();
  // Many 4 KiB RPCs on a 20 ms link: 4 KiB / 20 ms would be a 200 KB/s "throughput".
  for (int i = 0; i < 50; ++i) {
    Transfer(e, "a", TransferDirection::kSend, 4096, absl::Milliseconds(20), 1e9);
  }
  std::optional<PeerEstimate> est = e.Estimate("a");
  ASSERT_TRUE(est.has_value());
  EXPECT_FALSE(est->send_bytes_per_second.known());
  EXPECT_NEAR(est->rtt_seconds.mean, 0.020, 0.0001);
  // A small call is predicted at about the RTT, with high confidence.
  TransferPrediction small = e.PredictTransferTime("a", 4096, TransferDirection::kSend);
  EXPECT_NEAR(absl::ToDoubleSeconds(small.time), 0.020, 0.001);
  EXPECT_GT(small.confidence, 0.9);
  // A large one needs the (unknown) rate: mostly the assumed default, low confidence.
  TransferPrediction large = e.PredictTransferTime("a", 1024 * kMiB, TransferDirection::kSend);
  EXPECT_LT(large.confidence, 0.1);
}

TEST_F(EstimatorTest, PredictionSeparatesLatencyFromThroughput) {
  BandwidthEstimator e = Make();
  const absl::Duration rtt = absl::Milliseconds(50);
  for (int i = 0; i < 20; ++i) {
    Transfer(e, "far", TransferDirection::kReceive, 4096, rtt, 1e9);
    Transfer(e, "far", TransferDirection::kReceive, 16 * kMiB, rtt, 1e9);
  }
  // 4 KiB: about one RTT (50 ms), not 4 KiB / (16 MiB / 67 ms).
  EXPECT_NEAR(
      absl::ToDoubleSeconds(e.PredictTransferTime("far", 4096, TransferDirection::kReceive).time),
      0.050, 0.001);
  // 1 GiB: RTT + 1.07 s.
  const double expect = 0.050 + 1024.0 * kMiB / 1e9;
  EXPECT_NEAR(absl::ToDoubleSeconds(
                  e.PredictTransferTime("far", 1024 * kMiB, TransferDirection::kReceive).time),
              expect, expect * 0.02);
}

TEST_F(EstimatorTest, TracksARateStepAsOldSamplesFade) {
  BandwidthEstimator e = Make();  // half-life 2 min; one transfer per second
  for (int i = 0; i < 300; ++i) {
    Transfer(e, "a", TransferDirection::kSend, 8 * kMiB, absl::ZeroDuration(), 100e6);
  }
  EXPECT_NEAR(e.Estimate("a")->send_bytes_per_second.mean, 100e6, 1e6);
  // The link drops to 10 MB/s. After 4 half-lives of new samples the old ones weigh ~1/16.
  for (int i = 0; i < 480; ++i) {
    Transfer(e, "a", TransferDirection::kSend, 8 * kMiB, absl::ZeroDuration(), 10e6);
  }
  const double mean = e.Estimate("a")->send_bytes_per_second.mean;
  EXPECT_LT(mean, 10e6 + 90e6 / 16 * 1.1);
  EXPECT_GT(mean, 10e6);
}

TEST_F(EstimatorTest, WeightAndConfidenceFallWithAgeNotTheMean) {
  BandwidthEstimator e = Make();
  for (int i = 0; i < 30; ++i) {
    Transfer(e, "a", TransferDirection::kSend, 8 * kMiB, absl::ZeroDuration(), 80e6);
  }
  const DecayedEstimate fresh = e.Estimate("a")->send_bytes_per_second;
  clock_.Advance(absl::Minutes(2));  // one half-life, no traffic
  const DecayedEstimate later = e.Estimate("a")->send_bytes_per_second;
  EXPECT_DOUBLE_EQ(later.mean, fresh.mean);
  EXPECT_NEAR(later.weight, fresh.weight / 2, 1e-9 * fresh.weight);
  EXPECT_LT(later.confidence, fresh.confidence);
  EXPECT_EQ(later.age, absl::Minutes(2));
  clock_.Advance(absl::Hours(1));
  EXPECT_LT(e.Estimate("a")->send_bytes_per_second.confidence, 0.01);
}

TEST_F(EstimatorTest, ConfidenceGrowsWithSamplesAndStaysInRange) {
  BandwidthEstimator e = Make();
  double previous = 0;
  for (int i = 0; i < 40; ++i) {
    e.RecordRtt("a", absl::Milliseconds(1));
    const double c = e.Estimate("a")->rtt_seconds.confidence;
    EXPECT_GT(c, previous);
    EXPECT_LE(c, 1.0);
    previous = c;
  }
  EXPECT_GT(previous, 0.9);
  // One sample: 1 / (1 + 3).
  e.RecordRtt("b", absl::Milliseconds(1));
  EXPECT_DOUBLE_EQ(e.Estimate("b")->rtt_seconds.confidence, 0.25);
}

TEST_F(EstimatorTest, VarianceReflectsJitter) {
  BandwidthEstimator e = Make();
  for (int i = 0; i < 100; ++i) {
    Transfer(e, "steady", TransferDirection::kSend, 8 * kMiB, absl::ZeroDuration(), 100e6);
    Transfer(e, "jittery", TransferDirection::kSend, 8 * kMiB, absl::ZeroDuration(),
             i % 2 == 0 ? 70e6 : 130e6);
  }
  const DecayedEstimate steady = e.Estimate("steady")->send_bytes_per_second;
  const DecayedEstimate jittery = e.Estimate("jittery")->send_bytes_per_second;
  EXPECT_LT(steady.stddev, 1e3);
  EXPECT_NEAR(jittery.mean, 100e6, 2e6);
  EXPECT_NEAR(jittery.stddev, 30e6, 2e6);
}

TEST_F(EstimatorTest, ColdPeersAreTheUnmeasuredAndTheStale) {
  BandwidthEstimator e = Make();
  for (int i = 0; i < 10; ++i) e.RecordRtt("warm", absl::Milliseconds(1));
  e.RecordRtt("stale", absl::Milliseconds(1));
  EXPECT_EQ(e.ColdPeers({"warm", "stale", "new"}, 0.5), (std::vector<std::string>{"stale", "new"}));
  clock_.Advance(absl::Minutes(10));
  EXPECT_EQ(e.ColdPeers({"warm", "new"}, 0.5), (std::vector<std::string>{"warm", "new"}));
}

TEST_F(EstimatorTest, SummaryIsTheMedianOverPeers) {
  BandwidthEstimator e = Make();
  EXPECT_TRUE(e.Summarize().empty());
  const double rates[] = {10e6, 50e6, 90e6};
  const char* peers[] = {"a", "b", "c"};
  for (int round = 0; round < 5; ++round) {
    for (int p = 0; p < 3; ++p) {
      const absl::Duration rtt = absl::Milliseconds(p + 1);
      e.RecordRtt(peers[p], rtt);
      Transfer(e, peers[p], TransferDirection::kSend, 8 * kMiB, rtt, rates[p]);
      Transfer(e, peers[p], TransferDirection::kReceive, 8 * kMiB, rtt, 2 * rates[p]);
    }
  }
  e.RecordRtt("d", absl::Milliseconds(4));
  const BandwidthSummary s = e.Summarize();
  EXPECT_EQ(s.peers, 4u);
  EXPECT_NEAR(s.egress_bytes_per_second, 50e6, 1e3);
  EXPECT_NEAR(s.ingress_bytes_per_second, 100e6, 1e3);
  EXPECT_NEAR(absl::ToDoubleMilliseconds(s.median_rtt), 2.5, 1e-6);
  e.Forget("d");
  EXPECT_EQ(e.Summarize().peers, 3u);
  EXPECT_EQ(e.Peers(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(EstimatorTest, ConcurrentObserversAreSafe) {
  BandwidthEstimator e = Make();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&e, t] {
      for (int i = 0; i < 2000; ++i) {
        e.OnTransfer(t % 2 == 0 ? "a" : "b", TransferDirection::kSend, 1 * kMiB,
                     absl::Milliseconds(10));
        (void)e.PredictTransferTime("a", 1 * kMiB, TransferDirection::kSend);
        (void)e.Summarize();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(e.Estimate("a")->send_bytes_per_second.samples, 4000u);
  EXPECT_NEAR(e.Estimate("b")->send_bytes_per_second.mean, kMiB / 0.010, 1);
}

}  // namespace
}  // namespace tessera::p2p
