// Out-of-line stripe locations for large manifests (docs/design/metadata.md "Large manifests").
//
// A manifest lists every stripe of its object with the node and hash of each slice: about 440
// bytes per stripe, so an object of 5 TiB in 8 MiB stripes needs ~280 MB, far over what one
// metadata value may hold (meta_limits.h: ~1 MiB). A manifest with more than kStripesPerChunk
// stripes is therefore stored as
//   - a head: the ObjectManifest with schema_version 2, stripe_chunks = N, and parts that carry
//     stripe_count but no stripes (small: what listings read), under the object entry key; and
//   - N chunk records (StripeChunk, at most kStripesPerChunk stripes of one part each), each its
//     own metadata entry under the bucket field ChunkField(version id), object key
//     ChunkKey(chunk), so one chunk can be rewritten by compare-and-set and a reader gets all of
//     them, in order, with one paged scan of one partition.
// Chunks are keyed by the manifest entry's own version id, not the data version id: a multipart
// upload's record and the object completed from it share the data version id but are different
// entries with different stripe lists.
// Smaller manifests keep schema_version 1 with the stripes inline, exactly as before. In memory
// (what ManifestStore::Get returns) a manifest is always in the schema 1 form: Join undoes Split.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "api/manifest.pb.h"

namespace tessera::services {

inline constexpr uint32_t kManifestSchemaOutOfLine = 2;
// Stripes per chunk record: ~110 KB of stripe records, so a chunk (and a Prepare carrying two
// versions of it) stays far below the metadata message cap.
inline constexpr int kStripesPerChunk = 256;

struct SplitManifest {
  v1::ObjectManifest head;
  std::vector<v1::StripeChunk> chunks;  // empty: the head is the whole manifest (schema 1)
};

// The stored form of `full` (schema 1, stripes inline): unchanged when it has at most
// kStripesPerChunk stripes, else a head and its chunks as described above.
SplitManifest Split(const v1::ObjectManifest& full);

// Fills `head`'s parts with the stripes of `chunks` (chunk numbers 0..N-1 in order) and returns it
// to the schema 1 form. DATA_LOSS when chunks are missing, out of order, or do not match the
// parts' stripe counts. A head without chunks (schema 1) is left as it is.
absl::Status Join(v1::ObjectManifest& head, const std::vector<v1::StripeChunk>& chunks);

// The metadata bucket field holding the chunks of the manifest entry with `version_id` (its
// partition is a hash of it, so chunks of different objects spread over the cluster).
std::string ChunkField(absl::string_view version_id);
// Object key of chunk `chunk` (4 bytes big-endian: chunks sort by number).
std::string ChunkKey(uint32_t chunk);

}  // namespace tessera::services
