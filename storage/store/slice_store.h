// SliceStore: a storage node's durable, checksummed store of slices.
//
// A slice is an opaque byte string (already encrypted and erasure-coded by the gateway). Slices
// live in files spread over one or more data directories (one per disk), indexed in RocksDB
// (slice id -> location, length, per-block checksums, state, times); small slices live inline in
// the index. All file and fsync access goes through tessera::Env (the RocksDB index too), so tests
// can inject crashes, bit flips and full disks.
//
// Durability: Put returns OK only once the slice data and its index entry are both synced. After
// kill -9 or power loss a slice is either wholly present and valid or absent, never partial.
// Integrity: every 64 KiB block carries a CRC32C; reads verify the blocks they touch and return
// DATA_LOSS, never bytes, on a mismatch.
//
// Thread-safety: all methods are thread-safe.
//
// Implementation map (one job per file; docs/design/slice_store.md): slice_id.{h,cc} the id and
// key codec; slice_store.cc the Put/Get/Delete/Verify protocol over the index (SliceStoreImpl);
// slice_file.{h,cc} one slice file's name, write, read and verify; dir_sync_group.{h,cc} group
// commit of directory syncs; space_accounting.{h,cc} per-directory space and reservations;
// store_metrics.{h,cc} counters and exported series; recovery.{h,cc} format check and startup
// recovery.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "base/env.h"
#include "base/metrics.h"
#include "storage/store/slice_id.h"

namespace tessera::storage {

// A byte range within a slice. length == 0 means "to the end".
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Extension (compatible): the index state of a slice. List and Stat report every indexed slice,
// damaged ones too, so a repair process can find them; Get and Verify of a non-live slice return
// DATA_LOSS.
enum class SliceState : uint8_t {
  kLive = 1,     // present and (as far as last checked) valid
  kCorrupt = 2,  // a checksum failed (Verify or a read); awaiting repair (a Put replaces it)
  kMissing = 3,  // startup recovery found its file missing or short; awaiting repair
};

struct SliceInfo {
  SliceId id;
  uint64_t length = 0;
  uint32_t crc32c = 0;  // of the whole slice
  absl::Time created;
  SliceState state = SliceState::kLive;  // extension
};

// Extension (compatible): running totals since open, for metrics export.
struct StoreCounters {
  uint64_t puts = 0;               // successful Puts (including idempotent retries)
  uint64_t put_bytes = 0;          // bytes stored by successful Puts
  uint64_t gets = 0;               // successful Gets
  uint64_t get_bytes = 0;          // bytes returned by successful Gets
  uint64_t deletes = 0;            // successful Deletes
  uint64_t errors = 0;             // failed Put/Get/Delete/Verify calls (any code but NOT_FOUND)
  uint64_t checksum_failures = 0;  // DATA_LOSS results from Get or Verify
  uint64_t slices_marked_corrupt = 0;  // slices flagged corrupt or missing by a read or Verify
};

struct StoreStats {
  uint64_t capacity_bytes = 0;  // sum over data directories (capped by options)
  uint64_t free_bytes = 0;      // what Put can still use
  uint64_t used_bytes = 0;      // bytes of live slices
  uint64_t slice_count = 0;
};

struct SliceStoreOptions {
  // Directory for the RocksDB index and store metadata. Required.
  std::string index_dir;
  // One directory per disk for slice files. Required, at least one.
  std::vector<std::string> data_dirs;
  // Largest slice accepted, in bytes. Default 16 MiB.
  uint64_t max_slice_bytes = 16ull << 20;
  // Slices up to this size live inline in the index instead of in files. Default 16 KiB.
  uint64_t inline_threshold_bytes = 16 << 10;
  // Per-directory capacity cap in bytes; 0 = the file system's capacity.
  uint64_t capacity_bytes = 0;
  // Free space kept in reserve per data directory; Put returns RESOURCE_EXHAUSTED rather than
  // eat into it. Default 64 MiB.
  uint64_t reserved_bytes = 64ull << 20;
  // Extension: startup recovery compares the data directories' listings with the index (cheap:
  // no per-file stat). When true it also checks every indexed file's size (one stat per slice:
  // slow with millions of slices). Either way reads verify lengths and checksums, and a short or
  // missing file found by a read flags the slice `missing`.
  bool check_file_sizes_at_open = false;
  // Seams. Null means Env::Default() / Clock::Real().
  Env* env = nullptr;
  Clock* clock = nullptr;
  // Extension: where the store's metrics (tessera_slice_store_*) are registered. Null means
  // Registry::Default(). Several stores in one process share the same series.
  Registry* registry = nullptr;

  // OK, or INVALID_ARGUMENT naming the offending field.
  absl::Status Validate() const;
};

// What startup recovery found and fixed.
struct RecoveryReport {
  uint64_t slices = 0;         // index entries found valid
  uint64_t orphan_files = 0;   // files with no index entry (removed)
  uint64_t missing_files = 0;  // index entries whose file is missing (or, when sizes are
                               // checked at open, short); flagged `missing`
  uint64_t temp_files = 0;     // leftover temporary files (removed; older stores wrote them)
};

class SliceStore {
 public:
  virtual ~SliceStore() = default;

  // Durably stores `data` under `id`; OK only once data and index are synced.
  // OK if `id` already holds identical bytes (idempotent retry); ALREADY_EXISTS if different.
  // INVALID_ARGUMENT for a malformed id or a slice over max_slice_bytes; RESOURCE_EXHAUSTED when
  // the disk is full (existing slices are untouched). If `expected_crc32c` is set and does not
  // match `data`, DATA_LOSS and nothing is stored.
  [[nodiscard]] virtual absl::Status Put(const SliceId& id, absl::string_view data,
                                         std::optional<uint32_t> expected_crc32c) = 0;

  // The bytes of `range`, NOT_FOUND, OUT_OF_RANGE when the range starts past the end, or
  // DATA_LOSS when a block checksum fails (the caller repairs from other slices). A DATA_LOSS
  // found by reading marks the slice corrupt (or missing, for an absent or short file) in the
  // index, as Verify does, so later reads fail fast and List/Stat show it to repair.
  [[nodiscard]] virtual absl::StatusOr<std::string> Get(const SliceId& id, ByteRange range) = 0;

  // Metadata without reading data; NOT_FOUND when absent.
  [[nodiscard]] virtual absl::StatusOr<SliceInfo> Stat(const SliceId& id) = 0;

  // Removes the slice durably: the synced index delete is the commit point, then the file is
  // unlinked (a crash in between leaves an orphan file that recovery removes). NOT_FOUND when
  // absent.
  [[nodiscard]] virtual absl::Status Delete(const SliceId& id) = 0;
  // As Delete, but only the copy created at exactly `created` (SliceInfo::created as listed):
  // FAILED_PRECONDITION if the slice was rewritten since, including by an identical Put, which
  // refreshes the creation time. So a caller that judged a listed copy unreferenced (a stale copy
  // on a node that came back after repair moved it) never deletes a copy a writer has put there
  // again since. NOT_FOUND when absent.
  [[nodiscard]] virtual absl::Status DeleteIfCreatedAt(const SliceId& id, absl::Time created) = 0;

  // Up to `limit` slices with ids strictly after `start_after` (empty: from the first), in id
  // order. An empty result means no more.
  [[nodiscard]] virtual absl::StatusOr<std::vector<SliceInfo>> List(
      const std::optional<SliceId>& start_after, size_t limit) = 0;

  virtual StoreStats Stats() = 0;
  // Extension: counters since open (see StoreCounters).
  virtual StoreCounters Counters() const { return {}; }
  virtual const RecoveryReport& recovery_report() const = 0;

  // Re-reads one slice fully and verifies every block; DATA_LOSS on mismatch. Used by the
  // scrubber; also marks the slice as corrupt in the index so later reads fail fast.
  [[nodiscard]] virtual absl::Status Verify(const SliceId& id) = 0;
};

// Opens (creating if needed) the store and runs startup recovery: removes temporary and orphan
// files, flags index entries whose file is missing. INVALID_ARGUMENT for bad options.
[[nodiscard]] absl::StatusOr<std::unique_ptr<SliceStore>> OpenSliceStore(
    const SliceStoreOptions& options);

}  // namespace tessera::storage
