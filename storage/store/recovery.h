// Open-time work of the slice store (internal to storage/store): the store-format check, and
// the recovery that reconciles the data directories with the index after a crash.
//
// Thread-safety: run once by OpenSliceStore before the store serves any call; not thread-safe.
// Ownership: no pointer argument is retained.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/env.h"
#include "storage/index/slice_index.h"
#include "storage/store/slice_store.h"
#include "storage/store/space_accounting.h"
#include "storage/store/store_metrics.h"

namespace tessera::storage {

// Store-wide format, recorded in the index as "<major>.<minor>". A newer major version is
// refused at open; a newer minor version is readable (additive changes only).
inline constexpr uint32_t kStoreFormatMajor = 1;
inline constexpr uint32_t kStoreFormatMinor = 0;

// Records this binary's format in a new index; OK for a known or readable format.
// FAILED_PRECONDITION for a newer major version, DATA_LOSS for a malformed record (`index_dir`
// names the store in errors).
[[nodiscard]] absl::Status CheckStoreFormat(SliceIndex* index, const std::string& index_dir);

// Startup recovery (docs/design/slice_store.md), in three steps:
//  1. lists the data directories (no per-file stat) and removes temporary files;
//  2. walks the index: counts every entry in `space`, and flags `missing` (synced) each file
//     entry whose file was not listed (or, with check_file_sizes_at_open, is short);
//  3. removes slice files no index entry refers to (orphans of a crash mid-Put or mid-Delete),
//     then syncs every directory it changed.
// Returns what it found. FAILED_PRECONDITION if an entry names a data directory beyond
// options.data_dirs (their order must not change); otherwise the Env's or index's errors.
[[nodiscard]] absl::StatusOr<RecoveryReport> RecoverSliceStore(Env* env, SliceIndex* index,
                                                               const SliceStoreOptions& options,
                                                               SpaceAccounting* space,
                                                               StoreMetrics* metrics);

}  // namespace tessera::storage
