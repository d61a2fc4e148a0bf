// BandwidthReporter: a node's side of bandwidth measurement (docs/design/bandwidth.md).
//
// Every `interval` it (1) probes a few cold peers -- alive members whose RTT estimate has
// confidence below `min_confidence`, at most `max_probes_per_round` per round, so probing costs
// at most that many small RPCs per interval however large the cluster -- recording each
// successful probe's duration as an RTT sample; and (2) publishes this node's summary
// (BandwidthEstimator::Summarize) in its membership record when it changed materially (a rate or
// the RTT by more than `republish_change`, or the peer count), so record churn stays low.
//
// Pairwise estimates stay in the estimator (local); only the summary is gossiped. The estimator
// is shared: the node's future repair/hand-off slice clients report to it too.
//
// BandwidthMetricsText renders every member's published summary as Prometheus gauges (one
// series per node, so the exposition grows with the cluster, never with pairs).
//
// Thread-safety: Start/Stop from one owner thread; the loop runs on its own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "p2p/bandwidth/estimator.h"
#include "p2p/bandwidth/summary.h"
#include "p2p/membership/membership_view.h"

namespace tessera::services {

struct BandwidthReporterOptions {
  // Round period. Default 10 s.
  absl::Duration interval = absl::Seconds(10);
  // Cold peers probed per round at most. Default 2.
  int max_probes_per_round = 2;
  // A peer whose RTT confidence is below this is cold. Default 0.5.
  double min_confidence = 0.5;
  // Relative change of a published figure that triggers a new record. Default 0.2 (20 %).
  double republish_change = 0.2;

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

struct BandwidthReporterDeps {
  std::shared_ptr<p2p::BandwidthEstimator> estimator;
  // The current membership view (may return null: nothing to probe).
  std::function<std::shared_ptr<const p2p::MembershipView>()> view;
  // A small timed RPC to the member (node id, gRPC address); OK if it answered.
  std::function<absl::Status(const std::string& node_id, const std::string& address)> probe;
  // Puts the summary in this node's membership record.
  std::function<void(const p2p::BandwidthSummary&)> publish;
};

class BandwidthReporter {
 public:
  BandwidthReporter(BandwidthReporterOptions options, BandwidthReporterDeps deps);
  ~BandwidthReporter();  // Stop()

  void Start();
  // Idempotent; returns once the loop thread has exited.
  void Stop();
  // One round (probe, then publish if changed), on the caller's thread. For tests.
  void RunOnce();

 private:
  bool Changed(const p2p::BandwidthSummary& now) const;

  const BandwidthReporterOptions options_;
  const BandwidthReporterDeps deps_;
  std::thread thread_;
  absl::Notification stop_;
  p2p::BandwidthSummary published_;  // loop thread only
};

// Gauges tessera_member_bandwidth_{egress,ingress}_bytes_per_second and
// tessera_member_median_rtt_seconds, label node="<node id>", for members that published one.
std::string BandwidthMetricsText(const p2p::MembershipView& view);

}  // namespace tessera::services
