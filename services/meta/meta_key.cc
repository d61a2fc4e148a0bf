#include "services/meta/meta_key.h"

#include <tuple>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "services/meta/layout.h"

namespace tessera::services {
namespace {

void AppendEscaped(std::string* out, absl::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
}

void AppendTerminator(std::string* out) {
  out->push_back('\0');
  out->push_back('\x01');
}

// Reads an escaped, terminated string from `in` (advancing it).
bool ReadEscaped(absl::string_view* in, std::string* out) {
  out->clear();
  size_t i = 0;
  while (i < in->size()) {
    char c = (*in)[i];
    if (c != '\0') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= in->size()) return false;
    char next = (*in)[i + 1];
    if (next == '\x01') {
      in->remove_prefix(i + 2);
      return true;
    }
    if (next != '\xff') return false;
    out->push_back('\0');
    i += 2;
  }
  return false;
}

std::string Header(uint32_t partition, tessera::v1::MetaTable table) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((partition >> shift) & 0xff));
  }
  out.push_back(static_cast<char>(table));
  return out;
}

}  // namespace

int CompareBallots(const tessera::v1::Ballot& a, const tessera::v1::Ballot& b) {
  auto ta = std::make_tuple(a.wall_micros(), a.logical());
  auto tb = std::make_tuple(b.wall_micros(), b.logical());
  if (ta < tb) return -1;
  if (tb < ta) return 1;
  int c = a.proposer().compare(b.proposer());
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

std::string BallotToString(const tessera::v1::Ballot& b) {
  return absl::StrCat(b.wall_micros(), ".", b.logical(), "@", b.proposer());
}

tessera::v1::MetaKey BucketRecordKey(absl::string_view bucket_id, uint32_t partitions) {
  tessera::v1::MetaKey key;
  key.set_partition(PartitionForBucket(bucket_id, partitions));
  key.set_table(tessera::v1::META_TABLE_BUCKET);
  key.set_bucket(std::string(bucket_id));
  return key;
}

tessera::v1::MetaKey ObjectEntryKey(absl::string_view bucket_id, uint32_t shard_id,
                                    absl::string_view object_key, absl::string_view version_id,
                                    uint32_t partitions) {
  tessera::v1::MetaKey key;
  key.set_partition(PartitionForShard(bucket_id, shard_id, partitions));
  key.set_table(tessera::v1::META_TABLE_OBJECT);
  key.set_bucket(std::string(bucket_id));
  key.set_object_key(std::string(object_key));
  key.set_version_id(std::string(version_id));
  return key;
}

std::string EncodeMetaKey(const tessera::v1::MetaKey& key) {
  std::string out = Header(key.partition(), key.table());
  AppendEscaped(&out, key.bucket());
  AppendTerminator(&out);
  AppendEscaped(&out, key.object_key());
  AppendTerminator(&out);
  out.append(key.version_id());
  return out;
}

absl::StatusOr<tessera::v1::MetaKey> DecodeMetaKey(absl::string_view in) {
  if (in.size() < 5) return absl::InvalidArgumentError("encoded metadata key too short");
  tessera::v1::MetaKey key;
  uint32_t partition = 0;
  for (int i = 0; i < 4; ++i) partition = (partition << 8) | static_cast<uint8_t>(in[i]);
  key.set_partition(partition);
  const int table = static_cast<uint8_t>(in[4]);
  if (!tessera::v1::MetaTable_IsValid(table)) {
    return absl::InvalidArgumentError(absl::StrCat("encoded metadata key has table ", table));
  }
  key.set_table(static_cast<tessera::v1::MetaTable>(table));
  in.remove_prefix(5);
  std::string part;
  if (!ReadEscaped(&in, &part)) return absl::InvalidArgumentError("bad bucket in metadata key");
  key.set_bucket(part);
  if (!ReadEscaped(&in, &part)) return absl::InvalidArgumentError("bad object key in metadata key");
  key.set_object_key(part);
  key.set_version_id(std::string(in));
  return key;
}

std::string EncodeBucketPrefix(uint32_t partition, tessera::v1::MetaTable table,
                               absl::string_view bucket) {
  std::string out = Header(partition, table);
  AppendEscaped(&out, bucket);
  AppendTerminator(&out);
  return out;
}

std::string BucketPrefixEnd(uint32_t partition, tessera::v1::MetaTable table,
                            absl::string_view bucket) {
  std::string out = Header(partition, table);
  AppendEscaped(&out, bucket);
  out.push_back('\0');
  out.push_back('\x02');
  return out;
}

std::string EncodeObjectKeyBound(uint32_t partition, tessera::v1::MetaTable table,
                                 absl::string_view bucket, absl::string_view object_key) {
  std::string out = EncodeBucketPrefix(partition, table, bucket);
  AppendEscaped(&out, object_key);
  return out;
}

}  // namespace tessera::services
