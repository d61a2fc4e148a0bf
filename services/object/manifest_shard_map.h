// The index-shard map of a bucket (docs/design/metadata.md "Listing"): how a bucket's object
// entries are range-partitioned by object key into shards listed in BucketRecord.shards (id,
// start_key; a shard covers [start_key, next start_key)), where each shard lives in the meta
// OBJECT table (ShardField), and which shards a read or write of a key must touch while a split
// is in progress (Segments). Pure functions of a BucketRecord: no I/O, no state.
//
// Shard ids carry the split state in their top bits: a kShardCopying shard is being filled and is
// ignored by reads and writes (its source still owns the range); a kShardDraining shard owns its
// range while reads merge entries its source has not moved yet. One split per bucket at a time.
//
// Thread-safety: every function is thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "api/manifest.pb.h"

namespace tessera::services {

// Split state flags in BucketRecord.Shard.id (the low 30 bits are the shard number).
inline constexpr uint32_t kShardCopying = 1u << 31;   // being filled; ignored by reads and writes
inline constexpr uint32_t kShardDraining = 1u << 30;  // owns its range; reads merge the source
inline constexpr uint32_t kShardNumberMask = kShardDraining - 1;

// The meta bucket field of `shard_number` of bucket `bucket_id`: shard 0 is the bucket id itself,
// shard n > 0 is bucket_id || n as 4 bytes big-endian.
std::string ShardField(absl::string_view bucket_id, uint32_t shard_number);

// True if shard id `id` is in the middle of a split (copying or draining).
inline bool IsPending(uint32_t id) { return (id & (kShardCopying | kShardDraining)) != 0; }

// A key range of the bucket and the shards holding it: `primary` owns it; `secondary` (a
// draining split's source, or empty) may still hold entries of it that were not moved yet.
struct Segment {
  std::string start;
  std::string end;  // "" = unbounded
  std::string primary;
  std::string secondary;
};

// The record's shards ordered by start key.
std::vector<v1::BucketRecord::Shard> SortedShards(const v1::BucketRecord& record);

// The read (and write) map, in key order, covering every key: shards being copied are ignored
// (their source still owns the range); a draining shard's segment names its source (its
// predecessor) as secondary. Never empty: a record without shards maps everything to shard 0.
std::vector<Segment> Segments(const v1::BucketRecord& record);

// The segment of `segments` (from Segments) that holds `key`.
const Segment& SegmentFor(const std::vector<Segment>& segments, const std::string& key);

// True if both records list the same shards (ids and start keys) in the same order.
bool SameShards(const v1::BucketRecord& a, const v1::BucketRecord& b);

// Whether an entry copied in from a split's source (`incoming`, serialized ObjectManifest) must
// replace the copy the new shard holds already (`held`) at `version_id`. Version entries are
// written once: the held copy is the same or newer. A head register (version id "") changes
// with every commit, so the one with the later commit wins (the split's copy step may have
// copied a head that commits to the source then replaced).
bool ReplacesHeld(const std::string& version_id, const std::string& held,
                  const std::string& incoming);

}  // namespace tessera::services
