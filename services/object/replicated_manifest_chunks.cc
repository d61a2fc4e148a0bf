// ReplicatedManifestStore, part 3: large manifests, stripes stored out of line in chunk records
// (manifest_chunks.h; the format and the update rules are at the top of
// replicated_manifest_store.h). CRUD and listing: replicated_manifest_store.cc; shard splits:
// manifest_shard_split.cc.
#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "services/meta/meta_key.h"
#include "services/object/manifest_chunks.h"
#include "services/object/replicated_manifest_internal.h"
#include "services/object/replicated_manifest_store.h"

namespace tessera::services {

using replicated_internal::Canonical;

absl::StatusOr<std::string> ReplicatedManifestStore::StoreChunks(
    const v1::ObjectManifest& manifest) {
  SplitManifest split = Split(manifest);
  if (absl::Status s = WriteChunks(manifest.version_id(), split.chunks, {}); !s.ok()) return s;
  return split.head.SerializeAsString();
}

absl::Status ReplicatedManifestStore::WriteChunks(const std::string& version_id,
                                                  const std::vector<v1::StripeChunk>& chunks,
                                                  const std::vector<v1::StripeChunk>& unchanged) {
  // Chunks are independent keys: write them a few at a time (a 5 TiB object has ~2,600).
  constexpr size_t kParallel = 8;
  const std::string field = ChunkField(version_id);
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  auto work = [&] {
    for (size_t i = next++; i < chunks.size(); i = next++) {
      const std::string bytes = Canonical(chunks[i]);
      if (i < unchanged.size() && Canonical(unchanged[i]) == bytes) continue;
      auto written = meta_->CompareAndSet(
          ObjectEntryKey(field, 0, ChunkKey(static_cast<uint32_t>(i)), "", meta_->partitions()),
          [&](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(bytes); });
      if (!written.ok()) {
        absl::MutexLock lock(&mu);
        if (first_error.ok()) first_error = written.status();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kParallel, chunks.size()); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  return first_error;
}

absl::Status ReplicatedManifestStore::Hydrate(v1::ObjectManifest& manifest) {
  if (manifest.stripe_chunks() == 0) return absl::OkStatus();
  std::vector<v1::StripeChunk> chunks;
  std::string token;
  do {
    auto page = meta_->Scan(ChunkField(manifest.version_id()), "",
                            ChunkKey(manifest.stripe_chunks()), kScanBatch, token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      if (!chunks.emplace_back().ParseFromString(item.value)) {
        return absl::DataLossError("unparsable stripe chunk record");
      }
      if (absl::Status s = CheckStripeChunkFormat(chunks.back()); !s.ok()) {
        return Restated(s, absl::StrCat(manifest.bucket(), "/", manifest.key(), ": ", s.message()));
      }
    }
    token = page->next_page_token;
  } while (!token.empty());
  return Join(manifest, chunks);
}

void ReplicatedManifestStore::DropChunks(const std::string& version_id, size_t from, size_t to) {
  const std::string field = ChunkField(version_id);
  for (size_t i = from; i < to; ++i) {
    auto erased = meta_->CompareAndSet(
        ObjectEntryKey(field, 0, ChunkKey(static_cast<uint32_t>(i)), "", meta_->partitions()),
        [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); });
    if (!erased.ok()) {
      // Unreachable once the head no longer counts it; only space is lost.
      TESSERA_LOG(WARNING, "manifest_chunk_drop_failed").Field("status", erased.status());
      return;
    }
  }
}

}  // namespace tessera::services
