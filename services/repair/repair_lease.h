// RepairLeases: at most one repairer works on a bucket at a time.
//
// A lease is a metadata entry (v1::RepairLease under the reserved bucket field kRepairLeaseField,
// object key = the bucket's name), taken and renewed by compare-and-set through the replicated
// metadata (per-key Paxos, so two nodes can never both win it). It names its holder and expires
// `duration` after it was last taken or renewed, on the wall clock of the node that wrote it;
// `term` grows by one whenever the holder changes. A holder treats its lease as valid only for
// half the duration after its last successful renewal (its own clock), so it has stopped before
// any other node's clock can see the lease expire, as long as clocks differ by less than half the
// duration (the metadata clock guard keeps them far closer; docs/design/metadata.md).
//
// The lease avoids duplicate work; repair's correctness does not rest on it: every repaired
// slice is recorded by a compare-and-set on its manifest that only changes refs still as read
// (stripe_repairer.h), so two repairers racing on one stripe can waste work, never lose data.
//
// Thread-safety: thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "services/meta/meta_client.h"

namespace tessera::services {

// Reserved metadata bucket field of the lease entries (bucket ids are 16 random bytes, so no real
// bucket can collide with this 14-byte name).
inline constexpr char kRepairLeaseField[] = "tessera.repair";

struct RepairLeaseOptions {
  // The holder's id (its node id). Required.
  std::string holder;
  // How long a lease lasts after it was taken or renewed. Default 60 s.
  absl::Duration duration = absl::Seconds(60);
  // Wall clock of expiry times. Null = real.
  Clock* clock = nullptr;

  [[nodiscard]] absl::Status Validate() const;
};

class RepairLeases {
 public:
  // `meta` is not owned and must outlive this object.
  RepairLeases(MetaClient* meta, RepairLeaseOptions options);

  // Takes the lease on `bucket` if it is free or expired, or renews it if this holder has it.
  // true: held until now + duration; false: another holder has an unexpired lease. Errors from
  // the metadata (UNAVAILABLE, outcome unknown: then not held).
  [[nodiscard]] absl::StatusOr<bool> Acquire(const std::string& bucket);
  // Whether this holder may act on `bucket` now: acquired, and renewed within half the duration.
  bool Holds(const std::string& bucket) const;
  // Renews every lease held; drops those that could not be renewed. Returns how many are held.
  int RenewAll();
  // The buckets held now.
  std::vector<std::string> Held() const;
  // Gives the lease on `bucket` up (expires it now) so another repairer can take over at once.
  // Best effort: a lease not released simply expires.
  void Release(const std::string& bucket);
  // Release() of every lease held (at shutdown).
  void ReleaseAll();

 private:
  MetaClient* const meta_;
  const RepairLeaseOptions options_;
  Clock* const clock_;
  mutable absl::Mutex mu_;
  std::map<std::string, absl::Time> renewed_ ABSL_GUARDED_BY(mu_);  // bucket -> last success
};

}  // namespace tessera::services
