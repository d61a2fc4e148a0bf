// Conversion of a p2p membership view into the ClusterMembers RPC answer (api/node.proto).
#pragma once

#include "api/node.pb.h"
#include "p2p/membership/membership_view.h"

namespace tessera::services {

// Every member of `view` (sorted by node id, as the view is), with state, liveness, location,
// capacity and incarnation; self_node_id is the member marked is_self ("" if none).
v1::ClusterMembersResponse ToClusterMembersResponse(const p2p::MembershipView& view);

// Members in the view, and of those the ones alive by the failure detector.
void CountMembers(const p2p::MembershipView& view, uint32_t* known, uint32_t* alive);

}  // namespace tessera::services
