#include "services/repair/stripe_health.h"

#include <utility>

namespace tessera::services {

void DownTracker::Observe(const ClusterSnapshot& snapshot, absl::Time now) {
  for (const StorageNode& node : snapshot.nodes()) {
    if (node.alive) {
      down_since_.erase(node.id);
    } else {
      down_since_.emplace(node.id, now);  // keeps an earlier time
    }
  }
  // Nodes membership forgot are judged lost by NodeConditions; their entries are dropped.
  for (auto it = down_since_.begin(); it != down_since_.end();) {
    it = snapshot.Find(it->first) == nullptr ? down_since_.erase(it) : std::next(it);
  }
}

absl::Time DownTracker::DownSince(const std::string& node_id) const {
  auto it = down_since_.find(node_id);
  return it == down_since_.end() ? absl::InfiniteFuture() : it->second;
}

NodeConditions::NodeConditions(std::shared_ptr<const ClusterSnapshot> snapshot,
                               const DownTracker& tracker, absl::Time now,
                               absl::Duration dead_grace, std::set<DamagedSlice> damaged)
    : snapshot_(std::move(snapshot)), damaged_(std::move(damaged)) {
  for (const StorageNode& node : snapshot_->nodes()) {
    NodeCondition c = NodeCondition::kUp;
    if (!node.alive) {
      c = now - tracker.DownSince(node.id) >= dead_grace ? NodeCondition::kLost
                                                         : NodeCondition::kDown;
    } else if (node.draining) {
      c = NodeCondition::kDraining;
    }
    conditions_[node.id] = c;
  }
}

NodeCondition NodeConditions::Of(const std::string& node_id) const {
  auto it = conditions_.find(node_id);
  return it == conditions_.end() ? NodeCondition::kLost : it->second;
}

bool NodeConditions::IsDamaged(const std::string& node_id, const std::string& version_id,
                               uint32_t part, uint32_t stripe, uint32_t index) const {
  return damaged_.contains(DamagedSlice{node_id, version_id, part, stripe, index});
}

StripeAssessment AssessStripe(const v1::StripeRecord& stripe, int k,
                              const std::string& data_version_id, uint32_t part,
                              const NodeConditions& nodes) {
  StripeAssessment a;
  for (int i = 0; i < stripe.slices_size(); ++i) {
    const std::string& node = stripe.slices(i).node_id();
    if (node.empty()) {
      a.lost.push_back(i);
      continue;
    }
    switch (nodes.Of(node)) {
      case NodeCondition::kUp:
      case NodeCondition::kDraining:
        if (nodes.IsDamaged(node, data_version_id, part, stripe.index(), i)) {
          a.lost.push_back(i);
          a.damaged.push_back(i);
        } else {
          ++a.healthy;
          if (nodes.Of(node) == NodeCondition::kDraining) a.moving.push_back(i);
        }
        break;
      case NodeCondition::kDown:
        a.down.push_back(i);
        break;
      case NodeCondition::kLost:
        a.lost.push_back(i);
        break;
    }
  }
  if (a.Redundancy(k) <= 0 && !a.down.empty()) {
    // No spare left: waiting for a down node to return would risk the stripe on one more loss.
    a.lost.insert(a.lost.end(), a.down.begin(), a.down.end());
    std::sort(a.lost.begin(), a.lost.end());
    a.down.clear();
  }
  return a;
}

}  // namespace tessera::services
