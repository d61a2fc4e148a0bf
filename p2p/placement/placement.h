// Placement: chooses which storage nodes hold the k+m slices of a stripe.
//
// Rules, in order of precedence:
//  1. Only alive, non-draining nodes with room for a slice are candidates; each node holds at
//     most one slice of a stripe.
//  2. Site diversity: no site holds more than m slices of a stripe whenever the candidates allow
//     it, so losing any one whole site leaves at least k slices of every stripe. When they do not
//     allow it (too few sites or too few nodes per site), slices are spread as evenly as
//     possible: the per-site cap is the smallest one under which k+m slices still fit.
//  3. Within those limits nodes are chosen at random, weighted by free capacity times relative
//     speed, so fuller nodes fill more slowly and slower ones (when the caller measured speeds)
//     receive proportionally less (Efraimidis-Spirakis weighted sampling without replacement).
// The randomness is seeded by the caller (for example from the stripe's id), so a placement is
// reproducible in tests and when a gateway retries.
//
// Thread-safety: the free functions are pure; PlacementPolicy is immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tessera::p2p {

struct PlacementCandidate {
  std::string node_id;
  std::string site;  // failure domain that rule 2 spreads across
  uint64_t free_bytes = 0;
  bool alive = true;
  bool draining = false;
  // Relative transfer speed towards this node, in (0, 1] (1 = as fast as the fastest candidate;
  // values outside are clamped to [0.001, 1]). Multiplies the sampling weight. Writers leave it
  // at 1 (placement follows capacity); repair sets it from measured bandwidth, so a slow node
  // gets proportionally less repair work.
  double speed = 1.0;
};

struct PlacementRequest {
  int k = 4;  // data slices
  int m = 2;  // parity slices
  // Bytes each slice needs; nodes with less free space are skipped.
  uint64_t slice_bytes = 0;
  // Seed for the weighted sampling: the same seed over the same candidates gives the same answer.
  uint64_t seed = 0;
};

// The largest number of a stripe's slices any one site may hold for `request` over `candidates`:
// m when the eligible nodes allow it, otherwise the smallest cap under which k+m slices fit.
// FAILED_PRECONDITION when fewer than k+m eligible nodes exist at all.
[[nodiscard]] absl::StatusOr<int> SiteCap(const std::vector<PlacementCandidate>& candidates,
                                          const PlacementRequest& request);

// Chooses k+m distinct nodes; result[i] holds slice i. FAILED_PRECONDITION (with counts in the
// message) when there are not enough eligible nodes; INVALID_ARGUMENT for k < 1 or m < 0.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> PlaceStripe(
    const std::vector<PlacementCandidate>& candidates, const PlacementRequest& request);

// Chooses a node for slice `slice_index` of an existing placement whose node failed or is being
// drained: never a node already holding a slice of this stripe nor one in `excluded`, and never
// one that would push its site past SiteCap(). FAILED_PRECONDITION when no node qualifies (the
// caller then records the stripe as degraded).
[[nodiscard]] absl::StatusOr<std::string> PlaceReplacement(
    const std::vector<PlacementCandidate>& candidates, const PlacementRequest& request,
    const std::vector<std::string>& current, int slice_index,
    const std::vector<std::string>& excluded);

}  // namespace tessera::p2p
