#include "services/object/key_rotation.h"

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/object/data_path.h"

namespace tessera::services {
namespace {

// The CompareAndSet update's signal that it left the entry as it is (nothing written).
constexpr char kUnchangedPayload[] = "tessera.gateway/rotation-unchanged";
absl::Status Unchanged() {
  absl::Status s = absl::AbortedError("entry needs no rewrap");
  s.SetPayload(kUnchangedPayload, absl::Cord("1"));
  return s;
}
bool IsUnchanged(const absl::Status& s) { return s.GetPayload(kUnchangedPayload).has_value(); }

enum class Disposition { kRewrap, kCurrent, kSkip };

// What a pass does with `m` given the active key id; `wrapped` receives the parsed wrapped key
// when it is a master-key entry.
absl::StatusOr<Disposition> Classify(const v1::ObjectManifest& m, storage::MasterKeyId active,
                                     std::optional<storage::WrappedKey>* wrapped) {
  if (m.delete_marker() ||
      m.encryption().key_source() != v1::EncryptionParams::CLUSTER_MASTER_KEY) {
    return Disposition::kSkip;
  }
  absl::StatusOr<storage::WrappedKey> parsed =
      storage::WrappedKey::Parse(m.encryption().wrapped_data_key());
  if (!parsed.ok()) return parsed.status();
  // The key id inside the wrapped key is the authenticated one (it is in the associated data);
  // EncryptionParams.key_id only mirrors it.
  const bool current = parsed->key_id == active && m.encryption().key_id() == active;
  if (wrapped != nullptr) *wrapped = *std::move(parsed);
  return current ? Disposition::kCurrent : Disposition::kRewrap;
}

std::string Name(const std::string& bucket, const v1::ObjectManifest& m) {
  return absl::StrCat(bucket, "/", m.key(), " version ", absl::BytesToHexString(m.version_id()));
}

}  // namespace

absl::Status MasterKeyRotationOptions::Validate() const {
  if (scan_batch < 1) return absl::InvalidArgumentError("scan_batch must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<MasterKeyRotationStats> RewrapMasterKeys(ManifestStore& store,
                                                        const storage::MasterKeyring& keyring,
                                                        const MasterKeyRotationOptions& options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  const std::optional<storage::MasterKeyId> active = keyring.active_key_id();
  if (!active.has_value()) {
    return absl::FailedPreconditionError("master key rotation needs a keyring with an active key");
  }
  MasterKeyRotationStats stats;
  stats.active_key_id = *active;
  auto fail = [&stats](const std::string& what, const absl::Status& why) {
    ++stats.failed;
    if (stats.first_error.empty()) stats.first_error = absl::StrCat(what, ": ", why.ToString());
  };

  absl::StatusOr<std::vector<v1::BucketRecord>> buckets = store.ListBuckets();
  if (!buckets.ok()) return buckets.status();
  std::set<std::string> names(options.internal_buckets.begin(), options.internal_buckets.end());
  for (const v1::BucketRecord& b : *buckets) names.insert(b.name());

  for (const std::string& bucket : names) {
    std::string after;
    for (;;) {
      absl::StatusOr<std::vector<KeyVersions>> batch =
          store.ScanVersions(bucket, after, options.scan_batch);
      if (absl::IsNotFound(batch.status())) break;  // bucket gone (or internal one never made)
      if (!batch.ok()) return batch.status();
      for (const KeyVersions& kv : *batch) {
        for (const v1::ObjectManifest& scanned : kv.versions) {
          ++stats.versions_scanned;
          absl::StatusOr<Disposition> d = Classify(scanned, *active, nullptr);
          if (!d.ok()) {
            fail(Name(bucket, scanned), d.status());
            continue;
          }
          if (*d == Disposition::kSkip) {
            ++stats.skipped;
            continue;
          }
          if (*d == Disposition::kCurrent) {
            ++stats.current;
            continue;
          }
          if (options.dry_run) {
            ++stats.remaining;
            continue;
          }
          // Decided again on the entry as it is now: the CAS may run more than once, and the
          // entry may have changed since the scan.
          std::optional<Disposition> outcome;
          absl::Status s = store.CompareAndSet(
              bucket, scanned.key(), scanned.version_id(),
              [&](const std::optional<v1::ObjectManifest>& current)
                  -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                outcome.reset();
                if (!current.has_value()) return Unchanged();
                std::optional<storage::WrappedKey> wrapped;
                absl::StatusOr<Disposition> now = Classify(*current, *active, &wrapped);
                if (!now.ok()) return now.status();
                outcome = *now;
                if (*now != Disposition::kRewrap) return Unchanged();
                const std::string& context = DataVersionId(*current);
                absl::StatusOr<storage::SecretKey> data_key = keyring.Unwrap(*wrapped, context);
                if (!data_key.ok()) {
                  return absl::Status(
                      data_key.status().code(),
                      absl::StrCat("cannot unwrap its data key (master key id ", wrapped->key_id,
                                   "): ", data_key.status().message()));
                }
                absl::StatusOr<storage::WrappedKey> rewrapped = keyring.Wrap(*data_key, context);
                if (!rewrapped.ok()) return rewrapped.status();
                v1::ObjectManifest next = *current;
                v1::EncryptionParams* enc = next.mutable_encryption();
                enc->set_key_id(rewrapped->key_id);
                enc->set_wrapped_data_key(rewrapped->Serialize());
                return std::optional<v1::ObjectManifest>(std::move(next));
              });
          if (IsUnchanged(s) || (absl::IsNotFound(s) && !outcome.has_value())) {
            if (!outcome.has_value()) {  // removed meanwhile (or its whole bucket)
              ++stats.vanished;
            } else if (*outcome == Disposition::kSkip) {
              ++stats.skipped;
            } else {
              ++stats.current;
            }
          } else if (!s.ok()) {
            fail(Name(bucket, scanned), s);
          } else {
            ++stats.rewrapped;
          }
        }
      }
      if (static_cast<int>(batch->size()) < options.scan_batch) break;
      after = batch->back().key;
    }
  }
  return stats;
}

}  // namespace tessera::services
