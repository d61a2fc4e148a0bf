// StripeRepairer: brings one stripe back to k+m healthy slices, without any key.
//
// Slices are ciphertext and every slice's SHA-256 is in the manifest, so repair needs neither the
// master key nor the data key (the repairer never loads them):
//   1. A slice on a draining node (moving) is copied from that node, checked against its hash.
//   2. Every other slice wanted (and a moving one whose copy failed) is rebuilt: k verified
//      sources, the healthy slices cheapest first by predicted transfer time (the per-peer
//      bandwidth estimates, docs/design/bandwidth.md), read in parallel, a read that fails or
//      returns bytes whose hash is not the manifest's replaced by the next source; ISA-L rebuilds
//      exactly those slices, each checked against its manifest hash (StripeCodec::Rebuild).
//   3. Targets: a slice reported damaged by a node that is up is rewritten in place (a Put
//      replaces a corrupt slice); every other goes to a node chosen by the placement rules
//      (p2p::PlaceReplacement: alive, not draining, not already holding a slice of the stripe,
//      site cap kept), drawn by free space times measured speed (SpeedsFromEstimates): a node
//      measured slower receives proportionally fewer rebuilt slices. A failed put is re-placed
//      on another node, up to 3 targets per slice.
//   4. The manifest entry is updated by compare-and-set: a slice's new node is recorded only if
//      the entry still names the node the repair started from, so a concurrent overwrite, delete
//      or other repair is never undone. A slice the manifest no longer wants (the object was
//      deleted or overwritten meanwhile, or another repairer won) is left in place: the orphan
//      reclaimer removes it after its grace (deleting it here could remove a winner's identical
//      copy at the same node and id). Once a move off a draining node is recorded, the old copy
//      there is deleted, so a drained node ends empty.
// Every transfer is charged to the RepairBudget (per-node and per-repairer rates, per-node
// concurrency).
//
// Thread-safety: thread-safe; Repair may run concurrently for different stripes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "api/manifest.pb.h"
#include "p2p/bandwidth/estimator.h"
#include "p2p/placement/placement.h"
#include "services/object/manifest_store.h"
#include "services/object/slice_client.h"
#include "services/object/work_pool.h"
#include "services/repair/repair_budget.h"
#include "services/repair/stripe_health.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {

// One stripe to repair, as a repair pass found it.
struct StripeRepairTask {
  // The manifest entry (ManifestStore::CompareAndSet key) and the stripe's place in it.
  std::string bucket;
  std::string key;
  std::string version_id;
  std::string data_version_id;  // what the slice ids are made from (DataVersionId)
  v1::CodingParams coding;
  uint32_t part = 0;
  v1::StripeRecord stripe;  // as read by the pass
  StripeAssessment assessment;
  // Non-empty: new slices go only to these nodes (a rebalance move: nodes under the mean use).
  std::set<std::string> targets;

  int k() const { return static_cast<int>(coding.data_shards()); }
  // Bytes the repair moves: k slices in, one out per slice rebuilt.
  uint64_t TransferBytes() const {
    return stripe.slice_size() *
           (coding.data_shards() + assessment.lost.size() + assessment.moving.size());
  }
};

struct StripeRepairOutcome {
  int slices_stored = 0;    // rebuilt slices put on a node
  int slices_recorded = 0;  // of those, now what the manifest names (or rewritten in place)
  int slices_released = 0;  // old copies deleted from draining nodes after the move was recorded
  uint64_t bytes_read = 0;  // from sources
  uint64_t bytes_written = 0;
};

// Sets each candidate's `speed` to (fastest predicted time to move `bytes`) / (its predicted
// time), from the estimates whose confidence is at least `min_confidence` (puts to the node, or
// else reads from it); candidates without such an estimate (cold peers) keep speed 1, as
// placement without measurements would.
// `address_of(node_id)` gives the address the estimates are keyed by ("" = unknown).
void SpeedsFromEstimates(const p2p::BandwidthEstimator& bandwidth, uint64_t bytes,
                         double min_confidence,
                         const std::function<std::string(const std::string&)>& address_of,
                         std::vector<p2p::PlacementCandidate>* candidates);

class StripeRepairer {
 public:
  // Nothing is owned; all must outlive the repairer. `bandwidth` may be null (sources in manifest
  // order). `pool` runs the slice RPCs.
  StripeRepairer(SliceClient* slices, WorkPool* pool, ManifestStore* store,
                 std::shared_ptr<const p2p::BandwidthEstimator> bandwidth, RepairBudget* budget);

  // Repairs `task` against `nodes`. OK with what was stored and recorded (a partial repair, e.g.
  // no target left for one slice, is OK with fewer recorded than wanted). Errors: DATA_LOSS
  // when fewer than k sources are good; ABORTED when the entry changed so that nothing could be
  // recorded (deleted, overwritten, or repaired by someone else); FAILED_PRECONDITION when no
  // slice found a target; INVALID_ARGUMENT for a manifest this repairer cannot code; the
  // store's errors (UNAVAILABLE, IsOutcomeUnknown: the new slices stay for the reclaimer).
  [[nodiscard]] absl::StatusOr<StripeRepairOutcome> Repair(const StripeRepairTask& task,
                                                           const NodeConditions& nodes);

 private:
  absl::StatusOr<const storage::StripeCodec*> CodecFor(const v1::CodingParams& coding);

  SliceClient* const slices_;
  WorkPool* const pool_;
  ManifestStore* const store_;
  const std::shared_ptr<const p2p::BandwidthEstimator> bandwidth_;
  RepairBudget* const budget_;
  absl::Mutex codecs_mu_;
  std::map<std::tuple<uint32_t, uint32_t, uint32_t>, std::unique_ptr<storage::StripeCodec>> codecs_
      ABSL_GUARDED_BY(codecs_mu_);
};

}  // namespace tessera::services
