// BandwidthSummary: what a node publishes about its own links in its membership record
// (docs/design/bandwidth.md "What is gossiped"). Pairwise estimates stay local to the measuring
// node (BandwidthEstimator); only this per-node summary travels, so gossip cost does not grow
// with the number of pairs.
//
// Plain value type, no dependencies beyond absl time; thread-compatible.
#pragma once

#include <cstdint>

#include "absl/time/time.h"

namespace tessera::p2p {

struct BandwidthSummary {
  // Median, over the peers this node has measured, of its estimated throughput when sending to
  // (egress) and receiving from (ingress) them, in bytes per second; 0 = not measured.
  double egress_bytes_per_second = 0;
  double ingress_bytes_per_second = 0;
  // Median over measured peers of the estimated round-trip (small-call) time; zero = unknown.
  absl::Duration median_rtt = absl::ZeroDuration();
  // Peers that contributed (any estimate).
  uint32_t peers = 0;

  // True when nothing was measured (such a summary is not published).
  bool empty() const { return peers == 0; }
};

}  // namespace tessera::p2p
