#include "storage/store/recovery.h"

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "base/status_macros.h"
#include "storage/slice/slice_format.h"
#include "storage/store/slice_file.h"
#include "storage/store/slice_id.h"

namespace tessera::storage {
namespace {

constexpr char kFormatRecord[] = "store_format";

}  // namespace

absl::Status CheckStoreFormat(SliceIndex* index, const std::string& index_dir) {
  absl::StatusOr<std::string> record = index->GetMeta(kFormatRecord);
  if (absl::IsNotFound(record.status())) {
    return index->PutMeta(kFormatRecord, absl::StrCat(kStoreFormatMajor, ".", kStoreFormatMinor));
  }
  if (!record.ok()) return record.status();
  std::vector<std::string> parts = absl::StrSplit(*record, '.');
  uint32_t major = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &major)) {
    return absl::DataLossError(
        absl::StrCat("slice store at ", index_dir, " has a malformed format record"));
  }
  if (major > kStoreFormatMajor) {
    return absl::FailedPreconditionError(
        absl::StrCat("slice store at ", index_dir, " has format version ", *record,
                     ", newer than this binary supports (", kStoreFormatMajor, ".",
                     kStoreFormatMinor, "); run a newer tessera-node"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RecoveryReport> RecoverSliceStore(Env* env, SliceIndex* index,
                                                 const SliceStoreOptions& options,
                                                 SpaceAccounting* space, StoreMetrics* metrics) {
  const std::vector<std::string>& dirs = options.data_dirs;
  RecoveryReport report;
  // 1. List the data directories (no per-file stat): remove temporary files (older stores wrote
  //    slices through them), remember every slice file name.
  std::vector<absl::flat_hash_set<std::string>> present(dirs.size());
  absl::flat_hash_set<std::string> touched_dirs;
  for (size_t d = 0; d < dirs.size(); ++d) {
    const std::string slices = absl::StrCat(dirs[d], "/", kSlicesSubdir);
    TESSERA_ASSIGN_OR_RETURN(std::vector<std::string> shards, env->ListDir(slices));
    for (const std::string& shard : shards) {
      const std::string shard_dir = absl::StrCat(slices, "/", shard);
      absl::StatusOr<std::vector<std::string>> names = env->ListDir(shard_dir);
      if (!names.ok()) continue;  // not a directory
      for (const std::string& name : *names) {
        if (absl::StrContains(name, kTempInfix)) {
          absl::Status s = env->DeleteFile(absl::StrCat(shard_dir, "/", name));
          if (!s.ok() && !absl::IsNotFound(s)) return s;
          ++report.temp_files;
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
  TESSERA_RETURN_IF_ERROR(index->ForEach([&](absl::string_view key, const IndexEntry& e) {
    if (e.is_inline) {
      if (e.state == EntryState::kLive) ++report.slices;
      space->Add(e);
      return absl::OkStatus();
    }
    if (e.dir_index >= dirs.size()) {
      return absl::FailedPreconditionError(
          absl::StrCat("slice index refers to data directory #", e.dir_index, " but only ",
                       dirs.size(), " are configured; data_dirs must keep their order"));
    }
    const bool listed = present[e.dir_index].erase(e.file_name) > 0;
    if (e.state == EntryState::kMissing) {
      ++report.missing_files;
      return absl::OkStatus();
    }
    bool ok = listed;
    if (ok && options.check_file_sizes_at_open) {
      absl::StatusOr<uint64_t> size =
          env->FileSize(absl::StrCat(dirs[e.dir_index], "/", e.file_name));
      ok = size.ok() && *size >= slice::FileSize(e.length);
    }
    if (!ok) {
      ++report.missing_files;
      IndexEntry flagged = e;
      flagged.state = EntryState::kMissing;
      to_flag.emplace_back(std::string(key), std::move(flagged));
      return absl::OkStatus();
    }
    if (e.state == EntryState::kLive) ++report.slices;
    space->Add(e);
    return absl::OkStatus();
  }));
  for (const auto& [key, e] : to_flag) {
    TESSERA_RETURN_IF_ERROR(index->Put(key, e, /*sync=*/true));
    metrics->RecordFlaggedByRecovery();
    absl::StatusOr<SliceId> id = SliceId::Decode(key);
    TESSERA_LOG(WARNING, "slice_flagged")
        .Field("slice", id.ok() ? id->ToString() : absl::BytesToHexString(key))
        .Field("state", "missing")
        .Field("by", "recovery");
  }

  // 3. What is left in `present` has no index entry: a crash between a Put's file write and its
  //    index Put, or between a Delete's index delete and its unlink. Remove these orphans.
  for (size_t d = 0; d < dirs.size(); ++d) {
    for (const std::string& rel : present[d]) {
      const std::string path = absl::StrCat(dirs[d], "/", rel);
      absl::Status s = env->DeleteFile(path);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
      ++report.orphan_files;
      touched_dirs.insert(ParentDir(path));
    }
  }
  for (const std::string& dir : touched_dirs) TESSERA_RETURN_IF_ERROR(env->SyncDir(dir));
  return report;
}

}  // namespace tessera::storage
