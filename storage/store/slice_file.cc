#include "storage/store/slice_file.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "storage/slice/crc32c.h"
#include "storage/slice/slice_format.h"

namespace tessera::storage {

std::string ShardName(uint32_t shard) {
  static const char kHex[] = "0123456789abcdef";
  return std::string{kHex[(shard >> 4) & 15], kHex[shard & 15]};
}

std::string SliceFileName(absl::string_view key) {
  return absl::StrCat(kSlicesSubdir, "/", ShardName(crc32c::Value(key) % kShardDirs), "/",
                      absl::BytesToHexString(key), kSliceSuffix);
}

std::string ParentDir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

absl::Status WriteSliceFile(Env* env, DirSyncGroup* dir_syncs, const std::string& path,
                            const std::string& key, absl::string_view data, StoreMetrics* metrics) {
  auto timed = [metrics](StoreMetrics::SyncTarget target, auto&& sync) {
    const auto start = std::chrono::steady_clock::now();
    absl::Status s = sync();
    if (metrics != nullptr) {
      metrics->RecordSync(target, absl::FromChrono(std::chrono::steady_clock::now() - start));
    }
    return s;
  };
  TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> f, env->NewWritableFile(path));
  slice::SliceHeader header;
  header.length = data.size();
  header.id = key;
  // Two appends (64-byte header, then the caller's buffer) rather than one copy of the data:
  // both land in the page cache; the cost is the Sync.
  absl::Status w = f->Append(slice::EncodeHeader(header));
  if (w.ok()) w = f->Append(data);
  if (w.ok()) w = timed(StoreMetrics::SyncTarget::kFile, [&] { return f->Sync(); });
  absl::Status c = f->Close();
  if (w.ok()) w = c;
  // The file's directory entry must be durable before the index entry refers to it.
  if (w.ok()) {
    w = timed(StoreMetrics::SyncTarget::kDirectory,
              [&] { return dir_syncs->Sync(ParentDir(path)); });
  }
  if (!w.ok()) (void)env->DeleteFile(path);
  return w;
}

absl::StatusOr<std::string> ReadSliceRange(Env* env, const std::string& path,
                                           const std::string& key, const IndexEntry& e,
                                           uint64_t offset, uint64_t n, EntryState* damage) {
  *damage = EntryState::kCorrupt;
  if (n == 0) return std::string();
  if (e.is_inline) {
    if (crc32c::Value(e.inline_data) != e.crc32c) {
      return absl::DataLossError(
          absl::StrCat("inline slice ", absl::BytesToHexString(key), " fails its checksum"));
    }
    return e.inline_data.substr(offset, n);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file = env->NewRandomAccessFile(path);
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

absl::Status VerifySliceFile(Env* env, const std::string& path, const std::string& key,
                             const IndexEntry& e, EntryState* damage) {
  *damage = EntryState::kCorrupt;
  if (e.is_inline) return ReadSliceRange(env, path, key, e, 0, e.length, damage).status();
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file = env->NewRandomAccessFile(path);
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
  return ReadSliceRange(env, path, key, e, 0, e.length, damage).status();
}

}  // namespace tessera::storage
