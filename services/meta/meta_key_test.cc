// Known-answer tests pinning the stored formats of the metadata: the partition hashes
// (services/meta/layout.h) and the key encoding (services/meta/meta_key.h). Both are part of what
// an acceptor store holds on disk; if either changes, every stored key is looked for somewhere
// else and silently orphaned. A failure here means a format changed: bump kMetaKeyFormatVersion /
// kPartitionHashVersion, write a migration, and only then update the expected values.
//
// The expected values were computed independently of this code (Python's hashlib.blake2b with
// digest_size=32, first 8 bytes big-endian, mod the partition count) from the documented inputs.
#include "services/meta/meta_key.h"

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/meta/layout.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOkAndHolds;

std::string Hex(const std::string& bytes) { return absl::BytesToHexString(bytes); }

TEST(MetaFormatTest, VersionsAreTheOnesTheseAnswersBelongTo) {
  EXPECT_EQ(kMetaKeyFormatVersion, 1u);
  EXPECT_EQ(kPartitionHashVersion, 1u);
}

// BLAKE2b-256("bucket" || 00 || bucket id), first 8 bytes BE, mod partitions.
TEST(MetaFormatTest, PartitionForBucketKnownAnswers) {
  EXPECT_EQ(PartitionForBucket("photos", 16), 10u);
  EXPECT_EQ(PartitionForBucket("photos", 256), 90u);
  EXPECT_EQ(PartitionForBucket("photos", 65536), 21594u);
  EXPECT_EQ(PartitionForBucket("", 256), 172u);
  EXPECT_EQ(PartitionForBucket(std::string("a\0b", 3), 256), 137u);
  EXPECT_EQ(PartitionForBucket(std::string("a\0b", 3), 65536), 44937u);
  EXPECT_EQ(PartitionForBucket("photos", 1), 0u);
}

// BLAKE2b-256("shard" || 00 || shard id BE32 || bucket id), first 8 bytes BE, mod partitions.
TEST(MetaFormatTest, PartitionForShardKnownAnswers) {
  EXPECT_EQ(PartitionForShard("photos", 0, 256), 129u);
  EXPECT_EQ(PartitionForShard("photos", 0, 65536), 35713u);
  EXPECT_EQ(PartitionForShard("photos", 7, 16), 13u);
  EXPECT_EQ(PartitionForShard("photos", 7, 256), 141u);
  EXPECT_EQ(PartitionForShard("photos", 7, 65536), 28301u);
  // The gateway's bucket directory (services/object/replicated_manifest_store.cc).
  EXPECT_EQ(PartitionForShard("tessera.buckets", 0, 256), 243u);
}

// BLAKE2b-256(partition BE32 || node id), first 8 bytes BE: decides which nodes hold a partition.
TEST(MetaFormatTest, RendezvousScoreKnownAnswers) {
  EXPECT_EQ(RendezvousScore(0, "n0"), uint64_t{0xfa5a9e814cb5d405});
  EXPECT_EQ(RendezvousScore(255, "node-a"), uint64_t{0x75376c11e0d2a875});
}

TEST(MetaFormatTest, ObjectEntryKeyEncodingKnownAnswer) {
  const tessera::v1::MetaKey key =
      ObjectEntryKey("photos", 7, std::string("a\0b", 3), "v1", /*partitions=*/256);
  EXPECT_EQ(key.partition(), 141u);
  // partition BE32 | table 02 | "photos" | 00 01 | "a" 00 ff "b" | 00 01 | "v1"
  EXPECT_EQ(Hex(EncodeMetaKey(key)),
            "0000008d"
            "02"
            "70686f746f73"
            "0001"
            "6100ff62"
            "0001"
            "7631");
  EXPECT_THAT(
      DecodeMetaKey(absl::HexStringToBytes("0000008d"
                                           "02"
                                           "70686f746f73"
                                           "0001"
                                           "6100ff62"
                                           "0001"
                                           "7631")),
      IsOkAndHolds(::testing::Property(&tessera::v1::MetaKey::object_key, std::string("a\0b", 3))));
}

TEST(MetaFormatTest, BucketRecordKeyEncodingKnownAnswer) {
  const tessera::v1::MetaKey key = BucketRecordKey("photos", 256);
  EXPECT_EQ(key.partition(), 90u);
  // partition BE32 | table 01 | "photos" | 00 01 | "" | 00 01 | ""
  EXPECT_EQ(Hex(EncodeMetaKey(key)),
            "0000005a"
            "01"
            "70686f746f73"
            "0001"
            "0001");
}

TEST(MetaFormatTest, RangeBoundsKnownAnswers) {
  EXPECT_EQ(Hex(EncodeBucketPrefix(141, tessera::v1::META_TABLE_OBJECT, "photos")),
            "0000008d"
            "02"
            "70686f746f73"
            "0001");
  EXPECT_EQ(Hex(BucketPrefixEnd(141, tessera::v1::META_TABLE_OBJECT, "photos")),
            "0000008d"
            "02"
            "70686f746f73"
            "0002");
  EXPECT_EQ(Hex(EncodeObjectKeyBound(141, tessera::v1::META_TABLE_OBJECT, "photos", "k")),
            "0000008d"
            "02"
            "70686f746f73"
            "0001"
            "6b");
}

// The table numbers are part of the encoding (api/metadata.proto).
TEST(MetaFormatTest, TableNumbersArePinned) {
  EXPECT_EQ(static_cast<int>(tessera::v1::META_TABLE_BUCKET), 1);
  EXPECT_EQ(static_cast<int>(tessera::v1::META_TABLE_OBJECT), 2);
  EXPECT_EQ(static_cast<int>(tessera::v1::META_TABLE_LAYOUT), 3);
}

}  // namespace
}  // namespace tessera::services
