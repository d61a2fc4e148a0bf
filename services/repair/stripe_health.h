// Stripe health: which slices of a stripe are lost, which must move, and how much redundancy it
// has left, judged against what the repairer knows of the nodes in one pass.
//
// A slice is
//   healthy   on an alive node (draining included) that has not reported it damaged;
//   down      on a node that is not alive but has been so for less than the dead-node grace (it
//             may come back: a restart or a short partition must not trigger a rebuild);
//   lost      not stored (empty node id: the write was acknowledged with fewer than k+m), on a
//             node not alive for at least the grace or no longer known to membership, or
//             reported damaged (corrupt or missing) by its node;
//   moving    healthy, on a draining node: it must be copied elsewhere before the node leaves.
// Redundancy = healthy - k: spare slices before the stripe becomes unreadable. A stripe with no
// spare left (redundancy <= 0) does not wait for the grace: its down slices are rebuilt at once.
//
// Thread-safety: DownTracker is thread-compatible (the repair pass owns it); NodeConditions and
// AssessStripe are immutable / pure.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "api/manifest.pb.h"
#include "api/node.pb.h"
#include "services/object/cluster_view.h"

namespace tessera::services {

// Remembers since when each node has been seen not alive (across passes).
class DownTracker {
 public:
  // Records the nodes of `snapshot` as seen at `now`: an alive node is forgotten, a node not
  // alive keeps the time it was first seen so.
  void Observe(const ClusterSnapshot& snapshot, absl::Time now);
  // Since when `node_id` has been seen not alive; InfiniteFuture when alive or never seen down.
  absl::Time DownSince(const std::string& node_id) const;

 private:
  std::map<std::string, absl::Time> down_since_;
};

enum class NodeCondition {
  kUp,        // alive, not draining
  kDraining,  // alive, being emptied: readable, never a target
  kDown,      // not alive, for less than the grace
  kLost,      // not alive for at least the grace, or unknown to membership
};

// A slice a node reported damaged (ListSlices only_damaged).
struct DamagedSlice {
  std::string node_id;
  std::string version_id;
  uint32_t part = 0, stripe = 0, index = 0;
  auto operator<=>(const DamagedSlice&) const = default;
};

// What one repair pass knows of the nodes. Immutable.
class NodeConditions {
 public:
  NodeConditions(std::shared_ptr<const ClusterSnapshot> snapshot, const DownTracker& tracker,
                 absl::Time now, absl::Duration dead_grace, std::set<DamagedSlice> damaged);

  NodeCondition Of(const std::string& node_id) const;
  bool IsDamaged(const std::string& node_id, const std::string& version_id, uint32_t part,
                 uint32_t stripe, uint32_t index) const;
  const ClusterSnapshot& snapshot() const { return *snapshot_; }
  const std::shared_ptr<const ClusterSnapshot>& shared_snapshot() const { return snapshot_; }

 private:
  std::shared_ptr<const ClusterSnapshot> snapshot_;
  std::map<std::string, NodeCondition> conditions_;
  std::set<DamagedSlice> damaged_;
};

struct StripeAssessment {
  int healthy = 0;           // readable slices (moving ones included)
  std::vector<int> lost;     // slice indexes to rebuild
  std::vector<int> down;     // on nodes down within the grace (rebuilt only with no spare left)
  std::vector<int> moving;   // healthy, on draining nodes: to copy elsewhere
  std::vector<int> damaged;  // subset of `lost`: reported damaged by a node that is up

  // healthy - k: spare slices left (negative: the stripe cannot be read now).
  int Redundancy(int k) const { return healthy - k; }
  bool NeedsRepair() const { return !lost.empty() || !moving.empty(); }
};

// Judges one stripe (slice refs in index order) of the version whose data was written under
// `data_version_id`, part `part`. With no spare left, down slices join `lost`.
StripeAssessment AssessStripe(const v1::StripeRecord& stripe, int k,
                              const std::string& data_version_id, uint32_t part,
                              const NodeConditions& nodes);

}  // namespace tessera::services
