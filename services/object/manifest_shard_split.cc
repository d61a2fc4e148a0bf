// ReplicatedManifestStore, part 2: shard splits (docs/design/metadata.md "Listing", "Shard
// splits"). The five steps (intent, copy, drain flip, drain, activate) are each a CAS on the bucket
// record or idempotent, so a crash at any step leaves the bucket listable and the next split check
// (or FinishSplits) resumes from the recorded state. The shard map itself: manifest_shard_map.h.
// CRUD, listing and large manifests: replicated_manifest_store.cc.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/sync_point.h"
#include "services/meta/meta_key.h"
#include "services/object/manifest_shard_map.h"
#include "services/object/replicated_manifest_internal.h"
#include "services/object/replicated_manifest_store.h"

namespace tessera::services {

using replicated_internal::NoSuchBucket;
using replicated_internal::ParseRecord;

namespace {

// What the test hook (kSplitStepSyncPoint) says after split step `step` of `store`: OK = go on.
absl::Status AfterSplitStep(const ReplicatedManifestStore* store, int step) {
  SplitStepPoint point{store, step, absl::OkStatus()};
  TESSERA_SYNC_POINT(kSplitStepSyncPoint, &point);
  return point.stop;
}

}  // namespace

void ReplicatedManifestStore::CountWrite(const std::string& bucket, const std::string& field,
                                         uint32_t shard_number) {
  {
    absl::MutexLock lock(&mu_);
    if (++writes_since_check_[field] < options_.split_check_interval) return;
    writes_since_check_[field] = 0;
    if (!splitting_.insert(bucket).second) return;  // this gateway is splitting it already
  }
  // Best effort: a failed or lost split race changes nothing the next check cannot redo.
  absl::Status ignored = SplitShard(bucket, shard_number);
  (void)ignored;
  absl::MutexLock lock(&mu_);
  splitting_.erase(bucket);
}

absl::Status ReplicatedManifestStore::FinishSplits(const std::string& bucket) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  for (const auto& shard : record->shards()) {
    if (IsPending(shard.id())) return ResumeSplit(bucket, *std::move(record));
  }
  return absl::OkStatus();
}

absl::Status ReplicatedManifestStore::SplitShard(const std::string& bucket, uint32_t shard_number,
                                                 bool force) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  for (const auto& shard : record->shards()) {
    if (IsPending(shard.id())) return ResumeSplit(bucket, *std::move(record));
  }
  const std::string field = ShardField(record->bucket_id(), shard_number);
  const std::vector<Segment> segments = Segments(*record);
  const Segment* seg = nullptr;
  for (const Segment& s : segments) {
    if (s.primary == field) seg = &s;
  }
  if (seg == nullptr) return absl::NotFoundError(absl::StrCat("no shard ", shard_number));
  // Step 0: size and median key of the shard (keys only; values are not kept).
  std::vector<std::string> keys;
  int64_t entries = 0;
  std::string token;
  do {
    auto page = meta_->Scan(field, seg->start, seg->end, kScanBatch, token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      ++entries;
      if (keys.empty() || keys.back() != item.key.object_key()) {
        keys.push_back(item.key.object_key());
      }
    }
    token = page->next_page_token;
  } while (!token.empty());
  if ((!force && entries <= options_.split_threshold) || keys.size() < 2) return absl::OkStatus();
  const std::string split_key = keys[keys.size() / 2];  // > keys[0] >= the shard's start
  uint32_t number = 0;
  for (const auto& shard : record->shards()) {
    number = std::max(number, shard.id() & kShardNumberMask);
  }
  ++number;
  // Step 1: intent. The new shard exists, being copied; everyone still uses the source.
  const v1::BucketRecord seen = *record;
  v1::BucketRecord next;
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(kBucketDirectory, 0, bucket, "", meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        auto existing = ParseRecord(current);
        if (!existing.ok()) return existing.status();
        if (!existing->has_value() || (*existing)->bucket_id() != seen.bucket_id()) {
          return NoSuchBucket(bucket);
        }
        if (!SameShards(**existing, seen)) {
          return absl::AbortedError("shard map changed during the split; retry");
        }
        next = **existing;
        auto* shard = next.add_shards();
        shard->set_id(number | kShardCopying);
        shard->set_start_key(split_key);
        return MetaValue(next.SerializeAsString());
      });
  if (!written.ok()) return written.status();
  if (absl::Status s = AfterSplitStep(this, 1); !s.ok()) return s;
  return ResumeSplit(bucket, std::move(next));
}

absl::Status ReplicatedManifestStore::ResumeSplit(const std::string& bucket,
                                                  v1::BucketRecord record) {
  const std::vector<v1::BucketRecord::Shard> sorted = SortedShards(record);
  size_t at = sorted.size();
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (IsPending(sorted[i].id())) at = i;
  }
  if (at == sorted.size()) return absl::OkStatus();
  if (at == 0) return absl::DataLossError("pending shard without a source shard");
  const uint32_t id = sorted[at].id();
  const uint32_t number = id & kShardNumberMask;
  const std::string src = ShardField(record.bucket_id(), sorted[at - 1].id() & kShardNumberMask);
  const std::string dst = ShardField(record.bucket_id(), number);
  const std::string lo = sorted[at].start_key();
  const std::string hi = at + 1 < sorted.size() ? sorted[at + 1].start_key() : "";
  const std::string bucket_id = record.bucket_id();

  // Moves the pending shard from state `from` to `to` (a CAS on the bucket record).
  auto flip = [&](uint32_t from, uint32_t to) -> absl::Status {
    return meta_
        ->CompareAndSet(ObjectEntryKey(kBucketDirectory, 0, bucket, "", meta_->partitions()),
                        [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
                          auto existing = ParseRecord(current);
                          if (!existing.ok()) return existing.status();
                          if (!existing->has_value() || (*existing)->bucket_id() != bucket_id) {
                            return NoSuchBucket(bucket);
                          }
                          v1::BucketRecord updated = **existing;
                          for (auto& shard : *updated.mutable_shards()) {
                            if (shard.id() == from && shard.start_key() == lo) {
                              shard.set_id(to);
                              return MetaValue(updated.SerializeAsString());
                            }
                            if (shard.id() == to && shard.start_key() == lo)
                              return current;  // done already
                          }
                          return absl::AbortedError("split state changed; retry");
                        })
        .status();
  };
  // Copies (or, with `drain`, moves) every entry of the source in [lo, hi) to the new shard.
  // An entry already there is newer or the same and is kept.
  auto move = [&](bool drain) -> absl::Status {
    std::string token;
    do {
      auto page = meta_->Scan(src, lo, hi, kScanBatch, token);
      if (!page.ok()) return page.status();
      for (const ScanItem& item : page->items) {
        const std::string& key = item.key.object_key();
        const std::string& version = item.key.version_id();
        auto copied = meta_->CompareAndSet(
            ObjectEntryKey(dst, 0, key, version, meta_->partitions()),
            [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
              if (current.has_value() && !ReplacesHeld(version, *current, item.value)) {
                return current;
              }
              return MetaValue(item.value);
            });
        if (!copied.ok()) return copied.status();
        if (drain) {
          auto erased = meta_->CompareAndSet(
              ObjectEntryKey(src, 0, key, version, meta_->partitions()),
              [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); });
          if (!erased.ok()) return erased.status();
        }
      }
      token = page->next_page_token;
    } while (!token.empty());
    return absl::OkStatus();
  };

  if ((id & kShardCopying) != 0) {
    // Step 2: copy. Writers still write the source; what they add meanwhile is moved at step 4.
    if (absl::Status s = move(false); !s.ok()) return s;
    if (absl::Status s = AfterSplitStep(this, 2); !s.ok()) return s;
    // Step 3: the new shard owns its range; reads merge the source's remaining entries.
    if (absl::Status s = flip(id, number | kShardDraining); !s.ok()) return s;
    if (absl::Status s = AfterSplitStep(this, 3); !s.ok()) return s;
  }
  // Step 4: drain the source's entries of the range into the new shard.
  if (absl::Status s = move(true); !s.ok()) return s;
  if (absl::Status s = AfterSplitStep(this, 4); !s.ok()) return s;
  // Step 5: done; reads use the new shard alone.
  return flip(number | kShardDraining, number);
}

}  // namespace tessera::services
