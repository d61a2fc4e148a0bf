// RebalancePlan: which nodes repair may move slices off, and onto, so that the nodes' used
// fractions even out after nodes join (issue 10 "Drain and rebalance"; docs/design/repair.md
// "Rebalancing").
//
// Used fraction of a node = 1 - free / capacity, as it publishes them through membership (nodes
// without a capacity are left out). When the spread (largest - smallest used fraction over the
// writable nodes) exceeds `threshold`, the nodes above the mean (capacity-weighted: the fraction
// every node would be at with the bytes spread evenly) are sources, each for its excess
// ((used - mean) x capacity bytes, times this repairer's share), and the nodes more than a
// quarter of the threshold below it are targets (nodes near the mean never swap slices). A pass
// claims moves against those excesses and against `max_bytes_per_pass`; the moves themselves are
// ordinary repair transfers (copy, compare-and-set, delete the old copy), queued after every real
// repair and paced by the same RepairBudget. Published free space catches up as slices move, so
// later passes plan from fresh figures and the moves stop once the spread is within the threshold.
//
// Thread-safety: thread-compatible (one pass owns a plan).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "services/object/cluster_view.h"

namespace tessera::services {

struct RebalanceOptions {
  // Spread of used fractions (0..1) above which moves are planned; 0 turns rebalancing off.
  // Default 0.10 (ten percentage points).
  double threshold = 0.10;
  // Bytes of slices one pass may plan to move. Default 4 GiB.
  uint64_t max_bytes_per_pass = 4ull << 30;
  // This repairer's share of the work (1 / the repairers leasing buckets): the excesses and the
  // pass budget are scaled by it, so that all repairers together move about the excess. (0, 1].
  double share = 1.0;
};

class RebalancePlan {
 public:
  // Inactive when off, when fewer than two writable nodes publish a capacity, or when the spread
  // is within the threshold.
  static RebalancePlan Make(const ClusterSnapshot& snapshot, const RebalanceOptions& options);

  bool active() const { return !sources_.empty() && !targets_.empty(); }
  // Claims moving one slice of `bytes` off `node_id`: true (and counted) while the node is a
  // source with excess left and the pass budget allows.
  bool Claim(const std::string& node_id, uint64_t bytes);
  // Nodes below the mean: where moved slices may go.
  const std::set<std::string>& targets() const { return targets_; }
  bool IsSource(const std::string& node_id) const { return sources_.contains(node_id); }
  double spread() const { return spread_; }
  uint64_t claimed_bytes() const { return claimed_; }

 private:
  std::map<std::string, uint64_t> sources_;  // node id -> excess bytes left
  std::set<std::string> targets_;
  uint64_t budget_ = 0;
  uint64_t claimed_ = 0;
  double spread_ = 0;
};

}  // namespace tessera::services
