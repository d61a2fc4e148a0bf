// InMemoryManifestStore: a ManifestStore in one process's memory, for tests and single-process
// setups. Not durable. Head registers (manifest_store.h) are the entries at version id "". The
// replicated metadata service replaces it in a cluster (see manifest_store.h); it implements the
// same contract; both build LIST pages with ListingAssembler (listing_assembler.h).
//
// Thread-safety: thread-safe (one mutex; every operation is atomic).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/object/listing_assembler.h"  // the token codec, for existing includers
#include "services/object/manifest_store.h"

namespace tessera::services {

class InMemoryManifestStore final : public ManifestStore {
 public:
  InMemoryManifestStore() = default;

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

 private:
  // version id -> entry; kHead ("") is the head register and sorts first; the other version ids
  // sort newest first among themselves.
  using Versions = std::map<std::string, v1::ObjectManifest>;
  static constexpr char kHead[] = "";
  struct Bucket {
    v1::BucketRecord record;
    std::map<std::string, Versions> keys;  // empty Versions are erased
  };

  absl::StatusOr<Bucket*> FindBucket(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tessera::services
