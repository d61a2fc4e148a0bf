// ManifestStore: where the gateway keeps bucket records and object manifests.
//
// The replicated metadata service (services/meta: per-key Paxos compare-and-set over a
// partitioned key space, docs/design/metadata.md) will implement this interface and replace
// InMemoryManifestStore, which exists for tests and single-process setups. The contract is
// written so that a MetaClient with Get / CompareAndSet(key, fn) / Scan can implement it:
// every mutation is a compare-and-set on one key, and listing is a scan in key order.
//
// Object entries are keyed (bucket, key, version id). Each key has a **head register**, the entry
// at version id "" (which sorts before every real version id), holding the manifest of its newest
// version. A new version is made visible by Commit: ONE compare-and-set of the head register that
// checks the write's condition against the current head and gives the new version its position
// (commit_sequence = the replaced head's + 1). So the order of a key's versions is the order in
// which their commits were decided, never the writers' clocks or start times: the last PUT to
// commit wins, as in S3 (docs/design/metadata.md "Version order"). The replaced version moves to
// its own entry (bucket, key, its version id) marked superseded when it still references storage
// (slices or chunk records) or came from a multipart upload, so the slice GC can collect it after
// its grace; a superseded inline object or delete marker holds nothing to collect and is dropped.
// Entries written before head registers existed (commit_sequence 0, no head) are still read:
// without a head, a key's latest version is its first entry in version-id order (newest first).
// An entry is a manifest or a delete marker (ObjectManifest.delete_marker).
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

// What a Commit is decided on, checked inside the same compare-and-set that writes it (so two
// conditional writers can never both succeed). "Live version": the key's newest version, when it
// is not a delete marker.
struct CommitCondition {
  // If-None-Match: * : only if the key has no live version.
  bool if_none_match = false;
  // If-Match: only if the live version's ETag matches this header value (a comma-separated list of
  // entity tags, quoted or not; "*" = any live version). Empty: no condition.
  std::string if_match;
  // Only if the key has a live version (DeleteObject: no delete marker over nothing).
  bool if_live = false;

  bool any() const { return if_none_match || !if_match.empty() || if_live; }
};

// FAILED_PRECONDITION carrying a typed reason: a Commit refused because its condition did not hold
// (S3 answers 412 PreconditionFailed). Other FAILED_PRECONDITION errors (the metadata clock guard,
// a stale layout) do not carry it.
[[nodiscard]] absl::Status ConditionNotMet(const std::string& message);
[[nodiscard]] bool IsConditionNotMet(const absl::Status& status);
// NOT_FOUND "no such key: b/k" carrying the kNoSuchKey reason (base/status_reasons.h).
[[nodiscard]] absl::Status NoSuchKeyError(const std::string& bucket, const std::string& key);
// OK if `condition` holds for `latest` (the key's newest version; nullopt: none); else
// ConditionNotMet, or NOT_FOUND "no such key: b/k" when if_match / if_live finds no live version.
[[nodiscard]] absl::Status CheckCommitCondition(const CommitCondition& condition,
                                                const std::string& bucket, const std::string& key,
                                                const v1::ObjectManifest* latest);
// True if a version replaced by a commit must be kept as a superseded entry: it references slices
// or chunk records, or it is a completed multipart upload (whose retried Complete looks for it).
[[nodiscard]] bool KeepWhenSuperseded(const v1::ObjectManifest& manifest);

// Stored-format versions this binary reads (docs/design/metadata.md "Stored formats are pinned").
// ObjectManifest.schema_version: 1 = stripes inline, 2 = stripes out of line (manifest_chunks.h);
// 0 = written before the field was set (read as 1). StripeChunk.format_version and
// BucketRecord.schema_version: 1 (0 = unset, read as 1).
inline constexpr uint32_t kNewestManifestSchema = 2;
inline constexpr uint32_t kNewestStripeChunkFormat = 1;
inline constexpr uint32_t kNewestBucketRecordSchema = 1;
// OK, or NewerFormatError (FAILED_PRECONDITION, base/status_reasons.h) naming the entry when it
// was written in a newer format than this binary knows: refused rather than misread (fields it
// does not know could change what the entry means, e.g. where its stripes are).
[[nodiscard]] absl::Status CheckManifestFormat(const v1::ObjectManifest& manifest);
[[nodiscard]] absl::Status CheckBucketRecordFormat(const v1::BucketRecord& record);
[[nodiscard]] absl::Status CheckStripeChunkFormat(const v1::StripeChunk& chunk);

// Orders one key's versions as ScanVersions returns them, given all of its entries in version-id
// order (the head register, if any, first): superseded versions by commit_sequence, newest first,
// then entries written before head registers. For implementations of ScanVersions.
void SortVersions(bool first_is_head, std::vector<v1::ObjectManifest>& versions);

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
  // The newest version of `key` (its head; which may be a delete marker). NOT_FOUND "no such
  // bucket" or "no such key".
  [[nodiscard]] virtual absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& bucket,
                                                                     const std::string& key) = 0;
  // One version, the head or a superseded one. NOT_FOUND "no such bucket" / "no such version".
  [[nodiscard]] virtual absl::StatusOr<v1::ObjectManifest> Get(const std::string& bucket,
                                                               const std::string& key,
                                                               const std::string& version_id) = 0;
  // Makes `manifest` (bucket, key, version id chosen by the writer before the write: slices,
  // chunk records and the data key are bound to it) the newest version of its key, if `condition`
  // holds: one compare-and-set of the key's head register (see the top of this file). Returns the
  // stored manifest (commit_sequence set). The version it replaces is kept as a superseded entry
  // (superseded_unix_micros = manifest.created_unix_micros) if KeepWhenSuperseded, else dropped.
  // Idempotent: if the head already is this version id, returns it without checking `condition`
  // (a retried multipart Complete). Errors: NOT_FOUND "no such bucket"; ConditionNotMet; NOT_FOUND
  // "no such key" (see CheckCommitCondition); IsOutcomeUnknown when the commit may be applied.
  [[nodiscard]] virtual absl::StatusOr<v1::ObjectManifest> Commit(
      const v1::ObjectManifest& manifest, const CommitCondition& condition) = 0;
  // Writes an entry at exactly manifest.version_id, outside any head register: records that are
  // not object versions (multipart upload records). NOT_FOUND if the bucket does not exist;
  // ALREADY_EXISTS if the version id is taken.
  [[nodiscard]] virtual absl::Status PutIfAbsent(const v1::ObjectManifest& manifest) = 0;
  // Linearizable read-modify-write of one version, wherever it is (a superseded entry or the head;
  // see ManifestUpdate; nullopt when it is in neither, and a value returned then is written as a
  // PutIfAbsent entry). The value `update` returns must keep bucket, key and version id.
  // NOT_FOUND if the bucket does not exist.
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
  // collector and for version listing: per key the head first, then superseded versions by
  // commit_sequence (newest first), then entries written before head registers (version-id order).
  [[nodiscard]] virtual absl::StatusOr<std::vector<KeyVersions>> ScanVersions(
      const std::string& bucket, const std::string& start_after, int max_keys) = 0;
};

}  // namespace tessera::services
