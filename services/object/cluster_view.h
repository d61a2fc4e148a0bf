// ClusterView: the storage nodes the gateway may place slices on and read them from, as an
// immutable snapshot.
//
// The membership layer (p2p/membership, gossip) will provide the production implementation; until
// it lands, StaticClusterView serves tests and the first local cluster. Every request reads one
// snapshot (Snapshot()) and uses it throughout, so a concurrent membership change never shows a
// request two different node sets.
//
// Thread-safety: ClusterView implementations are thread-safe; a snapshot is immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "p2p/placement/placement.h"

namespace tessera::services {

struct StorageNode {
  std::string id;       // node id (as in SliceRef.node_id)
  std::string address;  // gRPC host:port of its SliceService
  std::string site;     // failure domain for placement
  std::string isp;
  std::string zone;
  uint64_t free_bytes = 0;
  bool alive = true;      // false: suspected down; never placed on, still tried for reads
  bool draining = false;  // true: being emptied; read from, never placed on
  // What the node's slice store may hold in all (its data dirs' file systems, capped by
  // --capacity_bytes), as the node reports it through membership. For status, not placement.
  uint64_t capacity_bytes = 0;
  // The node's published bandwidth summary (docs/design/bandwidth.md); 0 = none. For status.
  uint64_t egress_bytes_per_second = 0;
  uint64_t ingress_bytes_per_second = 0;
  uint32_t median_rtt_micros = 0;
};

class ClusterSnapshot {
 public:
  explicit ClusterSnapshot(std::vector<StorageNode> nodes);

  const std::vector<StorageNode>& nodes() const { return nodes_; }
  // The node with `id`, or nullptr.
  const StorageNode* Find(const std::string& id) const;
  // Placement candidates for every node, with `suspects` (ids) treated as not alive.
  std::vector<p2p::PlacementCandidate> Candidates(
      const std::vector<std::string>& suspects = {}) const;

 private:
  std::vector<StorageNode> nodes_;
};

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // The current snapshot. Never null. The view may drop it at any time: keep the returned pointer
  // while using what it holds (never `for (auto& n : view->Snapshot()->nodes())`, whose
  // temporary pointer dies before the loop runs).
  virtual std::shared_ptr<const ClusterSnapshot> Snapshot() const = 0;
};

// A ClusterView over a fixed list that tests may replace (Update) at any time.
class StaticClusterView final : public ClusterView {
 public:
  explicit StaticClusterView(std::vector<StorageNode> nodes);

  std::shared_ptr<const ClusterSnapshot> Snapshot() const override;
  // Atomically replaces the node list; requests already running keep their snapshot.
  void Update(std::vector<StorageNode> nodes);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ClusterSnapshot> snapshot_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
