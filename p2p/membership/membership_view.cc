#include "p2p/membership/membership_view.h"

#include <algorithm>
#include <utility>

namespace tessera::p2p {

const char* MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kAlive:
      return "alive";
    case MemberState::kDraining:
      return "draining";
    case MemberState::kLeft:
      return "left";
  }
  return "unknown";
}

const char* MemberLivenessName(MemberLiveness liveness) {
  switch (liveness) {
    case MemberLiveness::kAlive:
      return "alive";
    case MemberLiveness::kSuspect:
      return "suspect";
    case MemberLiveness::kDead:
      return "dead";
  }
  return "unknown";
}

MembershipView::MembershipView(uint64_t generation, std::vector<MemberInfo> members)
    : generation_(generation), members_(std::move(members)) {
  std::sort(members_.begin(), members_.end(),
            [](const MemberInfo& a, const MemberInfo& b) { return a.node_id < b.node_id; });
}

const MemberInfo* MembershipView::Find(const std::string& node_id) const {
  auto it =
      std::lower_bound(members_.begin(), members_.end(), node_id,
                       [](const MemberInfo& m, const std::string& id) { return m.node_id < id; });
  if (it == members_.end() || it->node_id != node_id) return nullptr;
  return &*it;
}

std::vector<std::string> MembershipView::IdsWithLiveness(MemberLiveness liveness) const {
  std::vector<std::string> ids;
  for (const MemberInfo& m : members_) {
    if (m.liveness == liveness) ids.push_back(m.node_id);
  }
  return ids;
}

}  // namespace tessera::p2p
