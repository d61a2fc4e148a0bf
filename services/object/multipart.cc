#include "services/object/multipart.h"

#include <openssl/evp.h>

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/logging.h"
#include "base/sodium.h"
#include "base/status_reasons.h"

namespace tessera::services {
namespace {

const std::string kSep(1, '\0');

// Upload entries are keyed by the bucket's random id, not its name: a bucket deleted and
// created again (by anyone) starts with no uploads, whatever the old one left behind.
std::string BucketTag(const v1::BucketRecord& bucket) {
  return bucket.bucket_id().empty() ? absl::StrCat("name:", bucket.name())
                                    : absl::BytesToHexString(bucket.bucket_id());
}

std::string UploadKey(const v1::BucketRecord& bucket, const std::string& key,
                      const std::string& upload_id) {
  return absl::StrCat(BucketTag(bucket), kSep, key, kSep, upload_id);
}

// A record that a Complete has claimed (or finished): no more parts, not listed, not abortable.
bool IsCompleting(const v1::ObjectManifest& record) { return record.has_completion(); }

// The internal number of the upload's current copy of S3 part `n`, 0 if none.
uint32_t InternalPartNumber(const v1::ObjectManifest& record, int n) {
  for (const v1::PartRecord& p : record.parts()) {
    if (static_cast<int>(p.number() & kPartNumberMask) == n) return p.number();
  }
  return 0;
}

// The multipart ETag of `chosen`: MD5 of the parts' MD5s, "-N".
std::string MultipartEtag(const std::vector<ChosenPart>& chosen) {
  std::string md5s;
  for (const ChosenPart& c : chosen) md5s += c.md5;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(md5s.data(), md5s.size(), digest, &digest_len, EVP_md5(), nullptr);
  return absl::StrCat(
      "\"",
      absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), digest_len)),
      "-", chosen.size(), "\"");
}

absl::Status NoSuchUpload(const std::string& upload_id) {
  return MarkNoSuchUpload(absl::NotFoundError(absl::StrCat("no such upload: ", upload_id)));
}

bool ValidUploadId(const std::string& id) {
  if (id.size() != 2 * kVersionIdSize) return false;
  for (char c : id) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

// "N:algorithm" entries in the record's checksums map hold part checksums.
std::string PartChecksumKey(int n, const std::string& algorithm) {
  return absl::StrCat(n, ":", algorithm);
}

}  // namespace

MultipartUploads::MultipartUploads(const DataPathOptions& options, const DataPathDeps& deps,
                                   ManifestStore* store, const storage::StripeCodec* codec)
    : options_(options), deps_(deps), store_(store), codec_(codec), versions_(deps.clock) {}

absl::Status MultipartUploads::Init() {
  if (store_->GetBucket(kUploadsBucket).ok()) return absl::OkStatus();
  v1::BucketRecord record;
  record.set_schema_version(1);
  record.set_name(kUploadsBucket);
  record.set_owner("");
  record.set_acl("private");
  absl::Status s = store_->CreateBucket(record);
  if (absl::IsAlreadyExists(s)) return absl::OkStatus();
  return s;
}

absl::StatusOr<UploadInfo> MultipartUploads::Create(const std::string& bucket,
                                                    const std::string& key,
                                                    v1::ObjectManifest base) {
  absl::StatusOr<v1::BucketRecord> b = store_->GetBucket(bucket);
  if (!b.ok()) return b.status();
  if (key.empty() || key.size() > 1024) return absl::InvalidArgumentError("bad object key");
  UploadInfo info;
  info.bucket = bucket;
  info.key = key;
  const std::string version_id = versions_.Next();
  info.upload_id = absl::BytesToHexString(version_id);
  storage::SecretKey data_key = storage::SecretKey::Generate();
  absl::StatusOr<storage::WrappedKey> wrapped = deps_.keyring->Wrap(data_key, version_id);
  if (!wrapped.ok()) return wrapped.status();
  v1::ObjectManifest& r = base;
  r.set_schema_version(kManifestSchemaVersion);
  r.set_bucket(kUploadsBucket);
  r.set_key(UploadKey(*b, key, info.upload_id));
  r.set_version_id(version_id);
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  r.set_created_unix_micros(absl::ToUnixMicros(clock->Now()));
  v1::EncryptionParams* enc = r.mutable_encryption();
  enc->set_aead_algorithm(static_cast<uint32_t>(options_.aead));
  enc->set_key_source(v1::EncryptionParams::CLUSTER_MASTER_KEY);
  enc->set_key_id(wrapped->key_id);
  enc->set_wrapped_data_key(wrapped->Serialize());
  // The code the parts are written with: repair (which reads no key and knows no gateway's
  // options) rebuilds the slices of uploads still in progress from it.
  *r.mutable_coding() = CodingParamsFor(options_);
  r.clear_parts();
  if (absl::Status s = store_->PutIfAbsent(r); !s.ok()) return s;
  info.record = r;
  return info;
}

absl::StatusOr<UploadInfo> MultipartUploads::Lookup(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& upload_id) {
  if (!ValidUploadId(upload_id)) return NoSuchUpload(upload_id);
  absl::StatusOr<v1::BucketRecord> b = store_->GetBucket(bucket);
  if (!b.ok()) return absl::IsNotFound(b.status()) ? NoSuchUpload(upload_id) : b.status();
  absl::StatusOr<v1::ObjectManifest> r =
      store_->Get(kUploadsBucket, UploadKey(*b, key, upload_id), absl::HexStringToBytes(upload_id));
  if (!r.ok()) return absl::IsNotFound(r.status()) ? NoSuchUpload(upload_id) : r.status();
  if (r->delete_marker()) return NoSuchUpload(upload_id);
  UploadInfo info{bucket, key, upload_id, *std::move(r)};
  return info;
}

absl::StatusOr<UploadInfo> MultipartUploads::Get(const std::string& bucket, const std::string& key,
                                                 const std::string& upload_id) {
  absl::StatusOr<UploadInfo> info = Lookup(bucket, key, upload_id);
  if (info.ok() && IsCompleting(info->record)) return NoSuchUpload(upload_id);
  return info;
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> MultipartUploads::PartWriter(const UploadInfo& upload,
                                                                           int part_number) {
  if (part_number < 1 || part_number > 10000) {
    return absl::InvalidArgumentError("part number must be 1..10000");
  }
  // A fresh, random generation per attempt (18 bits), never one already recorded for this part
  // number: a re-upload's slices get ids distinct from the copy it replaces, and concurrent
  // attempts collide only with probability 2^-18 (a collision fails the later commit's slice
  // puts or replaces a part with identical ids; it never mixes two parts' stripes in one record).
  std::vector<uint32_t> taken;
  for (const v1::PartRecord& p : upload.record.parts()) {
    if (S3PartNumber(p) == part_number) taken.push_back(p.number() >> 14);
  }
  uint32_t generation = 0;
  do {
    generation = SecureRandomUniform((1u << 18) - 1) + 1;  // 1 .. 2^18-1
  } while (std::find(taken.begin(), taken.end(), generation) != taken.end());
  const uint32_t internal = (generation << 14) | static_cast<uint32_t>(part_number);
  v1::ObjectManifest base;
  base.set_bucket(upload.bucket);
  base.set_key(upload.key);
  return ObjectWriter::CreatePart(options_, deps_, codec_, std::move(base),
                                  upload.record.version_id(), internal, upload.record.encryption());
}

absl::Status MultipartUploads::CommitPart(const UploadInfo& upload, v1::PartRecord part,
                                          const std::map<std::string, std::string>& checksums) {
  const int n = S3PartNumber(part);
  std::optional<v1::PartRecord> replaced;
  // Every UploadPart of an upload updates its one record, so clients that send parts in
  // parallel (the aws CLI sends 10) contend on it, and the metadata store gives up on a CAS that
  // keeps losing (ABORTED, possibly applied: outcome unknown). Recording part N is idempotent
  // (an update already applied is applied again unchanged), so a CAS lost to contention is
  // retried after a randomized, growing pause: kContentionAttempts tries, about 4 s at most.
  constexpr int kContentionAttempts = 8;
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  absl::Status s;
  for (int attempt = 0; attempt < kContentionAttempts; ++attempt) {
    if (attempt > 0) {
      const uint32_t cap_ms = std::min(25u << attempt, 1000u);
      clock->SleepFor(absl::Milliseconds(cap_ms / 2 + SecureRandomUniform(cap_ms / 2 + 1)));
    }
    s = RecordPart(upload, part, n, checksums, &replaced);
    if (!absl::IsAborted(s)) break;
  }
  if (!s.ok()) {
    // Outcome unknown: the part may be recorded, so its slices stay (the orphan reclaimer checks
    // the upload record before it deletes anything).
    if (!IsOutcomeUnknown(s)) DeleteSlices(upload.record.version_id(), part);
    return absl::IsNotFound(s) ? NoSuchUpload(upload.upload_id) : s;
  }
  if (replaced.has_value() && replaced->number() != part.number()) {
    DeleteSlices(upload.record.version_id(), *replaced);
  }
  return absl::OkStatus();
}

absl::Status MultipartUploads::RecordPart(const UploadInfo& upload, const v1::PartRecord& part,
                                          int n,
                                          const std::map<std::string, std::string>& checksums,
                                          std::optional<v1::PartRecord>* replaced) {
  return store_->CompareAndSet(
      kUploadsBucket, upload.record.key(), upload.record.version_id(),
      [&](const std::optional<v1::ObjectManifest>& current)
          -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
        replaced->reset();
        // A Complete has claimed the upload: its parts are fixed (S3 answers NoSuchUpload).
        if (!current.has_value() || current->delete_marker() || IsCompleting(*current)) {
          return NoSuchUpload(upload.upload_id);
        }
        v1::ObjectManifest next = *current;
        std::vector<v1::PartRecord> parts(next.parts().begin(), next.parts().end());
        auto it = std::find_if(parts.begin(), parts.end(),
                               [&](const v1::PartRecord& p) { return S3PartNumber(p) == n; });
        if (it != parts.end()) {
          *replaced = *it;
          *it = part;
        } else {
          parts.push_back(part);
          std::sort(parts.begin(), parts.end(),
                    [](const v1::PartRecord& a, const v1::PartRecord& b) {
                      return S3PartNumber(a) < S3PartNumber(b);
                    });
        }
        next.clear_parts();
        for (v1::PartRecord& p : parts) *next.add_parts() = std::move(p);
        auto* map = next.mutable_checksums();
        for (auto i = map->begin(); i != map->end();) {
          if (absl::StartsWith(i->first, absl::StrCat(n, ":"))) {
            i = map->erase(i);
          } else {
            ++i;
          }
        }
        for (const auto& [algorithm, value] : checksums) {
          (*map)[PartChecksumKey(n, algorithm)] = value;
        }
        return std::optional<v1::ObjectManifest>(std::move(next));
      });
}

std::map<std::string, std::string> MultipartUploads::PartChecksums(const v1::ObjectManifest& record,
                                                                   int n) {
  std::map<std::string, std::string> out;
  const std::string prefix = absl::StrCat(n, ":");
  for (const auto& [k, v] : record.checksums()) {
    if (absl::StartsWith(k, prefix)) out[k.substr(prefix.size())] = v;
  }
  return out;
}

absl::StatusOr<v1::ObjectManifest> MultipartUploads::Complete(
    const std::string& bucket, const std::string& key, const std::string& upload_id,
    const std::vector<ChosenPart>& chosen, CompleteError* why, const CommitCondition& condition) {
  *why = CompleteError::kOther;
  // A part re-uploaded between our read and our claim makes the claim fail; we then read again
  // and check the list against the new part (a few times, then the client retries).
  for (int attempt = 0; attempt < 4; ++attempt) {
    absl::StatusOr<UploadInfo> upload = Lookup(bucket, key, upload_id);
    if (!upload.ok()) return upload.status();
    if (IsCompleting(upload->record)) {
      return FinishCompletion(*upload, MultipartEtag(chosen), why, condition);
    }
    absl::StatusOr<v1::CompletionIntent> intent = PlanCompletion(*upload, chosen, why);
    if (!intent.ok()) return intent.status();
    // Claim the upload: the intent goes into the upload record, fenced on the parts we chose
    // being the ones recorded now. From here on no part can be replaced or added, Abort refuses,
    // and any retry of Complete finishes THIS object.
    const v1::ObjectManifest& record = upload->record;
    bool replaced_meanwhile = false;
    Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
    absl::Status claimed = store_->CompareAndSet(
        kUploadsBucket, record.key(), record.version_id(),
        [&](const std::optional<v1::ObjectManifest>& current)
            -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
          replaced_meanwhile = false;
          if (!current.has_value() || current->delete_marker()) return NoSuchUpload(upload_id);
          if (IsCompleting(*current)) return current;  // another Complete won: finish its intent
          for (const ChosenPart& c : chosen) {
            if (InternalPartNumber(*current, c.part_number) !=
                InternalPartNumber(record, c.part_number)) {
              replaced_meanwhile = true;
              return absl::AbortedError("a part was replaced during Complete");
            }
          }
          v1::ObjectManifest next = *current;
          *next.mutable_completion() = *intent;
          next.set_completing_unix_micros(absl::ToUnixMicros(clock->Now()));
          return std::optional<v1::ObjectManifest>(std::move(next));
        });
    if (replaced_meanwhile) continue;
    if (!claimed.ok()) return claimed;
    absl::StatusOr<UploadInfo> claimed_upload = Lookup(bucket, key, upload_id);
    if (!claimed_upload.ok()) return claimed_upload.status();
    return FinishCompletion(*claimed_upload, MultipartEtag(chosen), why, condition);
  }
  return absl::AbortedError("parts kept changing during Complete; retry");
}

absl::StatusOr<v1::CompletionIntent> MultipartUploads::PlanCompletion(
    const UploadInfo& upload, const std::vector<ChosenPart>& chosen, CompleteError* why) {
  if (chosen.empty()) {
    *why = CompleteError::kInvalidPart;
    return absl::InvalidArgumentError("You must specify at least one part");
  }
  const v1::ObjectManifest& record = upload.record;
  int previous = 0;
  std::vector<const v1::PartRecord*> used;
  // As AWS: the list is checked whole for order and for parts that were not uploaded (or whose
  // ETag differs) before part sizes are (EntityTooSmall only for an otherwise valid list).
  for (size_t i = 0; i < chosen.size(); ++i) {
    const ChosenPart& c = chosen[i];
    if (c.part_number <= previous) {
      *why = CompleteError::kInvalidPartOrder;
      return absl::InvalidArgumentError("The list of parts was not in ascending order");
    }
    previous = c.part_number;
  }
  for (size_t i = 0; i < chosen.size(); ++i) {
    const ChosenPart& c = chosen[i];
    const v1::PartRecord* found = nullptr;
    for (const v1::PartRecord& p : record.parts()) {
      if (S3PartNumber(p) == c.part_number) found = &p;
    }
    if (found == nullptr || found->md5() != c.md5) {
      *why = CompleteError::kInvalidPart;
      return absl::InvalidArgumentError(
          absl::StrCat("part ", c.part_number, " was not uploaded or its ETag does not match"));
    }
    used.push_back(found);
  }
  v1::CompletionIntent intent;
  uint64_t size = 0;
  for (size_t i = 0; i < chosen.size(); ++i) {
    const v1::PartRecord* found = used[i];
    if (i + 1 < chosen.size() && found->size() < kMinPartSize) {
      *why = CompleteError::kEntityTooSmall;
      return absl::InvalidArgumentError(absl::StrCat(
          "part ", chosen[i].part_number, " is smaller than the minimum allowed size (5 MiB)"));
    }
    size += found->size();
    // Empty parts add nothing to the object (but one empty part alone is the object).
    if (found->size() > 0 || chosen.size() == 1) intent.add_part_numbers(found->number());
  }
  intent.set_bucket(upload.bucket);
  intent.set_key(upload.key);
  // A fresh version id for the completed object (its own id: a retried Complete finds it by that);
  // the data stays under the upload's id. Its position among the key's versions is decided by its
  // commit (ManifestStore::Commit), not by this id.
  intent.set_version_id(versions_.Next());
  intent.set_etag(MultipartEtag(chosen));
  intent.set_size(size);
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  intent.set_created_unix_micros(absl::ToUnixMicros(clock->Now()));
  if (size == 0 && chosen.size() == 1) {
    // A single empty part: the object is an empty inline one (sealed once, here, so a rebuilt
    // manifest is byte-identical to the committed one).
    absl::StatusOr<storage::WrappedKey> wrapped =
        storage::WrappedKey::Parse(record.encryption().wrapped_data_key());
    if (!wrapped.ok()) return wrapped.status();
    absl::StatusOr<storage::SecretKey> dk = deps_.keyring->Unwrap(*wrapped, record.version_id());
    if (!dk.ok()) return dk.status();
    absl::StatusOr<storage::StripeCipher> cipher = storage::StripeCipher::Create(
        static_cast<storage::AeadAlgorithm>(record.encryption().aead_algorithm()), *std::move(dk));
    if (!cipher.ok()) return cipher.status();
    storage::StripeContext context{record.version_id(), 0, 0};
    absl::StatusOr<std::string> sealed = cipher->SealToString(context, "");
    if (!sealed.ok()) return sealed.status();
    intent.set_inline_sealed(*std::move(sealed));
  }
  return intent;
}

absl::StatusOr<v1::ObjectManifest> MultipartUploads::ManifestFromIntent(
    const v1::ObjectManifest& record, const v1::CompletionIntent& intent) const {
  v1::ObjectManifest m;
  m.set_schema_version(kManifestSchemaVersion);
  m.set_bucket(intent.bucket());
  m.set_key(intent.key());
  m.set_version_id(intent.version_id());
  m.set_data_version_id(record.version_id());
  m.set_content_type(record.content_type());
  *m.mutable_user_metadata() = record.user_metadata();
  *m.mutable_headers() = record.headers();
  m.set_owner(record.owner());
  *m.mutable_encryption() = record.encryption();
  *m.mutable_coding() = CodingParamsFor(options_);
  for (uint32_t number : intent.part_numbers()) {
    const v1::PartRecord* found = nullptr;
    for (const v1::PartRecord& p : record.parts()) {
      if (p.number() == number) found = &p;
    }
    if (found == nullptr) {
      return absl::DataLossError(absl::StrCat("upload record lost part ", number & kPartNumberMask,
                                              " named by its Complete intent"));
    }
    if (!intent.inline_sealed().empty()) {
      v1::PartRecord* p = m.add_parts();
      p->set_number(0);
      p->set_md5(found->md5());
    } else {
      *m.add_parts() = *found;
    }
  }
  if (!intent.inline_sealed().empty()) m.set_inline_sealed(intent.inline_sealed());
  m.set_etag(intent.etag());
  m.set_size(intent.size());
  m.set_created_unix_micros(intent.created_unix_micros());
  for (const auto& [k, v] : record.checksums()) {
    if (k.find(':') == std::string::npos) (*m.mutable_checksums())[k] = v;
  }
  return m;
}

absl::StatusOr<v1::ObjectManifest> MultipartUploads::FinishCompletion(
    const UploadInfo& upload, const std::string& requested_etag, CompleteError* why,
    const CommitCondition& condition) {
  const v1::ObjectManifest& record = upload.record;
  // A retry must ask for the object the first Complete chose (AWS answers a repeated Complete
  // with the same result); another part list would be a different object.
  if (requested_etag != record.completion().etag()) {
    *why = CompleteError::kInvalidPart;
    return absl::InvalidArgumentError(
        "the upload is already completed (or being completed) with a different list of parts");
  }
  absl::StatusOr<v1::ObjectManifest> built = ManifestFromIntent(record, record.completion());
  if (!built.ok()) return built.status();
  const v1::ObjectManifest& m = *built;
  if (record.completed_unix_micros() == 0) {
    // Committed by an earlier attempt? The version id is ours alone; the commit may have been
    // superseded since (then it is a superseded entry, and committing again would bring it back).
    absl::Status put;
    absl::StatusOr<v1::ObjectManifest> stored = store_->Get(m.bucket(), m.key(), m.version_id());
    if (stored.ok()) {
      v1::ObjectManifest as_built = *stored;
      as_built.clear_commit_sequence();
      as_built.clear_superseded_unix_micros();
      if (as_built.SerializeAsString() != m.SerializeAsString()) {
        put = absl::AlreadyExistsError(
            absl::StrCat("another version of ", m.bucket(), "/", m.key(), " has this version id"));
      }
    } else if (absl::IsNotFound(stored.status()) && !IsNoSuchBucket(stored.status())) {
      // Not yet: commit it (the condition is decided in the commit; a commit that an earlier,
      // outcome-unknown attempt left in progress is found by the head's CAS and counts as done).
      put = store_->Commit(m, condition).status();
    } else {
      put = stored.status();
    }
    // Any failure keeps every part and the intent: the client's retry of Complete comes back
    // here and commits the same manifest (never a second object, never lost parts).
    if (!put.ok()) return put;
    Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
    const std::string intent_bytes = record.completion().SerializeAsString();
    std::vector<v1::PartRecord> unused;
    absl::Status marked =
        store_->CompareAndSet(kUploadsBucket, record.key(), record.version_id(),
                              [&](const std::optional<v1::ObjectManifest>& current)
                                  -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                unused.clear();
                                if (!current.has_value() || current->delete_marker() ||
                                    current->completion().SerializeAsString() != intent_bytes) {
                                  return absl::AbortedError("upload record changed");
                                }
                                if (current->completed_unix_micros() != 0) return current;
                                v1::ObjectManifest next = *current;
                                next.clear_parts();
                                for (const v1::PartRecord& p : current->parts()) {
                                  bool in_object = false;
                                  for (uint32_t n : current->completion().part_numbers())
                                    in_object |= n == p.number();
                                  if (in_object) {
                                    *next.add_parts() = p;
                                  } else {
                                    unused.push_back(p);
                                  }
                                }
                                next.set_completed_unix_micros(absl::ToUnixMicros(clock->Now()));
                                return std::optional<v1::ObjectManifest>(std::move(next));
                              });
    if (marked.ok()) {
      // Parts the object does not use share its data version id, so only their numbers tell
      // them apart: they are deleted here, by number, once the record no longer lists them.
      for (const v1::PartRecord& p : unused) DeleteSlices(record.version_id(), p);
    } else {
      // The object is committed; the record is marked (and unused parts freed) by a retry or
      // by PurgeFinished.
      TESSERA_LOG(WARNING, "multipart_complete_mark_failed").Field("status", marked);
    }
  }
  *why = CompleteError::kNone;
  return m;
}

absl::Status MultipartUploads::Abort(const std::string& bucket, const std::string& key,
                                     const std::string& upload_id) {
  absl::StatusOr<UploadInfo> upload = Get(bucket, key, upload_id);
  if (!upload.ok()) return upload.status();
  std::optional<v1::ObjectManifest> last;
  absl::Status s = store_->CompareAndSet(
      kUploadsBucket, upload->record.key(), upload->record.version_id(),
      [&](const std::optional<v1::ObjectManifest>& current)
          -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
        if (!current.has_value() || current->delete_marker() || IsCompleting(*current)) {
          return NoSuchUpload(upload_id);
        }
        last = current;
        return std::optional<v1::ObjectManifest>();
      });
  if (!s.ok()) return s;
  if (last.has_value()) {
    for (const v1::PartRecord& p : last->parts()) DeleteSlices(last->version_id(), p);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<UploadInfo>> MultipartUploads::List(const std::string& bucket,
                                                               const std::string& prefix,
                                                               const std::string& key_marker,
                                                               const std::string& upload_id_marker,
                                                               int max, bool* truncated) {
  *truncated = false;
  std::vector<UploadInfo> out;
  absl::StatusOr<v1::BucketRecord> b = store_->GetBucket(bucket);
  if (!b.ok()) return b.status();
  const std::string tag = BucketTag(*b);
  // Every upload key of `bucket` sorts after "<tag>" and before any other bucket's.
  std::string after = tag;
  if (!key_marker.empty()) {
    after = absl::StrCat(tag, kSep, key_marker, kSep,
                         upload_id_marker.empty() ? "\xff" : upload_id_marker);
  }
  while (true) {
    absl::StatusOr<std::vector<KeyVersions>> batch =
        store_->ScanVersions(kUploadsBucket, after, 500);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return out;
    for (const KeyVersions& kv : *batch) {
      after = kv.key;
      if (!absl::StartsWith(kv.key, absl::StrCat(tag, kSep))) {
        if (kv.key > absl::StrCat(tag, kSep)) return out;
        continue;
      }
      std::vector<std::string> parts = absl::StrSplit(kv.key, kSep);
      if (parts.size() != 3) continue;
      if (!absl::StartsWith(parts[1], prefix)) continue;
      for (const v1::ObjectManifest& v : kv.versions) {
        if (v.delete_marker() || IsCompleting(v)) continue;
        if (static_cast<int>(out.size()) >= max) {
          *truncated = true;
          return out;
        }
        out.push_back(UploadInfo{bucket, parts[1], parts[2], v});
      }
    }
  }
}

absl::StatusOr<int> MultipartUploads::PurgeFinished(absl::Duration retention) {
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  const int64_t cutoff = absl::ToUnixMicros(clock->Now() - retention);
  absl::StatusOr<std::vector<v1::BucketRecord>> buckets = store_->ListBuckets();
  if (!buckets.ok()) return buckets.status();
  std::set<std::string> live_tags;
  for (const v1::BucketRecord& b : *buckets) live_tags.insert(BucketTag(b));
  int removed = 0;
  std::string after;
  for (;;) {
    absl::StatusOr<std::vector<KeyVersions>> batch =
        store_->ScanVersions(kUploadsBucket, after, 500);
    if (absl::IsNotFound(batch.status())) return removed;
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return removed;
    for (const KeyVersions& kv : *batch) {
      after = kv.key;
      const std::vector<std::string> parts = absl::StrSplit(kv.key, kSep);
      for (const v1::ObjectManifest& v : kv.versions) {
        if (v.delete_marker()) continue;
        const bool bucket_gone = parts.empty() || live_tags.count(parts[0]) == 0;
        bool remove = false;
        if (v.completed_unix_micros() != 0) {
          remove = v.completed_unix_micros() <= cutoff;
        } else if (IsCompleting(v) && v.completing_unix_micros() <= cutoff) {
          // A Complete that never finished (its client gave up). If its object is committed,
          // finish the bookkeeping (frees unused parts); if not, drop the intent: the parts are
          // then referenced by nothing and the orphan reclaimer takes them.
          const v1::CompletionIntent& intent = v.completion();
          absl::StatusOr<v1::ObjectManifest> stored =
              store_->Get(intent.bucket(), intent.key(), intent.version_id());
          if (stored.ok() && parts.size() == 3) {
            CompleteError why;
            UploadInfo info{intent.bucket(), intent.key(), parts[2], v};
            (void)FinishCompletion(info, intent.etag(), &why);
            continue;  // removed by a later pass, after its retention
          }
          if (!stored.ok() && !absl::IsNotFound(stored.status())) continue;  // ask again later
          remove = true;
        } else if (bucket_gone && v.created_unix_micros() <= cutoff) {
          remove = true;  // an upload left in a deleted bucket: nobody can reach it any more
        }
        if (!remove) continue;
        absl::Status s =
            store_->CompareAndSet(kUploadsBucket, v.key(), v.version_id(),
                                  [&](const std::optional<v1::ObjectManifest>& current)
                                      -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                    if (!current.has_value()) return current;
                                    if (current->SerializeAsString() != v.SerializeAsString()) {
                                      return absl::AbortedError("upload record changed");
                                    }
                                    return std::optional<v1::ObjectManifest>();
                                  });
        if (s.ok()) ++removed;
      }
    }
    if (batch->size() < 500) return removed;
  }
}

void MultipartUploads::DeleteSlices(const std::string& version_id, const v1::PartRecord& part) {
  std::shared_ptr<const ClusterSnapshot> snapshot = deps_.cluster->Snapshot();
  TaskGroup group;
  for (const v1::StripeRecord& stripe : part.stripes()) {
    for (int i = 0; i < stripe.slices_size(); ++i) {
      const StorageNode* node = snapshot->Find(stripe.slices(i).node_id());
      if (node == nullptr) continue;
      group.Add();
      deps_.pool->Submit([this, &group, address = node->address,
                          id = MakeSliceId(version_id, part.number(), stripe.index(), i)] {
        absl::Status s = deps_.slices->Delete(address, id);
        if (!s.ok() && !absl::IsNotFound(s)) {
          TESSERA_LOG(WARNING, "multipart_slice_delete_failed").Field("status", s);
        }
        group.Done();
      });
    }
  }
  group.Wait();
}

}  // namespace tessera::services
