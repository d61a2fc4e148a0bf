// GossipAuth: a MAC and replay protection for every membership gossip datagram.
//
// Node records inside gossip are Ed25519-signed, but pings, acks and indirect probes are not, so
// without this anyone on the path could forge acks (keeping a dead node alive) or probes and
// replay old datagrams. With it, a datagram is accepted only from a holder of the cluster secret,
// once, and only while fresh. It sits at the codec/transport seam (MembershipService seals what
// the protocol emits and opens what the socket receives); the protocol core stays socket- and
// key-free.
//
// Frame (version 1), around the serialized tessera.v1.GossipMessage:
//
//   "TG" 01 | session (8 bytes) | seq (8 bytes BE) | sent_unix_micros (8 bytes BE) | payload | mac
//   mac = HMAC-SHA256(K, "tessera.v1.gossip\0" || every byte before the mac)      (32 bytes)
//   K   = ClusterSecret::DeriveKey("gossip")   (independent of the RPC token key)
//
// `session` is random per GossipAuth (per node run), `seq` counts up from 1 per sealed datagram.
// Open accepts a datagram when the MAC verifies (constant time), sent_unix_micros is within
// max_skew of the local clock, and (session, seq) was not accepted before: per session the
// highest seq and a 64-wide window below it are remembered (a seq below the window is refused as a
// replay). Sessions unseen for 2 x max_skew are forgotten (their datagrams are stale by then
// anyway); if max_sessions fresh sessions are remembered, a datagram of a new session is refused
// (fail closed) rather than forget one that could then be replayed.
// Overhead: 59 bytes per datagram (1400 + 59 fits a 1500-byte MTU's 1472-byte UDP payload).
//
// Thread-safety: all methods are thread-safe (Seal is lock-free; Open takes an internal mutex).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "p2p/auth/cluster_secret.h"

namespace tessera::p2p {

// Why Open refused a datagram (for counters).
enum class GossipRejection {
  kNone,
  kMalformed,  // too short, or not a version-1 frame
  kBadMac,     // not sealed with this cluster's key (forged, unkeyed, other cluster, corrupted)
  kStale,      // sent_unix_micros outside max_skew
  kReplayed,   // (session, seq) already accepted, or below the session's window
  kTooManySessions,
};
const char* GossipRejectionName(GossipRejection r);  // "none", "malformed", "bad_mac", ...

struct GossipAuthOptions {
  // Largest accepted |sender clock - receiver clock| (plus transit). Default 60 s.
  absl::Duration max_skew = absl::Seconds(60);
  // Sessions (sending node runs) remembered at once. Default 4096.
  size_t max_sessions = 4096;
  // Time source; null = Clock::Real(). Not owned.
  Clock* clock = nullptr;

  // INVALID_ARGUMENT unless max_skew > 0 and max_sessions >= 1.
  [[nodiscard]] absl::Status Validate() const;
};

class GossipAuth {
 public:
  static constexpr size_t kOverheadBytes = 3 + 8 + 8 + 8 + 32;

  // INVALID_ARGUMENT for bad options.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GossipAuth>> Create(
      const ClusterSecret& secret, GossipAuthOptions options = {});

  ~GossipAuth();
  GossipAuth(const GossipAuth&) = delete;
  GossipAuth& operator=(const GossipAuth&) = delete;

  // The datagram carrying `payload`: a new seq, stamped now, MACed.
  std::string Seal(absl::string_view payload);
  // The same with an explicit seq and send time - for tests (replays, stale datagrams).
  std::string SealAt(absl::string_view payload, uint64_t seq, absl::Time sent) const;

  // The payload of an acceptable datagram (see the file comment), recording its (session, seq).
  // UNAUTHENTICATED otherwise, with *why (if not null) saying which check failed; nothing is
  // recorded for a refused datagram.
  [[nodiscard]] absl::StatusOr<std::string> Open(absl::string_view datagram,
                                                 GossipRejection* why = nullptr);

 private:
  struct Session {
    uint64_t highest = 0;  // highest seq accepted
    uint64_t window = 0;   // bit i: highest - i accepted (bit 0 = highest)
    absl::Time last_seen;
  };

  GossipAuth(std::string key, GossipAuthOptions options);
  std::string Mac(absl::string_view framed) const;

  std::string key_;  // 32 bytes
  const GossipAuthOptions options_;
  Clock* const clock_;
  std::string session_;  // 8 random bytes
  std::atomic<uint64_t> next_seq_{1};

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::p2p
