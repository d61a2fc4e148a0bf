// SliceIndex: the RocksDB-backed map from slice id key to IndexEntry, plus a few named metadata
// records (such as the store format version). All RocksDB files go through a tessera::Env via
// EnvFileSystem.
//
// Key space: "s" + slice key for entries, "m" + name for metadata; so slice entries iterate in
// slice-key order. Writes go to the WAL (never disabled); with `sync` the WAL is synced before the
// call returns, and concurrent synced writers share one fsync through RocksDB's group commit.
//
// After a failed write RocksDB may stop accepting writes (background error); the next write first
// calls DB::Resume(), so a full disk that frees up does not need a restart.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "base/env.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "storage/index/index_entry.h"

namespace tessera::storage {

class SliceIndex {
 public:
  // Opens (creating if missing) the index in `dir`. `env` is not owned and must outlive the
  // index. Errors from RocksDB keep their meaning (DATA_LOSS for corruption, ...).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SliceIndex>> Open(const std::string& dir,
                                                                        Env* env);
  ~SliceIndex();

  SliceIndex(const SliceIndex&) = delete;
  SliceIndex& operator=(const SliceIndex&) = delete;

  // The entry for `key`; NOT_FOUND when absent; DATA_LOSS when it cannot be decoded.
  [[nodiscard]] absl::StatusOr<IndexEntry> Get(absl::string_view key);
  // Inserts or replaces; durable before return when `sync`.
  [[nodiscard]] absl::Status Put(absl::string_view key, const IndexEntry& entry, bool sync = true);
  // Removes (OK when absent); durable before return when `sync`.
  [[nodiscard]] absl::Status Delete(absl::string_view key, bool sync = true);

  // Up to `limit` entries with keys strictly after `start_after` (nullopt: from the first), in
  // key order.
  [[nodiscard]] absl::StatusOr<std::vector<std::pair<std::string, IndexEntry>>> Scan(
      const std::optional<std::string>& start_after, size_t limit);
  // Calls `fn` for every entry in key order; stops at and returns the first non-OK status.
  [[nodiscard]] absl::Status ForEach(
      const std::function<absl::Status(absl::string_view key, const IndexEntry& entry)>& fn);

  // Named metadata records (always written synced). GetMeta: NOT_FOUND when absent.
  [[nodiscard]] absl::StatusOr<std::string> GetMeta(absl::string_view name);
  [[nodiscard]] absl::Status PutMeta(absl::string_view name, absl::string_view value);

 private:
  SliceIndex() = default;
  absl::Status Write(rocksdb::WriteBatch* batch, bool sync);

  // Destroyed in reverse order: the DB before the Env it uses.
  std::unique_ptr<rocksdb::Env> rocks_env_;
  std::unique_ptr<rocksdb::DB> db_;
  absl::Mutex resume_mu_;
  std::atomic<bool> needs_resume_{false};
};

}  // namespace tessera::storage
