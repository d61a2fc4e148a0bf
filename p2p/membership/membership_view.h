// MembershipView: an immutable snapshot of the overlay as one node sees it.
//
// Services hold a std::shared_ptr<const MembershipView> from MembershipService::view() for the
// duration of one request; the service swaps in a new snapshot whenever anything changes.
// Thread-safety: immutable after construction, so every method is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "p2p/bandwidth/summary.h"

namespace tessera::p2p {

// What the member says of itself (signed by it).
enum class MemberState { kAlive, kDraining, kLeft };
// What this node's failure detector concluded.
enum class MemberLiveness { kAlive, kSuspect, kDead };

const char* MemberStateName(MemberState state);
const char* MemberLivenessName(MemberLiveness liveness);

struct MemberLocation {
  std::string site;
  std::string isp;
  std::string zone;
  std::string host;
};

struct MemberInfo {
  std::string node_id;     // 32 hex characters, derived from public_key
  std::string public_key;  // raw 32-byte Ed25519 key
  std::string gossip_address;
  std::string grpc_address;
  MemberLocation location;
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
  MemberState state = MemberState::kAlive;
  MemberLiveness liveness = MemberLiveness::kAlive;
  uint64_t incarnation = 0;
  bool is_self = false;
  // The member's own measured-bandwidth summary (docs/design/bandwidth.md); empty() if none.
  BandwidthSummary bandwidth;

  // Alive by the failure detector and not leaving: may receive new data.
  bool IsUsable() const {
    return liveness == MemberLiveness::kAlive && state == MemberState::kAlive;
  }
};

class MembershipView {
 public:
  MembershipView(uint64_t generation, std::vector<MemberInfo> members);

  // Increases with every change the owning protocol makes; equal generations, equal contents.
  uint64_t generation() const { return generation_; }
  // Every known member including this node, sorted by node_id.
  const std::vector<MemberInfo>& members() const { return members_; }
  // The member with `node_id`, or nullptr.
  const MemberInfo* Find(const std::string& node_id) const;
  // Sorted ids of the members whose liveness is `liveness`.
  std::vector<std::string> IdsWithLiveness(MemberLiveness liveness) const;

 private:
  uint64_t generation_;
  std::vector<MemberInfo> members_;
};

}  // namespace tessera::p2p
