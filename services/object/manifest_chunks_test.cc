#include "services/object/manifest_chunks.h"

#include <string>
#include <utility>
#include <vector>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

v1::ObjectManifest WithParts(const std::vector<int>& stripes) {
  v1::ObjectManifest m;
  m.set_schema_version(1);
  m.set_key("k");
  m.set_version_id(std::string(16, 'v'));
  for (size_t p = 0; p < stripes.size(); ++p) {
    v1::PartRecord* part = m.add_parts();
    part->set_number(static_cast<uint32_t>(p + 1));
    for (int i = 0; i < stripes[p]; ++i) {
      v1::StripeRecord* s = part->add_stripes();
      s->set_index(static_cast<uint32_t>(i));
      s->add_slices()->set_node_id(std::to_string(p * 100000 + i));
    }
  }
  return m;
}

TEST(ManifestChunksTest, SmallManifestsStayWhole) {
  const v1::ObjectManifest m = WithParts({kStripesPerChunk});
  SplitManifest split = Split(m);
  EXPECT_TRUE(split.chunks.empty());
  EXPECT_EQ(split.head.SerializeAsString(), m.SerializeAsString());
  v1::ObjectManifest head = split.head;
  ASSERT_OK(Join(head, std::vector<v1::StripeChunk>()));
  EXPECT_EQ(head.SerializeAsString(), m.SerializeAsString());
}

TEST(ManifestChunksTest, SplitAndJoinRoundTripAcrossPartBoundaries) {
  const v1::ObjectManifest m = WithParts({kStripesPerChunk + 1, 3, 2 * kStripesPerChunk});
  SplitManifest split = Split(m);
  ASSERT_EQ(split.chunks.size(), 5u);  // 2 + 1 + 2: a chunk never spans two parts
  EXPECT_EQ(split.head.schema_version(), kManifestSchemaOutOfLine);
  EXPECT_EQ(split.head.stripe_chunks(), 5u);
  EXPECT_EQ(split.head.parts(0).stripes_size(), 0);
  EXPECT_EQ(split.head.parts(0).stripe_count(), static_cast<uint32_t>(kStripesPerChunk + 1));
  EXPECT_EQ(split.chunks[1].stripes_size(), 1);
  EXPECT_EQ(split.chunks[1].first_stripe(), static_cast<uint32_t>(kStripesPerChunk));
  EXPECT_EQ(split.chunks[2].part_number(), 2u);
  v1::ObjectManifest head = split.head;
  ASSERT_OK(Join(head, split.chunks));
  EXPECT_EQ(head.SerializeAsString(), m.SerializeAsString());

  // A missing, reordered or foreign chunk is data loss, never a silently short manifest.
  std::vector<v1::StripeChunk> missing(split.chunks.begin(), split.chunks.end() - 1);
  head = split.head;
  EXPECT_THAT(Join(head, missing), StatusIs(absl::StatusCode::kDataLoss));
  std::vector<v1::StripeChunk> swapped = split.chunks;
  std::swap(swapped[1], swapped[2]);
  head = split.head;
  EXPECT_THAT(Join(head, swapped), StatusIs(absl::StatusCode::kDataLoss));
  std::vector<v1::StripeChunk> short_chunk = split.chunks;
  short_chunk[0].mutable_stripes()->RemoveLast();
  head = split.head;
  EXPECT_THAT(Join(head, short_chunk), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ManifestChunksTest, ChunkKeysSortByNumber) {
  EXPECT_LT(ChunkKey(1), ChunkKey(2));
  EXPECT_LT(ChunkKey(255), ChunkKey(256));
  EXPECT_EQ(ChunkKey(0x01020304), std::string("\x01\x02\x03\x04", 4));
  EXPECT_NE(ChunkField(std::string(16, 'a')), ChunkField(std::string(16, 'b')));
}

}  // namespace
}  // namespace tessera::services
