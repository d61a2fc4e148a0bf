#include "p2p/membership/protocol.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "p2p/bandwidth/summary_codec.h"
#include "p2p/membership/records.h"

namespace tessera::p2p {
namespace {

using tessera::v1::GossipMessage;
using tessera::v1::GossipUpdate;

tessera::v1::MemberState ToProto(MemberState s) {
  switch (s) {
    case MemberState::kAlive:
      return tessera::v1::MEMBER_STATE_ALIVE;
    case MemberState::kDraining:
      return tessera::v1::MEMBER_STATE_DRAINING;
    case MemberState::kLeft:
      return tessera::v1::MEMBER_STATE_DEAD;
  }
  return tessera::v1::MEMBER_STATE_ALIVE;
}

MemberState FromProto(tessera::v1::MemberState s) {
  switch (s) {
    case tessera::v1::MEMBER_STATE_DRAINING:
      return MemberState::kDraining;
    case tessera::v1::MEMBER_STATE_DEAD:
      return MemberState::kLeft;
    default:
      return MemberState::kAlive;
  }
}

// Bytes a repeated message field entry of `size` adds to its parent (tag + length + body).
size_t FieldCost(size_t size) { return 1 + 5 + size; }

}  // namespace

absl::Status MembershipOptions::Validate() const {
  if (probe_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("probe_interval must be positive");
  }
  if (probe_timeout <= absl::ZeroDuration() || probe_timeout >= probe_interval) {
    return absl::InvalidArgumentError("probe_timeout must be positive and below probe_interval");
  }
  if (indirect_probes < 0) return absl::InvalidArgumentError("indirect_probes must be >= 0");
  if (suspicion_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("suspicion_timeout must be positive");
  }
  if (retransmit_mult < 1) return absl::InvalidArgumentError("retransmit_mult must be >= 1");
  if (sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("sync_interval must be positive");
  }
  if (join_retry_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("join_retry_interval must be positive");
  }
  if (dead_retention <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("dead_retention must be positive");
  }
  if (max_message_bytes < 512 || max_message_bytes > 65507) {
    return absl::InvalidArgumentError("max_message_bytes must be in [512, 65507]");
  }
  if (max_sync_messages < 1) return absl::InvalidArgumentError("max_sync_messages must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<MembershipProtocol>> MembershipProtocol::Create(
    const MembershipOptions& options, const NodeIdentity* identity, LocalMember self,
    std::vector<std::string> seeds, absl::Time now) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (identity == nullptr) return absl::InvalidArgumentError("identity is null");
  if (self.gossip_address.empty()) return absl::InvalidArgumentError("gossip_address is empty");
  return std::unique_ptr<MembershipProtocol>(
      new MembershipProtocol(options, identity, std::move(self), std::move(seeds), now));
}

MembershipProtocol::MembershipProtocol(const MembershipOptions& options,
                                       const NodeIdentity* identity, LocalMember local,
                                       std::vector<std::string> seeds, absl::Time now)
    : options_(options), identity_(identity), seeds_(std::move(seeds)), rng_(options.random_seed) {
  Member me;
  tessera::v1::NodeRecord& r = me.record;
  r.set_format_version(kRecordFormatVersion);
  r.set_node_id(identity->node_id());
  r.set_public_key(identity->public_key());
  r.set_incarnation(local.incarnation);
  r.set_state(ToProto(local.state));
  r.set_gossip_address(local.gossip_address);
  r.set_grpc_address(local.grpc_address);
  r.mutable_location()->set_site(local.location.site);
  r.mutable_location()->set_isp(local.location.isp);
  r.mutable_location()->set_zone(local.location.zone);
  r.mutable_location()->set_host(local.location.host);
  r.set_capacity_bytes(local.capacity_bytes);
  r.set_free_bytes(local.free_bytes);
  me.signed_record = SignRecord(*identity_, r);
  members_.emplace(identity->node_id(), std::move(me));
  // Spread the probes of many nodes started together over the interval.
  std::uniform_int_distribution<int64_t> jitter(0,
                                                absl::ToInt64Microseconds(options_.probe_interval));
  next_probe_ = now + absl::Microseconds(jitter(rng_));
  next_sync_ = now + options_.sync_interval;
  next_join_ = now;
  joined_ = seeds_.empty();
}

uint64_t MembershipProtocol::incarnation() const { return self().record.incarnation(); }

int MembershipProtocol::RetransmitLimit() const {
  double n = static_cast<double>(members_.size());
  int scale = static_cast<int>(std::ceil(std::log10(n + 1)));
  return options_.retransmit_mult * std::max(scale, 1);
}

void MembershipProtocol::ResignSelf() {
  Member& me = self();
  me.record.set_incarnation(me.record.incarnation() + 1);
  me.signed_record = SignRecord(*identity_, me.record);
  GossipUpdate u;
  *u.mutable_record() = me.signed_record;
  Enqueue(me.record.node_id(), std::move(u));
  ++generation_;
}

void MembershipProtocol::SetState(MemberState state) {
  self().record.set_state(ToProto(state));
  ResignSelf();
}

void MembershipProtocol::SetCapacity(uint64_t capacity_bytes, uint64_t free_bytes) {
  self().record.set_capacity_bytes(capacity_bytes);
  self().record.set_free_bytes(free_bytes);
  ResignSelf();
}

void MembershipProtocol::SetBandwidth(const BandwidthSummary& summary) {
  if (summary.empty()) {
    self().record.clear_bandwidth();
  } else {
    *self().record.mutable_bandwidth() = BandwidthSummaryToProto(summary);
  }
  ResignSelf();
}

void MembershipProtocol::Enqueue(const std::string& key, GossipUpdate update) {
  for (Broadcast& b : broadcasts_) {
    if (b.key == key) {
      b.update = std::move(update);
      b.transmits = 0;
      return;
    }
  }
  broadcasts_.push_back(Broadcast{key, std::move(update), 0});
}

GossipMessage MembershipProtocol::NewMessage() const {
  GossipMessage msg;
  msg.set_protocol_version(kProtocolVersion);
  msg.set_sender_id(identity_->node_id());
  return msg;
}

void MembershipProtocol::Send(std::vector<Outgoing>& out, const std::string& address,
                              GossipMessage msg) {
  size_t size = msg.ByteSizeLong();
  const int limit = RetransmitLimit();
  std::stable_sort(
      broadcasts_.begin(), broadcasts_.end(),
      [](const Broadcast& a, const Broadcast& b) { return a.transmits < b.transmits; });
  for (Broadcast& b : broadcasts_) {
    size_t cost = FieldCost(b.update.ByteSizeLong());
    if (size + cost > options_.max_message_bytes) continue;
    *msg.add_updates() = b.update;
    size += cost;
    ++b.transmits;
  }
  broadcasts_.erase(std::remove_if(broadcasts_.begin(), broadcasts_.end(),
                                   [limit](const Broadcast& b) { return b.transmits >= limit; }),
                    broadcasts_.end());
  Outgoing o;
  o.address = address;
  msg.SerializeToString(&o.payload);
  ++counters_.messages_sent;
  out.push_back(std::move(o));
}

void MembershipProtocol::SendState(std::vector<Outgoing>& out, const std::string& address,
                                   bool reply_wanted) {
  std::vector<GossipUpdate> updates;
  // Our own record first, so that it always fits in the first datagram.
  {
    GossipUpdate u;
    *u.mutable_record() = self().signed_record;
    updates.push_back(std::move(u));
  }
  std::vector<GossipUpdate> rest;
  for (const auto& [id, m] : members_) {
    if (id == identity_->node_id()) continue;
    GossipUpdate u;
    *u.mutable_record() = m.signed_record;
    rest.push_back(std::move(u));
    if (m.claim.has_value()) {
      GossipUpdate c;
      *c.mutable_claim() = *m.claim;
      rest.push_back(std::move(c));
    }
  }
  // Records before claims, so that a claim's observer is known when the claim arrives.
  std::stable_partition(rest.begin(), rest.end(),
                        [](const GossipUpdate& u) { return u.has_record(); });
  for (GossipUpdate& u : rest) updates.push_back(std::move(u));

  GossipMessage msg = NewMessage();
  msg.mutable_sync()->set_reply_wanted(reply_wanted);
  const size_t empty_size = msg.ByteSizeLong();
  size_t size = empty_size;
  int sent = 0;
  for (GossipUpdate& u : updates) {
    size_t cost = FieldCost(u.ByteSizeLong());
    if (size + cost > options_.max_message_bytes && msg.updates_size() > 0) {
      Outgoing o{address, msg.SerializeAsString()};
      out.push_back(std::move(o));
      ++counters_.messages_sent;
      if (++sent >= options_.max_sync_messages) return;
      msg.clear_updates();
      msg.mutable_sync()->set_reply_wanted(false);  // one reply per exchange
      size = empty_size;
    }
    if (size + cost > options_.max_message_bytes) continue;  // cannot fit even alone
    *msg.add_updates() = std::move(u);
    size += cost;
  }
  Outgoing o{address, msg.SerializeAsString()};
  out.push_back(std::move(o));
  ++counters_.messages_sent;
}

std::vector<std::string> MembershipProtocol::PickRandom(const std::vector<std::string>& from,
                                                        size_t n) {
  std::vector<std::string> copy = from;
  std::shuffle(copy.begin(), copy.end(), rng_);
  if (copy.size() > n) copy.resize(n);
  return copy;
}

bool MembershipProtocol::KnowsOtherLiveMember() const {
  for (const auto& [id, m] : members_) {
    if (id != identity_->node_id() && m.liveness != MemberLiveness::kDead) return true;
  }
  return false;
}

std::optional<std::string> MembershipProtocol::NextProbeTarget() {
  for (int round = 0; round < 2; ++round) {
    while (probe_index_ < probe_order_.size()) {
      const std::string& id = probe_order_[probe_index_++];
      auto it = members_.find(id);
      if (it == members_.end() || it->second.liveness == MemberLiveness::kDead) continue;
      return id;
    }
    probe_order_.clear();
    for (const auto& [id, m] : members_) {
      if (id != identity_->node_id() && m.liveness != MemberLiveness::kDead) {
        probe_order_.push_back(id);
      }
    }
    std::sort(probe_order_.begin(), probe_order_.end());  // hash order is not deterministic
    std::shuffle(probe_order_.begin(), probe_order_.end(), rng_);
    probe_index_ = 0;
  }
  return std::nullopt;
}

void MembershipProtocol::RaiseClaim(absl::Time now, Member& member,
                                    tessera::v1::Liveness liveness) {
  tessera::v1::LivenessClaim claim;
  claim.set_format_version(kRecordFormatVersion);
  claim.set_subject_id(member.record.node_id());
  claim.set_incarnation(member.record.incarnation());
  claim.set_liveness(liveness);
  claim.set_observer_id(identity_->node_id());
  member.claim = SignClaim(*identity_, claim);
  member.liveness_incarnation = member.record.incarnation();
  if (liveness == tessera::v1::LIVENESS_SUSPECT) {
    member.liveness = MemberLiveness::kSuspect;
    member.suspect_deadline = now + options_.suspicion_timeout;
  } else {
    member.liveness = MemberLiveness::kDead;
    member.dead_since = now;
  }
  GossipUpdate u;
  *u.mutable_claim() = *member.claim;
  Enqueue(member.record.node_id(), std::move(u));
  ++generation_;
}

std::vector<Outgoing> MembershipProtocol::Tick(absl::Time now) {
  std::vector<Outgoing> out;
  const std::string& me = identity_->node_id();

  // Join: keep asking the seeds until someone else is known.
  if (now >= next_join_ && (!joined_ || !KnowsOtherLiveMember())) {
    for (const std::string& seed : seeds_) {
      if (seed != self().record.gossip_address()) SendState(out, seed, /*reply_wanted=*/true);
    }
    next_join_ = now + options_.join_retry_interval;
  }

  // The current probe: indirect probes after probe_timeout.
  if (probe_.has_value() && !probe_->acked && !probe_->indirect_sent &&
      now >= probe_->start + options_.probe_timeout) {
    probe_->indirect_sent = true;
    auto target = members_.find(probe_->target);
    if (target != members_.end()) {
      std::vector<std::string> helpers;
      for (const auto& [id, m] : members_) {
        if (id != me && id != probe_->target && m.liveness == MemberLiveness::kAlive) {
          helpers.push_back(id);
        }
      }
      std::sort(helpers.begin(), helpers.end());
      for (const std::string& h : PickRandom(helpers, options_.indirect_probes)) {
        GossipMessage msg = NewMessage();
        msg.mutable_ping_req()->set_seq(probe_->seq);
        msg.mutable_ping_req()->set_target_id(probe_->target);
        msg.mutable_ping_req()->set_target_address(target->second.record.gossip_address());
        Send(out, members_.at(h).record.gossip_address(), std::move(msg));
        ++counters_.indirect_probes_sent;
      }
    }
  }

  // End of the protocol period: judge the probe, start the next one.
  if (now >= next_probe_) {
    if (probe_.has_value() && !probe_->acked) {
      auto it = members_.find(probe_->target);
      if (it != members_.end() && it->second.liveness == MemberLiveness::kAlive) {
        RaiseClaim(now, it->second, tessera::v1::LIVENESS_SUSPECT);
        ++counters_.suspicions_raised;
        // Tell the suspect at once (Lifeguard's "buddy system"): if it is alive it refutes
        // straight back (HandleMessage), instead of waiting for the claim to reach it by gossip.
        GossipMessage notice = NewMessage();
        *notice.add_updates()->mutable_claim() = *it->second.claim;
        notice.mutable_sync()->set_reply_wanted(false);
        Send(out, it->second.record.gossip_address(), std::move(notice));
      }
    }
    probe_.reset();
    if (std::optional<std::string> target = NextProbeTarget(); target.has_value()) {
      probe_ = Probe{next_seq_++, *target, now, false, false};
      GossipMessage msg = NewMessage();
      msg.mutable_ping()->set_seq(probe_->seq);
      msg.mutable_ping()->set_target_id(*target);
      Send(out, members_.at(*target).record.gossip_address(), std::move(msg));
      ++counters_.probes_sent;
    }
    next_probe_ = now + options_.probe_interval;
  }

  // Suspicion timeouts and tombstone expiry.
  std::vector<std::string> expired;
  for (auto& [id, m] : members_) {
    if (m.liveness == MemberLiveness::kSuspect && now >= m.suspect_deadline) {
      RaiseClaim(now, m, tessera::v1::LIVENESS_DEAD);
      ++counters_.deaths_declared;
    } else if (m.liveness == MemberLiveness::kDead && id != me &&
               now >= m.dead_since + options_.dead_retention) {
      expired.push_back(id);
    }
  }
  for (const std::string& id : expired) {
    members_.erase(id);
    ++generation_;
  }

  // Indirect probes we ran for others that never got an answer.
  for (auto it = forwards_.begin(); it != forwards_.end();) {
    if (now >= it->second.deadline) {
      forwards_.erase(it++);
    } else {
      ++it;
    }
  }

  // Anti-entropy: push-pull with a random live member and a random dead one.
  if (now >= next_sync_) {
    std::vector<std::string> live, dead;
    for (const auto& [id, m] : members_) {
      if (id == me) continue;
      (m.liveness == MemberLiveness::kDead ? dead : live).push_back(id);
    }
    std::sort(live.begin(), live.end());
    std::sort(dead.begin(), dead.end());
    for (const std::string& id : PickRandom(live, 1)) {
      SendState(out, members_.at(id).record.gossip_address(), true);
    }
    for (const std::string& id : PickRandom(dead, 1)) {
      SendState(out, members_.at(id).record.gossip_address(), true);
    }
    next_sync_ = now + options_.sync_interval;
  }
  return out;
}

std::vector<Outgoing> MembershipProtocol::HandleMessage(absl::Time now, const std::string& from,
                                                        absl::string_view payload) {
  std::vector<Outgoing> out;
  ++counters_.messages_received;
  GossipMessage msg;
  if (!msg.ParseFromArray(payload.data(), static_cast<int>(payload.size())) ||
      msg.protocol_version() != kProtocolVersion) {
    ++counters_.malformed_messages;
    return out;
  }
  refute_to_.clear();
  for (const GossipUpdate& u : msg.updates()) ApplyUpdate(now, u);
  if (!refute_to_.empty()) {
    // A claim about us was refuted (ApplyClaim): hand the new record straight to whoever holds
    // the suspicion, ahead of the epidemic spread, in a message that asks for nothing back.
    refute_to_.push_back(from);
    std::sort(refute_to_.begin(), refute_to_.end());
    refute_to_.erase(std::unique(refute_to_.begin(), refute_to_.end()), refute_to_.end());
    for (const std::string& address : refute_to_) {
      if (address.empty() || address == self().record.gossip_address()) continue;
      GossipMessage refutation = NewMessage();
      *refutation.add_updates()->mutable_record() = self().signed_record;
      refutation.mutable_sync()->set_reply_wanted(false);
      Send(out, address, std::move(refutation));
    }
    refute_to_.clear();
  }

  const std::string& me = identity_->node_id();
  switch (msg.body_case()) {
    case GossipMessage::kPing: {
      if (msg.ping().target_id() != me) break;  // meant for a previous owner of this address
      GossipMessage reply = NewMessage();
      reply.mutable_ack()->set_seq(msg.ping().seq());
      reply.mutable_ack()->set_node_id(me);
      Send(out, from, std::move(reply));
      break;
    }
    case GossipMessage::kAck: {
      const tessera::v1::Ack& ack = msg.ack();
      if (probe_.has_value() && probe_->seq == ack.seq() && probe_->target == ack.node_id()) {
        probe_->acked = true;
      } else if (auto it = forwards_.find(ack.seq());
                 it != forwards_.end() && it->second.target == ack.node_id()) {
        GossipMessage reply = NewMessage();
        reply.mutable_ack()->set_seq(it->second.requester_seq);
        reply.mutable_ack()->set_node_id(ack.node_id());
        std::string to = it->second.requester_address;
        forwards_.erase(it);
        Send(out, to, std::move(reply));
      }
      break;
    }
    case GossipMessage::kPingReq: {
      const tessera::v1::PingReq& req = msg.ping_req();
      if (req.target_id() == me) break;
      std::string address = req.target_address();
      if (auto it = members_.find(req.target_id()); it != members_.end()) {
        address = it->second.record.gossip_address();  // prefer the signed address
      }
      if (address.empty()) break;
      uint64_t seq = next_seq_++;
      forwards_[seq] = Forward{from, req.seq(), req.target_id(), now + options_.probe_interval};
      GossipMessage ping = NewMessage();
      ping.mutable_ping()->set_seq(seq);
      ping.mutable_ping()->set_target_id(req.target_id());
      Send(out, address, std::move(ping));
      break;
    }
    case GossipMessage::kSync: {
      if (msg.sync().reply_wanted()) {
        SendState(out, from, /*reply_wanted=*/false);
      } else if (!joined_ && std::find(seeds_.begin(), seeds_.end(), from) != seeds_.end()) {
        joined_ = true;
      }
      break;
    }
    case GossipMessage::BODY_NOT_SET:
      break;
  }
  return out;
}

void MembershipProtocol::ApplyUpdate(absl::Time now, const GossipUpdate& update) {
  switch (update.update_case()) {
    case GossipUpdate::kRecord:
      ApplyRecord(now, update.record());
      break;
    case GossipUpdate::kClaim:
      ApplyClaim(now, update.claim());
      break;
    case GossipUpdate::UPDATE_NOT_SET:
      break;
  }
}

void MembershipProtocol::ApplyRecord(absl::Time now,
                                     const tessera::v1::SignedNodeRecord& signed_record) {
  // Cheap checks on the unverified bytes first, so that the (common) duplicates and stale copies
  // cost no signature verification.
  tessera::v1::NodeRecord peek;
  if (!peek.ParseFromString(signed_record.record())) {
    ++counters_.records_forged;
    return;
  }
  auto it = members_.find(peek.node_id());
  if (it != members_.end()) {
    const Member& known = it->second;
    if (peek.incarnation() < known.record.incarnation()) {
      ++counters_.records_stale;
      return;
    }
    if (peek.incarnation() == known.record.incarnation()) {
      if (signed_record.record() == known.signed_record.record() &&
          signed_record.signature() == known.signed_record.signature()) {
        return;  // a duplicate
      }
      // Another record at the same incarnation: either forged or the node signed two (which it
      // must not); neither replaces what we have.
      if (VerifyRecord(signed_record).ok()) {
        ++counters_.records_stale;
      } else {
        ++counters_.records_forged;
      }
      return;
    }
  }
  absl::StatusOr<tessera::v1::NodeRecord> record = VerifyRecord(signed_record);
  if (!record.ok()) {
    ++counters_.records_forged;
    return;
  }
  if (record->node_id() == identity_->node_id()) {
    // A newer record of ourselves: from before a restart. Jump past it.
    self().record.set_incarnation(record->incarnation());
    ResignSelf();
    ++counters_.refutations;
    return;
  }
  ++counters_.records_accepted;
  if (it == members_.end()) {
    it = members_.emplace(record->node_id(), Member{}).first;
  }
  Member& m = it->second;
  m.record = *std::move(record);
  m.signed_record = signed_record;
  if (m.record.state() == tessera::v1::MEMBER_STATE_DEAD) {
    if (m.liveness != MemberLiveness::kDead) m.dead_since = now;
    m.liveness = MemberLiveness::kDead;
    m.liveness_incarnation = m.record.incarnation();
    m.claim.reset();
  } else if (m.liveness == MemberLiveness::kAlive ||
             m.record.incarnation() > m.liveness_incarnation) {
    m.liveness = MemberLiveness::kAlive;
    m.claim.reset();
  }
  GossipUpdate u;
  *u.mutable_record() = signed_record;
  Enqueue(m.record.node_id(), std::move(u));
  ++generation_;
}

void MembershipProtocol::ApplyClaim(absl::Time now,
                                    const tessera::v1::SignedLivenessClaim& signed_claim) {
  tessera::v1::LivenessClaim claim;
  if (!claim.ParseFromString(signed_claim.claim()) ||
      claim.format_version() != kRecordFormatVersion ||
      (claim.liveness() != tessera::v1::LIVENESS_SUSPECT &&
       claim.liveness() != tessera::v1::LIVENESS_DEAD)) {
    ++counters_.claims_forged;
    return;
  }
  auto subject = members_.find(claim.subject_id());
  if (subject == members_.end()) return;  // about a node we do not know: nothing to change
  Member& m = subject->second;
  const bool about_me = claim.subject_id() == identity_->node_id();
  if (claim.incarnation() < m.record.incarnation()) {
    ++counters_.claims_stale;
    return;
  }
  if (!about_me) {
    const bool dead = claim.liveness() == tessera::v1::LIVENESS_DEAD;
    if (m.liveness == MemberLiveness::kDead) return;  // nothing stronger to learn
    if (!dead && m.liveness == MemberLiveness::kSuspect) return;
  }
  auto observer = members_.find(claim.observer_id());
  if (observer == members_.end()) {
    ++counters_.claims_unknown_observer;
    return;
  }
  if (!VerifyClaimSignature(signed_claim, observer->second.record.public_key()).ok()) {
    ++counters_.claims_forged;
    return;
  }
  ++counters_.claims_accepted;
  if (about_me) {
    // Refute: a record with a higher incarnation overrides the claim everywhere.
    self().record.set_incarnation(claim.incarnation());
    ResignSelf();
    ++counters_.refutations;
    refute_to_.push_back(observer->second.record.gossip_address());
    return;
  }
  m.claim = signed_claim;
  m.liveness_incarnation = claim.incarnation();
  if (claim.liveness() == tessera::v1::LIVENESS_SUSPECT) {
    m.liveness = MemberLiveness::kSuspect;
    m.suspect_deadline = now + options_.suspicion_timeout;
  } else {
    m.liveness = MemberLiveness::kDead;
    m.dead_since = now;
  }
  GossipUpdate u;
  *u.mutable_claim() = signed_claim;
  Enqueue(m.record.node_id(), std::move(u));
  ++generation_;
}

std::shared_ptr<const MembershipView> MembershipProtocol::Snapshot() const {
  std::vector<MemberInfo> members;
  members.reserve(members_.size());
  for (const auto& [id, m] : members_) {
    MemberInfo info;
    const tessera::v1::NodeRecord& r = m.record;
    info.node_id = r.node_id();
    info.public_key = r.public_key();
    info.gossip_address = r.gossip_address();
    info.grpc_address = r.grpc_address();
    info.location = MemberLocation{r.location().site(), r.location().isp(), r.location().zone(),
                                   r.location().host()};
    info.capacity_bytes = r.capacity_bytes();
    info.free_bytes = r.free_bytes();
    info.state = FromProto(r.state());
    info.liveness = m.liveness;
    info.incarnation = r.incarnation();
    info.is_self = id == identity_->node_id();
    if (r.has_bandwidth()) info.bandwidth = BandwidthSummaryFromProto(r.bandwidth());
    members.push_back(std::move(info));
  }
  return std::make_shared<const MembershipView>(generation_, std::move(members));
}

}  // namespace tessera::p2p
