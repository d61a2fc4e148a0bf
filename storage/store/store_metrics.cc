#include "storage/store/store_metrics.h"

#include "base/status_macros.h"

namespace tessera::storage {

absl::Status StoreMetrics::Register(Registry* reg) {
  struct C {
    const char* name;
    const char* help;
    Counter** out;
  } counters[] = {
      {"tessera_slice_store_puts_total", "Successful slice Puts (idempotent retries too).", &puts},
      {"tessera_slice_store_put_bytes_total", "Bytes stored by successful slice Puts.", &put_bytes},
      {"tessera_slice_store_gets_total", "Successful slice Gets.", &gets},
      {"tessera_slice_store_get_bytes_total", "Bytes returned by successful slice Gets.",
       &get_bytes},
      {"tessera_slice_store_deletes_total", "Successful slice Deletes.", &deletes},
      {"tessera_slice_store_checksum_failures_total", "DATA_LOSS results from slice Get or Verify.",
       &checksum_failures},
  };
  for (const C& c : counters) {
    TESSERA_ASSIGN_OR_RETURN(CounterFamily * f, reg->AddCounter(c.name, c.help));
    *c.out = &f->WithLabels({});
  }
  TESSERA_ASSIGN_OR_RETURN(
      errors, reg->AddCounter("tessera_slice_store_errors_total",
                              "Failed slice store calls (not NOT_FOUND), by code.", {"code"}));
  TESSERA_ASSIGN_OR_RETURN(
      CounterFamily * flagged,
      reg->AddCounter("tessera_slice_store_slices_flagged_total",
                      "Slices flagged damaged in the index (by a read, Verify or recovery).",
                      {"state"}));
  flagged_corrupt = &flagged->WithLabels({"corrupt"});
  flagged_missing = &flagged->WithLabels({"missing"});
  // 50 us .. ~26 s: a battery-backed cache answers in tens of microseconds, a saturated disk in
  // seconds.
  TESSERA_ASSIGN_OR_RETURN(
      HistogramFamily * sync,
      reg->AddHistogram("tessera_slice_store_fsync_duration_seconds",
                        "Durability barriers of slice writes: the slice file's fsync (file), its "
                        "directory's (directory) and the index write's WAL sync (index).",
                        {"target"}, ExponentialBuckets(50e-6, 2, 20)));
  sync_seconds[static_cast<int>(SyncTarget::kFile)] = &sync->WithLabels({"file"});
  sync_seconds[static_cast<int>(SyncTarget::kDirectory)] = &sync->WithLabels({"directory"});
  sync_seconds[static_cast<int>(SyncTarget::kIndex)] = &sync->WithLabels({"index"});
  struct G {
    const char* name;
    const char* help;
    Gauge** out;
  } gauges[] = {
      {"tessera_slice_store_recovery_slices", "Valid index entries found by the last recovery.",
       &recovery_slices},
      {"tessera_slice_store_recovery_orphan_files",
       "Orphan slice files removed by the last recovery.", &recovery_orphans},
      {"tessera_slice_store_recovery_missing_files",
       "Index entries flagged missing by the last recovery.", &recovery_missing},
      {"tessera_slice_store_recovery_temp_files", "Temporary files removed by the last recovery.",
       &recovery_temps},
  };
  for (const G& g : gauges) {
    TESSERA_ASSIGN_OR_RETURN(GaugeFamily * f, reg->AddGauge(g.name, g.help));
    *g.out = &f->WithLabels({});
  }
  return absl::OkStatus();
}

absl::Status StoreMetrics::Count(absl::Status s) {
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    errors->WithLabels({absl::StatusCodeToString(s.code())}).Increment();
    if (s.code() == absl::StatusCode::kDataLoss) {
      checksum_failures_.fetch_add(1, std::memory_order_relaxed);
      checksum_failures->Increment();
    }
  }
  return s;
}

void StoreMetrics::RecordPut(uint64_t bytes) {
  puts_.fetch_add(1, std::memory_order_relaxed);
  put_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  puts->Increment();
  put_bytes->Increment(static_cast<double>(bytes));
}

void StoreMetrics::RecordGet(uint64_t bytes) {
  gets_.fetch_add(1, std::memory_order_relaxed);
  get_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  gets->Increment();
  get_bytes->Increment(static_cast<double>(bytes));
}

void StoreMetrics::RecordDelete() {
  deletes_.fetch_add(1, std::memory_order_relaxed);
  deletes->Increment();
}

void StoreMetrics::RecordFlagged(EntryState state) {
  slices_marked_corrupt_.fetch_add(1, std::memory_order_relaxed);
  (state == EntryState::kMissing ? flagged_missing : flagged_corrupt)->Increment();
}

void StoreMetrics::RecordFlaggedByRecovery() { flagged_missing->Increment(); }

void StoreMetrics::RecordRecovery(const RecoveryReport& report) {
  recovery_slices->Set(static_cast<double>(report.slices));
  recovery_orphans->Set(static_cast<double>(report.orphan_files));
  recovery_missing->Set(static_cast<double>(report.missing_files));
  recovery_temps->Set(static_cast<double>(report.temp_files));
}

void StoreMetrics::RecordSync(SyncTarget target, absl::Duration took) {
  Histogram* h = sync_seconds[static_cast<int>(target)];
  if (h != nullptr) h->Observe(absl::ToDoubleSeconds(took));
}

StoreCounters StoreMetrics::Snapshot() const {
  StoreCounters c;
  c.puts = puts_.load(std::memory_order_relaxed);
  c.put_bytes = put_bytes_.load(std::memory_order_relaxed);
  c.gets = gets_.load(std::memory_order_relaxed);
  c.get_bytes = get_bytes_.load(std::memory_order_relaxed);
  c.deletes = deletes_.load(std::memory_order_relaxed);
  c.errors = errors_.load(std::memory_order_relaxed);
  c.checksum_failures = checksum_failures_.load(std::memory_order_relaxed);
  c.slices_marked_corrupt = slices_marked_corrupt_.load(std::memory_order_relaxed);
  return c;
}

}  // namespace tessera::storage
