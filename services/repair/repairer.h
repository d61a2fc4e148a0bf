// Repairer: one repair pass over the manifests -- find every stripe that is not at k+m healthy
// slices, order them by risk, repair them within the budget (docs/design/repair.md).
//
// A pass (RunOnce):
//   1. Nodes: the cluster snapshot; a DownTracker (kept across passes) turns "not alive" into
//      "lost" once it has lasted `dead_grace`; every alive node is asked for the slices it knows
//      are damaged (ListSlices only_damaged: found by its scrubber or by reads).
//   2. Detection: every version of every bucket the caller's filter admits (the lease,
//      repair_lease.h) and of the internal multipart-uploads bucket (parts of uploads still in
//      progress), noncurrent versions included, is assessed stripe by stripe (stripe_health.h):
//      slices not stored (a write acknowledged with fewer than k+m), on lost nodes, damaged, or on
//      draining nodes.
//   2b. Rebalance (rebalance.h): while the nodes' used fractions are spread wider than
//      `rebalance.threshold`, a healthy stripe with a slice on a node over the mean queues the
//      move of that slice to a node under it, within the node's excess and the pass's bytes.
//   3. Queue: stripes needing repair, most urgent first: fewest spare slices (a stripe at
//      exactly k first of all), then stripes a write left degraded, then scan order. At most
//      `max_queued_stripes` per pass; the least urgent beyond that wait for the next pass.
//   4. Repair: `parallel_stripes` stripes at once (StripeRepairer), every transfer within the
//      RepairBudget.
// Cost of detection: one scan of the admitted buckets' manifests per pass (O(stripes), no
// reverse index yet) plus one damaged-slice listing per node (O(slices on the node), server
// side); docs/design/repair.md has the measured figures.
//
// Thread-safety: RunOnce may be called from one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "p2p/bandwidth/estimator.h"
#include "services/object/cluster_view.h"
#include "services/object/manifest_store.h"
#include "services/object/orphan_reclaimer.h"
#include "services/object/slice_client.h"
#include "services/object/work_pool.h"
#include "services/repair/rebalance.h"
#include "services/repair/repair_budget.h"
#include "services/repair/repair_metrics.h"
#include "services/repair/stripe_health.h"
#include "services/repair/stripe_repairer.h"

namespace tessera::services {

struct RepairerOptions {
  // How long a node must be not alive before its slices are rebuilt elsewhere (a restart or a
  // short partition should not move data). Default 10 minutes. Stripes with no spare slice left
  // do not wait.
  absl::Duration dead_grace = absl::Minutes(10);
  // Keys per ManifestStore::ScanVersions call. Default 1000.
  int scan_batch = 1000;
  // Stripes queued per pass at most. Default 100000.
  size_t max_queued_stripes = 100000;
  // Stripes repaired at once. Default 4.
  int parallel_stripes = 4;
  // Scanned even though ListBuckets does not return them (multipart upload records).
  std::vector<std::string> internal_buckets = {".tessera-multipart-uploads"};
  RepairBudgetOptions budget;
  // Evening out the nodes' used space after joins (rebalance.h); threshold 0 turns it off.
  RebalanceOptions rebalance;
  // Time source of the grace and the budget. Null = real.
  Clock* clock = nullptr;

  [[nodiscard]] absl::Status Validate() const;
};

struct RepairPassStats {
  int nodes_listed = 0;
  int node_list_failures = 0;
  int damaged_slices = 0;  // reported by nodes
  int buckets_scanned = 0;
  uint64_t versions_scanned = 0;
  uint64_t stripes_scanned = 0;
  // Stripes needing repair, by redundancy (healthy - k; below 0: unreadable now).
  std::map<int, uint64_t> degraded_by_redundancy;
  uint64_t stripes_queued = 0;
  uint64_t stripes_deferred = 0;  // beyond max_queued_stripes: next pass
  uint64_t stripes_repaired = 0;  // at least one new slice recorded
  uint64_t stripes_failed = 0;
  uint64_t stripes_unreadable = 0;  // fewer than k healthy slices now: not attempted
  uint64_t slices_rebuilt = 0;
  uint64_t slices_released = 0;  // copies deleted from draining nodes (or moved off by rebalance)
  uint64_t rebalance_moves = 0;  // slices queued to move off nodes over the mean used fraction
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  absl::Duration duration;
};

class Repairer {
 public:
  // Nothing is owned; all must outlive the repairer. `bandwidth` and `metrics` may be null.
  Repairer(RepairerOptions options, ClusterView* cluster, ManifestStore* store, SliceClient* slices,
           SliceLister* lister, WorkPool* pool,
           std::shared_ptr<const p2p::BandwidthEstimator> bandwidth, RepairMetrics* metrics);

  // One pass. `admit(bucket)` says whether this repairer may work on a bucket now (null: all).
  // Errors only when the bucket list cannot be read; failures of single buckets or stripes are
  // counted and logged, and retried next pass.
  [[nodiscard]] absl::StatusOr<RepairPassStats> RunOnce(
      const std::function<bool(const std::string& bucket)>& admit = nullptr);
  // Makes the pass in progress (and every later one) stop at the next bucket or stripe; the
  // stripes left are counted as deferred. Thread-safe.
  void Cancel() { cancelled_.store(true); }

 private:
  std::set<DamagedSlice> ListDamaged(const ClusterSnapshot& snapshot, RepairPassStats& stats);
  // Scans one bucket into `queue`: repairs, and rebalance moves `plan` allows for healthy
  // stripes.
  absl::Status ScanBucket(const std::string& bucket, const NodeConditions& nodes,
                          RebalancePlan& plan,
                          std::multimap<std::tuple<int, int, uint64_t>, StripeRepairTask>& queue,
                          RepairPassStats& stats);
  // A healthy stripe with a slice on a rebalance source that some target can take within the
  // site cap: the move of that slice (nullopt if none).
  static std::optional<StripeRepairTask> RebalanceMove(const v1::StripeRecord& stripe, int m,
                                                       const NodeConditions& nodes,
                                                       RebalancePlan& plan);
  void RepairQueued(std::multimap<std::tuple<int, int, uint64_t>, StripeRepairTask>& queue,
                    const NodeConditions& nodes, RepairPassStats& stats);

  const RepairerOptions options_;
  Clock* const clock_;
  ClusterView* const cluster_;
  ManifestStore* const store_;
  SliceLister* const lister_;
  RepairMetrics* const metrics_;
  RepairBudget budget_;
  StripeRepairer stripes_;
  DownTracker down_;
  uint64_t sequence_ = 0;  // scan order, the last tie-break of the queue
  std::atomic<bool> cancelled_{false};
};

}  // namespace tessera::services
