// Master-key rotation: rewraps every data key wrapped under a master key other than the keyring's
// active one, so the old master key can be retired (docs/design/crypto.md "Rotation").
//
// A data key is wrapped per object version (storage/crypto/key_wrap.h) and stored only in that
// version's manifest (EncryptionParams.wrapped_data_key, key_id). Rotating it therefore rewrites
// manifests, never data: the stripes stay sealed under the same data key, so no slice is read,
// written or deleted.
//
// One pass (RewrapMasterKeys) scans every bucket's versions (ManifestStore::ScanVersions; head
// registers and superseded entries) plus `internal_buckets` (in-progress multipart upload records
// carry the data key their parts are sealed with). For each entry with key_source
// CLUSTER_MASTER_KEY and key_id != the active key id it runs one CompareAndSet on that version:
// inside it, on the CURRENT entry (not the scanned copy), the data key is unwrapped with the key id
// the entry records and wrapped again under the active key, bound to the same context
// (DataVersionId); every other field is kept. So a concurrent change of the entry (repair,
// superseding, a multipart part commit) is never undone, an entry removed meanwhile is not
// recreated, and an entry already rewrapped (another pass, a concurrent writer) is left alone.
// Entries with key source CLIENT_KEY or CLIENT_SEALED (the cluster cannot and must not open them)
// and delete markers are skipped.
//
// Operating it: (1) add the new key to the key file of EVERY gateway and make it active (`tessera
// keys add`), restart them; (2) run a pass (`tessera admin rotate-master-key`) until it reports
// 0 failed; (3) a dry-run pass reporting 0 remaining; (4) only then retire the old key (`tessera
// keys retire`). A gateway still running with the old key active would wrap new versions under it
// after (1)..(2); the dry run in (3) catches that.
//
// Thread-safety: stateless; any number of passes (from any gateway) may run concurrently with
// each other and with the data path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/object/manifest_store.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::services {

struct MasterKeyRotationOptions {
  // Keys per ScanVersions call. Default 1000.
  int scan_batch = 1000;
  // Buckets scanned even if ListBuckets does not return them (services/object/multipart.h
  // kUploadsBucket). NOT_FOUND for these is fine.
  std::vector<std::string> internal_buckets = {".tessera-multipart-uploads"};
  // Count what would be rewrapped (`remaining`), change nothing.
  bool dry_run = false;

  [[nodiscard]] absl::Status Validate() const;
};

struct MasterKeyRotationStats {
  uint32_t active_key_id = 0;
  int64_t versions_scanned = 0;  // entries seen, delete markers included
  int64_t rewrapped = 0;         // entries rewritten under the active key by this pass
  int64_t current = 0;           // already under the active key (also: rewrapped meanwhile)
  int64_t skipped = 0;           // delete markers, CLIENT_KEY / CLIENT_SEALED entries
  int64_t vanished = 0;          // removed between the scan and their CompareAndSet
  int64_t remaining = 0;         // dry run: entries that would be rewrapped
  int64_t failed = 0;            // entries that could not be rewrapped (first_error says why)
  std::string first_error;
};

// Runs one pass over `store` with `keyring` (which must hold every key id still in use and an
// active key). Per-entry failures (an unknown key id: NOT_FOUND; a wrapped key failing
// authentication: DATA_LOSS; a lost CompareAndSet) do not stop the pass: they are counted in
// `failed` (first_error keeps the first, naming bucket/key and key id) and that entry keeps its
// old wrapping. Returns an error only if the pass cannot run: INVALID_ARGUMENT (options),
// FAILED_PRECONDITION (empty keyring), or a ListBuckets / ScanVersions failure (UNAVAILABLE...).
// The old key may be retired only after a pass with failed == 0 and a dry run with remaining == 0.
[[nodiscard]] absl::StatusOr<MasterKeyRotationStats> RewrapMasterKeys(
    ManifestStore& store, const storage::MasterKeyring& keyring,
    const MasterKeyRotationOptions& options = {});

}  // namespace tessera::services
