#include "services/object/slice_gc.h"

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/logging.h"

namespace tessera::services {

absl::Status SliceGcOptions::Validate() const {
  if (grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("SliceGcOptions.grace must not be negative");
  }
  if (scan_batch < 1) return absl::InvalidArgumentError("SliceGcOptions.scan_batch must be >= 1");
  return absl::OkStatus();
}

SliceGarbageCollector::SliceGarbageCollector(SliceGcOptions options, const DataPathDeps& deps,
                                             ManifestStore* store)
    : options_(options), deps_(deps), store_(store) {}

absl::Status SliceGarbageCollector::Collect(const v1::ObjectManifest& listed, bool delete_slices,
                                            SliceGcStats& stats) {
  // Scans return the heads of manifests stored out of line: fetch the stripe list.
  v1::ObjectManifest full;
  if (listed.stripe_chunks() > 0 && delete_slices) {
    absl::StatusOr<v1::ObjectManifest> got =
        store_->Get(listed.bucket(), listed.key(), listed.version_id());
    if (!got.ok()) return got.status();
    full = *std::move(got);
  }
  const v1::ObjectManifest& manifest = listed.stripe_chunks() > 0 ? full : listed;
  std::shared_ptr<const ClusterSnapshot> snapshot = deps_.cluster->Snapshot();
  std::atomic<int> deleted{0};
  std::atomic<int> failed{0};
  TaskGroup group;
  for (const v1::PartRecord& part : manifest.parts()) {
    if (!delete_slices) break;
    for (const v1::StripeRecord& stripe : part.stripes()) {
      for (int i = 0; i < stripe.slices_size(); ++i) {
        const std::string& node_id = stripe.slices(i).node_id();
        if (node_id.empty()) continue;
        const StorageNode* node = snapshot->Find(node_id);
        if (node == nullptr) {
          ++failed;
          continue;
        }
        group.Add();
        deps_.pool->Submit(
            [&, address = node->address,
             id = MakeSliceId(DataVersionId(manifest), part.number(), stripe.index(), i)] {
              absl::Status s = deps_.slices->Delete(address, id);
              if (s.ok() || absl::IsNotFound(s)) {
                ++deleted;
              } else {
                ++failed;
              }
              group.Done();
            });
      }
    }
  }
  group.Wait();
  stats.slices_deleted += deleted.load();
  stats.slice_failures += failed.load();
  if (failed.load() > 0) {
    return absl::UnavailableError(absl::StrCat(failed.load(), " slice deletes failed"));
  }
  const std::string version = manifest.version_id();
  absl::Status s = store_->CompareAndSet(
      manifest.bucket(), manifest.key(), version,
      [](const std::optional<v1::ObjectManifest>&)
          -> absl::StatusOr<std::optional<v1::ObjectManifest>> { return std::nullopt; });
  if (s.ok()) ++stats.versions_collected;
  return s;
}

absl::StatusOr<SliceGcStats> SliceGarbageCollector::RunOnce() {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  const int64_t horizon = absl::ToUnixMicros(clock->Now() - options_.grace);
  SliceGcStats stats;
  absl::StatusOr<std::vector<v1::BucketRecord>> buckets = store_->ListBuckets();
  if (!buckets.ok()) return buckets.status();
  for (const v1::BucketRecord& bucket : *buckets) {
    std::string after;
    while (true) {
      absl::StatusOr<std::vector<KeyVersions>> batch =
          store_->ScanVersions(bucket.name(), after, options_.scan_batch);
      if (absl::IsNotFound(batch.status())) break;  // bucket deleted meanwhile
      if (!batch.ok()) return batch.status();
      for (const KeyVersions& kv : *batch) {
        // versions[0] is the key's newest version (its head register), never collected here;
        // every other entry is superseded in the order the commits decided.
        const v1::ObjectManifest& latest = kv.versions.front();
        bool all_older_gone = true;
        for (size_t i = 1; i < kv.versions.size(); ++i) {
          const v1::ObjectManifest& v = kv.versions[i];
          // Superseded when the commit that replaced it was made (recorded on the entry); for
          // entries written before head registers, when the next newer one was created.
          const int64_t superseded = v.superseded_unix_micros() != 0
                                         ? v.superseded_unix_micros()
                                         : kv.versions[i - 1].created_unix_micros();
          if (superseded > horizon) {
            all_older_gone = false;
            continue;
          }
          // An entry sharing the newest version's data (left by a commit that was repeated after
          // being superseded) is removed without touching the slices the newest one reads.
          const bool own_data = DataVersionId(v) != DataVersionId(latest);
          absl::Status s = Collect(v, own_data, stats);
          if (!s.ok()) {
            all_older_gone = false;
            TESSERA_LOG(WARNING, "gc_version_failed")
                .Field("bucket", bucket.name())
                .Field("status", s);
          }
        }
        if (all_older_gone && latest.delete_marker() && latest.created_unix_micros() <= horizon) {
          absl::Status s = Collect(latest, true, stats);
          if (!s.ok()) {
            TESSERA_LOG(WARNING, "gc_marker_failed")
                .Field("bucket", bucket.name())
                .Field("status", s);
          }
        }
      }
      if (static_cast<int>(batch->size()) < options_.scan_batch) break;
      after = batch->back().key;
    }
  }
  return stats;
}

}  // namespace tessera::services
