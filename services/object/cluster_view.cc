#include "services/object/cluster_view.h"

#include <algorithm>
#include <utility>

namespace tessera::services {

ClusterSnapshot::ClusterSnapshot(std::vector<StorageNode> nodes) : nodes_(std::move(nodes)) {}

const StorageNode* ClusterSnapshot::Find(const std::string& id) const {
  for (const StorageNode& node : nodes_) {
    if (node.id == id) return &node;
  }
  return nullptr;
}

std::vector<p2p::PlacementCandidate> ClusterSnapshot::Candidates(
    const std::vector<std::string>& suspects) const {
  std::vector<p2p::PlacementCandidate> out;
  out.reserve(nodes_.size());
  for (const StorageNode& node : nodes_) {
    p2p::PlacementCandidate c;
    c.node_id = node.id;
    c.site = node.site;
    c.free_bytes = node.free_bytes;
    c.alive = node.alive && std::find(suspects.begin(), suspects.end(), node.id) == suspects.end();
    c.draining = node.draining;
    out.push_back(std::move(c));
  }
  return out;
}

StaticClusterView::StaticClusterView(std::vector<StorageNode> nodes)
    : snapshot_(std::make_shared<const ClusterSnapshot>(std::move(nodes))) {}

std::shared_ptr<const ClusterSnapshot> StaticClusterView::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

void StaticClusterView::Update(std::vector<StorageNode> nodes) {
  auto next = std::make_shared<const ClusterSnapshot>(std::move(nodes));
  absl::MutexLock lock(&mu_);
  snapshot_ = std::move(next);
}

}  // namespace tessera::services
