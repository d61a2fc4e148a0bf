// ReplicatedManifestStore: the ManifestStore of a cluster, over the replicated metadata service
// (services/meta: per-key Paxos on the nodes' MetaService, docs/design/metadata.md). Gateways
// keep no state of their own: any number of them over the same nodes see one store.
//
// Keys (all in the meta OBJECT table, so every listing is one MetaClient::Scan):
//   bucket name entry   bucket = kBucketDirectory, object key = bucket name, version id = ""
//                       value  = serialized BucketRecord (deleted = true: the name is free)
//   object entry        bucket = the bucket's random 16-byte bucket_id, object key, version id
//                       value  = serialized ObjectManifest (delete markers too)
// The bucket directory is one index shard like any bucket's: ListBuckets is a scan of one
// partition, and a name lookup is one linearizable read. Object entries live in the partition of
// (bucket_id, shard 0) (new buckets have one shard; splits are not implemented yet), so a LIST
// page contacts that partition's replicas only, however large the cluster.
//
// Semantics are those of InMemoryManifestStore (same continuation-token format, so tokens pass
// between the two). Bucket creation is a CAS on the name entry: one winner. DeleteBucketIfEmpty
// checks for a live object with a scan, then CASes the entry to deleted (only if it still names
// the same bucket_id). Not atomic across keys: a PUT racing with the bucket's deletion may leave
// an unreachable entry under the old bucket_id (reclaimed by a future bucket GC).
//
// Errors: see manifest_store.h; quorum failures are UNAVAILABLE from the MetaClient.
//
// Thread-safety: thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/gateway/manifest_store.h"
#include "services/meta/meta_client.h"

namespace tessera::services {

// Reserved bucket id of the bucket-name directory (bucket ids are 16 random bytes, so no real
// bucket can collide with this 15-byte name).
inline constexpr char kBucketDirectory[] = "tessera.buckets";

class ReplicatedManifestStore final : public ManifestStore {
 public:
  // `meta` is not owned and must outlive the store.
  explicit ReplicatedManifestStore(MetaClient* meta) : meta_(meta) {}

  absl::Status CreateBucket(const v1::BucketRecord& record) override;
  absl::StatusOr<v1::BucketRecord> GetBucket(const std::string& name) override;
  absl::Status DeleteBucketIfEmpty(const std::string& name) override;
  absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets() override;

  absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& bucket,
                                               const std::string& key) override;
  absl::StatusOr<v1::ObjectManifest> Get(const std::string& bucket, const std::string& key,
                                         const std::string& version_id) override;
  absl::Status PutIfAbsent(const v1::ObjectManifest& manifest) override;
  absl::Status CompareAndSet(const std::string& bucket, const std::string& key,
                             const std::string& version_id, const ManifestUpdate& update) override;
  absl::StatusOr<ListResult> List(const std::string& bucket, const ListRequest& request) override;
  absl::StatusOr<std::vector<KeyVersions>> ScanVersions(const std::string& bucket,
                                                        const std::string& start_after,
                                                        int max_keys) override;

  // Entries read per Scan call while listing (a page of max_keys usually needs one call).
  static constexpr uint32_t kScanBatch = 1000;

 private:
  // The bucket id of live bucket `name`; NOT_FOUND "no such bucket".
  absl::StatusOr<std::string> BucketId(const std::string& name);

  MetaClient* const meta_;
};

// The smallest string greater than every string that starts with `prefix`, or "" when there is
// none (empty prefix, or all bytes 0xff). Exposed for tests.
std::string PrefixSuccessor(absl::string_view prefix);

}  // namespace tessera::services
