// SpaceAccounting: the slice store's space bookkeeping (internal to storage/store).
//
// Per data directory: on-disk bytes of indexed slice files and bytes reserved by Puts in flight;
// store-wide: count and bytes of live slices. Reserve picks the directory a new slice file goes
// to (the one with the most free space) and holds the space until the Put ends, so concurrent
// Puts cannot together overfill a disk. Free space honours SliceStoreOptions.capacity_bytes and
// reserved_bytes.
//
// Thread-safety: thread-safe (one internal mutex, never held across I/O). Ownership: `env` is
// not owned and must outlive this object.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "base/env.h"
#include "storage/index/index_entry.h"
#include "storage/store/slice_store.h"

namespace tessera::storage {

class SpaceAccounting {
 public:
  // `options`: data_dirs (in index order), capacity_bytes and reserved_bytes are used.
  SpaceAccounting(Env* env, const SliceStoreOptions& options);

  size_t dir_count() const { return dirs_.size(); }
  // Path of data directory `i` (< dir_count()).
  const std::string& dir_path(size_t i) const { return dirs_[i].path; }

  // Reserves `bytes` in the data directory with the most free space and returns its index.
  // RESOURCE_EXHAUSTED when no directory has that much free; the Env's error when a directory's
  // disk space cannot be read.
  [[nodiscard]] absl::StatusOr<size_t> Reserve(uint64_t bytes);
  // Releases a reservation (the Put finished: its file, if kept, is counted by Add).
  void Unreserve(size_t dir, uint64_t bytes);

  // Counts / uncounts an index entry: live bytes and count for a live entry, file bytes of its
  // directory for a file that exists (not inline, not missing).
  void Add(const IndexEntry& e);
  void Remove(const IndexEntry& e);

  // Capacity and free space (directories whose disk space cannot be read contribute nothing),
  // and the live slices' bytes and count.
  StoreStats Stats() const;

 private:
  struct DataDir {
    std::string path;
    uint64_t file_bytes = 0;     // on-disk bytes of indexed slice files here
    uint64_t pending_bytes = 0;  // reserved by Puts in flight
  };
  uint64_t CapacityOf(const DiskSpace& space) const;
  // Free bytes Put may use in directory `i`, given the file system's view `space`.
  uint64_t FreeLocked(size_t i, const DiskSpace& space) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Env* const env_;
  const uint64_t capacity_bytes_;
  const uint64_t reserved_bytes_;
  mutable absl::Mutex mu_;
  // The paths are immutable; the byte counts are guarded by mu_.
  std::vector<DataDir> dirs_;
  uint64_t live_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t live_count_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera::storage
