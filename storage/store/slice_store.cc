// SliceStore implementation: the Put/Get/Delete/Verify protocol over the RocksDB index (which
// entry is the commit point, what is synced when, how a damaged slice is flagged and repaired).
// Layout and durability protocol: docs/design/slice_store.md. The pieces it composes each have
// their own file: slice_file (one slice's file I/O), dir_sync_group, space_accounting,
// store_metrics, recovery.
#include "storage/store/slice_store.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "base/status_macros.h"
#include "storage/index/index_entry.h"
#include "storage/index/slice_index.h"
#include "storage/slice/slice_format.h"
#include "storage/store/dir_sync_group.h"
#include "storage/store/recovery.h"
#include "storage/store/slice_file.h"
#include "storage/store/space_accounting.h"
#include "storage/store/store_metrics.h"

namespace tessera::storage {

absl::Status SliceStoreOptions::Validate() const {
  if (index_dir.empty()) return absl::InvalidArgumentError("SliceStoreOptions.index_dir is empty");
  if (data_dirs.empty()) {
    return absl::InvalidArgumentError("SliceStoreOptions.data_dirs needs at least one directory");
  }
  absl::flat_hash_set<std::string> seen;
  for (const std::string& dir : data_dirs) {
    if (dir.empty())
      return absl::InvalidArgumentError("SliceStoreOptions.data_dirs has an empty path");
    if (!seen.insert(dir).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("SliceStoreOptions.data_dirs lists ", dir, " twice"));
    }
  }
  if (max_slice_bytes == 0) {
    return absl::InvalidArgumentError("SliceStoreOptions.max_slice_bytes must be > 0");
  }
  if (max_slice_bytes > (uint64_t{1} << 40)) {
    return absl::InvalidArgumentError("SliceStoreOptions.max_slice_bytes must be <= 1 TiB");
  }
  if (inline_threshold_bytes > (uint64_t{1} << 20)) {
    return absl::InvalidArgumentError(
        "SliceStoreOptions.inline_threshold_bytes must be <= 1 MiB (inline slices live in "
        "RocksDB)");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// The store

namespace {

constexpr size_t kLockStripes = 256;

int64_t ToMicros(absl::Time t) { return absl::ToUnixMicros(t); }

SliceState ToSliceState(EntryState s) {
  switch (s) {
    case EntryState::kLive:
      return SliceState::kLive;
    case EntryState::kCorrupt:
      return SliceState::kCorrupt;
    case EntryState::kMissing:
      return SliceState::kMissing;
  }
  return SliceState::kCorrupt;
}

const char* StateName(EntryState s) {
  switch (s) {
    case EntryState::kLive:
      return "live";
    case EntryState::kCorrupt:
      return "corrupt";
    case EntryState::kMissing:
      return "missing";
  }
  return "unknown";
}

// Calls on one slice are serialised by its lock stripe (Get and Stat-like reads share it; Put,
// Delete, Verify and flagging take it exclusively). Everything else is thread-safe on its own.
class SliceStoreImpl final : public SliceStore {
 public:
  explicit SliceStoreImpl(const SliceStoreOptions& options)
      : options_(options),
        env_(options.env != nullptr ? options.env : Env::Default()),
        clock_(options.clock != nullptr ? options.clock : Clock::Real()),
        space_(env_, options),
        dir_syncs_(env_) {}

  // Creates the directories, opens the index, checks its format and runs recovery.
  absl::Status Open();

  absl::Status Put(const SliceId& id, absl::string_view data,
                   std::optional<uint32_t> expected_crc32c) override;
  absl::StatusOr<std::string> Get(const SliceId& id, ByteRange range) override;
  absl::StatusOr<SliceInfo> Stat(const SliceId& id) override;
  absl::Status Delete(const SliceId& id) override;
  absl::Status DeleteIfCreatedAt(const SliceId& id, absl::Time created) override;
  absl::StatusOr<std::vector<SliceInfo>> List(const std::optional<SliceId>& start_after,
                                              size_t limit) override;
  StoreStats Stats() override { return space_.Stats(); }
  StoreCounters Counters() const override { return metrics_.Snapshot(); }
  const RecoveryReport& recovery_report() const override { return report_; }
  absl::Status Verify(const SliceId& id) override;

 private:
  absl::Mutex& StripeFor(absl::string_view key) {
    return stripes_[absl::Hash<absl::string_view>()(key) % kLockStripes];
  }
  std::string FullPath(const IndexEntry& e) const {
    return absl::StrCat(space_.dir_path(e.dir_index), "/", e.file_name);
  }

  absl::Status PutLocked(const SliceId& id, const std::string& key, absl::string_view data,
                         const slice::Checksums& sums);
  // Delete, of the copy created at `created_micros` only when given.
  absl::Status DeleteMatching(const SliceId& id, std::optional<int64_t> created_micros);
  // The synced index write that commits a Put, timed for tessera_slice_store_fsync_*.
  absl::Status CommitEntry(const std::string& key, const IndexEntry& e) {
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = index_->Put(key, e, /*sync=*/true);
    metrics_.RecordSync(StoreMetrics::SyncTarget::kIndex,
                        absl::FromChrono(std::chrono::steady_clock::now() - start));
    return s;
  }
  // Reads [offset, offset + n) of the slice `e` describes (see ReadSliceRange). On DATA_LOSS
  // sets `*damage` (if given) to kMissing for an absent or short file, else kCorrupt.
  absl::StatusOr<std::string> ReadLocked(const std::string& key, const IndexEntry& e,
                                         uint64_t offset, uint64_t n,
                                         EntryState* damage = nullptr) {
    EntryState ignored;
    return ReadSliceRange(env_, e.is_inline ? std::string() : FullPath(e), key, e, offset, n,
                          damage != nullptr ? damage : &ignored);
  }
  // Records `state` for a live entry, fixes the accounting, counts and logs it.
  void MarkLocked(const SliceId& id, const std::string& key, IndexEntry e, EntryState state,
                  const absl::Status& why);

  const SliceStoreOptions options_;
  Env* const env_;
  Clock* const clock_;
  std::unique_ptr<SliceIndex> index_;
  RecoveryReport report_;
  absl::Mutex stripes_[kLockStripes];
  SpaceAccounting space_;
  DirSyncGroup dir_syncs_;
  StoreMetrics metrics_;
};

absl::Status SliceStoreImpl::Open() {
  TESSERA_RETURN_IF_ERROR(
      metrics_.Register(options_.registry != nullptr ? options_.registry : &Registry::Default()));
  TESSERA_RETURN_IF_ERROR(env_->CreateDirs(options_.index_dir));
  for (const std::string& dir : options_.data_dirs) {
    for (uint32_t shard = 0; shard < kShardDirs; ++shard) {
      TESSERA_RETURN_IF_ERROR(
          env_->CreateDirs(absl::StrCat(dir, "/", kSlicesSubdir, "/", ShardName(shard))));
    }
  }
  TESSERA_ASSIGN_OR_RETURN(index_,
                           SliceIndex::Open(absl::StrCat(options_.index_dir, "/index"), env_));
  TESSERA_RETURN_IF_ERROR(CheckStoreFormat(index_.get(), options_.index_dir));
  const absl::Time start = clock_->Now();
  absl::StatusOr<RecoveryReport> report =
      RecoverSliceStore(env_, index_.get(), options_, &space_, &metrics_);
  if (!report.ok()) {
    TESSERA_LOG(ERROR, "slice_store_recovery_failed")
        .Field("index_dir", options_.index_dir)
        .Field("status", report.status());
    return report.status();
  }
  report_ = *report;
  metrics_.RecordRecovery(report_);
  TESSERA_LOG(INFO, "slice_store_recovered")
      .Field("index_dir", options_.index_dir)
      .Field("slices", report_.slices)
      .Field("orphan_files", report_.orphan_files)
      .Field("missing_files", report_.missing_files)
      .Field("temp_files", report_.temp_files)
      .Field("checked_sizes", options_.check_file_sizes_at_open)
      .Field("took", clock_->Now() - start);
  return absl::OkStatus();
}

absl::Status SliceStoreImpl::Put(const SliceId& id, absl::string_view data,
                                 std::optional<uint32_t> expected_crc32c) {
  if (!id.Valid()) {
    return metrics_.Count(absl::InvalidArgumentError(
        absl::StrCat("slice id version_id must be ", SliceId::kVersionIdSize, " bytes, got ",
                     id.version_id.size())));
  }
  if (data.size() > options_.max_slice_bytes) {
    return metrics_.Count(absl::InvalidArgumentError(
        absl::StrCat("slice ", id.ToString(), " is ", data.size(), " bytes; max_slice_bytes is ",
                     options_.max_slice_bytes)));
  }
  // Checksums are computed before taking the lock: the lock only guards this id's entry.
  const slice::Checksums sums = slice::ComputeChecksums(data);
  if (expected_crc32c.has_value() && *expected_crc32c != sums.whole) {
    return metrics_.Count(absl::DataLossError(
        absl::StrCat("slice ", id.ToString(), ": data does not match expected crc32c")));
  }
  const std::string key = id.Encode();
  absl::Status s;
  {
    absl::MutexLock lock(&StripeFor(key));
    s = PutLocked(id, key, data, sums);
  }
  if (s.ok()) metrics_.RecordPut(data.size());
  return metrics_.Count(s);
}

absl::Status SliceStoreImpl::PutLocked(const SliceId& id, const std::string& key,
                                       absl::string_view data, const slice::Checksums& sums) {
  std::optional<IndexEntry> old;
  absl::StatusOr<IndexEntry> existing = index_->Get(key);
  if (existing.ok()) {
    if (existing->state == EntryState::kLive) {
      if (existing->length != data.size() || existing->crc32c != sums.whole) {
        return absl::AlreadyExistsError(
            absl::StrCat("slice ", id.ToString(), " already exists with different contents"));
      }
      // Same length and CRC: compare the bytes themselves, which also re-verifies them.
      absl::StatusOr<std::string> stored = ReadLocked(key, *existing, 0, existing->length);
      if (stored.ok()) {
        if (*stored == data) {
          // An idempotent retry, or a writer putting this slice here again (repair): the copy
          // is as good as new, and its creation time says so, so that a DeleteIfCreatedAt that
          // saw the older time (a reclaimer judging it a stale copy) fails.
          IndexEntry refreshed = *existing;
          refreshed.created_micros =
              std::max(ToMicros(clock_->Now()), existing->created_micros + 1);
          refreshed.verified_micros = refreshed.created_micros;
          return CommitEntry(key, refreshed);
        }
        return absl::AlreadyExistsError(
            absl::StrCat("slice ", id.ToString(), " already exists with different contents"));
      }
      if (!absl::IsDataLoss(stored.status())) return stored.status();
      // The stored copy is damaged: this Put repairs it.
    }
    old = *existing;
  } else if (!absl::IsNotFound(existing.status())) {
    return existing.status();
  }

  IndexEntry e;
  e.length = data.size();
  e.crc32c = sums.whole;
  e.block_size = slice::kBlockSize;
  e.created_micros = ToMicros(clock_->Now());
  e.verified_micros = e.created_micros;

  if (data.size() <= options_.inline_threshold_bytes) {
    e.is_inline = true;
    e.inline_data = std::string(data);
    TESSERA_RETURN_IF_ERROR(CommitEntry(key, e));
  } else {
    e.block_crcs = sums.blocks;
    e.file_name = SliceFileName(key);
    const uint64_t file_size = slice::FileSize(data.size());
    TESSERA_ASSIGN_OR_RETURN(const size_t dir, space_.Reserve(file_size));
    e.dir_index = static_cast<uint32_t>(dir);
    const std::string path = FullPath(e);
    // Does the entry being replaced (repair) use the very file we are about to overwrite?
    const bool reuses_old_file = old.has_value() && !old->is_inline &&
                                 old->dir_index == e.dir_index && old->file_name == e.file_name;
    // The file is written under its final name: the synced index entry below is the commit
    // point, so until then the file is an orphan that no read follows and recovery removes.
    // When it overwrites the file of a damaged entry (repair), that entry already reads as
    // DATA_LOSS, and a partial file keeps it so (short or bad-CRC blocks).
    absl::Status s = WriteSliceFile(env_, &dir_syncs_, path, key, data, &metrics_);
    if (!s.ok()) {
      space_.Unreserve(dir, file_size);
      return Annotate(s, absl::StrCat("put slice ", id.ToString()));
    }
    s = CommitEntry(key, e);
    space_.Unreserve(dir, file_size);
    if (!s.ok()) {
      // The failed write may still reach the disk (e.g. the WAL was written but its sync
      // failed), so the file may only go once the index durably says it is not referenced:
      // restore the previous state with a synced write, then unlink (best effort; otherwise
      // recovery removes the orphan at the next open).
      const absl::Status restored = old.has_value() ? index_->Put(key, *old, /*sync=*/true)
                                                    : index_->Delete(key, /*sync=*/true);
      if (restored.ok() && !reuses_old_file) (void)env_->DeleteFile(path);
      return Annotate(s, absl::StrCat("put slice ", id.ToString()));
    }
  }
  if (old.has_value()) {
    space_.Remove(*old);
    // A repaired slice may have moved to another directory; drop the old file.
    if (!old->is_inline && (e.is_inline || old->dir_index != e.dir_index)) {
      (void)env_->DeleteFile(FullPath(*old));
    }
  }
  space_.Add(e);
  return absl::OkStatus();
}

absl::StatusOr<std::string> SliceStoreImpl::Get(const SliceId& id, ByteRange range) {
  if (!id.Valid()) return metrics_.Count(absl::InvalidArgumentError("malformed slice id"));
  const std::string key = id.Encode();
  absl::StatusOr<std::string> out;
  IndexEntry read_entry;
  EntryState damage = EntryState::kCorrupt;
  {
    absl::ReaderMutexLock lock(&StripeFor(key));
    absl::StatusOr<IndexEntry> e = index_->Get(key);
    if (!e.ok()) {
      if (absl::IsNotFound(e.status())) {
        return absl::NotFoundError(absl::StrCat("slice ", id.ToString(), " not found"));
      }
      return metrics_.Count(e.status());
    }
    if (e->state != EntryState::kLive) {
      return metrics_.Count(
          absl::DataLossError(absl::StrCat("slice ", id.ToString(), " is ", StateName(e->state))));
    }
    if (range.offset > e->length) {
      return metrics_.Count(
          absl::OutOfRangeError(absl::StrCat("offset ", range.offset, " is past the end of slice ",
                                             id.ToString(), " (", e->length, " bytes)")));
    }
    uint64_t n = e->length - range.offset;
    if (range.length != 0) n = std::min(n, range.length);
    out = ReadLocked(key, *e, range.offset, n, &damage);
    if (absl::IsDataLoss(out.status())) read_entry = *std::move(e);
  }
  if (out.ok()) {
    metrics_.RecordGet(out->size());
  } else if (absl::IsDataLoss(out.status())) {
    // Flag the slice (exclusive lock now), unless a Put or Delete changed the entry meanwhile.
    absl::MutexLock lock(&StripeFor(key));
    absl::StatusOr<IndexEntry> now = index_->Get(key);
    if (now.ok() && *now == read_entry) MarkLocked(id, key, *now, damage, out.status());
  }
  return metrics_.Count(std::move(out));
}

absl::StatusOr<SliceInfo> SliceStoreImpl::Stat(const SliceId& id) {
  if (!id.Valid()) return absl::InvalidArgumentError("malformed slice id");
  absl::StatusOr<IndexEntry> e = index_->Get(id.Encode());
  if (absl::IsNotFound(e.status())) {
    return absl::NotFoundError(absl::StrCat("slice ", id.ToString(), " not found"));
  }
  if (!e.ok()) return e.status();
  return SliceInfo{id, e->length, e->crc32c, absl::FromUnixMicros(e->created_micros),
                   ToSliceState(e->state)};
}

absl::Status SliceStoreImpl::Delete(const SliceId& id) { return DeleteMatching(id, std::nullopt); }

absl::Status SliceStoreImpl::DeleteIfCreatedAt(const SliceId& id, absl::Time created) {
  return DeleteMatching(id, ToMicros(created));
}

absl::Status SliceStoreImpl::DeleteMatching(const SliceId& id,
                                            std::optional<int64_t> created_micros) {
  if (!id.Valid()) return metrics_.Count(absl::InvalidArgumentError("malformed slice id"));
  const std::string key = id.Encode();
  absl::MutexLock lock(&StripeFor(key));
  absl::StatusOr<IndexEntry> e = index_->Get(key);
  if (absl::IsNotFound(e.status())) {
    return absl::NotFoundError(absl::StrCat("slice ", id.ToString(), " not found"));
  }
  if (!e.ok()) return metrics_.Count(e.status());
  if (created_micros.has_value() && e->created_micros != *created_micros) {
    return absl::FailedPreconditionError(
        absl::StrCat("slice ", id.ToString(), " was rewritten since the copy to delete was seen"));
  }
  // The synced index delete is the commit point. The file goes afterwards; should that not reach
  // the disk, recovery removes it as an orphan.
  // No directory sync after the unlink: the index no longer refers to the file, so whether the
  // unlink is durable does not matter to readers (and Delete stays one fsync).
  TESSERA_RETURN_IF_ERROR(metrics_.Count(index_->Delete(key, /*sync=*/true)));
  if (!e->is_inline) (void)env_->DeleteFile(FullPath(*e));
  space_.Remove(*e);
  metrics_.RecordDelete();
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SliceInfo>> SliceStoreImpl::List(
    const std::optional<SliceId>& start_after, size_t limit) {
  std::optional<std::string> cursor;
  if (start_after.has_value()) {
    if (!start_after->Valid()) return absl::InvalidArgumentError("malformed start_after id");
    cursor = start_after->Encode();
  }
  TESSERA_ASSIGN_OR_RETURN(auto page, index_->Scan(cursor, limit));
  std::vector<SliceInfo> out;
  out.reserve(page.size());
  for (const auto& [key, e] : page) {
    TESSERA_ASSIGN_OR_RETURN(SliceId id, SliceId::Decode(key));
    out.push_back(SliceInfo{std::move(id), e.length, e.crc32c,
                            absl::FromUnixMicros(e.created_micros), ToSliceState(e.state)});
  }
  return out;
}

void SliceStoreImpl::MarkLocked(const SliceId& id, const std::string& key, IndexEntry e,
                                EntryState state, const absl::Status& why) {
  space_.Remove(e);
  e.state = state;
  space_.Add(e);
  // Best effort: if this write fails the next read or Verify finds the damage again.
  const absl::Status s = index_->Put(key, e, /*sync=*/true);
  metrics_.RecordFlagged(state);
  // The error text names the file and block, never slice bytes.
  TESSERA_LOG(WARNING, "slice_flagged")
      .Field("slice", id.ToString())
      .Field("state", StateName(state))
      .Field("error", why)
      .Field("index_write", s);
}

absl::Status SliceStoreImpl::Verify(const SliceId& id) {
  if (!id.Valid()) return metrics_.Count(absl::InvalidArgumentError("malformed slice id"));
  const std::string key = id.Encode();
  absl::MutexLock lock(&StripeFor(key));
  absl::StatusOr<IndexEntry> e = index_->Get(key);
  if (absl::IsNotFound(e.status())) {
    return absl::NotFoundError(absl::StrCat("slice ", id.ToString(), " not found"));
  }
  if (!e.ok()) return metrics_.Count(e.status());
  if (e->state != EntryState::kLive) {
    return metrics_.Count(
        absl::DataLossError(absl::StrCat("slice ", id.ToString(), " is ", StateName(e->state))));
  }
  EntryState damage = EntryState::kCorrupt;
  absl::Status s = VerifySliceFile(env_, FullPath(*e), key, *e, &damage);
  if (absl::IsDataLoss(s)) {
    MarkLocked(id, key, *e, damage, s);
    return metrics_.Count(Annotate(s, absl::StrCat("verify slice ", id.ToString())));
  }
  if (!s.ok()) return metrics_.Count(s);
  // Record the check; not synced, as losing it only means re-checking sooner.
  IndexEntry verified = *e;
  verified.verified_micros = ToMicros(clock_->Now());
  (void)index_->Put(key, verified, /*sync=*/false);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<SliceStore>> OpenSliceStore(const SliceStoreOptions& options) {
  TESSERA_RETURN_IF_ERROR(options.Validate());
  auto store = std::make_unique<SliceStoreImpl>(options);
  TESSERA_RETURN_IF_ERROR(store->Open());
  return std::unique_ptr<SliceStore>(std::move(store));
}

}  // namespace tessera::storage
