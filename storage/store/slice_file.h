// The file of one file-backed slice (internal to storage/store): where it lives under a data
// directory, and how it is written, read and verified. Byte format: storage/slice/slice_format.h
// (64-byte header, then the data; the index entry holds a CRC32C per 64 KiB block).
//
// Layout of a data directory: slices/<shard>/<hex key>.slice, <shard> two hex digits of
// crc32c(key) % kShardDirs. Index entries record their file name, so the shard count can change
// without a format change.
//
// Thread-safety: free functions without shared state; callers serialise access to one slice
// (SliceStoreImpl's lock stripes). Ownership: no pointer argument is retained.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/env.h"
#include "storage/index/index_entry.h"
#include "storage/store/dir_sync_group.h"
#include "storage/store/store_metrics.h"

namespace tessera::storage {

inline constexpr uint32_t kShardDirs = 256;
inline constexpr char kSlicesSubdir[] = "slices";
inline constexpr char kSliceSuffix[] = ".slice";
// Temporary files (older stores wrote slices through them) contain this; recovery removes them.
inline constexpr char kTempInfix[] = ".tmp.";

// Two lowercase hex digits naming shard directory `shard` (< 256).
std::string ShardName(uint32_t shard);
// File name of the slice with index key `key`, relative to its data directory.
std::string SliceFileName(absl::string_view key);
// The directory part of `path` ("." when it has none).
std::string ParentDir(const std::string& path);

// Writes header + data to `path` (created or truncated), syncs it and, through `dir_syncs`, its
// directory. OK only once both are durable; on error removes the file (best effort). The two
// syncs' durations go to `metrics` (may be null).
[[nodiscard]] absl::Status WriteSliceFile(Env* env, DirSyncGroup* dir_syncs,
                                          const std::string& path, const std::string& key,
                                          absl::string_view data, StoreMetrics* metrics = nullptr);

// Reads [offset, offset + n) (within e.length) of the slice `e` describes: inline data, or the
// file at `path` (ignored for inline entries), verifying every block it touches. DATA_LOSS on a
// checksum mismatch or an absent or short file, then *damage says which (kMissing for an absent
// or short file, else kCorrupt); other errors are the Env's.
[[nodiscard]] absl::StatusOr<std::string> ReadSliceRange(Env* env, const std::string& path,
                                                         const std::string& key,
                                                         const IndexEntry& e, uint64_t offset,
                                                         uint64_t n, EntryState* damage);

// Reads the whole slice and checks everything: for a file its size and header (that it holds
// this slice, `key`) and every block. OK, or DATA_LOSS with *damage set as for ReadSliceRange.
[[nodiscard]] absl::Status VerifySliceFile(Env* env, const std::string& path,
                                           const std::string& key, const IndexEntry& e,
                                           EntryState* damage);

}  // namespace tessera::storage
