// MembershipProtocol: the SWIM membership state machine of one node, with no sockets, threads or
// clock of its own.
//
// The caller feeds it time and datagrams and sends what it returns:
//   out = protocol.Tick(now);                      // periodic work: probes, timeouts, sync
//   out = protocol.HandleMessage(now, from, bytes); // one datagram that arrived from `from`
// Each Outgoing is one datagram (at most options.max_message_bytes) for an address. Randomness
// comes from a generator seeded by options.random_seed, so a simulation is deterministic.
//
// The protocol (see docs/design/membership.md):
//  - Join: Sync{reply_wanted} carrying our state to every seed, every join_retry_interval, until
//    a seed answers (or, with no seeds, never); the seed answers with its whole table (several
//    datagrams if needed). Seeds are also retried whenever no other live member is known.
//  - Every probe_interval, Ping the next member of a shuffled round-robin order. No Ack within
//    probe_timeout: PingReq to indirect_probes random alive members, who ping on our behalf and
//    forward the Ack. No Ack by the end of the interval: the target becomes SUSPECT.
//  - A suspect not refuted within suspicion_timeout becomes DEAD.
//  - A node that hears itself suspected or declared dead at its incarnation raises its incarnation
//    and re-signs its record (refutation); a record with a higher incarnation clears the
//    suspicion and revives a dead member (restart).
//  - Updates (records, claims) are piggybacked on every message, each retransmitted at most
//    retransmit_mult * ceil(log10(n + 1)) times, fewest-sent first.
//  - Every sync_interval, a push-pull Sync with one random live member and one random dead one
//    (so a healed partition or a wrongly-dead node finds its way back).
//  - Records are signed by their node; liveness claims by their observer. Forged, malformed and
//    stale (older incarnation than known) updates are dropped and counted.
//
// Thread-safety: not thread-safe; one owner drives it (MembershipService runs it on one thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "api/membership.pb.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/membership_view.h"

namespace tessera::p2p {

struct MembershipOptions {
  // How often a node probes one other member. Default 1 s.
  absl::Duration probe_interval = absl::Seconds(1);
  // How long to wait for a direct Ack before asking others to probe. Must be < probe_interval.
  // Default 300 ms.
  absl::Duration probe_timeout = absl::Milliseconds(300);
  // Members asked to probe indirectly (SWIM's k). Default 3.
  int indirect_probes = 3;
  // How long a suspect has to refute before it is declared dead. Default 5 s.
  absl::Duration suspicion_timeout = absl::Seconds(5);
  // Retransmit limit multiplier: each update is piggybacked at most
  // retransmit_mult * ceil(log10(n + 1)) times (n = members known). Default 4.
  int retransmit_mult = 4;
  // Push-pull anti-entropy period. Default 10 s.
  absl::Duration sync_interval = absl::Seconds(10);
  // How often to retry the seeds while no other member is known. Default 1 s.
  absl::Duration join_retry_interval = absl::Seconds(1);
  // How long a dead member stays in the table (and in views, as dead). Default 10 min.
  absl::Duration dead_retention = absl::Minutes(10);
  // Largest datagram sent, in bytes (1400 fits an Ethernet MTU with room for headers). At least
  // 512, which fits a Ping plus one signed record.
  size_t max_message_bytes = 1400;
  // Cap on the datagrams of one Sync (whole-table) transfer. Default 64.
  int max_sync_messages = 64;
  // Seed for the protocol's random choices.
  uint64_t random_seed = 1;

  // OK, or INVALID_ARGUMENT naming the first bad field.
  [[nodiscard]] absl::Status Validate() const;
};

// What this node says about itself.
struct LocalMember {
  std::string gossip_address;  // where others send datagrams to us
  std::string grpc_address;
  MemberLocation location;
  uint64_t capacity_bytes = 0;
  uint64_t free_bytes = 0;
  MemberState state = MemberState::kAlive;
  // Incarnation to start from; it must exceed every incarnation this node used before (a restart
  // that reuses the key). MembershipService defaults it to the wall clock in microseconds. A
  // restarted node that hears of a higher incarnation of itself also jumps past it.
  uint64_t incarnation = 1;
};

// Counters; monotonically increasing.
struct MembershipCounters {
  uint64_t messages_received = 0;
  uint64_t messages_sent = 0;
  uint64_t malformed_messages = 0;  // unparsable datagram or unknown protocol_version
  uint64_t records_accepted = 0;
  uint64_t records_forged = 0;  // bad signature, or node id not derived from the key
  uint64_t records_stale = 0;   // older incarnation than known, or a conflicting copy of one
  uint64_t claims_accepted = 0;
  uint64_t claims_forged = 0;            // signature does not verify with the observer's key
  uint64_t claims_stale = 0;             // about an incarnation older than the subject's record
  uint64_t claims_unknown_observer = 0;  // observer not (yet) known: cannot verify
  uint64_t probes_sent = 0;
  uint64_t indirect_probes_sent = 0;
  uint64_t suspicions_raised = 0;  // by this node's own probes
  uint64_t deaths_declared = 0;    // by this node's own suspicion timeouts
  uint64_t refutations = 0;        // times this node raised its incarnation to refute
  // Filled by MembershipService (the transport seam), never by the protocol: datagrams dropped
  // before the protocol saw them (p2p/auth/gossip_auth.h).
  uint64_t datagrams_unauthenticated = 0;  // no valid cluster MAC (unkeyed, forged, malformed)
  uint64_t datagrams_replayed = 0;  // valid MAC but already seen, or stale / too many sessions
};

struct Outgoing {
  std::string address;
  std::string payload;  // a serialized tessera.v1.GossipMessage
};

class MembershipProtocol {
 public:
  // `identity` must outlive the protocol. `seeds` are gossip addresses (our own is skipped).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MembershipProtocol>> Create(
      const MembershipOptions& options, const NodeIdentity* identity, LocalMember self,
      std::vector<std::string> seeds, absl::Time now);

  MembershipProtocol(const MembershipProtocol&) = delete;
  MembershipProtocol& operator=(const MembershipProtocol&) = delete;

  // Periodic work due at `now`. Call it at least every probe_timeout / 2 or so.
  std::vector<Outgoing> Tick(absl::Time now);
  // One datagram received from `from`. Never fails: bad input is dropped and counted.
  std::vector<Outgoing> HandleMessage(absl::Time now, const std::string& from,
                                      absl::string_view payload);

  // Changes what this node says about itself; each raises the incarnation, re-signs the record
  // and queues it for dissemination.
  void SetState(MemberState state);
  void SetCapacity(uint64_t capacity_bytes, uint64_t free_bytes);
  // Publishes this node's bandwidth summary (p2p/bandwidth); an empty one clears it.
  void SetBandwidth(const BandwidthSummary& summary);

  const std::string& node_id() const { return identity_->node_id(); }
  uint64_t incarnation() const;
  // Changes with every change to the membership table (see MembershipView::generation).
  uint64_t generation() const { return generation_; }
  std::shared_ptr<const MembershipView> Snapshot() const;
  const MembershipCounters& counters() const { return counters_; }
  // Updates still waiting to be piggybacked.
  size_t pending_broadcasts() const { return broadcasts_.size(); }
  // Retransmit limit for the current table size.
  int RetransmitLimit() const;

 private:
  struct Member {
    tessera::v1::NodeRecord record;
    tessera::v1::SignedNodeRecord signed_record;
    MemberLiveness liveness = MemberLiveness::kAlive;
    uint64_t liveness_incarnation = 0;
    absl::Time suspect_deadline;
    absl::Time dead_since;
    std::optional<tessera::v1::SignedLivenessClaim> claim;  // why it is suspect/dead
  };
  struct Broadcast {
    std::string key;  // subject node id: a newer update for a node replaces an older one
    tessera::v1::GossipUpdate update;
    int transmits = 0;
  };
  struct Probe {
    uint64_t seq = 0;
    std::string target;
    absl::Time start;
    bool indirect_sent = false;
    bool acked = false;
  };
  struct Forward {  // an indirect probe we run for someone else
    std::string requester_address;
    uint64_t requester_seq = 0;
    std::string target;
    absl::Time deadline;
  };

  MembershipProtocol(const MembershipOptions& options, const NodeIdentity* identity,
                     LocalMember self, std::vector<std::string> seeds, absl::Time now);

  void ResignSelf();
  void ApplyUpdate(absl::Time now, const tessera::v1::GossipUpdate& update);
  void ApplyRecord(absl::Time now, const tessera::v1::SignedNodeRecord& signed_record);
  void ApplyClaim(absl::Time now, const tessera::v1::SignedLivenessClaim& signed_claim);
  void RaiseClaim(absl::Time now, Member& member, tessera::v1::Liveness liveness);
  void Enqueue(const std::string& key, tessera::v1::GossipUpdate update);
  // Serializes `msg` after piggybacking as many queued updates as fit.
  void Send(std::vector<Outgoing>& out, const std::string& address, tessera::v1::GossipMessage msg);
  // Our whole table as Sync datagrams.
  void SendState(std::vector<Outgoing>& out, const std::string& address, bool reply_wanted);
  std::vector<std::string> PickRandom(const std::vector<std::string>& from, size_t n);
  std::optional<std::string> NextProbeTarget();
  bool KnowsOtherLiveMember() const;
  tessera::v1::GossipMessage NewMessage() const;
  Member& self() { return members_.at(identity_->node_id()); }
  const Member& self() const { return members_.at(identity_->node_id()); }

  const MembershipOptions options_;
  const NodeIdentity* const identity_;
  const std::vector<std::string> seeds_;
  std::mt19937_64 rng_;

  std::map<std::string, Member> members_;  // includes self; ordered, for determinism
  std::vector<Broadcast> broadcasts_;
  std::optional<Probe> probe_;
  absl::flat_hash_map<uint64_t, Forward> forwards_;
  // Where a refutation must go at once (the claim's observer and the node that passed the claim
  // on): the suspecting nodes' timers run from when they heard the claim, and dissemination by
  // piggybacking alone can take longer than the suspicion timeout on a lossy network.
  std::vector<std::string> refute_to_;
  std::vector<std::string> probe_order_;
  size_t probe_index_ = 0;
  uint64_t next_seq_ = 1;
  absl::Time next_probe_;
  absl::Time next_sync_;
  absl::Time next_join_;
  bool joined_ = false;  // a seed has answered our Sync
  uint64_t generation_ = 1;
  MembershipCounters counters_;
};

}  // namespace tessera::p2p
