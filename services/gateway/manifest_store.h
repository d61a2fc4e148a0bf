// ManifestStore: where the gateway keeps bucket records and object manifests.
//
// The replicated metadata service (services/meta: per-key Paxos compare-and-set over a
// partitioned key space, docs/design/metadata.md) will implement this interface and replace
// InMemoryManifestStore, which exists for tests and single-process setups. The contract is
// written so that a MetaClient with Get / CompareAndSet(key, fn) / Scan can implement it:
// every mutation is a compare-and-set on one key, and listing is a scan in key order.
//
// Object entries are keyed (bucket, key, version id). Version ids sort newest first (the
// timestamp is inverted, see version_id.h), so the first entry of a key is its latest version.
// An entry is a manifest or a delete marker (ObjectManifest.delete_marker). Writing an entry is
// what makes the version visible: there is never a second record that could disagree.
//
// Errors: NOT_FOUND "no such bucket" / "no such key" / "no such version"; ALREADY_EXISTS for a
// taken bucket name or version id; FAILED_PRECONDITION "bucket not empty"; INVALID_ARGUMENT for
// malformed requests; UNAVAILABLE when the metadata quorum cannot be reached (retry).
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "api/manifest.pb.h"

namespace tessera::services {

struct ListRequest {
  std::string prefix;
  std::string delimiter;           // empty: no grouping into common prefixes
  std::string start_after;         // list keys strictly after this one
  std::string continuation_token;  // from a previous ListResult; overrides start_after if later
  int max_keys = 1000;             // keys + common prefixes per page, 1..1000
};

struct ListResult {
  std::vector<v1::ObjectManifest> objects;  // latest live version of each key, in key order
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_continuation_token;  // opaque; set when truncated
};

// Every version of one key, newest first (delete markers included).
struct KeyVersions {
  std::string key;
  std::vector<v1::ObjectManifest> versions;
};

// Receives the current entry (nullopt: absent) and returns the entry to write, nullopt to remove
// it, or an error that aborts the update (returned by CompareAndSet unchanged). May be called
// more than once (on contention); must not have side effects.
using ManifestUpdate = std::function<absl::StatusOr<std::optional<v1::ObjectManifest>>(
    const std::optional<v1::ObjectManifest>& current)>;

class ManifestStore {
 public:
  virtual ~ManifestStore() = default;

  // --- Buckets -----------------------------------------------------------------------------
  // Creates `record.name`. Exactly one of concurrent creators of a name wins; the others get
  // ALREADY_EXISTS.
  [[nodiscard]] virtual absl::Status CreateBucket(const v1::BucketRecord& record) = 0;
  // NOT_FOUND "no such bucket".
  [[nodiscard]] virtual absl::StatusOr<v1::BucketRecord> GetBucket(const std::string& name) = 0;
  // Removes the bucket if it holds no live object (only delete markers or nothing).
  // NOT_FOUND, or FAILED_PRECONDITION "bucket not empty".
  [[nodiscard]] virtual absl::Status DeleteBucketIfEmpty(const std::string& name) = 0;
  // All buckets in name order.
  [[nodiscard]] virtual absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets() = 0;

  // --- Objects -----------------------------------------------------------------------------
  // The newest entry of `key` (which may be a delete marker). NOT_FOUND "no such bucket" or
  // "no such key".
  [[nodiscard]] virtual absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& bucket,
                                                                     const std::string& key) = 0;
  // One version. NOT_FOUND "no such bucket" / "no such version".
  [[nodiscard]] virtual absl::StatusOr<v1::ObjectManifest> Get(const std::string& bucket,
                                                               const std::string& key,
                                                               const std::string& version_id) = 0;
  // Writes a new version (manifest.bucket/key/version_id). NOT_FOUND if the bucket does not
  // exist; ALREADY_EXISTS if the version id is taken.
  [[nodiscard]] virtual absl::Status PutIfAbsent(const v1::ObjectManifest& manifest) = 0;
  // Linearizable read-modify-write of one version entry (see ManifestUpdate). The value `update`
  // returns must keep bucket, key and version id. NOT_FOUND if the bucket does not exist.
  [[nodiscard]] virtual absl::Status CompareAndSet(const std::string& bucket,
                                                   const std::string& key,
                                                   const std::string& version_id,
                                                   const ManifestUpdate& update) = 0;
  // List and ScanVersions may return a large manifest's head only (ObjectManifest.stripe_chunks
  // > 0: parts carry stripe_count but no stripes; see manifest_chunks.h); Get and GetLatest
  // always return whole manifests.
  // A LIST page over the latest live version of each key (S3 ListObjectsV2 semantics).
  [[nodiscard]] virtual absl::StatusOr<ListResult> List(const std::string& bucket,
                                                        const ListRequest& request) = 0;
  // Every version of up to `max_keys` keys after `start_after`, in key order, for the garbage
  // collector and for version listing.
  [[nodiscard]] virtual absl::StatusOr<std::vector<KeyVersions>> ScanVersions(
      const std::string& bucket, const std::string& start_after, int max_keys) = 0;
};

}  // namespace tessera::services
