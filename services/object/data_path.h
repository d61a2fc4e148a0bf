// Options and shared dependencies of the object data path (ObjectWriter, ObjectReader,
// SliceGarbageCollector, ObjectService). See docs/design/object_layer.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "api/manifest.pb.h"
#include "api/node.pb.h"
#include "base/clock.h"
#include "services/object/cluster_view.h"
#include "services/object/slice_client.h"
#include "services/object/work_pool.h"
#include "storage/crypto/key_wrap.h"
#include "storage/crypto/stripe_cipher.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {

class ManifestStore;

struct DataPathOptions {
  // Erasure coding: k data and m parity slices per stripe. Defaults 4 + 2.
  int data_shards = 4;
  int parity_shards = 2;
  // Plaintext bytes per full stripe. Default 8 MiB (so slices are ~2 MiB with k = 4).
  uint64_t stripe_size = 8ull << 20;
  // Slice length alignment (StripeCodecOptions::slice_alignment). Default 64.
  size_t slice_alignment = 64;
  // Objects of at most this many bytes are sealed and kept inline in the manifest; they never
  // touch storage nodes. Default 64 KiB; 0 stores only empty objects inline.
  uint64_t inline_threshold = 64 << 10;
  // Stripes a writer keeps in flight (encoded and being stored) at once; bounds its memory to
  // about stripe_size * (1 + max_stripes_in_flight * (k+m)/k). Default 3, range 1..16.
  int max_stripes_in_flight = 3;
  // Times a failed slice put is re-placed on another node before the slice is given up (the
  // stripe is then degraded, never below k+1 slices). Default 2.
  int max_replacements_per_slice = 2;
  // Cipher for new objects. Default XChaCha20-Poly1305.
  storage::AeadAlgorithm aead = storage::AeadAlgorithm::kXChaCha20Poly1305Ietf;
  // Stall guard of a single-part writer (ObjectWriter::Write/Finish): the longest it may go
  // without dispatching a stripe (from its creation to its first stripe, between stripes, and
  // from its last stripe to the commit). Past it the PUT fails UNAVAILABLE ("retry") and its
  // slices are deleted, instead of committing: the orphan reclaimer takes the slices of a
  // version idle for its grace (docs/design/object_layer.md "Orphan slices"), and a manifest must
  // never point at reclaimed slices. Must stay well under the orphan grace (a stripe's slices
  // are created up to one stall plus one slice-put deadline after the previous stripe's);
  // OpenObjectBackend caps it at half its orphan_grace. Default 3 h (half the default orphan
  // grace). Zero = no guard (tests only). Multipart parts need none: the upload's entry keeps
  // their slices live.
  absl::Duration max_write_stall = absl::Hours(3);

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

// What the data path uses; none of it is owned, all of it must outlive the users.
struct DataPathDeps {
  ClusterView* cluster = nullptr;
  SliceClient* slices = nullptr;
  const storage::MasterKeyring* keyring = nullptr;
  // Who holds `keyring`'s keys: CLUSTER_MASTER_KEY for gateways (the default); CLIENT_KEY for
  // the SDK's embedded client in end-to-end mode (docs/design/e2e_mode.md). Writers record it in
  // the manifest; ObjectReader refuses a manifest of the other kind without trying to unwrap.
  v1::EncryptionParams::KeySource key_source = v1::EncryptionParams::CLUSTER_MASTER_KEY;
  WorkPool* pool = nullptr;  // runs slice RPCs; size it to the parallelism wanted (e.g. 16)
  Clock* clock = nullptr;    // nullptr = Clock::Real()
  // Long reads (ObjectReader, docs/design/object_layer.md "Long reads"): the metadata a reader
  // re-checks its version in once it has read for half of `gc_grace`, and the slice GC's grace
  // (cluster-wide: never more than any collector's SliceGcOptions::grace). Null `versions` = no
  // re-check (a reader outliving the grace may then meet collected slices: DATA_LOSS).
  ManifestStore* versions = nullptr;
  absl::Duration gc_grace = absl::Minutes(15);

  [[nodiscard]] absl::Status Validate() const;
};

// Ids recorded in manifests (api/manifest.proto); never renumber.
inline constexpr uint32_t kManifestSchemaVersion = 1;
inline constexpr uint32_t kCodeIdRsCauchyIsal = 1;

// The version id an object's data was written under (slice ids, AEAD contexts, data-key
// binding): data_version_id when set (completed multipart uploads), else version_id.
inline const std::string& DataVersionId(const v1::ObjectManifest& m) {
  return m.data_version_id().empty() ? m.version_id() : m.data_version_id();
}

// The coding parameters a manifest records for data written with `options` (Reed-Solomon
// Cauchy on ISA-L, SHA-256 slice hashes): one place, so single PUTs and multipart objects can
// never record different codes for the same options.
v1::CodingParams CodingParamsFor(const DataPathOptions& options);

// The slice id of slice `index` of stripe `stripe` of part `part` of a version.
v1::SliceId MakeSliceId(const std::string& version_id, uint32_t part, uint32_t stripe,
                        uint32_t index);

// The placement seed of a stripe: stable for (version id, part, stripe).
uint64_t PlacementSeed(const std::string& version_id, uint32_t part, uint32_t stripe);

}  // namespace tessera::services
