#include "services/object/manifest_shard_map.h"

#include <string>

#include "gtest/gtest.h"

namespace tessera::services {
namespace {

v1::BucketRecord Record(std::initializer_list<std::pair<uint32_t, std::string>> shards) {
  v1::BucketRecord r;
  r.set_bucket_id("id");
  for (const auto& [id, start] : shards) {
    auto* s = r.add_shards();
    s->set_id(id);
    s->set_start_key(start);
  }
  return r;
}

TEST(ManifestShardMapTest, ShardField) {
  EXPECT_EQ(ShardField("id", 0), "id");
  EXPECT_EQ(ShardField("id", 1), std::string("id\0\0\0\x01", 6));
  EXPECT_EQ(ShardField("id", 0x01020304), "id\x01\x02\x03\x04");
}

TEST(ManifestShardMapTest, SegmentsIgnoreCopyingAndMergeDrainingSources) {
  // Unordered in the record; shard 2 is being copied (its source still owns "m"..).
  const auto copying = Segments(Record({{2 | kShardCopying, "m"}, {0, ""}, {1, "f"}}));
  ASSERT_EQ(copying.size(), 2u);
  EXPECT_EQ(copying[0].primary, "id");
  EXPECT_EQ(copying[1].start, "f");
  EXPECT_EQ(copying[1].end, "");
  EXPECT_EQ(copying[1].secondary, "");
  EXPECT_EQ(SegmentFor(copying, "z").primary, ShardField("id", 1));
  // Draining: shard 2 owns "m".., reads merge its source, shard 1.
  const auto draining = Segments(Record({{0, ""}, {1, "f"}, {2 | kShardDraining, "m"}}));
  ASSERT_EQ(draining.size(), 3u);
  EXPECT_EQ(SegmentFor(draining, "m").primary, ShardField("id", 2));
  EXPECT_EQ(SegmentFor(draining, "m").secondary, ShardField("id", 1));
  EXPECT_EQ(SegmentFor(draining, "l").primary, ShardField("id", 1));
  EXPECT_EQ(SegmentFor(draining, "a").primary, "id");
  EXPECT_EQ(draining[1].end, "m");
  // No shards at all: everything in shard 0.
  const auto none = Segments(Record({}));
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].primary, "id");
  EXPECT_TRUE(IsPending(2 | kShardDraining));
  EXPECT_FALSE(IsPending(2));
}

TEST(ManifestShardMapTest, SameShards) {
  EXPECT_TRUE(SameShards(Record({{0, ""}, {1, "f"}}), Record({{0, ""}, {1, "f"}})));
  EXPECT_FALSE(SameShards(Record({{0, ""}, {1, "f"}}), Record({{0, ""}, {1, "g"}})));
  EXPECT_FALSE(SameShards(Record({{0, ""}}), Record({{0, ""}, {1, "f"}})));
}

TEST(ManifestShardMapTest, ReplacesHeldOnlyByALaterHead) {
  v1::ObjectManifest older, newer;
  older.set_commit_sequence(3);
  newer.set_commit_sequence(4);
  const std::string o = older.SerializeAsString(), n = newer.SerializeAsString();
  EXPECT_TRUE(ReplacesHeld("", o, n));
  EXPECT_FALSE(ReplacesHeld("", n, o));
  EXPECT_FALSE(ReplacesHeld("v1", o, n));  // versions are written once: the held copy stays
}

}  // namespace
}  // namespace tessera::services
