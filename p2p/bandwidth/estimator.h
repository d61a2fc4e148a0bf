// BandwidthEstimator: per-peer estimates of throughput (bytes/s, each direction) and round-trip
// time, with their variance, from the transfers this process makes (docs/design/bandwidth.md).
//
// Model. A call moving N bytes to or from a peer takes  time = rtt + N / throughput.  Calls of at
// most `small_transfer_bytes` (RPCs, deletes, probes) are dominated by latency: their duration is
// an RTT sample and never a throughput sample, so a 4 KiB RPC does not read as a slow link. A
// larger call gives a throughput sample  N / (elapsed - rtt_estimate)  (the transfer part floored
// at a tenth of the call, so a noisy RTT estimate cannot inflate a rate by more than 10x).
//
// Estimator. Each quantity is a time-decayed mean and variance: a sample taken at t_i has weight
// 2^-((now - t_i) / half_life). Unlike a per-sample EWMA (alpha per update), the decay is in
// time: a link measured once an hour and one measured a thousand times a second forget at the
// same rate, and when traffic stops the total weight keeps falling, which is what drives the
// confidence down. The effective sample count (sum of weights) is exact, so "few samples" and
// "old samples" are the same notion.
//
// Confidence in [0,1]: W / (W + confidence_weight), W the effective weight now; for a prediction
// the RTT and throughput confidences are blended by their share of the predicted time.
//
// Peers are keyed by an opaque string the caller uses consistently (the slice client: the
// node's gRPC address). Memory: one small entry per peer ever seen, until Forget().
//
// Thread-safety: all methods are thread-safe (one mutex; every method is O(1) except Summarize
// and Peers, which are O(peers)).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "p2p/bandwidth/summary.h"

namespace tessera::p2p {

// Seen from the observing process: kSend = bytes went to the peer (a slice Put), kReceive =
// bytes came from it (a slice Get).
enum class TransferDirection { kSend, kReceive };

// The hook the data path calls after every completed slice call. Services depend on this
// interface (p2p), never the reverse. Implementations must be thread-safe and cheap (called on
// the data path).
class TransferObserver {
 public:
  virtual ~TransferObserver() = default;
  // A successful call to `peer` moved `bytes` payload bytes in `direction` in `elapsed` (from
  // the call's start to its last byte). Failed calls are not reported: their duration says
  // nothing about the link's rate.
  virtual void OnTransfer(const std::string& peer, TransferDirection direction, uint64_t bytes,
                          absl::Duration elapsed) = 0;
};

// A time-decayed estimate of one quantity.
struct DecayedEstimate {
  double mean = 0;
  double stddev = 0;
  // Effective number of samples now (sum of decayed weights); falls with age.
  double weight = 0;
  // Samples ever taken.
  uint64_t samples = 0;
  // Since the latest sample (InfiniteDuration when there is none).
  absl::Duration age = absl::InfiniteDuration();
  // In [0,1]; see the file comment.
  double confidence = 0;

  bool known() const { return samples > 0; }
};

struct PeerEstimate {
  DecayedEstimate rtt_seconds;
  DecayedEstimate send_bytes_per_second;
  DecayedEstimate receive_bytes_per_second;
};

struct TransferPrediction {
  // rtt + bytes / throughput, from the estimates or, where one is unknown, from the assumed
  // defaults (then that part has confidence 0).
  absl::Duration time = absl::ZeroDuration();
  double confidence = 0;
};

struct BandwidthEstimatorOptions {
  // Time for a sample's weight to halve. Default 2 minutes: a link that changed is believed
  // within a few transfers, and an idle peer's confidence halves every 2 minutes.
  absl::Duration half_life = absl::Minutes(2);
  // Calls moving at most this many bytes are RTT samples only. Default 64 KiB.
  uint64_t small_transfer_bytes = 64 << 10;
  // Effective weight at which confidence is 0.5. Default 3.
  double confidence_weight = 3;
  // Used in predictions for a peer (or direction) with no samples. Defaults: 1 ms, 100 MB/s.
  absl::Duration assumed_rtt = absl::Milliseconds(1);
  double assumed_bytes_per_second = 100e6;
  // Time source; null = Clock::Real().
  Clock* clock = nullptr;

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

class BandwidthEstimator final : public TransferObserver {
 public:
  // `options` must be valid (Validate()); invalid numbers are clamped to the defaults.
  explicit BandwidthEstimator(BandwidthEstimatorOptions options = {});

  void OnTransfer(const std::string& peer, TransferDirection direction, uint64_t bytes,
                  absl::Duration elapsed) override;
  // A round-trip measurement (a probe): an RTT sample only.
  void RecordRtt(const std::string& peer, absl::Duration rtt);

  // The peer's estimates now, or nullopt if it was never measured.
  std::optional<PeerEstimate> Estimate(const std::string& peer) const;
  // Predicted duration of a call moving `bytes` in `direction`; always answers (confidence 0
  // for an unknown peer).
  TransferPrediction PredictTransferTime(const std::string& peer, uint64_t bytes,
                                         TransferDirection direction) const;
  // Every measured peer, sorted.
  std::vector<std::string> Peers() const;
  // Peers among `candidates` whose RTT confidence is below `min_confidence` (cold or stale):
  // the ones worth a probe.
  std::vector<std::string> ColdPeers(const std::vector<std::string>& candidates,
                                     double min_confidence) const;
  // This node's per-node summary (medians over measured peers).
  BandwidthSummary Summarize() const;
  void Forget(const std::string& peer);

 private:
  // Decayed sums at time `at`: weight W, sum of w*x and of w*x^2.
  struct Stat {
    double w = 0, wx = 0, wxx = 0;
    uint64_t samples = 0;
    absl::Time at = absl::InfinitePast();
  };
  struct Peer {
    Stat rtt, send, receive;
  };

  double Decay(absl::Time from, absl::Time to) const;
  void Add(Stat& s, absl::Time now, double x) const;
  DecayedEstimate Read(const Stat& s, absl::Time now) const;

  const BandwidthEstimatorOptions options_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, Peer> peers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::p2p
