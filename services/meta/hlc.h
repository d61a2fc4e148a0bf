// HybridClock: a hybrid logical clock (HLC, Kulkarni et al.) that stamps metadata versions and
// Paxos ballots, plus the maximum-clock-offset guard from docs/design/metadata.md.
//
// A timestamp is (wall_micros, logical): the largest physical time (microseconds since the Unix
// epoch) this node has seen, locally or in a message, and a counter that orders events within
// the same microsecond. Now() is strictly increasing on one clock, even when the wall clock steps
// back; Update(remote) makes every later Now() greater than `remote` (causality across nodes).
//
// Offset guard: callers report peers' wall-clock readings (ObservePeerClock, e.g. from RPC
// responses or gossip probes). When more than half of the peers heard from within
// `sample_ttl` are further than `max_offset` from this node, CheckOffset() returns
// FAILED_PRECONDITION naming the measured (median) offset, and writers must refuse metadata
// writes. A node with no recent samples is not refused (it has nothing to compare with).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace tessera::services {

struct HlcTimestamp {
  int64_t wall_micros = 0;
  uint32_t logical = 0;

  friend bool operator==(const HlcTimestamp& a, const HlcTimestamp& b) {
    return a.wall_micros == b.wall_micros && a.logical == b.logical;
  }
  friend bool operator!=(const HlcTimestamp& a, const HlcTimestamp& b) { return !(a == b); }
  friend bool operator<(const HlcTimestamp& a, const HlcTimestamp& b) {
    return std::tie(a.wall_micros, a.logical) < std::tie(b.wall_micros, b.logical);
  }
  friend bool operator<=(const HlcTimestamp& a, const HlcTimestamp& b) { return !(b < a); }
  friend bool operator>(const HlcTimestamp& a, const HlcTimestamp& b) { return b < a; }
  friend bool operator>=(const HlcTimestamp& a, const HlcTimestamp& b) { return !(a < b); }
};

struct HybridClockOptions {
  // A node further than this from a majority of its peers refuses metadata writes.
  absl::Duration max_offset = absl::Milliseconds(500);
  // Peer samples older than this are ignored by CheckOffset.
  absl::Duration sample_ttl = absl::Minutes(1);

  // INVALID_ARGUMENT unless max_offset > 0 and sample_ttl > 0.
  [[nodiscard]] absl::Status Validate() const;
};

class HybridClock {
 public:
  // `clock` is not owned and must outlive this object. `options` must be valid (checked by
  // callers with Validate(); invalid values are clamped to the defaults).
  explicit HybridClock(Clock* clock, HybridClockOptions options = {});

  HybridClock(const HybridClock&) = delete;
  HybridClock& operator=(const HybridClock&) = delete;

  // A timestamp for a local or send event: greater than every timestamp returned or received so
  // far.
  HlcTimestamp Now();

  // Merges a received timestamp; returns the new local timestamp (greater than both).
  HlcTimestamp Update(const HlcTimestamp& remote);

  // Records that `peer` reported wall-clock time `peer_wall` in a response to a request this
  // node sent at `local_send` and received at `local_recv` (both from this node's Clock). The
  // peer read its clock somewhere in [local_send, local_recv], so its offset is
  // peer_wall - midpoint(local_send, local_recv), give or take half the round trip. What is
  // recorded is the smallest offset that observation allows (the midpoint estimate moved half a
  // round trip toward zero): a slow answer on a loaded host never looks like a skewed clock.
  void ObservePeerClock(absl::string_view peer, absl::Time peer_wall, absl::Time local_send,
                        absl::Time local_recv);
  // Records a measured offset (peer clock minus ours) directly, e.g. from gossip probes.
  void RecordPeerOffset(absl::string_view peer, absl::Duration offset);

  // OK, or FAILED_PRECONDITION (reason kClockOffset) when more than half of the recently heard
  // peers are further than max_offset away; the message names the median measured offset.
  [[nodiscard]] absl::Status CheckOffset();

  // The underlying physical clock (for callers measuring round trips).
  Clock* clock() const { return clock_; }
  const HybridClockOptions& options() const { return options_; }

 private:
  struct Sample {
    absl::Duration offset;
    absl::Time observed_at;
  };

  int64_t PhysicalMicros() const;

  Clock* const clock_;
  const HybridClockOptions options_;
  absl::Mutex mu_;
  HlcTimestamp last_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Sample> samples_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
