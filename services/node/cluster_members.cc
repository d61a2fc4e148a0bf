#include "services/node/cluster_members.h"

#include "p2p/bandwidth/summary_codec.h"

namespace tessera::services {
namespace {

v1::ClusterMember::State ToProto(p2p::MemberState state) {
  switch (state) {
    case p2p::MemberState::kAlive:
      return v1::ClusterMember::STATE_ALIVE;
    case p2p::MemberState::kDraining:
      return v1::ClusterMember::STATE_DRAINING;
    case p2p::MemberState::kLeft:
      return v1::ClusterMember::STATE_LEFT;
  }
  return v1::ClusterMember::STATE_UNSPECIFIED;
}

v1::ClusterMember::Liveness ToProto(p2p::MemberLiveness liveness) {
  switch (liveness) {
    case p2p::MemberLiveness::kAlive:
      return v1::ClusterMember::LIVENESS_ALIVE;
    case p2p::MemberLiveness::kSuspect:
      return v1::ClusterMember::LIVENESS_SUSPECT;
    case p2p::MemberLiveness::kDead:
      return v1::ClusterMember::LIVENESS_DEAD;
  }
  return v1::ClusterMember::LIVENESS_UNSPECIFIED;
}

}  // namespace

v1::ClusterMembersResponse ToClusterMembersResponse(const p2p::MembershipView& view) {
  v1::ClusterMembersResponse response;
  response.set_generation(view.generation());
  for (const p2p::MemberInfo& m : view.members()) {
    v1::ClusterMember* out = response.add_members();
    out->set_node_id(m.node_id);
    out->set_public_key(m.public_key);
    out->set_gossip_address(m.gossip_address);
    out->set_grpc_address(m.grpc_address);
    out->mutable_location()->set_site(m.location.site);
    out->mutable_location()->set_isp(m.location.isp);
    out->mutable_location()->set_zone(m.location.zone);
    out->mutable_location()->set_host(m.location.host);
    out->set_capacity_bytes(m.capacity_bytes);
    out->set_free_bytes(m.free_bytes);
    out->set_state(ToProto(m.state));
    out->set_liveness(ToProto(m.liveness));
    out->set_incarnation(m.incarnation);
    out->set_is_self(m.is_self);
    if (!m.bandwidth.empty()) *out->mutable_bandwidth() = p2p::BandwidthSummaryToProto(m.bandwidth);
    if (m.is_self) response.set_self_node_id(m.node_id);
  }
  return response;
}

void CountMembers(const p2p::MembershipView& view, uint32_t* known, uint32_t* alive) {
  *known = static_cast<uint32_t>(view.members().size());
  *alive = 0;
  for (const p2p::MemberInfo& m : view.members()) {
    if (m.liveness == p2p::MemberLiveness::kAlive) ++*alive;
  }
}

}  // namespace tessera::services
