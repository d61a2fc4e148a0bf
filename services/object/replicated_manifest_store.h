// ReplicatedManifestStore: the ManifestStore of a cluster, over the replicated metadata service
// (services/meta: per-key Paxos on the nodes' MetaService, docs/design/metadata.md). Gateways
// keep no state of their own: any number of them over the same nodes see one store.
//
// Keys (all in the meta OBJECT table, so every listing is one MetaClient::Scan):
//   bucket name entry   bucket = kBucketDirectory, object key = bucket name, version id = ""
//                       value  = serialized BucketRecord (deleted = true: the name is free)
//   head register       bucket = the bucket's shard field, object key, version id = "" (sorts
//                       first among the key's entries); value = the newest version's
//                       ObjectManifest (commit_sequence set), replaced by Commit's one CAS
//   object entry        bucket = the bucket's shard field, object key, 16-byte version id
//                       value  = serialized ObjectManifest: a superseded version awaiting the GC
//                       (superseded_unix_micros set), a multipart upload record, or an entry
//                       written before head registers existed
// The bucket directory is one index shard: ListBuckets is a scan of one partition, and a name
// lookup is one linearizable read.
//
// Index shards (docs/design/metadata.md "Listing"): a bucket's object entries are range-partitioned
// by object key into shards listed in BucketRecord.shards (id, start_key; a shard covers
// [start_key, next start_key)). Shard 0 keeps the meta bucket field = bucket_id; shard n > 0 uses
// bucket field = bucket_id || n as 4 bytes big-endian (ShardField), so MetaClient::Scan and
// ObjectEntryKey(field, 0, ...) place it in PartitionForShard(field, 0), a hash of (bucket id,
// shard id): a LIST page reads only the partitions of the shards it overlaps. A shard passing
// `split_threshold` entries is split in five steps (intent, copy, drain flip, drain, activate),
// each a CAS on the bucket record or idempotent; a crash at any step leaves the bucket listable
// and the next split check resumes it. Shard ids carry the split state in their top bits
// (kShardCopying, kShardDraining; manifest_shard_map.h).
//
// Semantics are those of InMemoryManifestStore; LIST pages are built by the same ListingAssembler
// (listing_assembler.h), so tokens pass between the two. Bucket creation is a CAS on the name
// entry: one winner. DeleteBucketIfEmpty checks for a live object with a scan, then CASes the entry
// to deleted (only if it still names the same bucket_id). Not atomic across keys: a PUT racing with
// the bucket's deletion may leave an unreachable entry under the old bucket_id (reclaimed by a
// future bucket GC).
//
// Large manifests (more than kStripesPerChunk stripes) are stored out of line (manifest_chunks.h):
// the entry holds a small head (schema_version 2) and the stripes live in chunk records keyed by
// (version id, chunk number), written before the head. Get / GetLatest return whole manifests
// (chunks joined back); List and ScanVersions return heads (parts with stripe_count, no stripes),
// so listings never read stripe lists. CompareAndSet of such an entry reads the whole manifest,
// applies the update, rewrites only the chunks that changed, then CASes the head if it is still
// the one read (else starts again); chunks beyond the new count are removed afterwards.
//
// Files, by concern (as RocksDB splits db_impl_*.cc): replicated_manifest_store.cc (buckets,
// versions, listing), manifest_shard_split.cc (the split protocol), replicated_manifest_chunks.cc
// (chunk records), manifest_shard_map.h (shard ids, fields, the read/write map),
// replicated_manifest_cursor.h (the ordered walk over shards), listing_assembler.h (LIST pages).
//
// Errors: see manifest_store.h; quorum failures are UNAVAILABLE from the MetaClient.
//
// Thread-safety: thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/meta/meta_client.h"
#include "services/object/manifest_shard_map.h"
#include "services/object/manifest_store.h"
#include "services/object/replicated_manifest_cursor.h"

namespace tessera::services {

// Reserved bucket id of the bucket-name directory (bucket ids are 16 random bytes, so no real
// bucket can collide with this 15-byte name).
inline constexpr char kBucketDirectory[] = "tessera.buckets";

// The version id of a key's head register (manifest_store.h): sorts before every real version id.
inline constexpr char kHeadSlot[] = "";

struct ReplicatedManifestStoreOptions {
  // A shard holding more than this many entries (versions, delete markers included) is split.
  int split_threshold = 100000;
  // Writes this gateway makes to one shard between two size checks of that shard.
  int split_check_interval = 10000;

  [[nodiscard]] absl::Status Validate() const;
};

class ReplicatedManifestStore;

// Test hook (base/sync_point.h): reached by SplitShard / FinishSplits right after step 1..4 of the
// split protocol (1 intent, 2 copy, 3 drain flip, 4 drain) with a SplitStepPoint*. A callback that
// sets `stop` to an error makes the split return it there, as if the gateway had crashed.
inline constexpr char kSplitStepSyncPoint[] = "ReplicatedManifestStore::SplitStepDone";
struct SplitStepPoint {
  const ReplicatedManifestStore* store;  // the store splitting (tests may run several)
  int step;
  absl::Status stop;
};

class ReplicatedManifestStore final : public ManifestStore {
 public:
  // `meta` is not owned and must outlive the store. `options` must be valid.
  explicit ReplicatedManifestStore(MetaClient* meta, ReplicatedManifestStoreOptions options = {})
      : meta_(meta), options_(options) {}

  absl::Status CreateBucket(const v1::BucketRecord& record) override;
  absl::StatusOr<v1::BucketRecord> GetBucket(const std::string& name) override;
  absl::Status DeleteBucketIfEmpty(const std::string& name) override;
  absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets() override;

  absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& bucket,
                                               const std::string& key) override;
  absl::StatusOr<v1::ObjectManifest> Get(const std::string& bucket, const std::string& key,
                                         const std::string& version_id) override;
  absl::StatusOr<v1::ObjectManifest> Commit(const v1::ObjectManifest& manifest,
                                            const CommitCondition& condition) override;
  absl::Status PutIfAbsent(const v1::ObjectManifest& manifest) override;
  absl::Status CompareAndSet(const std::string& bucket, const std::string& key,
                             const std::string& version_id, const ManifestUpdate& update) override;
  absl::StatusOr<ListResult> List(const std::string& bucket, const ListRequest& request) override;
  absl::StatusOr<std::vector<KeyVersions>> ScanVersions(const std::string& bucket,
                                                        const std::string& start_after,
                                                        int max_keys) override;

  // Splits the shard numbered `shard_number` of `bucket` at the median key of its entries if it
  // holds more than split_threshold entries (`force`: at least two keys). Finishes an
  // interrupted split of the bucket first (one split per bucket at a time). OK when there was
  // nothing to do; ABORTED when another splitter changed the shard map meanwhile.
  [[nodiscard]] absl::Status SplitShard(const std::string& bucket, uint32_t shard_number,
                                        bool force = false);
  // Finishes any interrupted split of `bucket`.
  [[nodiscard]] absl::Status FinishSplits(const std::string& bucket);

  // Entries read per Scan call while listing (a page of max_keys usually needs one call).
  static constexpr uint32_t kScanBatch = kMaxScanBatch;

 private:
  // The live record of bucket `name`; NOT_FOUND "no such bucket".
  absl::StatusOr<v1::BucketRecord> Record(const std::string& name);
  // Runs the split protocol from the state of `record`'s pending shard (steps 2..5).
  absl::Status ResumeSplit(const std::string& bucket, v1::BucketRecord record);
  // Counts a write to `field` and runs a size check of that shard every split_check_interval.
  void CountWrite(const std::string& bucket, const std::string& field, uint32_t shard_number);
  // The entry at version id `slot` (kHeadSlot: the key's head register) as stored (a head for
  // out-of-line manifests). NOT_FOUND "no such version" / "no such bucket".
  absl::StatusOr<v1::ObjectManifest> GetStored(const std::string& bucket, const std::string& key,
                                               const std::string& slot);
  // Version `version_id` as stored: its own entry, else the head register if it holds it.
  absl::StatusOr<v1::ObjectManifest> GetVersionStored(const std::string& bucket,
                                                      const std::string& key,
                                                      const std::string& version_id);
  // CompareAndSet of version `version_id` in the entry at `slot` (its own, or kHeadSlot), whole
  // manifests in and out (chunk records rewritten as needed).
  absl::Status CasVersion(const std::string& bucket, const std::string& key,
                          const std::string& slot, const std::string& version_id,
                          const ManifestUpdate& update);
  // CompareAndSet on the stored form of the entry at `slot` (`update` sees and returns stored
  // forms, which must keep `version_id`).
  absl::Status CasStored(const std::string& bucket, const std::string& key, const std::string& slot,
                         const std::string& version_id, const ManifestUpdate& update);
  // Writes `replaced`, just replaced in the head register of shard `field` by `by`, to its own
  // entry marked superseded, if KeepWhenSuperseded (best effort: a failure is logged and leaves
  // its slices to the orphan reclaimer).
  void KeepSuperseded(const std::string& field, const v1::ObjectManifest& replaced,
                      const v1::ObjectManifest& by);
  // Writes `manifest`'s chunk records if it is stored out of line; returns the entry's value.
  absl::StatusOr<std::string> StoreChunks(const v1::ObjectManifest& manifest);
  // Writes every chunk of `chunks` that differs from the same-numbered one in `unchanged`.
  absl::Status WriteChunks(const std::string& version_id,
                           const std::vector<v1::StripeChunk>& chunks,
                           const std::vector<v1::StripeChunk>& unchanged);
  // Joins an out-of-line head with its chunk records (one paged scan); no-op for schema 1.
  absl::Status Hydrate(v1::ObjectManifest& manifest);
  // Deletes chunk records [from, to) of `version_id` (best effort: logged, not returned).
  void DropChunks(const std::string& version_id, size_t from, size_t to);
  // Rewrites the entry key/version of shard `from` into shard `to` (overwrite=false: only if
  // absent there). Used when a split moved a key under a writer.
  absl::Status CopyEntry(const std::string& from, const std::string& to, const std::string& key,
                         const std::string& version_id, bool overwrite);

  MetaClient* const meta_;
  const ReplicatedManifestStoreOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> writes_since_check_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> splitting_ ABSL_GUARDED_BY(mu_);  // buckets
};

}  // namespace tessera::services
