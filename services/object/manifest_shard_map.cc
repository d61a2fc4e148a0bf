#include "services/object/manifest_shard_map.h"

#include <algorithm>
#include <utility>

namespace tessera::services {

std::string ShardField(absl::string_view bucket_id, uint32_t shard_number) {
  std::string field(bucket_id);
  if (shard_number == 0) return field;  // shard 0: the bucket id itself
  for (int shift = 24; shift >= 0; shift -= 8) {
    field.push_back(static_cast<char>((shard_number >> shift) & 0xff));
  }
  return field;
}

std::vector<v1::BucketRecord::Shard> SortedShards(const v1::BucketRecord& record) {
  std::vector<v1::BucketRecord::Shard> shards(record.shards().begin(), record.shards().end());
  std::sort(shards.begin(), shards.end(),
            [](const auto& a, const auto& b) { return a.start_key() < b.start_key(); });
  return shards;
}

// The read (and write) map: shards being copied are ignored (their source still owns the range).
// One split per bucket at a time, so a draining shard's source is its predecessor here.
std::vector<Segment> Segments(const v1::BucketRecord& record) {
  std::vector<v1::BucketRecord::Shard> live;
  for (const auto& shard : SortedShards(record)) {
    if ((shard.id() & kShardCopying) == 0) live.push_back(shard);
  }
  std::vector<Segment> out;
  for (size_t i = 0; i < live.size(); ++i) {
    Segment seg;
    seg.start = live[i].start_key();
    seg.end = i + 1 < live.size() ? live[i + 1].start_key() : "";
    seg.primary = ShardField(record.bucket_id(), live[i].id() & kShardNumberMask);
    if ((live[i].id() & kShardDraining) != 0 && i > 0) {
      seg.secondary = ShardField(record.bucket_id(), live[i - 1].id() & kShardNumberMask);
    }
    out.push_back(std::move(seg));
  }
  if (out.empty()) out.push_back(Segment{"", "", ShardField(record.bucket_id(), 0), ""});
  out.front().start = "";  // the first shard covers everything below the second's start
  return out;
}

const Segment& SegmentFor(const std::vector<Segment>& segments, const std::string& key) {
  size_t i = 0;
  while (i + 1 < segments.size() && segments[i + 1].start <= key) ++i;
  return segments[i];
}

bool SameShards(const v1::BucketRecord& a, const v1::BucketRecord& b) {
  if (a.shards_size() != b.shards_size()) return false;
  for (int i = 0; i < a.shards_size(); ++i) {
    if (a.shards(i).id() != b.shards(i).id() ||
        a.shards(i).start_key() != b.shards(i).start_key()) {
      return false;
    }
  }
  return true;
}

bool ReplacesHeld(const std::string& version_id, const std::string& held,
                  const std::string& incoming) {
  if (!version_id.empty()) return false;
  v1::ObjectManifest a, b;
  if (!a.ParseFromString(held) || !b.ParseFromString(incoming)) return false;
  return b.commit_sequence() > a.commit_sequence();
}

}  // namespace tessera::services
