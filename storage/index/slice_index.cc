#include "storage/index/slice_index.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/listener.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "storage/index/env_file_system.h"

namespace tessera::storage {
namespace {

// Turns off RocksDB's automatic recovery from background errors (for a full disk it polls
// free space every few seconds on its own thread); Write() calls DB::Resume() itself instead.
class ManualRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

constexpr char kEntryPrefix = 's';
constexpr char kMetaPrefix = 'm';

std::string EntryKey(absl::string_view key) {
  std::string out(1, kEntryPrefix);
  out.append(key.data(), key.size());
  return out;
}
std::string MetaKey(absl::string_view name) {
  std::string out(1, kMetaPrefix);
  out.append(name.data(), name.size());
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SliceIndex>> SliceIndex::Open(const std::string& dir, Env* env) {
  if (env == nullptr) return absl::InvalidArgumentError("SliceIndex::Open: env is null");
  TESSERA_RETURN_IF_ERROR(env->CreateDirs(dir));
  std::unique_ptr<SliceIndex> index(new SliceIndex());
  index->rocks_env_ = NewRocksEnv(env);

  rocksdb::Options options;
  options.env = index->rocks_env_.get();
  options.create_if_missing = true;
  // Every byte RocksDB reads or writes must pass through the Env.
  options.allow_mmap_reads = false;
  options.allow_mmap_writes = false;
  options.use_direct_reads = false;
  options.use_direct_io_for_flush_and_compaction = false;
  // The WAL is written on every Put (not buffered in memory until FlushWAL).
  options.manual_wal_flush = false;
  options.paranoid_checks = true;
  options.max_background_jobs = 2;
  options.keep_log_file_num = 2;
  options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  options.listeners.push_back(std::make_shared<ManualRecovery>());
  // Bloom filters make the existence check in Put cheap once entries reach SST files.
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return Annotate(FromRocksStatus(s), absl::StrCat("open slice index ", dir));
  index->db_.reset(db);
  return index;
}

SliceIndex::~SliceIndex() {
  if (db_ != nullptr) {
    (void)db_->Close();
    db_.reset();
  }
}

absl::Status SliceIndex::Write(rocksdb::WriteBatch* batch, bool sync) {
  if (needs_resume_.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&resume_mu_);
    if (needs_resume_.load(std::memory_order_relaxed)) {
      rocksdb::Status r = db_->Resume();
      if (!r.ok()) return Annotate(FromRocksStatus(r), "slice index write (resume)");
      needs_resume_.store(false, std::memory_order_release);
    }
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->Write(wo, batch);
  if (!s.ok()) {
    needs_resume_.store(true, std::memory_order_release);
    return Annotate(FromRocksStatus(s), "slice index write");
  }
  return absl::OkStatus();
}

absl::StatusOr<IndexEntry> SliceIndex::Get(absl::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), EntryKey(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError("no index entry");
  if (!s.ok()) return Annotate(FromRocksStatus(s), "slice index get");
  return DecodeIndexEntry(value);
}

absl::Status SliceIndex::Put(absl::string_view key, const IndexEntry& entry, bool sync) {
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Put(EntryKey(key), EncodeIndexEntry(entry));
  if (!s.ok()) return FromRocksStatus(s);
  return Write(&batch, sync);
}

absl::Status SliceIndex::Delete(absl::string_view key, bool sync) {
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Delete(EntryKey(key));
  if (!s.ok()) return FromRocksStatus(s);
  return Write(&batch, sync);
}

absl::StatusOr<std::vector<std::pair<std::string, IndexEntry>>> SliceIndex::Scan(
    const std::optional<std::string>& start_after, size_t limit) {
  std::vector<std::pair<std::string, IndexEntry>> out;
  if (limit == 0) return out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string start = start_after.has_value() ? EntryKey(*start_after) : EntryKey("");
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.empty() || k[0] != kEntryPrefix) break;
    std::string key(k.data() + 1, k.size() - 1);
    if (start_after.has_value() && key == *start_after) continue;
    TESSERA_ASSIGN_OR_RETURN(IndexEntry entry, DecodeIndexEntry(absl::string_view(
                                                   it->value().data(), it->value().size())));
    out.emplace_back(std::move(key), std::move(entry));
  }
  if (!it->status().ok()) return Annotate(FromRocksStatus(it->status()), "slice index scan");
  return out;
}

absl::Status SliceIndex::ForEach(
    const std::function<absl::Status(absl::string_view key, const IndexEntry& entry)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(EntryKey("")); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (k.empty() || k[0] != kEntryPrefix) break;
    TESSERA_ASSIGN_OR_RETURN(IndexEntry entry, DecodeIndexEntry(absl::string_view(
                                                   it->value().data(), it->value().size())));
    TESSERA_RETURN_IF_ERROR(fn(absl::string_view(k.data() + 1, k.size() - 1), entry));
  }
  if (!it->status().ok()) return Annotate(FromRocksStatus(it->status()), "slice index scan");
  return absl::OkStatus();
}

absl::StatusOr<std::string> SliceIndex::GetMeta(absl::string_view name) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), MetaKey(name), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no metadata record ", name));
  if (!s.ok()) return Annotate(FromRocksStatus(s), "slice index get metadata");
  return value;
}

absl::Status SliceIndex::PutMeta(absl::string_view name, absl::string_view value) {
  rocksdb::WriteBatch batch;
  rocksdb::Status s = batch.Put(MetaKey(name), rocksdb::Slice(value.data(), value.size()));
  if (!s.ok()) return FromRocksStatus(s);
  return Write(&batch, /*sync=*/true);
}

}  // namespace tessera::storage
