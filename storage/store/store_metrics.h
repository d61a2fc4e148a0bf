// StoreMetrics: the slice store's counters (internal to storage/store), kept twice and updated
// together: in-process totals since open (StoreCounters, for SliceStore::Counters) and the
// exported tessera_slice_store_* Prometheus series (base/metrics.h).
//
// Thread-safety: Register once, before any other call; after that every method is thread-safe
// (atomics and the registry's own locking). Ownership: the registry is not owned and must
// outlive this object.
#pragma once

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "storage/index/index_entry.h"
#include "storage/store/slice_store.h"

namespace tessera::storage {

class StoreMetrics {
 public:
  // Registers (or finds: several stores in one process share the series) every series in `reg`.
  // An error only if a series of the same name was registered with another type or labels.
  [[nodiscard]] absl::Status Register(Registry* reg);

  // Counts the result of a finished call: any error but NOT_FOUND by code, DATA_LOSS also as a
  // checksum failure. Returns `s` unchanged, so calls read `return metrics.Count(status);`.
  absl::Status Count(absl::Status s);
  template <typename T>
  absl::StatusOr<T> Count(absl::StatusOr<T> s) {
    (void)Count(s.status());
    return s;
  }

  void RecordPut(uint64_t bytes);
  void RecordGet(uint64_t bytes);
  void RecordDelete();
  // A read or Verify flagged a slice `state` (kCorrupt or kMissing) in the index.
  void RecordFlagged(EntryState state);
  // Startup recovery flagged a slice missing (exported series only: StoreCounters counts what
  // reads and Verify find).
  void RecordFlaggedByRecovery();
  // Publishes the last recovery's findings as gauges.
  void RecordRecovery(const RecoveryReport& report);

  // How long a durability barrier took: the slice file's fsync, its directory's (shared by
  // concurrent puts: the time this put waited), or the index write's WAL sync.
  enum class SyncTarget { kFile, kDirectory, kIndex };
  void RecordSync(SyncTarget target, absl::Duration took);

  // The in-process totals since open.
  StoreCounters Snapshot() const;

 private:
  std::atomic<uint64_t> puts_{0}, put_bytes_{0}, gets_{0}, get_bytes_{0}, deletes_{0}, errors_{0},
      checksum_failures_{0}, slices_marked_corrupt_{0};

  // Cached children of the exported series (set by Register).
  Counter* puts = nullptr;
  Counter* put_bytes = nullptr;
  Counter* gets = nullptr;
  Counter* get_bytes = nullptr;
  Counter* deletes = nullptr;
  CounterFamily* errors = nullptr;  // label: code
  Counter* checksum_failures = nullptr;
  Counter* flagged_corrupt = nullptr;
  Counter* flagged_missing = nullptr;
  Gauge* recovery_slices = nullptr;
  Gauge* recovery_orphans = nullptr;
  Gauge* recovery_missing = nullptr;
  Gauge* recovery_temps = nullptr;
  Histogram* sync_seconds[3] = {};  // by SyncTarget
};

}  // namespace tessera::storage
