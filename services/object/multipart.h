// MultipartUploads: S3 multipart uploads on the object data path.
//
// An upload is created with a version id and a data key (wrapped by the cluster master keyring,
// bound to the version id) that every part shares. Each UploadPart streams through an
// ObjectWriter::CreatePart writer: its stripes are sealed with the part's number in the AEAD
// context and stored under slice ids that carry it. Complete commits ONE manifest (ManifestStore::
// Commit: a version id taken at Complete, the data under the upload's id) whose parts are the
// chosen PartRecords in order; ObjectReader reads it part by part.
//
// Upload state lives in the ManifestStore, not in gateway memory (gateways keep no durable
// state): one entry per upload in the internal bucket kUploadsBucket under the key
// "<bucket id>\0<key>\0<upload id>" (the bucket's random id in hex, so a bucket deleted and
// created again starts without the old one's uploads), holding the object's metadata, the
// encryption params and the PartRecords uploaded so far. Every change is a CompareAndSet on that
// entry. Its life: open (parts may be added or replaced) -> claimed by a Complete (the intent:
// `completion`; no more parts, hidden from List) -> completed (the object's manifest is
// committed; kept for retried Completes) -> purged (PurgeFinished).
//
// Part numbers: every part upload gets a fresh internal number (random generation << 14 | S3
// number, the generation never one already recorded for that S3 number) so its slices never
// collide with the copy it replaces; the S3 number is number & 0x3FFF.
//
// Errors: NOT_FOUND "no such upload" (S3 NoSuchUpload), "no such bucket"; INVALID_ARGUMENT with
// S3 codes from the caller's checks (the S3 front end maps InvalidPart/InvalidPartOrder/
// EntityTooSmall itself from CompleteError()).
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/manifest.pb.h"
#include "services/object/data_path.h"
#include "services/object/manifest_store.h"
#include "services/object/object_service.h"
#include "services/object/object_writer.h"
#include "services/object/version_id.h"

namespace tessera::services {

inline constexpr char kUploadsBucket[] = ".tessera-multipart-uploads";
inline constexpr uint32_t kPartNumberMask = 0x3FFF;
inline constexpr uint64_t kMinPartSize = 5ull << 20;

// An upload as stored.
struct UploadInfo {
  std::string bucket;
  std::string key;
  std::string upload_id;      // hex of the version id
  v1::ObjectManifest record;  // in kUploadsBucket; parts sorted by S3 part number
};

// Why a Complete failed, for S3 error mapping.
enum class CompleteError { kNone, kInvalidPart, kInvalidPartOrder, kEntityTooSmall, kOther };

struct ChosenPart {
  int part_number = 0;
  std::string md5;  // raw 16 bytes (from the ETag the client sent)
};

class MultipartUploads {
 public:
  // Nothing is owned. Create the internal bucket with Init() before use.
  MultipartUploads(const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
                   const storage::StripeCodec* codec);

  // Creates the internal uploads bucket if needed.
  [[nodiscard]] absl::Status Init();

  // Starts an upload. `base` carries content type, metadata, headers, owner, checksum algorithm.
  [[nodiscard]] absl::StatusOr<UploadInfo> Create(const std::string& bucket, const std::string& key,
                                                  v1::ObjectManifest base);
  // NOT_FOUND "no such upload".
  [[nodiscard]] absl::StatusOr<UploadInfo> Get(const std::string& bucket, const std::string& key,
                                               const std::string& upload_id);
  // A writer for S3 part `part_number` (1..10000) of `upload`.
  [[nodiscard]] absl::StatusOr<std::unique_ptr<ObjectWriter>> PartWriter(const UploadInfo& upload,
                                                                         int part_number);
  // Records a finished part (replacing an earlier upload of the same number, whose slices are
  // then deleted). `checksums` (algorithm -> base64) are kept for ListParts/Complete. If the
  // upload is gone meanwhile the part's slices are deleted and NOT_FOUND returned. An update of
  // the upload record lost to concurrent ones (ABORTED, parts uploaded in parallel) is retried
  // for a few seconds before ABORTED is returned.
  [[nodiscard]] absl::Status CommitPart(const UploadInfo& upload, v1::PartRecord part,
                                        const std::map<std::string, std::string>& checksums);
  // Validates `chosen` (ascending, each uploaded with that MD5, non-last parts >= 5 MiB), claims
  // the upload by writing the object's manifest into the upload record as an intent (fenced on
  // the chosen parts being the ones recorded: a part replaced meanwhile is re-checked against
  // `chosen`, so the object holds the part the client named or Complete fails InvalidPart),
  // commits the manifest, marks the record completed and deletes unused parts' slices.
  // Atomic and retryable: after any failure (including outcome-unknown) every part is kept,
  // and calling Complete again with the same list finishes and returns the same object (also
  // after it succeeded, for `completed_retention`, as S3 does for retried Completes). Another
  // list for a claimed upload fails with kInvalidPart. NOT_FOUND "no such upload".
  // `condition` (S3 If-None-Match / If-Match on Complete) is decided inside the object's commit:
  // ConditionNotMet or NOT_FOUND "no such key" then, with the upload left claimed (as after any
  // failed commit: parts kept; a retry with the same list decides again). A retry after a
  // successful commit returns the object without deciding it again.
  [[nodiscard]] absl::StatusOr<v1::ObjectManifest> Complete(const std::string& bucket,
                                                            const std::string& key,
                                                            const std::string& upload_id,
                                                            const std::vector<ChosenPart>& chosen,
                                                            CompleteError* why,
                                                            const CommitCondition& condition = {});
  // Removes the upload and deletes its parts' slices. NOT_FOUND "no such upload" (also once a
  // Complete has claimed it).
  [[nodiscard]] absl::Status Abort(const std::string& bucket, const std::string& key,
                                   const std::string& upload_id);
  // Uploads of `bucket` in (key, upload id) order, keys starting with `prefix`, after
  // (key_marker, upload_id_marker); at most `max` (sets *truncated).
  [[nodiscard]] absl::StatusOr<std::vector<UploadInfo>> List(const std::string& bucket,
                                                             const std::string& prefix,
                                                             const std::string& key_marker,
                                                             const std::string& upload_id_marker,
                                                             int max, bool* truncated);

  // Removes upload records that no request needs any more: completed ones older than
  // `retention` (kept so a retried Complete gets its answer; 24 h by default in the daemons),
  // intents of Completes abandoned for longer than `retention` (committed ones are first
  // finished; uncommitted ones leave their parts to the orphan reclaimer), and uploads of
  // deleted buckets older than `retention`. Returns how many records it removed. Idempotent;
  // any number of gateways may run it.
  [[nodiscard]] absl::StatusOr<int> PurgeFinished(absl::Duration retention);

  // The S3 part number of a PartRecord.
  static int S3PartNumber(const v1::PartRecord& part) {
    return static_cast<int>(part.number() & kPartNumberMask);
  }
  // Checksums stored for S3 part `n` of an upload record (algorithm -> base64).
  static std::map<std::string, std::string> PartChecksums(const v1::ObjectManifest& record, int n);

 private:
  // The upload record whatever its state (Get hides claimed ones).
  absl::StatusOr<UploadInfo> Lookup(const std::string& bucket, const std::string& key,
                                    const std::string& upload_id);
  // Validates `chosen` against `upload`'s parts and returns the Complete intent (which object,
  // from which parts): small whatever the object's size.
  absl::StatusOr<v1::CompletionIntent> PlanCompletion(const UploadInfo& upload,
                                                      const std::vector<ChosenPart>& chosen,
                                                      CompleteError* why);
  // The object manifest an intent describes, built from the upload record's parts (fixed once
  // the intent is written). DATA_LOSS if the record lacks a part the intent names.
  absl::StatusOr<v1::ObjectManifest> ManifestFromIntent(const v1::ObjectManifest& record,
                                                        const v1::CompletionIntent& intent) const;
  // Commits the intent in `upload` (idempotently), marks the record completed and frees unused
  // parts. `requested_etag` must be the intent's (the same part list).
  absl::StatusOr<v1::ObjectManifest> FinishCompletion(const UploadInfo& upload,
                                                      const std::string& requested_etag,
                                                      CompleteError* why,
                                                      const CommitCondition& condition = {});
  void DeleteSlices(const std::string& version_id, const v1::PartRecord& part);
  // One CompareAndSet of the upload record setting S3 part `n` to `part`; `replaced` gets the
  // record's previous part `n`, if any.
  absl::Status RecordPart(const UploadInfo& upload, const v1::PartRecord& part, int n,
                          const std::map<std::string, std::string>& checksums,
                          std::optional<v1::PartRecord>* replaced);

  const DataPathOptions options_;
  const DataPathDeps deps_;
  ManifestStore* const store_;
  const storage::StripeCodec* const codec_;
  VersionIdGenerator versions_;
};

}  // namespace tessera::services
