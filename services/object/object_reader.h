// ObjectReader: streams the plaintext of a byte range of an object version to a sink.
//
// Only the stripes the range touches are fetched. Per stripe the k data slices are fetched in
// parallel and checked by StripeCodec::Decode against the manifest's SHA-256 hashes; when a slice
// is missing (degraded stripe, node down, NOT_FOUND) or bad (node-side checksum failure, hash
// mismatch, wrong length) the parity slices are fetched and the stripe is reconstructed. With
// more than m slices unusable the read fails and no byte of that stripe is delivered:
//   - DATA_LOSS when any slice was corrupt or lost (NOT_FOUND / DATA_LOSS from a node, or a hash
//     mismatch): the object needs repair;
//   - UNAVAILABLE when every unusable slice sat on an unreachable node (retrying later may work).
// The message names the object, the stripe and each slice's failure. Wrong bytes are never
// delivered: every stripe is authenticated (AEAD) after decoding.
//
// Long reads: the slice GC deletes a superseded version's slices `deps.gc_grace` after it was
// replaced (slice_gc.h), also under a read still streaming it. A reader therefore fetches slices
// only while its version is certain to be kept: until half the grace after it last saw the
// version current (or after the version was superseded). Past that point, before fetching more,
// it re-reads the version's entry (deps.versions->Get): still the newest -> another half grace;
// superseded less than half a grace ago -> until then; otherwise (or gone) the read stops with
// UNAVAILABLE ("retry to read the newest version") after delivering what it already fetched.
// So a read never meets collected slices (no DATA_LOSS, no wrong bytes), reads shorter than half
// the grace cost no metadata call, and an unreplaced object reads for any length of time. The
// half grace left over covers clock skew between gateways and slice-fetch deadlines.
//
// Memory: one stripe being delivered plus the next one being prefetched.
//
// Thread-safety: thread-safe (Read may run concurrently); it uses deps.pool for slice RPCs.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/manifest.pb.h"
#include "services/object/data_path.h"

namespace tessera::services {

// Receives consecutive pieces of the plaintext; a non-OK return stops the read with that status.
using ByteSink = std::function<absl::Status(absl::string_view)>;

// What a read did, for metrics, repair scheduling and tests.
struct ReadStats {
  int stripes = 0;                // stripes decoded
  int slices_fetched = 0;         // successful slice fetches
  int slice_failures = 0;         // fetches that failed (node down, NOT_FOUND, DATA_LOSS, ...)
  int corrupt_slices = 0;         // slices whose hash did not match the manifest
  int reconstructed_stripes = 0;  // stripes that needed parity
};

// One stored stripe of a client-sealed object, as the client sealed it.
struct SealedStripeData {
  uint32_t index = 0;             // stripe index
  uint64_t plaintext_offset = 0;  // where its plaintext starts in the object (per the manifest)
  uint64_t plaintext_size = 0;    // its plaintext bytes (per the manifest)
  std::string sealed;
};
using SealedStripeSink = std::function<absl::Status(SealedStripeData)>;

class ObjectReader {
 public:
  // `codec` is used for manifests whose coding matches it; others get a codec of their own.
  // Nothing is owned.
  ObjectReader(const DataPathDeps& deps, const storage::StripeCodec* codec);

  // Delivers bytes [offset, offset + length) of `manifest`'s plaintext to `sink`, in order.
  // OUT_OF_RANGE if the range is not inside the object (an empty range at offset <= size is
  // fine); INVALID_ARGUMENT for a delete marker or a manifest this code cannot read; NOT_FOUND
  // if the master key that wrapped its data key is not in the keyring; DATA_LOSS / UNAVAILABLE
  // as described above. End-to-end mode (deps.key_source): FAILED_PRECONDITION when the
  // manifest's key source is not the deps' (a gateway never unwraps a client-key object);
  // PERMISSION_DENIED when a client key ring lacks or does not match the object's client key.
  [[nodiscard]] absl::Status Read(const v1::ObjectManifest& manifest, uint64_t offset,
                                  uint64_t length, const ByteSink& sink,
                                  ReadStats* stats = nullptr) const;
  // A client-sealed object (key source CLIENT_SEALED) can't be read this way: FAILED_PRECONDITION
  // naming ReadSealed, before any slice is fetched.

  // Client-sealed objects (ObjectWriter::CreateSealed): delivers, in order, every whole sealed
  // stripe that holds a byte of [offset, offset + length) (an empty range at offset 0 delivers the
  // first stripe, so a client can still check it). Slices are fetched, verified and reconstructed
  // as Read does; nothing is opened. FAILED_PRECONDITION for an object that is not client-sealed;
  // OUT_OF_RANGE, DATA_LOSS, UNAVAILABLE as Read.
  [[nodiscard]] absl::Status ReadSealed(const v1::ObjectManifest& manifest, uint64_t offset,
                                        uint64_t length, const SealedStripeSink& sink,
                                        ReadStats* stats = nullptr) const;

 private:
  // The stripe loop shared by Read (cipher + sink: plaintext) and ReadSealed (sealed_sink).
  absl::Status ReadStripes(const v1::ObjectManifest& manifest, const std::string& name,
                           uint64_t offset, uint64_t length, const storage::StripeCipher* cipher,
                           const ByteSink* sink, const SealedStripeSink* sealed_sink,
                           ReadStats* stats) const;

  const DataPathDeps deps_;
  const storage::StripeCodec* const codec_;
};

}  // namespace tessera::services
