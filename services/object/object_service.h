// ObjectService: the buckets-and-objects API that the gRPC gateway and the S3 front end call.
// Plain C++ over ManifestStore + ObjectWriter + ObjectReader; no RPC types.
//
// Errors a caller can act on (the S3 front end maps them to S3 error codes):
//   NOT_FOUND "no such bucket: b" / "no such key: b/k"; ALREADY_EXISTS "bucket exists: b";
//   FAILED_PRECONDITION "bucket not empty: b"; INVALID_ARGUMENT for bad bucket names or keys;
//   OUT_OF_RANGE for a range outside the object; UNAVAILABLE when too few storage nodes answer;
//   DATA_LOSS when an object cannot be read back intact (more than m slices of a stripe lost).
//
// Versioning: every PUT and DELETE commits a new version (delete = delete marker) in one
// compare-and-set of the key's head register; reads see the newest. The order of versions is the
// order of their commits (the last PUT to commit wins, as in S3), never the gateways' clocks.
// Superseded versions' slices are deleted by the SliceGarbageCollector after its grace period (the
// bucket behaves as an unversioned S3 bucket).
//
// Authorisation: Authorize, ListBuckets(Principal) and CreateBucket(name, Principal) apply the one
// access rule (access_policy.h) for a caller. The other methods trust their caller: a front end
// asks Authorize for the bucket first (S3 and gRPC both do), so the rule lives here only.
//
// Thread-safety: thread-safe. Each ObjectWriter returned is used by one thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/object/access_policy.h"
#include "services/object/data_path.h"
#include "services/object/manifest_store.h"
#include "services/object/object_reader.h"
#include "services/object/object_writer.h"
#include "services/object/version_id.h"

namespace tessera::services {

struct PutObjectOptions {
  std::string content_type;
  std::map<std::string, std::string> user_metadata;
  std::string owner;
  // Standard headers stored with the object (Cache-Control, Content-Disposition, ...).
  std::map<std::string, std::string> headers;
  // Decided inside the commit (S3 If-None-Match: * / If-Match, gRPC if_none_match / if_match):
  // the PUT fails ConditionNotMet (or NOT_FOUND "no such key" for If-Match on no object) instead.
  CommitCondition condition;
};

// Bytes [offset, offset + length) of an object; length nullopt = to the end.
struct ObjectRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

// True for names S3 accepts: 3-63 characters of [a-z0-9.-], starting and ending with a letter or
// digit, no "..", not an IPv4 address.
[[nodiscard]] bool IsValidBucketName(absl::string_view name);

class ObjectService {
 public:
  // Nothing is owned. INVALID_ARGUMENT for bad options or missing deps.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ObjectService>> Create(
      const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store);

  // Buckets.
  // Builds the bucket's record (random id, owner, creation time from deps.clock, canned ACL,
  // region, one shard) and creates it: the only place bucket records are made (gRPC and S3).
  // `acl` as ParseCannedAcl (access_policy.h): empty = private. `region`: as the S3 front end
  // serves it (empty: none recorded). INVALID_ARGUMENT for a bad name or ACL, UNIMPLEMENTED for
  // an unsupported canned ACL; the store's errors as they are (ALREADY_EXISTS, outcome unknown).
  [[nodiscard]] absl::Status CreateBucket(const std::string& name, const std::string& owner = "",
                                          absl::string_view acl = "",
                                          absl::string_view region = "");
  [[nodiscard]] absl::Status DeleteBucket(const std::string& name);
  [[nodiscard]] absl::StatusOr<v1::BucketRecord> HeadBucket(const std::string& name);
  [[nodiscard]] absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets();

  // Authorisation for a caller (access_policy.h).
  // The bucket's record if `who` may have `access` to it; NOT_FOUND "no such bucket: b", or
  // PERMISSION_DENIED "access denied: ...".
  [[nodiscard]] absl::StatusOr<v1::BucketRecord> Authorize(const Principal& who,
                                                           const std::string& bucket,
                                                           BucketAccess access);
  // The buckets `who` owns (never internal ones); PERMISSION_DENIED for an anonymous caller.
  [[nodiscard]] absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets(const Principal& who);
  // A bucket owned by `owner` with canned ACL `acl` (empty = private); PERMISSION_DENIED for an
  // anonymous caller, else as CreateBucket(name, owner id, acl).
  [[nodiscard]] absl::Status CreateBucket(const std::string& name, const Principal& owner,
                                          absl::string_view acl = "",
                                          absl::string_view region = "");

  // Objects. PutObject returns a writer to stream into (Write... Finish); NOT_FOUND if the
  // bucket does not exist, INVALID_ARGUMENT for an empty key or one over 1024 bytes.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<ObjectWriter>> PutObject(
      const std::string& bucket, const std::string& key, const PutObjectOptions& options = {});
  // A client-sealed object (docs/design/e2e_mode.md): a CreateSealed writer (WriteSealedStripe
  // ... Finish) that records `client_sealing` (key source CLIENT_SEALED) and holds no key.
  // Errors as PutObject, INVALID_ARGUMENT for other key sources.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<ObjectWriter>> PutSealedObject(
      const std::string& bucket, const std::string& key, const PutObjectOptions& options,
      const v1::EncryptionParams& client_sealing);
  // Convenience: the whole object in one call.
  [[nodiscard]] absl::StatusOr<v1::ObjectManifest> PutObject(const std::string& bucket,
                                                             const std::string& key,
                                                             absl::string_view data,
                                                             const PutObjectOptions& options = {});
  // Streams the object (or a range of it) to `sink`; returns its manifest when done. The
  // manifest is fetched first, so `sink` only ever sees bytes of one version.
  [[nodiscard]] absl::StatusOr<v1::ObjectManifest> GetObject(const std::string& bucket,
                                                             const std::string& key,
                                                             const ObjectRange& range,
                                                             const ByteSink& sink,
                                                             ReadStats* stats = nullptr);
  // The manifest of the newest live version; NOT_FOUND "no such key" if absent or deleted.
  [[nodiscard]] absl::StatusOr<v1::ObjectManifest> HeadObject(const std::string& bucket,
                                                              const std::string& key);
  // Hides the key behind a delete marker. OK also when the key does not exist (as S3).
  [[nodiscard]] absl::Status DeleteObject(const std::string& bucket, const std::string& key);
  [[nodiscard]] absl::StatusOr<ListResult> ListObjects(const std::string& bucket,
                                                       const ListRequest& request);

  const DataPathOptions& options() const { return options_; }

 private:
  // PutObject / PutSealedObject (client_sealing != nullptr).
  absl::StatusOr<std::unique_ptr<ObjectWriter>> NewWriter(
      const std::string& bucket, const std::string& key, const PutObjectOptions& options,
      const v1::EncryptionParams* client_sealing);

  ObjectService(const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
                std::unique_ptr<storage::StripeCodec> codec);

  const DataPathOptions options_;
  const DataPathDeps deps_;
  ManifestStore* const store_;
  std::unique_ptr<storage::StripeCodec> codec_;
  ObjectReader reader_;
  VersionIdGenerator versions_;
};

}  // namespace tessera::services
