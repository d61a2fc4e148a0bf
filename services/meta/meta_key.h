// Metadata keys and ballots: constructors, ordering, and the order-preserving byte encoding the
// acceptor store uses as its RocksDB key.
//
// Encoding (version 1):
//   partition (4 bytes, big-endian) || table (1 byte) || Escape(bucket) || 00 01
//     || Escape(object key) || 00 01 || version id (raw)
// where Escape replaces every 00 byte by 00 FF. Byte order of encodings equals the order of
// (partition, table, bucket, object key, version id), so a bucket's entries are contiguous and a
// range of object keys is a range of encoded keys.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/metadata.pb.h"

namespace tessera::services {

// Version of the byte encoding above (EncodeMetaKey). Every acceptor store records it (with
// kPartitionHashVersion, services/meta/layout.h) and refuses to open a store written under another
// version: a changed encoding would make every stored key unreachable (silently orphaned), not
// fail. Pinned by known-answer tests (meta_key_test.cc); bump only together with a migration.
inline constexpr uint32_t kMetaKeyFormatVersion = 1;

// -1, 0, 1 as a <, ==, > b in the order (wall_micros, logical, proposer).
int CompareBallots(const tessera::v1::Ballot& a, const tessera::v1::Ballot& b);
inline bool BallotLess(const tessera::v1::Ballot& a, const tessera::v1::Ballot& b) {
  return CompareBallots(a, b) < 0;
}
std::string BallotToString(const tessera::v1::Ballot& b);

// The key of bucket record `bucket_id` (partition = PartitionForBucket).
tessera::v1::MetaKey BucketRecordKey(absl::string_view bucket_id, uint32_t partitions);
// The key of an object entry in index shard `shard_id` (partition = PartitionForShard).
tessera::v1::MetaKey ObjectEntryKey(absl::string_view bucket_id, uint32_t shard_id,
                                    absl::string_view object_key, absl::string_view version_id,
                                    uint32_t partitions);

std::string EncodeMetaKey(const tessera::v1::MetaKey& key);
// INVALID_ARGUMENT when `encoded` is not a well-formed encoding.
absl::StatusOr<tessera::v1::MetaKey> DecodeMetaKey(absl::string_view encoded);

// The encoded prefix of every key of (partition, table, bucket) and its exclusive upper bound.
std::string EncodeBucketPrefix(uint32_t partition, tessera::v1::MetaTable table,
                               absl::string_view bucket);
std::string BucketPrefixEnd(uint32_t partition, tessera::v1::MetaTable table,
                            absl::string_view bucket);
// Lower bound of keys in the bucket whose object key is >= object_key.
std::string EncodeObjectKeyBound(uint32_t partition, tessera::v1::MetaTable table,
                                 absl::string_view bucket, absl::string_view object_key);

}  // namespace tessera::services
