// ObjectWriter: streams one object version in and makes it visible.
//
//   auto writer = ObjectWriter::Create(options, deps, store, codec, base_manifest, version_id);
//   while (...) RETURN_IF_ERROR((*writer)->Write(chunk));
//   ASSIGN_OR_RETURN(v1::ObjectManifest m, (*writer)->Finish());
//
// Data: a fresh random data key per object version, wrapped by the cluster master keyring's
// active key (bound to the version id; the key id is recorded). Objects of at most
// options.inline_threshold bytes are sealed whole and kept in the manifest (inline_sealed); they
// never touch a node. Larger objects are cut into stripes of options.stripe_size plaintext bytes;
// each stripe is sealed and erasure-coded (StripeCodec) into k+m slices placed by PlaceStripe
// (seeded by version id, part and stripe) and stored in parallel.
//
// Durability: a stripe is acknowledged once all k+m slices are durable. A slice whose put fails
// is re-placed (PlaceReplacement, which keeps the site cap) up to max_replacements_per_slice
// times; if no node qualifies the stripe is accepted with at least k+1 durable slices and marked
// degraded (for repair). Below k+1 the write fails UNAVAILABLE and every slice written so far is
// deleted, best-effort. Nodes that failed during this write are not placed on again by it.
//
// Memory: at most options.max_stripes_in_flight stripes are encoded and in flight; Write blocks
// while that many are. peak_buffered_bytes() reports the most bytes held at once.
//
// Stall guard: a single-part writer that goes longer than options.max_write_stall without
// dispatching a stripe (measured with deps.clock at each stripe and before the commit) fails
// UNAVAILABLE and deletes its slices rather than commit a manifest whose early slices the orphan
// reclaimer may have taken meanwhile.
//
// Finish() commits the manifest with ManifestStore::Commit (that one compare-and-set makes the
// object the key's newest version, if the writer's CommitCondition holds) and returns it. A writer
// destroyed without a successful Finish() deletes its slices, except after a Finish that failed
// outcome-unknown (IsOutcomeUnknown, base/status_reasons.h): the manifest may be visible, so its
// slices stay and the orphan reclaimer decides later.
//
// Thread-safety: not thread-safe (one writer per upload stream); it uses deps.pool internally.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/manifest.pb.h"
#include "services/object/data_path.h"
#include "services/object/manifest_store.h"

struct evp_md_ctx_st;

namespace tessera::services {

// The largest client-sealed stripe a writer takes (it also has to fit one gRPC message).
inline constexpr uint64_t kMaxSealedStripeBytes = 1 << 20;

class ObjectWriter {
 public:
  // `base` carries bucket, key, content type, user metadata, headers and owner; the writer fills
  // in the rest. `codec` must match options (k, m, alignment) and outlive the writer.
  // INVALID_ARGUMENT on bad options or a version id that is not 16 bytes; FAILED_PRECONDITION if
  // the keyring has no active key.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ObjectWriter>> Create(
      const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
      const storage::StripeCodec* codec, v1::ObjectManifest base, std::string version_id);

  // Multipart (services/object/multipart.h): a writer for part `part_number` (>= 1) of the
  // upload whose version id is `version_id`, sealing with the upload's data key (`encryption`,
  // as recorded when the upload was created). Parts are never inline; the part number goes into
  // slice ids, placement seeds and the AEAD context. Finish with FinishPart().
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ObjectWriter>> CreatePart(
      const DataPathOptions& options, const DataPathDeps& deps, const storage::StripeCodec* codec,
      v1::ObjectManifest base, std::string version_id, uint32_t part_number,
      const v1::EncryptionParams& encryption);

  // Client-sealed objects (gateway PutSealedObject, docs/design/e2e_mode.md): a writer that
  // takes stripes the client already sealed (WriteSealedStripe) and only erasure-codes, places
  // and commits them; it holds no key. `client_sealing` (key_source CLIENT_SEALED) is recorded
  // as the manifest's encryption params verbatim. Never inline. The ETag is the MD5 of the
  // sealed bytes (the gateway never sees the plaintext). Errors as Create.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ObjectWriter>> CreateSealed(
      const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
      const storage::StripeCodec* codec, v1::ObjectManifest base, std::string version_id,
      const v1::EncryptionParams& client_sealing);

  ~ObjectWriter();
  ObjectWriter(const ObjectWriter&) = delete;
  ObjectWriter& operator=(const ObjectWriter&) = delete;

  // Appends `data`. Blocks while max_stripes_in_flight stripes are in flight. After an error
  // every later call returns the same error.
  [[nodiscard]] absl::Status Write(absl::string_view data);

  // CreateSealed writers: appends the next stripe, `sealed` as the client sealed it, holding
  // `plaintext_size` bytes of object data (recorded for range reads; the client checks it when
  // it opens the stripe). INVALID_ARGUMENT for an empty stripe, one over
  // kMaxSealedStripeBytes or one not longer than its plaintext; FAILED_PRECONDITION on
  // a plaintext writer (and Write on a sealed one). Blocks as Write does.
  [[nodiscard]] absl::Status WriteSealedStripe(absl::string_view sealed, uint64_t plaintext_size);

  // Stores the rest, commits the manifest and returns it. Errors: UNAVAILABLE (too few nodes, or
  // stalled longer than max_write_stall: nothing committed, retry the PUT),
  // NOT_FOUND (bucket gone), ConditionNotMet / NOT_FOUND "no such key" (the condition did not
  // hold: manifest_store.h), or what a store returned.
  [[nodiscard]] absl::StatusOr<v1::ObjectManifest> Finish();

  // For CreatePart writers: stores the rest and returns the part's record (size, MD5, stripes);
  // writes no manifest. The slices stay until the caller deletes them.
  [[nodiscard]] absl::StatusOr<v1::PartRecord> FinishPart();

  // Abandons the upload and deletes what was stored (best-effort). Idempotent.
  void Abort();

  // For callers that hash the plaintext themselves (the S3 front end must, to check Content-MD5
  // before anything commits): call UseCallerMd5() before the first Write, so the writer skips its
  // own MD5 pass (MD5 is serial and a large share of a PUT's CPU), and SetPlaintextMd5() with the
  // 16-byte digest before Finish/FinishPart, which fail with FAILED_PRECONDITION without it.
  void UseCallerMd5() { caller_md5_ = true; }
  void SetPlaintextMd5(std::string digest) { caller_digest_ = std::move(digest); }

  // Checksums (algorithm -> base64, e.g. "CRC32" -> "...") recorded in the manifest by Finish.
  // The condition Finish commits on (S3 If-None-Match / If-Match), decided inside the commit.
  void set_condition(CommitCondition condition) { condition_ = std::move(condition); }

  void set_checksums(const std::map<std::string, std::string>& checksums) {
    for (const auto& [k, v] : checksums) (*manifest_.mutable_checksums())[k] = v;
  }

  uint64_t bytes_written() const { return total_; }
  // Most bytes (plaintext buffer + encoded stripes in flight) held at once so far.
  uint64_t peak_buffered_bytes() const { return peak_buffered_; }
  const std::string& version_id() const { return version_id_; }
  // Slices moved to another node after a failed put.
  int replaced_slices() const { return replaced_.load(); }

 private:
  struct StripeJob;

  ObjectWriter(const DataPathOptions& options, const DataPathDeps& deps, ManifestStore* store,
               const storage::StripeCodec* codec, v1::ObjectManifest base, std::string version_id,
               std::optional<storage::StripeCipher> cipher, std::string wrapped_key,
               uint32_t key_id);

  absl::Status WaitForRoom();
  // Seal stage: seals and codes one plaintext stripe, then PlaceEncoded.
  absl::Status DispatchStripe(std::string plaintext);
  // OK, or (single-part writers) the stall-guard failure when more than max_write_stall passed
  // since the last stripe was dispatched (or the writer was created); fails the writer.
  absl::Status CheckStall(const char* before);
  // Code-and-place stage (shared with sealed writers): places and stores a coded stripe.
  absl::Status PlaceEncoded(uint64_t plaintext_size, storage::EncodedStripe encoded);
  // The plaintext's MD5: ours, or the caller's (UseCallerMd5).
  absl::StatusOr<std::string> PlaintextMd5();
  absl::Status CompleteOldest();
  void PutSlice(StripeJob* job, int index);
  void Fail(absl::Status status);
  void DeleteStoredSlices();
  void UpdatePeak();
  std::vector<std::string> Suspects();

  const DataPathOptions options_;
  const DataPathDeps deps_;
  ManifestStore* const store_;
  const storage::StripeCodec* const codec_;
  v1::ObjectManifest manifest_;
  CommitCondition condition_;
  const std::string version_id_;
  std::optional<storage::StripeCipher> cipher_;  // empty for CreateSealed writers
  std::shared_ptr<const ClusterSnapshot> snapshot_;
  absl::Time last_progress_;  // creation, then each stripe's dispatch (deps.clock)

  uint32_t part_ = 0;         // part number (0: single-part object)
  bool part_mode_ = false;    // created by CreatePart
  bool sealed_mode_ = false;  // created by CreateSealed
  std::string buffer_;        // plaintext not yet dispatched
  bool spilled_ = false;      // larger than the inline threshold: stripes go to nodes
  uint64_t total_ = 0;
  uint32_t next_stripe_ = 0;
  std::deque<std::unique_ptr<StripeJob>> in_flight_;
  uint64_t in_flight_bytes_ = 0;
  uint64_t peak_buffered_ = 0;
  std::vector<v1::StripeRecord> done_;
  absl::Status status_;
  bool finished_ = false;
  evp_md_ctx_st* md5_ = nullptr;
  bool caller_md5_ = false;    // UseCallerMd5(): md5_ is not fed
  std::string caller_digest_;  // SetPlaintextMd5()

  std::atomic<int> replaced_{0};
  absl::Mutex suspects_mu_;
  std::vector<std::string> suspects_ ABSL_GUARDED_BY(suspects_mu_);
};

}  // namespace tessera::services
