#include "services/repair/rebalance.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tessera::services {

RebalancePlan RebalancePlan::Make(const ClusterSnapshot& snapshot,
                                  const RebalanceOptions& options) {
  RebalancePlan plan;
  if (!(options.threshold > 0)) return plan;
  struct Use {
    const StorageNode* node;
    double used;
  };
  std::vector<Use> uses;
  for (const StorageNode& n : snapshot.nodes()) {
    if (!n.alive || n.draining || n.capacity_bytes == 0) continue;
    const double free = static_cast<double>(std::min(n.free_bytes, n.capacity_bytes));
    uses.push_back({&n, 1.0 - free / static_cast<double>(n.capacity_bytes)});
  }
  if (uses.size() < 2) return plan;
  // The capacity-weighted mean: what every node would be at if the bytes were spread evenly, so
  // the sources' excesses add up to the targets' room.
  double used_bytes = 0, capacity = 0, lo = 1, hi = 0;
  for (const Use& u : uses) {
    used_bytes += u.used * static_cast<double>(u.node->capacity_bytes);
    capacity += static_cast<double>(u.node->capacity_bytes);
    lo = std::min(lo, u.used);
    hi = std::max(hi, u.used);
  }
  plan.spread_ = hi - lo;
  if (plan.spread_ <= options.threshold) return plan;
  const double mean = used_bytes / capacity;
  const double share = std::clamp(options.share, 1e-6, 1.0);
  for (const Use& u : uses) {
    if (u.used > mean) {
      plan.sources_[u.node->id] = static_cast<uint64_t>(
          std::llround((u.used - mean) * static_cast<double>(u.node->capacity_bytes) * share));
    } else if (u.used < mean - options.threshold / 4) {
      plan.targets_.insert(u.node->id);
    }
  }
  plan.budget_ = static_cast<uint64_t>(static_cast<double>(options.max_bytes_per_pass) * share);
  return plan;
}

bool RebalancePlan::Claim(const std::string& node_id, uint64_t bytes) {
  auto it = sources_.find(node_id);
  if (it == sources_.end() || it->second < bytes || claimed_ + bytes > budget_) return false;
  it->second -= bytes;
  claimed_ += bytes;
  return true;
}

}  // namespace tessera::services
