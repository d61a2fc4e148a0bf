// SliceStore implementation. Layout and durability protocol: docs/design/slice_store.md.
#include "storage/store/slice_store.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "base/status_macros.h"
#include "storage/index/index_entry.h"
#include "storage/index/slice_index.h"
#include "storage/slice/crc32c.h"
#include "storage/slice/slice_format.h"

namespace tessera::storage {

// ---------------------------------------------------------------------------------------------
// SliceId and options

namespace {

void PutBe32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetBe32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

constexpr size_t kKeySize = SliceId::kVersionIdSize + 12;

}  // namespace

std::string SliceId::Encode() const {
  std::string out = version_id;
  out.reserve(kKeySize);
  PutBe32(&out, part);
  PutBe32(&out, stripe);
  PutBe32(&out, index);
  return out;
}

absl::StatusOr<SliceId> SliceId::Decode(absl::string_view key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("slice key must be ", kKeySize, " bytes, got ", key.size()));
  }
  SliceId id;
  id.version_id = std::string(key.substr(0, kVersionIdSize));
  id.part = GetBe32(key.data() + kVersionIdSize);
  id.stripe = GetBe32(key.data() + kVersionIdSize + 4);
  id.index = GetBe32(key.data() + kVersionIdSize + 8);
  return id;
}

std::string SliceId::ToString() const {
  return absl::StrCat(absl::BytesToHexString(version_id), "/", part, "/", stripe, "/", index);
}

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

// Store-wide format, recorded in the index under kFormatRecord as "<major>.<minor>". A newer
// major version is refused at open; a newer minor version is readable (additive changes only).
constexpr uint32_t kStoreFormatMajor = 1;
constexpr uint32_t kStoreFormatMinor = 0;
constexpr char kFormatRecord[] = "store_format";

constexpr size_t kLockStripes = 256;
// Shard directories per data directory. Entries record their file name, so the count can change
// without a format change: recovery walks whatever shard directories exist.
constexpr uint32_t kShardDirs = 256;
constexpr char kSlicesSubdir[] = "slices";
constexpr char kSliceSuffix[] = ".slice";
constexpr char kTempInfix[] = ".tmp.";

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

std::string ShardName(uint32_t shard) {
  static const char kHex[] = "0123456789abcdef";
  return std::string{kHex[(shard >> 4) & 15], kHex[shard & 15]};
}

std::string ShardName(absl::string_view key) { return ShardName(crc32c::Value(key) % kShardDirs); }

// File name of a slice relative to its data directory: slices/<shard>/<hex key>.slice.
std::string RelativeFileName(absl::string_view key) {
  return absl::StrCat(kSlicesSubdir, "/", ShardName(key), "/", absl::BytesToHexString(key),
                      kSliceSuffix);
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Group commit for directory syncs: concurrent callers that need the same directory synced share
// one SyncDir. A caller's ticket is taken after its directory change, so a sync that starts after
// the ticket was taken covers it; while one sync runs, later callers wait and the next leader's
// sync covers them all.
class DirSyncGroup {
 public:
  explicit DirSyncGroup(Env* env) : env_(env) {}

  absl::Status Sync(const std::string& dir) {
    State* st;
    {
      absl::MutexLock lock(&map_mu_);
      std::unique_ptr<State>& slot = states_[dir];
      if (slot == nullptr) slot = std::make_unique<State>();
      st = slot.get();
    }
    absl::MutexLock lock(&st->mu);
    const uint64_t ticket = ++st->requested;
    while (st->done < ticket) {
      if (st->busy) {
        st->cv.Wait(&st->mu);
        continue;
      }
      st->busy = true;
      const uint64_t target = st->requested;
      st->mu.Unlock();
      absl::Status s = env_->SyncDir(dir);
      st->mu.Lock();
      st->busy = false;
      st->done = target;
      st->last = s;
      st->cv.SignalAll();
    }
    // The latest finished sync started after our ticket: its result is ours (a failure is
    // reported even if an earlier sync that also covered us succeeded: conservative).
    return st->last;
  }

 private:
  struct State {
    absl::Mutex mu;
    absl::CondVar cv;
    uint64_t requested ABSL_GUARDED_BY(mu) = 0;  // tickets handed out
    uint64_t done ABSL_GUARDED_BY(mu) = 0;       // tickets covered by the latest finished sync
    bool busy ABSL_GUARDED_BY(mu) = false;
    absl::Status last ABSL_GUARDED_BY(mu);
  };
  Env* const env_;
  absl::Mutex map_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<State>> states_ ABSL_GUARDED_BY(map_mu_);
};

// The store's exported metrics (base/metrics.h), cached child references.
struct StoreMetrics {
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

  absl::Status Register(Registry* reg) {
    struct C {
      const char* name;
      const char* help;
      Counter** out;
    } counters[] = {
        {"tessera_slice_store_puts_total", "Successful slice Puts (idempotent retries too).",
         &puts},
        {"tessera_slice_store_put_bytes_total", "Bytes stored by successful slice Puts.",
         &put_bytes},
        {"tessera_slice_store_gets_total", "Successful slice Gets.", &gets},
        {"tessera_slice_store_get_bytes_total", "Bytes returned by successful slice Gets.",
         &get_bytes},
        {"tessera_slice_store_deletes_total", "Successful slice Deletes.", &deletes},
        {"tessera_slice_store_checksum_failures_total",
         "DATA_LOSS results from slice Get or Verify.", &checksum_failures},
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
};

// A counter that can be bumped from many threads without a lock.
struct AtomicCounters {
  std::atomic<uint64_t> puts{0}, put_bytes{0}, gets{0}, get_bytes{0}, deletes{0}, errors{0},
      checksum_failures{0}, slices_marked_corrupt{0};
};

class SliceStoreImpl final : public SliceStore {
 public:
  explicit SliceStoreImpl(const SliceStoreOptions& options)
      : options_(options),
        env_(options.env != nullptr ? options.env : Env::Default()),
        clock_(options.clock != nullptr ? options.clock : Clock::Real()),
        dirs_(options.data_dirs.size()),
        dir_syncs_(env_) {
    for (size_t i = 0; i < dirs_.size(); ++i) dirs_[i].path = options.data_dirs[i];
  }

  absl::Status Open();

  absl::Status Put(const SliceId& id, absl::string_view data,
                   std::optional<uint32_t> expected_crc32c) override;
  absl::StatusOr<std::string> Get(const SliceId& id, ByteRange range) override;
  absl::StatusOr<SliceInfo> Stat(const SliceId& id) override;
  absl::Status Delete(const SliceId& id) override;
  absl::StatusOr<std::vector<SliceInfo>> List(const std::optional<SliceId>& start_after,
                                              size_t limit) override;
  StoreStats Stats() override;
  StoreCounters Counters() const override;
  const RecoveryReport& recovery_report() const override { return report_; }
  absl::Status Verify(const SliceId& id) override;

 private:
  struct DataDir {
    std::string path;
    uint64_t file_bytes = 0;     // on-disk bytes of indexed slice files here (guarded by stats_mu_)
    uint64_t pending_bytes = 0;  // reserved by Puts in flight (guarded by stats_mu_)
  };

  absl::Mutex& StripeFor(absl::string_view key) {
    return stripes_[absl::Hash<absl::string_view>()(key) % kLockStripes];
  }
  std::string FullPath(const IndexEntry& e) const {
    return absl::StrCat(dirs_[e.dir_index].path, "/", e.file_name);
  }
  absl::Status CheckFormatVersion();
  absl::Status Recover();

  absl::Status PutLocked(const SliceId& id, const std::string& key, absl::string_view data,
                         const slice::Checksums& sums);
  // Writes header + data to `path` (created or truncated), syncs it and (group-committed) its
  // directory. On error removes the file (best effort).
  absl::Status WriteSliceFile(const std::string& path, const std::string& key,
                              absl::string_view data);
  // Reads [offset, offset + n) of the slice described by `e`, verifying every touched block. On
  // DATA_LOSS sets `*damage` (if given) to kMissing for an absent or short file, else kCorrupt.
  absl::StatusOr<std::string> ReadLocked(const std::string& key, const IndexEntry& e,
                                         uint64_t offset, uint64_t n, EntryState* damage = nullptr);
  // Full read + header check for Verify().
  absl::Status VerifyLocked(const std::string& key, const IndexEntry& e, EntryState* damage);
  // Records `state` for a live entry, fixes the accounting, counts and logs it.
  void MarkLocked(const SliceId& id, const std::string& key, IndexEntry e, EntryState state,
                  const absl::Status& why);

  // Free bytes Put may use in directory `i`, given the file system's view `space`.
  uint64_t FreeLocked(size_t i, const DiskSpace& space) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(stats_mu_);
  uint64_t CapacityOf(const DiskSpace& space) const;
  // Picks the directory with the most free space and reserves `bytes` there.
  absl::StatusOr<size_t> Reserve(uint64_t bytes);
  void Unreserve(size_t dir, uint64_t bytes);

  void AccountAdd(const IndexEntry& e);
  void AccountRemove(const IndexEntry& e);
  absl::Status Count(absl::Status s);
  template <typename T>
  absl::StatusOr<T> Count(absl::StatusOr<T> s) {
    (void)Count(s.status());
    return s;
  }

  const SliceStoreOptions options_;
  Env* const env_;
  Clock* const clock_;
  std::unique_ptr<SliceIndex> index_;
  RecoveryReport report_;
  std::vector<DataDir> dirs_;
  absl::Mutex stripes_[kLockStripes];
  DirSyncGroup dir_syncs_;
  StoreMetrics metrics_;

  mutable absl::Mutex stats_mu_;
  uint64_t live_bytes_ ABSL_GUARDED_BY(stats_mu_) = 0;
  uint64_t live_count_ ABSL_GUARDED_BY(stats_mu_) = 0;
  AtomicCounters counters_;
};

absl::Status SliceStoreImpl::Count(absl::Status s) {
  if (!s.ok() && s.code() != absl::StatusCode::kNotFound) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    metrics_.errors->WithLabels({absl::StatusCodeToString(s.code())}).Increment();
    if (s.code() == absl::StatusCode::kDataLoss) {
      counters_.checksum_failures.fetch_add(1, std::memory_order_relaxed);
      metrics_.checksum_failures->Increment();
    }
  }
  return s;
}

absl::Status SliceStoreImpl::Open() {
  TESSERA_RETURN_IF_ERROR(
      metrics_.Register(options_.registry != nullptr ? options_.registry : &Registry::Default()));
  TESSERA_RETURN_IF_ERROR(env_->CreateDirs(options_.index_dir));
  for (const DataDir& dir : dirs_) {
    for (uint32_t shard = 0; shard < kShardDirs; ++shard) {
      TESSERA_RETURN_IF_ERROR(
          env_->CreateDirs(absl::StrCat(dir.path, "/", kSlicesSubdir, "/", ShardName(shard))));
    }
  }
  TESSERA_ASSIGN_OR_RETURN(index_,
                           SliceIndex::Open(absl::StrCat(options_.index_dir, "/index"), env_));
  TESSERA_RETURN_IF_ERROR(CheckFormatVersion());
  const absl::Time start = clock_->Now();
  absl::Status s = Recover();
  if (!s.ok()) {
    TESSERA_LOG(ERROR, "slice_store_recovery_failed")
        .Field("index_dir", options_.index_dir)
        .Field("status", s);
    return s;
  }
  metrics_.recovery_slices->Set(static_cast<double>(report_.slices));
  metrics_.recovery_orphans->Set(static_cast<double>(report_.orphan_files));
  metrics_.recovery_missing->Set(static_cast<double>(report_.missing_files));
  metrics_.recovery_temps->Set(static_cast<double>(report_.temp_files));
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

absl::Status SliceStoreImpl::CheckFormatVersion() {
  absl::StatusOr<std::string> record = index_->GetMeta(kFormatRecord);
  if (absl::IsNotFound(record.status())) {
    return index_->PutMeta(kFormatRecord, absl::StrCat(kStoreFormatMajor, ".", kStoreFormatMinor));
  }
  if (!record.ok()) return record.status();
  std::vector<std::string> parts = absl::StrSplit(*record, '.');
  uint32_t major = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &major)) {
    return absl::DataLossError(
        absl::StrCat("slice store at ", options_.index_dir, " has a malformed format record"));
  }
  if (major > kStoreFormatMajor) {
    return absl::FailedPreconditionError(
        absl::StrCat("slice store at ", options_.index_dir, " has format version ", *record,
                     ", newer than this binary supports (", kStoreFormatMajor, ".",
                     kStoreFormatMinor, "); run a newer tessera-node"));
  }
  return absl::OkStatus();
}

absl::Status SliceStoreImpl::Recover() {
  // 1. List the data directories (no per-file stat): remove temporary files (older stores wrote
  //    slices through them), remember every slice file name.
  std::vector<absl::flat_hash_set<std::string>> present(dirs_.size());
  absl::flat_hash_set<std::string> touched_dirs;
  for (size_t d = 0; d < dirs_.size(); ++d) {
    const std::string slices = absl::StrCat(dirs_[d].path, "/", kSlicesSubdir);
    TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> shards, env_->ListDir(slices));
    for (const std::string& shard : shards) {
      const std::string shard_dir = absl::StrCat(slices, "/", shard);
      absl::StatusOr<std::vector<std::string>> names = env_->ListDir(shard_dir);
      if (!names.ok()) continue;  // not a directory
      for (const std::string& name : *names) {
        if (absl::StrContains(name, kTempInfix)) {
          absl::Status s = env_->DeleteFile(absl::StrCat(shard_dir, "/", name));
          if (!s.ok() && !absl::IsNotFound(s)) return s;
          ++report_.temp_files;
          touched_dirs.insert(shard_dir);
        } else if (absl::EndsWith(name, kSliceSuffix)) {
          present[d].insert(absl::StrCat(kSlicesSubdir, "/", shard, "/", name));
        }
        // Other names are left alone.
      }
    }
  }

  // 2. Walk the index. A file entry whose name was not listed is flagged missing; with
  //    check_file_sizes_at_open a short file is too (otherwise reads find short files and flag
  //    them then). Names the index refers to are taken out of `present`.
  std::vector<std::pair<std::string, IndexEntry>> to_flag;
  TESSERA_RETURN_IF_ERROR(index_->ForEach([&](absl::string_view key, const IndexEntry& e) {
    if (e.is_inline) {
      if (e.state == EntryState::kLive) ++report_.slices;
      AccountAdd(e);
      return absl::OkStatus();
    }
    if (e.dir_index >= dirs_.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("slice index refers to data directory #", e.dir_index, " but only ",
                       dirs_.size(), " are configured; data_dirs must keep their order"));
    }
    const bool listed = present[e.dir_index].erase(e.file_name) > 0;
    if (e.state == EntryState::kMissing) {
      ++report_.missing_files;
      return absl::OkStatus();
    }
    bool ok = listed;
    if (ok && options_.check_file_sizes_at_open) {
      absl::StatusOr<uint64_t> size = env_->FileSize(FullPath(e));
      ok = size.ok() && *size >= slice::FileSize(e.length);
    }
    if (!ok) {
      ++report_.missing_files;
      IndexEntry flagged = e;
      flagged.state = EntryState::kMissing;
      to_flag.emplace_back(std::string(key), std::move(flagged));
      return absl::OkStatus();
    }
    if (e.state == EntryState::kLive) ++report_.slices;
    AccountAdd(e);
    return absl::OkStatus();
  }));
  for (const auto& [key, e] : to_flag) {
    TESSERA_RETURN_IF_ERROR(index_->Put(key, e, /*sync=*/true));
    metrics_.flagged_missing->Increment();
    absl::StatusOr<SliceId> id = SliceId::Decode(key);
    TESSERA_LOG(WARNING, "slice_flagged")
        .Field("slice", id.ok() ? id->ToString() : absl::BytesToHexString(key))
        .Field("state", "missing")
        .Field("by", "recovery");
  }

  // 3. What is left in `present` has no index entry: a crash between a Put's file write and its
  //    index Put, or between a Delete's index delete and its unlink. Remove these orphans.
  for (size_t d = 0; d < dirs_.size(); ++d) {
    for (const std::string& rel : present[d]) {
      const std::string path = absl::StrCat(dirs_[d].path, "/", rel);
      absl::Status s = env_->DeleteFile(path);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
      ++report_.orphan_files;
      touched_dirs.insert(ParentDir(path));
    }
  }
  for (const std::string& dir : touched_dirs) TESSERA_RETURN_IF_ERROR(env_->SyncDir(dir));
  return absl::OkStatus();
}

uint64_t SliceStoreImpl::CapacityOf(const DiskSpace& space) const {
  return options_.capacity_bytes > 0 ? std::min(options_.capacity_bytes, space.capacity_bytes)
                                     : space.capacity_bytes;
}

uint64_t SliceStoreImpl::FreeLocked(size_t i, const DiskSpace& space) const {
  const DataDir& d = dirs_[i];
  auto sub = [](uint64_t a, uint64_t b) { return a > b ? a - b : 0; };
  uint64_t free = sub(sub(space.free_bytes, options_.reserved_bytes), d.pending_bytes);
  if (options_.capacity_bytes > 0) {
    free = std::min(free, sub(CapacityOf(space), d.file_bytes + d.pending_bytes));
  }
  return free;
}

absl::StatusOr<size_t> SliceStoreImpl::Reserve(uint64_t bytes) {
  std::vector<DiskSpace> spaces(dirs_.size());
  for (size_t i = 0; i < dirs_.size(); ++i) {
    TESSERA_ASSIGN_OR_RETURN(spaces[i], env_->GetDiskSpace(dirs_[i].path));
  }
  absl::MutexLock lock(&stats_mu_);
  size_t best = 0;
  uint64_t best_free = 0;
  for (size_t i = 0; i < dirs_.size(); ++i) {
    const uint64_t free = FreeLocked(i, spaces[i]);
    if (i == 0 || free > best_free) {
      best = i;
      best_free = free;
    }
  }
  if (best_free < bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no data directory has ", bytes, " bytes free (most is ", best_free, ")"));
  }
  dirs_[best].pending_bytes += bytes;
  return best;
}

void SliceStoreImpl::Unreserve(size_t dir, uint64_t bytes) {
  absl::MutexLock lock(&stats_mu_);
  dirs_[dir].pending_bytes -= bytes;
}

void SliceStoreImpl::AccountAdd(const IndexEntry& e) {
  absl::MutexLock lock(&stats_mu_);
  if (e.state == EntryState::kLive) {
    live_bytes_ += e.length;
    ++live_count_;
  }
  if (!e.is_inline && e.state != EntryState::kMissing) {
    dirs_[e.dir_index].file_bytes += slice::FileSize(e.length);
  }
}

void SliceStoreImpl::AccountRemove(const IndexEntry& e) {
  absl::MutexLock lock(&stats_mu_);
  if (e.state == EntryState::kLive) {
    live_bytes_ -= e.length;
    --live_count_;
  }
  if (!e.is_inline && e.state != EntryState::kMissing) {
    dirs_[e.dir_index].file_bytes -= slice::FileSize(e.length);
  }
}

absl::Status SliceStoreImpl::Put(const SliceId& id, absl::string_view data,
                                 std::optional<uint32_t> expected_crc32c) {
  if (!id.Valid()) {
    return Count(absl::InvalidArgumentError(absl::StrCat("slice id version_id must be ",
                                                         SliceId::kVersionIdSize, " bytes, got ",
                                                         id.version_id.size())));
  }
  if (data.size() > options_.max_slice_bytes) {
    return Count(absl::InvalidArgumentError(absl::StrCat("slice ", id.ToString(), " is ",
                                                         data.size(), " bytes; max_slice_bytes is ",
                                                         options_.max_slice_bytes)));
  }
  // Checksums are computed before taking the lock: the lock only guards this id's entry.
  const slice::Checksums sums = slice::ComputeChecksums(data);
  if (expected_crc32c.has_value() && *expected_crc32c != sums.whole) {
    return Count(absl::DataLossError(
        absl::StrCat("slice ", id.ToString(), ": data does not match expected crc32c")));
  }
  const std::string key = id.Encode();
  absl::Status s;
  {
    absl::MutexLock lock(&StripeFor(key));
    s = PutLocked(id, key, data, sums);
  }
  if (s.ok()) {
    counters_.puts.fetch_add(1, std::memory_order_relaxed);
    counters_.put_bytes.fetch_add(data.size(), std::memory_order_relaxed);
    metrics_.puts->Increment();
    metrics_.put_bytes->Increment(static_cast<double>(data.size()));
  }
  return Count(s);
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
        if (*stored == data) return absl::OkStatus();  // idempotent retry
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
    TESSERA_RETURN_IF_ERROR(index_->Put(key, e, /*sync=*/true));
  } else {
    e.block_crcs = sums.blocks;
    e.file_name = RelativeFileName(key);
    const uint64_t file_size = slice::FileSize(data.size());
    TESSERA_ASSIGN_OR_RETURN(const size_t dir, Reserve(file_size));
    e.dir_index = static_cast<uint32_t>(dir);
    const std::string path = FullPath(e);
    // Does the entry being replaced (repair) use the very file we are about to overwrite?
    const bool reuses_old_file = old.has_value() && !old->is_inline &&
                                 old->dir_index == e.dir_index && old->file_name == e.file_name;
    // The file is written under its final name: the synced index entry below is the commit
    // point, so until then the file is an orphan that no read follows and recovery removes.
    // When it overwrites the file of a damaged entry (repair), that entry already reads as
    // DATA_LOSS, and a partial file keeps it so (short or bad-CRC blocks).
    absl::Status s = WriteSliceFile(path, key, data);
    if (!s.ok()) {
      Unreserve(dir, file_size);
      return Annotate(s, absl::StrCat("put slice ", id.ToString()));
    }
    s = index_->Put(key, e, /*sync=*/true);
    {
      absl::MutexLock lock(&stats_mu_);
      dirs_[dir].pending_bytes -= file_size;
    }
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
    AccountRemove(*old);
    // A repaired slice may have moved to another directory; drop the old file.
    if (!old->is_inline && (e.is_inline || old->dir_index != e.dir_index)) {
      (void)env_->DeleteFile(FullPath(*old));
    }
  }
  AccountAdd(e);
  return absl::OkStatus();
}

absl::Status SliceStoreImpl::WriteSliceFile(const std::string& path, const std::string& key,
                                            absl::string_view data) {
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env_->NewWritableFile(path));
  slice::SliceHeader header;
  header.length = data.size();
  header.id = key;
  // Two appends (64-byte header, then the caller's buffer) rather than one copy of the data:
  // both land in the page cache; the cost is the Sync.
  absl::Status w = f->Append(slice::EncodeHeader(header));
  if (w.ok()) w = f->Append(data);
  if (w.ok()) w = f->Sync();
  absl::Status c = f->Close();
  if (w.ok()) w = c;
  // The file's directory entry must be durable before the index entry refers to it.
  if (w.ok()) w = dir_syncs_.Sync(ParentDir(path));
  if (!w.ok()) (void)env_->DeleteFile(path);
  return w;
}

absl::StatusOr<std::string> SliceStoreImpl::ReadLocked(const std::string& key, const IndexEntry& e,
                                                       uint64_t offset, uint64_t n,
                                                       EntryState* damage) {
  EntryState ignored;
  if (damage == nullptr) damage = &ignored;
  *damage = EntryState::kCorrupt;
  if (n == 0) return std::string();
  if (e.is_inline) {
    if (crc32c::Value(e.inline_data) != e.crc32c) {
      return absl::DataLossError(
          absl::StrCat("inline slice ", absl::BytesToHexString(key), " fails its checksum"));
    }
    return e.inline_data.substr(offset, n);
  }
  const std::string path = FullPath(e);
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file = env_->NewRandomAccessFile(path);
  if (absl::IsNotFound(file.status())) {
    *damage = EntryState::kMissing;
    return absl::DataLossError(absl::StrCat("slice file ", path, " is missing"));
  }
  if (!file.ok()) return file.status();
  const slice::BlockSpan span = slice::BlocksForRange(offset, n, e.block_size);
  const uint64_t start = span.first * e.block_size;
  const uint64_t end = std::min(e.length, (span.first + span.count) * e.block_size);
  std::string buf(end - start, '\0');
  TESSERA_ASSIGN_OR_RETURN(size_t got,
                           (*file)->Read(slice::kHeaderSize + start, buf.size(), buf.data()));
  if (got != buf.size()) {
    *damage = EntryState::kMissing;
    return absl::DataLossError(absl::StrCat("slice file ", path, " is short"));
  }
  for (uint64_t b = 0; b < span.count; ++b) {
    const uint64_t block = span.first + b;
    const uint64_t boff = b * e.block_size;
    const uint64_t blen = std::min<uint64_t>(e.block_size, buf.size() - boff);
    if (crc32c::Value(buf.data() + boff, blen) != e.block_crcs[block]) {
      return absl::DataLossError(
          absl::StrCat("slice file ", path, ": block ", block, " fails its checksum"));
    }
  }
  const uint64_t skip = offset - start;
  if (skip != 0 || n != buf.size()) {
    buf.erase(0, skip);
    buf.resize(n);
  }
  return buf;
}

absl::StatusOr<std::string> SliceStoreImpl::Get(const SliceId& id, ByteRange range) {
  if (!id.Valid()) return Count(absl::InvalidArgumentError("malformed slice id"));
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
      return Count(e.status());
    }
    if (e->state != EntryState::kLive) {
      return Count(
          absl::DataLossError(absl::StrCat("slice ", id.ToString(), " is ", StateName(e->state))));
    }
    if (range.offset > e->length) {
      return Count(
          absl::OutOfRangeError(absl::StrCat("offset ", range.offset, " is past the end of slice ",
                                             id.ToString(), " (", e->length, " bytes)")));
    }
    uint64_t n = e->length - range.offset;
    if (range.length != 0) n = std::min(n, range.length);
    out = ReadLocked(key, *e, range.offset, n, &damage);
    if (absl::IsDataLoss(out.status())) read_entry = *std::move(e);
  }
  if (out.ok()) {
    counters_.gets.fetch_add(1, std::memory_order_relaxed);
    counters_.get_bytes.fetch_add(out->size(), std::memory_order_relaxed);
    metrics_.gets->Increment();
    metrics_.get_bytes->Increment(static_cast<double>(out->size()));
  } else if (absl::IsDataLoss(out.status())) {
    // Flag the slice (exclusive lock now), unless a Put or Delete changed the entry meanwhile.
    absl::MutexLock lock(&StripeFor(key));
    absl::StatusOr<IndexEntry> now = index_->Get(key);
    if (now.ok() && *now == read_entry) MarkLocked(id, key, *now, damage, out.status());
  }
  return Count(std::move(out));
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

absl::Status SliceStoreImpl::Delete(const SliceId& id) {
  if (!id.Valid()) return Count(absl::InvalidArgumentError("malformed slice id"));
  const std::string key = id.Encode();
  absl::MutexLock lock(&StripeFor(key));
  absl::StatusOr<IndexEntry> e = index_->Get(key);
  if (absl::IsNotFound(e.status())) {
    return absl::NotFoundError(absl::StrCat("slice ", id.ToString(), " not found"));
  }
  if (!e.ok()) return Count(e.status());
  // The synced index delete is the commit point. The file goes afterwards; should that not reach
  // the disk, recovery removes it as an orphan.
  // No directory sync after the unlink: the index no longer refers to the file, so whether the
  // unlink is durable does not matter to readers (and Delete stays one fsync).
  TESSERA_RETURN_IF_ERROR(Count(index_->Delete(key, /*sync=*/true)));
  if (!e->is_inline) (void)env_->DeleteFile(FullPath(*e));
  AccountRemove(*e);
  counters_.deletes.fetch_add(1, std::memory_order_relaxed);
  metrics_.deletes->Increment();
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

StoreStats SliceStoreImpl::Stats() {
  std::vector<std::optional<DiskSpace>> spaces(dirs_.size());
  for (size_t i = 0; i < dirs_.size(); ++i) {
    absl::StatusOr<DiskSpace> s = env_->GetDiskSpace(dirs_[i].path);
    if (s.ok()) spaces[i] = *s;
  }
  StoreStats stats;
  absl::MutexLock lock(&stats_mu_);
  for (size_t i = 0; i < dirs_.size(); ++i) {
    if (!spaces[i].has_value()) continue;  // an unreadable disk contributes nothing
    stats.capacity_bytes += CapacityOf(*spaces[i]);
    stats.free_bytes += FreeLocked(i, *spaces[i]);
  }
  stats.used_bytes = live_bytes_;
  stats.slice_count = live_count_;
  return stats;
}

StoreCounters SliceStoreImpl::Counters() const {
  StoreCounters c;
  c.puts = counters_.puts.load(std::memory_order_relaxed);
  c.put_bytes = counters_.put_bytes.load(std::memory_order_relaxed);
  c.gets = counters_.gets.load(std::memory_order_relaxed);
  c.get_bytes = counters_.get_bytes.load(std::memory_order_relaxed);
  c.deletes = counters_.deletes.load(std::memory_order_relaxed);
  c.errors = counters_.errors.load(std::memory_order_relaxed);
  c.checksum_failures = counters_.checksum_failures.load(std::memory_order_relaxed);
  c.slices_marked_corrupt = counters_.slices_marked_corrupt.load(std::memory_order_relaxed);
  return c;
}

absl::Status SliceStoreImpl::VerifyLocked(const std::string& key, const IndexEntry& e,
                                          EntryState* damage) {
  *damage = EntryState::kCorrupt;
  if (e.is_inline) return ReadLocked(key, e, 0, e.length, damage).status();
  const std::string path = FullPath(e);
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file = env_->NewRandomAccessFile(path);
  if (absl::IsNotFound(file.status())) {
    *damage = EntryState::kMissing;
    return absl::DataLossError(absl::StrCat("slice file ", path, " is missing"));
  }
  if (!file.ok()) return file.status();
  TESSERA_ASSIGN_OR_RETURN(uint64_t size, (*file)->Size());
  if (size != slice::FileSize(e.length)) {
    if (size < slice::FileSize(e.length)) *damage = EntryState::kMissing;
    return absl::DataLossError(absl::StrCat("slice file ", path, " has size ", size, ", expected ",
                                            slice::FileSize(e.length)));
  }
  char header_bytes[slice::kHeaderSize];
  TESSERA_ASSIGN_OR_RETURN(size_t got, (*file)->Read(0, slice::kHeaderSize, header_bytes));
  absl::StatusOr<slice::SliceHeader> header =
      slice::DecodeHeader(absl::string_view(header_bytes, got));
  if (!header.ok()) return Annotate(header.status(), path);
  if (header->id != key || header->length != e.length || header->block_size != e.block_size) {
    return absl::DataLossError(absl::StrCat("slice file ", path, " holds another slice"));
  }
  // Block by block, so a scrub does not need the whole slice in memory twice.
  return ReadLocked(key, e, 0, e.length, damage).status();
}

void SliceStoreImpl::MarkLocked(const SliceId& id, const std::string& key, IndexEntry e,
                                EntryState state, const absl::Status& why) {
  AccountRemove(e);
  e.state = state;
  AccountAdd(e);
  // Best effort: if this write fails the next read or Verify finds the damage again.
  const absl::Status s = index_->Put(key, e, /*sync=*/true);
  counters_.slices_marked_corrupt.fetch_add(1, std::memory_order_relaxed);
  (state == EntryState::kMissing ? metrics_.flagged_missing : metrics_.flagged_corrupt)
      ->Increment();
  // The error text names the file and block, never slice bytes.
  TESSERA_LOG(WARNING, "slice_flagged")
      .Field("slice", id.ToString())
      .Field("state", StateName(state))
      .Field("error", why)
      .Field("index_write", s);
}

absl::Status SliceStoreImpl::Verify(const SliceId& id) {
  if (!id.Valid()) return Count(absl::InvalidArgumentError("malformed slice id"));
  const std::string key = id.Encode();
  absl::MutexLock lock(&StripeFor(key));
  absl::StatusOr<IndexEntry> e = index_->Get(key);
  if (absl::IsNotFound(e.status())) {
    return absl::NotFoundError(absl::StrCat("slice ", id.ToString(), " not found"));
  }
  if (!e.ok()) return Count(e.status());
  if (e->state != EntryState::kLive) {
    return Count(
        absl::DataLossError(absl::StrCat("slice ", id.ToString(), " is ", StateName(e->state))));
  }
  EntryState damage = EntryState::kCorrupt;
  absl::Status s = VerifyLocked(key, *e, &damage);
  if (absl::IsDataLoss(s)) {
    MarkLocked(id, key, *e, damage, s);
    return Count(Annotate(s, absl::StrCat("verify slice ", id.ToString())));
  }
  if (!s.ok()) return Count(s);
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
