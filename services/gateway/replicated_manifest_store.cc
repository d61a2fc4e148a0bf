#include "services/gateway/replicated_manifest_store.h"

#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_reasons.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/gateway/in_memory_manifest_store.h"
#include "services/gateway/manifest_chunks.h"
#include "services/meta/meta_key.h"

namespace tessera::services {
namespace {

absl::Status NoSuchBucket(const std::string& name) {
  return MarkNoSuchBucket(absl::NotFoundError(absl::StrCat("no such bucket: ", name)));
}

// The smallest string strictly greater than `s`.
std::string After(const std::string& s) { return s + std::string(1, '\0'); }

absl::StatusOr<v1::ObjectManifest> ParseManifest(const std::string& bytes) {
  v1::ObjectManifest m;
  if (!m.ParseFromString(bytes)) return absl::DataLossError("unparsable object manifest entry");
  return m;
}

// Deterministic encoding (map fields in key order), to compare stored forms byte for byte.
std::string Canonical(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

// CompareAndSet's signal from inside an entry CAS: the entry is (or becomes) stored out of line,
// or changed since it was read; nothing was written.
constexpr char kOutOfLinePayload[] = "tessera.gateway/out-of-line";
absl::Status OutOfLine() {
  absl::Status s = absl::AbortedError("manifest stored out of line");
  s.SetPayload(kOutOfLinePayload, absl::Cord("1"));
  return s;
}
bool IsOutOfLine(const absl::Status& s) { return s.GetPayload(kOutOfLinePayload).has_value(); }

// CompareAndSet's signal that the version is not in the entry tried (its own, or the head).
constexpr char kNotHerePayload[] = "tessera.gateway/not-here";
absl::Status NotHere() {
  absl::Status s = absl::NotFoundError("version not in this entry");
  s.SetPayload(kNotHerePayload, absl::Cord("1"));
  return s;
}
bool IsNotHere(const absl::Status& s) { return s.GetPayload(kNotHerePayload).has_value(); }

// Commit's signal from inside the head's CAS: the head already is this version; nothing written.
constexpr char kCommittedPayload[] = "tessera.gateway/already-committed";
absl::Status AlreadyCommitted() {
  absl::Status s = absl::AbortedError("version already committed");
  s.SetPayload(kCommittedPayload, absl::Cord("1"));
  return s;
}
bool IsAlreadyCommitted(const absl::Status& s) {
  return s.GetPayload(kCommittedPayload).has_value();
}

// Whether an entry copied in from a split's source (`incoming`) must replace the copy the new
// shard holds already (`held`). Version entries are written once: the held copy is the same or
// newer. A head register changes with every commit, so the one with the later commit wins (the
// split's copy step may have copied a head that commits to the source then replaced).
bool ReplacesHeld(const std::string& version_id, const std::string& held,
                  const std::string& incoming) {
  if (!version_id.empty()) return false;
  v1::ObjectManifest a, b;
  if (!a.ParseFromString(held) || !b.ParseFromString(incoming)) return false;
  return b.commit_sequence() > a.commit_sequence();
}

absl::StatusOr<std::optional<v1::BucketRecord>> ParseRecord(const MetaValue& value) {
  if (!value.has_value()) return std::optional<v1::BucketRecord>();
  v1::BucketRecord r;
  if (!r.ParseFromString(*value)) return absl::DataLossError("unparsable bucket record");
  if (r.deleted()) return std::optional<v1::BucketRecord>();
  return std::optional<v1::BucketRecord>(std::move(r));
}

// Scan batches start small (a page of max_keys usually fits) and double while a page needs more.
uint32_t FirstBatch(int max_keys) {
  return std::min<uint32_t>(ReplicatedManifestStore::kScanBatch,
                            std::max<uint32_t>(16, static_cast<uint32_t>(max_keys) + 1));
}
uint32_t NextBatch(uint32_t batch) {
  return std::min<uint32_t>(ReplicatedManifestStore::kScanBatch, batch * 2);
}

bool ItemLess(const ScanItem& a, const ScanItem& b) {
  if (a.key.object_key() != b.key.object_key()) return a.key.object_key() < b.key.object_key();
  return a.key.version_id() < b.key.version_id();
}
bool SameEntry(const ScanItem& a, const ScanItem& b) {
  return a.key.object_key() == b.key.object_key() && a.key.version_id() == b.key.version_id();
}

bool IsPending(uint32_t id) { return (id & (kShardCopying | kShardDraining)) != 0; }

// A key range of the bucket and the shards holding it: `primary` owns it; `secondary` (a
// draining split's source, or empty) may still hold entries of it that were not moved yet.
struct Segment {
  std::string start;
  std::string end;  // "" = unbounded
  std::string primary;
  std::string secondary;
};

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

// Object entries of a bucket with lower <= object key < end, in (key, version) order, read
// lazily shard by shard: only the shards overlapping what the caller consumes are scanned.
// Entries of a draining split's source are merged in (the destination's copy wins).
class EntryCursor {
 public:
  EntryCursor(MetaClient* meta, std::vector<Segment> segments, std::string lower, std::string end,
              uint32_t batch)
      : meta_(meta),
        segments_(std::move(segments)),
        lower_(std::move(lower)),
        end_(std::move(end)),
        batch_(batch) {}

  // Sets *out to the next entry; false when the range is exhausted.
  absl::StatusOr<bool> Next(ScanItem* out) {
    while (true) {
      if (!open_) {
        if (seg_ >= segments_.size()) return false;
        const Segment& seg = segments_[seg_];
        if (!end_.empty() && seg.start >= end_) return false;
        std::string start = std::max(seg.start, lower_);
        std::string end = seg.end;
        if (end.empty() || (!end_.empty() && end_ < end)) end = end_;
        streams_.clear();
        if (end.empty() || start < end) {
          streams_.push_back(MakeStream(seg.primary, start, end));
          if (!seg.secondary.empty()) streams_.push_back(MakeStream(seg.secondary, start, end));
        }
        open_ = true;
      }
      int best = -1;
      for (size_t i = 0; i < streams_.size(); ++i) {
        if (absl::Status s = Fill(streams_[i]); !s.ok()) return s;
        if (streams_[i].buf.empty()) continue;
        if (best < 0 || ItemLess(streams_[i].buf.front(), streams_[best].buf.front())) {
          best = static_cast<int>(i);
        }
      }
      if (best < 0) {
        open_ = false;
        ++seg_;
        continue;
      }
      *out = std::move(streams_[best].buf.front());
      streams_[best].buf.pop_front();
      for (size_t i = best + 1; i < streams_.size(); ++i) {  // the same entry in the source
        if (!streams_[i].buf.empty() && SameEntry(streams_[i].buf.front(), *out)) {
          // The destination's copy wins, except a head register the source committed to later.
          if (ReplacesHeld(out->key.version_id(), out->value, streams_[i].buf.front().value)) {
            *out = std::move(streams_[i].buf.front());
          }
          streams_[i].buf.pop_front();
        }
      }
      return true;
    }
  }

  // Later entries have object keys >= key.
  void Seek(const std::string& key) {
    if (key <= lower_) return;
    lower_ = key;
    for (Stream& s : streams_) {
      while (!s.buf.empty() && s.buf.front().key.object_key() < key) s.buf.pop_front();
      if (s.buf.empty() && !s.done && s.start < key) {
        s.start = key;  // jump instead of reading what lies between
        s.token.clear();
      }
      if (!s.end.empty() && s.start >= s.end) s.done = true;
    }
  }

 private:
  struct Stream {
    std::string field;
    std::string start;
    std::string end;
    std::string token;
    std::deque<ScanItem> buf;
    bool done = false;
    uint32_t batch = 0;
  };

  static Stream MakeStream(const std::string& field, const std::string& start,
                           const std::string& end) {
    Stream s;
    s.field = field;
    s.start = start;
    s.end = end;
    return s;
  }

  absl::Status Fill(Stream& s) {
    while (s.buf.empty() && !s.done) {
      if (s.batch == 0) s.batch = batch_;
      auto page = meta_->Scan(s.field, s.start, s.end, s.batch, s.token);
      if (!page.ok()) return page.status();
      for (ScanItem& item : page->items) {
        if (item.key.object_key() >= lower_) s.buf.push_back(std::move(item));
      }
      s.token = page->next_page_token;
      s.done = s.token.empty();
      s.batch = NextBatch(s.batch);
    }
    return absl::OkStatus();
  }

  MetaClient* const meta_;
  const std::vector<Segment> segments_;
  std::string lower_;
  const std::string end_;
  const uint32_t batch_;
  size_t seg_ = 0;
  bool open_ = false;
  std::vector<Stream> streams_;
};

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

absl::Status StoppedAt(int step) {
  return absl::AbortedError(absl::StrCat("split stopped after step ", step, " (test hook)"));
}
}  // namespace

std::string ShardField(absl::string_view bucket_id, uint32_t shard_number) {
  std::string field(bucket_id);
  if (shard_number == 0) return field;  // shard 0: the bucket id itself
  for (int shift = 24; shift >= 0; shift -= 8) {
    field.push_back(static_cast<char>((shard_number >> shift) & 0xff));
  }
  return field;
}

absl::Status ReplicatedManifestStoreOptions::Validate() const {
  if (split_threshold < 2) {
    return absl::InvalidArgumentError(
        "ReplicatedManifestStoreOptions.split_threshold must be >= 2");
  }
  if (split_check_interval < 1) {
    return absl::InvalidArgumentError(
        "ReplicatedManifestStoreOptions.split_check_interval must be >= 1");
  }
  if (test_stop_after_step < 0 || test_stop_after_step > 4) {
    return absl::InvalidArgumentError(
        "ReplicatedManifestStoreOptions.test_stop_after_step must be in [0, 4]");
  }
  return absl::OkStatus();
}

std::string PrefixSuccessor(absl::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char last = static_cast<unsigned char>(s.back());
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

absl::StatusOr<v1::BucketRecord> ReplicatedManifestStore::Record(const std::string& name) {
  auto value = meta_->Get(ObjectEntryKey(kBucketDirectory, 0, name, "", meta_->partitions()));
  if (!value.ok()) return value.status();
  auto record = ParseRecord(*value);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return NoSuchBucket(name);
  return **std::move(record);
}

absl::Status ReplicatedManifestStore::CreateBucket(const v1::BucketRecord& record) {
  if (record.name().empty()) return absl::InvalidArgumentError("bucket name is empty");
  v1::BucketRecord fresh = record;
  fresh.set_deleted(false);
  if (fresh.bucket_id().empty()) {
    if (sodium_init() < 0) return absl::InternalError("sodium_init failed");
    std::string id(16, '\0');
    randombytes_buf(id.data(), id.size());
    fresh.set_bucket_id(id);
  }
  if (fresh.shards_size() == 0) fresh.add_shards()->set_id(0);
  const std::string bytes = fresh.SerializeAsString();
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(kBucketDirectory, 0, record.name(), "", meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        auto existing = ParseRecord(current);
        if (!existing.ok()) return existing.status();
        if (existing->has_value()) {
          return absl::AlreadyExistsError(absl::StrCat("bucket exists: ", record.name()));
        }
        return MetaValue(bytes);
      });
  return written.status();
}

absl::StatusOr<v1::BucketRecord> ReplicatedManifestStore::GetBucket(const std::string& name) {
  auto value = meta_->Get(ObjectEntryKey(kBucketDirectory, 0, name, "", meta_->partitions()));
  if (!value.ok()) return value.status();
  auto record = ParseRecord(*value);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return NoSuchBucket(name);
  return **std::move(record);
}

absl::Status ReplicatedManifestStore::DeleteBucketIfEmpty(const std::string& name) {
  auto record = GetBucket(name);
  if (!record.ok()) return record.status();
  ListRequest probe;
  probe.max_keys = 1;
  auto page = List(name, probe);
  if (!page.ok()) return page.status();
  if (!page->objects.empty() || !page->common_prefixes.empty()) {
    return MarkBucketNotEmpty(
        absl::FailedPreconditionError(absl::StrCat("bucket not empty: ", name)));
  }
  const std::string bucket_id = record->bucket_id();
  auto written =
      meta_->CompareAndSet(ObjectEntryKey(kBucketDirectory, 0, name, "", meta_->partitions()),
                           [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
                             auto existing = ParseRecord(current);
                             if (!existing.ok()) return existing.status();
                             // Deleted or re-created meanwhile: this call's bucket is gone.
                             if (!existing->has_value() || (*existing)->bucket_id() != bucket_id) {
                               return NoSuchBucket(name);
                             }
                             v1::BucketRecord tombstone = **existing;
                             tombstone.set_deleted(true);
                             return MetaValue(tombstone.SerializeAsString());
                           });
  return written.status();
}

absl::StatusOr<std::vector<v1::BucketRecord>> ReplicatedManifestStore::ListBuckets() {
  std::vector<v1::BucketRecord> out;
  std::string token;
  do {
    auto page = meta_->Scan(kBucketDirectory, "", "", kScanBatch, token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      auto record = ParseRecord(item.value);
      if (!record.ok()) return record.status();
      if (record->has_value()) out.push_back(**std::move(record));
    }
    token = page->next_page_token;
  } while (!token.empty());
  return out;
}

absl::StatusOr<v1::ObjectManifest> ReplicatedManifestStore::GetLatest(const std::string& bucket,
                                                                      const std::string& key) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  // Versions of a key sort newest first: the first entry in [key, key\0) is the latest.
  EntryCursor cursor(meta_, Segments(*record), key, After(key), 1);
  ScanItem item;
  auto found = cursor.Next(&item);
  if (!found.ok()) return found.status();
  if (!*found || item.key.object_key() != key) {
    return absl::NotFoundError(absl::StrCat("no such key: ", bucket, "/", key));
  }
  auto manifest = ParseManifest(item.value);
  if (!manifest.ok()) return manifest.status();
  if (absl::Status s = Hydrate(*manifest); !s.ok()) return s;
  return manifest;
}

absl::StatusOr<v1::ObjectManifest> ReplicatedManifestStore::Get(const std::string& bucket,
                                                                const std::string& key,
                                                                const std::string& version_id) {
  auto manifest = GetVersionStored(bucket, key, version_id);
  if (!manifest.ok()) return manifest.status();
  if (absl::Status s = Hydrate(*manifest); !s.ok()) return s;
  return manifest;
}

absl::StatusOr<v1::ObjectManifest> ReplicatedManifestStore::GetVersionStored(
    const std::string& bucket, const std::string& key, const std::string& version_id) {
  if (!version_id.empty()) {
    auto own = GetStored(bucket, key, version_id);
    if (!absl::IsNotFound(own.status()) || IsNoSuchBucket(own.status())) return own;
    // Not superseded (yet): the head, if it holds this version.
    auto head = GetStored(bucket, key, kHeadSlot);
    if (head.ok() && head->version_id() == version_id) return head;
    if (!head.ok() && !absl::IsNotFound(head.status())) return head.status();
  }
  return absl::NotFoundError(absl::StrCat("no such version of ", bucket, "/", key));
}

absl::StatusOr<v1::ObjectManifest> ReplicatedManifestStore::GetStored(const std::string& bucket,
                                                                      const std::string& key,
                                                                      const std::string& slot) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  const std::vector<Segment> segments = Segments(*record);
  const Segment& seg = SegmentFor(segments, key);
  for (const std::string* field : {&seg.primary, &seg.secondary}) {
    if (field->empty()) continue;
    auto value = meta_->Get(ObjectEntryKey(*field, 0, key, slot, meta_->partitions()));
    if (!value.ok()) return value.status();
    if (value->has_value()) return ParseManifest(**value);
  }
  return absl::NotFoundError(absl::StrCat("no such version of ", bucket, "/", key));
}

absl::Status ReplicatedManifestStore::CopyEntry(const std::string& from, const std::string& to,
                                                const std::string& key,
                                                const std::string& version_id, bool overwrite) {
  auto value = meta_->Get(ObjectEntryKey(from, 0, key, version_id, meta_->partitions()));
  if (!value.ok()) return value.status();
  if (!value->has_value() && !overwrite) return absl::OkStatus();
  return meta_
      ->CompareAndSet(ObjectEntryKey(to, 0, key, version_id, meta_->partitions()),
                      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
                        if (current.has_value() && !overwrite &&
                            !(value->has_value() && ReplacesHeld(version_id, *current, **value))) {
                          return current;
                        }
                        return *value;
                      })
      .status();
}

absl::Status ReplicatedManifestStore::PutIfAbsent(const v1::ObjectManifest& manifest) {
  if (manifest.key().empty()) return absl::InvalidArgumentError("object key is empty");
  if (manifest.version_id().empty()) return absl::InvalidArgumentError("version id is empty");
  auto record = Record(manifest.bucket());
  if (!record.ok()) return record.status();
  // A large manifest's stripes go to their chunk records first; `bytes` is then the small head.
  absl::StatusOr<std::string> stored = StoreChunks(manifest);
  if (!stored.ok()) return stored.status();
  const std::string& bytes = *stored;
  bool moved = false;  // a split moved the key after our first write: ours may be there already
  for (int attempt = 0; attempt < 8; ++attempt) {
    const std::string field = SegmentFor(Segments(*record), manifest.key()).primary;
    auto written = meta_->CompareAndSet(
        ObjectEntryKey(field, 0, manifest.key(), manifest.version_id(), meta_->partitions()),
        [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
          if (current.has_value()) {
            if (moved && *current == bytes) return current;
            return absl::AlreadyExistsError(
                absl::StrCat("version exists for ", manifest.bucket(), "/", manifest.key()));
          }
          return MetaValue(bytes);
        });
    if (!written.ok()) {
      // After a first write whose shard then moved, ours may be visible already (copied by the
      // split's drain): a failure now cannot say it was not stored.
      return moved ? MarkOutcomeUnknown(written.status()) : written.status();
    }
    // Re-check the shard map: a split may have moved the key's range while we wrote. The entry
    // is committed from here on: any failure is outcome-unknown, never "not stored", so callers
    // keep the slices it references.
    auto after = Record(manifest.bucket());
    if (!after.ok()) return MarkOutcomeUnknown(after.status());
    if (SegmentFor(Segments(*after), manifest.key()).primary == field) {
      uint32_t number = 0;
      for (const auto& shard : after->shards()) {
        if (ShardField(after->bucket_id(), shard.id() & kShardNumberMask) == field) {
          number = shard.id() & kShardNumberMask;
        }
      }
      CountWrite(manifest.bucket(), field, number);
      return absl::OkStatus();
    }
    record = *std::move(after);
    moved = true;
  }
  return MarkOutcomeUnknown(
      absl::AbortedError("shard map kept changing during the write; it may be stored"));
}

absl::StatusOr<v1::ObjectManifest> ReplicatedManifestStore::Commit(
    const v1::ObjectManifest& manifest, const CommitCondition& condition) {
  if (manifest.key().empty()) return absl::InvalidArgumentError("object key is empty");
  if (manifest.version_id().empty()) return absl::InvalidArgumentError("version id is empty");
  const std::string& bucket = manifest.bucket();
  const std::string& key = manifest.key();
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  // A condition needs the key's newest version. Usually the head's CAS sees it; a key written
  // before head registers existed has none, so its newest entry is read first (nothing writes
  // such entries any more, so it cannot change meanwhile except by the GC removing it).
  std::optional<v1::ObjectManifest> older;
  if (condition.any()) {
    EntryCursor cursor(meta_, Segments(*record), key, After(key), 1);
    ScanItem item;
    auto found = cursor.Next(&item);
    if (!found.ok()) return found.status();
    if (*found && item.key.object_key() == key && !item.key.version_id().empty()) {
      auto parsed = ParseManifest(item.value);
      if (!parsed.ok()) return parsed.status();
      older = *std::move(parsed);
    }
  }
  // A large manifest's stripes go to their chunk records (keyed by its version id) first.
  absl::StatusOr<std::string> stored = StoreChunks(manifest);
  if (!stored.ok()) return stored.status();
  absl::StatusOr<v1::ObjectManifest> head_form = ParseManifest(*stored);
  if (!head_form.ok()) return head_form.status();
  head_form->set_superseded_unix_micros(0);

  bool moved = false;  // a split moved the key after our commit: carry it to the new owner
  for (int attempt = 0; attempt < 8; ++attempt) {
    const Segment seg = SegmentFor(Segments(*record), key);
    absl::Status s;
    // Mid-split: the new owner continues from the source's head (its sequence, its version).
    if (!seg.secondary.empty()) s = CopyEntry(seg.secondary, seg.primary, key, kHeadSlot, false);
    std::optional<v1::ObjectManifest> replaced;
    v1::ObjectManifest written;
    if (s.ok()) {
      s = meta_
              ->CompareAndSet(
                  ObjectEntryKey(seg.primary, 0, key, kHeadSlot, meta_->partitions()),
                  [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
                    replaced.reset();
                    if (current.has_value()) {
                      auto head = ParseManifest(*current);
                      if (!head.ok()) return head.status();
                      replaced = *std::move(head);
                    }
                    if (replaced.has_value() && replaced->version_id() == manifest.version_id()) {
                      written = *replaced;
                      return AlreadyCommitted();
                    }
                    // Decided here, against the head this commit replaces: atomic with it.
                    // A commit carried to a new owner was decided in the old one.
                    if (!moved) {
                      const v1::ObjectManifest* latest =
                          replaced.has_value() ? &*replaced : (older ? &*older : nullptr);
                      if (absl::Status c = CheckCommitCondition(condition, bucket, key, latest);
                          !c.ok()) {
                        return c;
                      }
                    }
                    written = *head_form;
                    written.set_commit_sequence(
                        replaced.has_value() ? replaced->commit_sequence() + 1 : 1);
                    return MetaValue(written.SerializeAsString());
                  })
              .status();
      if (IsAlreadyCommitted(s)) {
        replaced.reset();
        s = absl::OkStatus();
      }
    }
    if (!s.ok()) {
      // After a first commit whose shard then moved, ours is visible already: a failure now
      // cannot say it was not stored.
      return moved ? MarkOutcomeUnknown(s) : s;
    }
    // Committed. From here on any failure is outcome-unknown, never "not stored", so callers
    // keep the slices the commit references.
    if (!seg.secondary.empty()) {
      // The source's copy of the head must not resurface in merged reads.
      auto erased = meta_->CompareAndSet(
          ObjectEntryKey(seg.secondary, 0, key, kHeadSlot, meta_->partitions()),
          [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); });
      if (!erased.ok()) return MarkOutcomeUnknown(erased.status());
    }
    if (replaced.has_value()) KeepSuperseded(seg.primary, *replaced, manifest);
    auto after = Record(bucket);
    if (!after.ok()) return MarkOutcomeUnknown(after.status());
    if (SegmentFor(Segments(*after), key).primary == seg.primary) {
      uint32_t number = 0;
      for (const auto& shard : after->shards()) {
        if (ShardField(after->bucket_id(), shard.id() & kShardNumberMask) == seg.primary) {
          number = shard.id() & kShardNumberMask;
        }
      }
      CountWrite(bucket, seg.primary, number);
      v1::ObjectManifest result = manifest;
      result.set_commit_sequence(written.commit_sequence());
      result.set_superseded_unix_micros(0);
      return result;
    }
    // A split moved the key's range while we wrote: commit again in the new owner (on top of
    // whatever it holds, unless it already is ours), so the commit is not lost with the source.
    record = *std::move(after);
    moved = true;
  }
  return MarkOutcomeUnknown(
      absl::AbortedError("shard map kept changing during the commit; it may be stored"));
}

void ReplicatedManifestStore::KeepSuperseded(const std::string& field,
                                             const v1::ObjectManifest& replaced,
                                             const v1::ObjectManifest& by) {
  if (!KeepWhenSuperseded(replaced)) return;
  v1::ObjectManifest entry = replaced;  // as stored (a head for out-of-line manifests)
  entry.set_superseded_unix_micros(by.created_unix_micros());
  const std::string bytes = entry.SerializeAsString();
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(field, 0, replaced.key(), replaced.version_id(), meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        if (current.has_value()) return current;  // kept already (a retried or carried commit)
        return MetaValue(bytes);
      });
  if (!written.ok()) {
    // Only its slices' reclamation moves: no manifest refers to them now, so the orphan
    // reclaimer takes them after its grace period instead of the slice GC after its own.
    TESSERA_LOG(WARNING, "superseded_version_not_kept")
        .Field("bucket", replaced.bucket())
        .Field("status", written.status());
  }
}

absl::Status ReplicatedManifestStore::CasStored(const std::string& bucket, const std::string& key,
                                                const std::string& slot,
                                                const std::string& version_id,
                                                const ManifestUpdate& update) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  const Segment seg = SegmentFor(Segments(*record), key);
  // Mid-split: make sure the owner holds the entry before updating it there.
  if (!seg.secondary.empty()) {
    if (absl::Status s = CopyEntry(seg.secondary, seg.primary, key, slot, false); !s.ok()) {
      return s;
    }
  }
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(seg.primary, 0, key, slot, meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        std::optional<v1::ObjectManifest> cur;
        if (current.has_value()) {
          auto parsed = ParseManifest(*current);
          if (!parsed.ok()) return parsed.status();
          cur = *std::move(parsed);
        }
        absl::StatusOr<std::optional<v1::ObjectManifest>> next = update(cur);
        if (!next.ok()) return next.status();
        if (!next->has_value()) return MetaValue();
        if ((*next)->bucket() != bucket || (*next)->key() != key ||
            (*next)->version_id() != version_id) {
          return absl::InvalidArgumentError("CompareAndSet may not change bucket, key or version");
        }
        return MetaValue((*next)->SerializeAsString());
      });
  if (!written.ok()) return written.status();
  if (!seg.secondary.empty()) {
    // The source's stale copy must not resurface in merged reads (e.g. after a deletion).
    auto erased = meta_->CompareAndSet(
        ObjectEntryKey(seg.secondary, 0, key, slot, meta_->partitions()),
        [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); });
    if (!erased.ok()) return erased.status();
  }
  auto after = Record(bucket);
  if (!after.ok()) return after.status();
  const std::string owner = SegmentFor(Segments(*after), key).primary;
  if (owner == seg.primary) return absl::OkStatus();
  // A split moved the key while we wrote: carry our result to the new owner.
  return CopyEntry(seg.primary, owner, key, slot, true);
}

absl::StatusOr<ListResult> ReplicatedManifestStore::List(const std::string& bucket,
                                                         const ListRequest& request) {
  if (request.max_keys < 1 || request.max_keys > 1000) {
    return absl::InvalidArgumentError("max_keys must be in [1, 1000]");
  }
  // Inclusive lower bound of the keys this page may return (same rules as the in-memory store:
  // the token wins when it is not before start_after).
  std::string lower = request.start_after.empty() ? "" : After(request.start_after);
  if (!request.continuation_token.empty()) {
    bool is_prefix = false;
    std::string token_key;
    if (absl::Status s =
            DecodeContinuationToken(request.continuation_token, &is_prefix, &token_key);
        !s.ok()) {
      return s;
    }
    if (token_key >= request.start_after) {
      if (is_prefix) {
        lower = PrefixSuccessor(token_key);
        if (lower.empty()) return ListResult();  // nothing sorts after that prefix
      } else {
        lower = After(token_key);
      }
    }
  }
  lower = std::max(lower, request.prefix);
  const std::string end = PrefixSuccessor(request.prefix);  // "" = unbounded

  auto record = Record(bucket);
  if (!record.ok()) return record.status();

  ListResult result;
  int emitted = 0;
  std::string last_emitted;
  bool last_is_prefix = false;
  std::string current_key;  // the key whose newest version was seen last
  bool have_current = false;
  EntryCursor cursor(meta_, Segments(*record), lower, end, FirstBatch(request.max_keys));
  ScanItem item;
  while (true) {
    auto more = cursor.Next(&item);
    if (!more.ok()) return more.status();
    if (!*more) break;
    const std::string& key = item.key.object_key();
    if (have_current && key == current_key) continue;  // an older version
    current_key = key;
    have_current = true;
    auto manifest = ParseManifest(item.value);
    if (!manifest.ok()) return manifest.status();
    if (manifest->delete_marker()) continue;
    if (!request.delimiter.empty()) {
      const size_t pos = key.find(request.delimiter, request.prefix.size());
      if (pos != std::string::npos) {
        std::string cp = key.substr(0, pos + request.delimiter.size());
        if (emitted == request.max_keys) {
          result.truncated = true;
          break;
        }
        result.common_prefixes.push_back(cp);
        last_emitted = cp;
        last_is_prefix = true;
        ++emitted;
        // Jump past every key of the common prefix instead of reading them.
        std::string next = PrefixSuccessor(cp);
        if (next.empty()) break;
        cursor.Seek(next);
        continue;
      }
    }
    if (emitted == request.max_keys) {
      result.truncated = true;
      break;
    }
    result.objects.push_back(*std::move(manifest));
    last_emitted = key;
    last_is_prefix = false;
    ++emitted;
  }
  if (result.truncated) {
    result.next_continuation_token = EncodeContinuationToken(last_is_prefix, last_emitted);
  }
  return result;
}

absl::StatusOr<std::vector<KeyVersions>> ReplicatedManifestStore::ScanVersions(
    const std::string& bucket, const std::string& start_after, int max_keys) {
  if (max_keys < 1) return absl::InvalidArgumentError("max_keys must be positive");
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  std::vector<KeyVersions> out;
  EntryCursor cursor(meta_, Segments(*record), start_after.empty() ? "" : After(start_after), "",
                     FirstBatch(max_keys));
  ScanItem item;
  bool head = false;  // out.back() started with its head register
  while (true) {
    auto more = cursor.Next(&item);
    if (!more.ok()) return more.status();
    const bool key_done = !*more || out.empty() || out.back().key != item.key.object_key();
    if (key_done && !out.empty()) SortVersions(head, out.back().versions);
    if (!*more) return out;
    const std::string& key = item.key.object_key();
    if (key_done) {
      if (static_cast<int>(out.size()) == max_keys) return out;
      out.push_back(KeyVersions{key, {}});
      head = item.key.version_id().empty();
    }
    auto manifest = ParseManifest(item.value);
    if (!manifest.ok()) return manifest.status();
    out.back().versions.push_back(*std::move(manifest));
  }
}

// --- Large manifests: stripes out of line (manifest_chunks.h) -----------------------------------

absl::StatusOr<std::string> ReplicatedManifestStore::StoreChunks(
    const v1::ObjectManifest& manifest) {
  SplitManifest split = Split(manifest);
  if (absl::Status s = WriteChunks(manifest.version_id(), split.chunks, {}); !s.ok()) return s;
  return split.head.SerializeAsString();
}

absl::Status ReplicatedManifestStore::WriteChunks(const std::string& version_id,
                                                  const std::vector<v1::StripeChunk>& chunks,
                                                  const std::vector<v1::StripeChunk>& unchanged) {
  // Chunks are independent keys: write them a few at a time (a 5 TiB object has ~2,600).
  constexpr size_t kParallel = 8;
  const std::string field = ChunkField(version_id);
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  absl::Status first_error;
  auto work = [&] {
    for (size_t i = next++; i < chunks.size(); i = next++) {
      const std::string bytes = Canonical(chunks[i]);
      if (i < unchanged.size() && Canonical(unchanged[i]) == bytes) continue;
      auto written = meta_->CompareAndSet(
          ObjectEntryKey(field, 0, ChunkKey(static_cast<uint32_t>(i)), "", meta_->partitions()),
          [&](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(bytes); });
      if (!written.ok()) {
        absl::MutexLock lock(&mu);
        if (first_error.ok()) first_error = written.status();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < std::min(kParallel, chunks.size()); ++t) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  return first_error;
}

absl::Status ReplicatedManifestStore::Hydrate(v1::ObjectManifest& manifest) {
  if (manifest.stripe_chunks() == 0) return absl::OkStatus();
  std::vector<v1::StripeChunk> chunks;
  std::string token;
  do {
    auto page = meta_->Scan(ChunkField(manifest.version_id()), "",
                            ChunkKey(manifest.stripe_chunks()), kScanBatch, token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      if (!chunks.emplace_back().ParseFromString(item.value)) {
        return absl::DataLossError("unparsable stripe chunk record");
      }
    }
    token = page->next_page_token;
  } while (!token.empty());
  return Join(manifest, chunks);
}

void ReplicatedManifestStore::DropChunks(const std::string& version_id, size_t from, size_t to) {
  const std::string field = ChunkField(version_id);
  for (size_t i = from; i < to; ++i) {
    auto erased = meta_->CompareAndSet(
        ObjectEntryKey(field, 0, ChunkKey(static_cast<uint32_t>(i)), "", meta_->partitions()),
        [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); });
    if (!erased.ok()) {
      // Unreachable once the head no longer counts it; only space is lost.
      TESSERA_LOG(WARNING, "manifest_chunk_drop_failed").Field("status", erased.status());
      return;
    }
  }
}

absl::Status ReplicatedManifestStore::CompareAndSet(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& version_id,
                                                    const ManifestUpdate& update) {
  if (version_id.empty()) return absl::InvalidArgumentError("version id is empty");
  // The version's own entry (superseded versions, records outside head registers) ...
  absl::Status status = CasVersion(bucket, key, version_id, version_id,
                                   [&](const std::optional<v1::ObjectManifest>& current)
                                       -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                     if (!current.has_value()) return NotHere();
                                     return update(current);
                                   });
  if (!IsNotHere(status)) return status;
  // ... else the head, if it holds this version ...
  status = CasVersion(bucket, key, kHeadSlot, version_id,
                      [&](const std::optional<v1::ObjectManifest>& current)
                          -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                        if (!current.has_value() || current->version_id() != version_id) {
                          return NotHere();
                        }
                        return update(current);
                      });
  if (!IsNotHere(status)) return status;
  // ... else it exists nowhere: `update` sees nullopt, and what it returns goes to its own entry.
  absl::StatusOr<std::optional<v1::ObjectManifest>> probe = update(std::nullopt);
  if (!probe.ok()) return probe.status();
  if (!probe->has_value()) return absl::OkStatus();  // nothing to delete
  return CasVersion(bucket, key, version_id, version_id, update);
}

absl::Status ReplicatedManifestStore::CasVersion(const std::string& bucket, const std::string& key,
                                                 const std::string& slot,
                                                 const std::string& version_id,
                                                 const ManifestUpdate& update) {
  // Entries stored whole that stay whole (nearly all): the update runs inside the entry's CAS.
  bool out_of_line = false;
  absl::Status status =
      CasStored(bucket, key, slot, version_id,
                [&](const std::optional<v1::ObjectManifest>& current)
                    -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                  out_of_line = current.has_value() && current->stripe_chunks() > 0;
                  if (out_of_line) return OutOfLine();
                  absl::StatusOr<std::optional<v1::ObjectManifest>> next = update(current);
                  if (!next.ok() || !next->has_value()) return next;
                  out_of_line = !Split(**next).chunks.empty();
                  if (out_of_line) return OutOfLine();
                  return next;
                });
  if (!out_of_line || !IsOutOfLine(status)) return status;
  // Stripes out of line before or after: read and update the whole manifest, write the chunks
  // that change, then CAS the head only if it is still the one read (else start again). Chunks
  // are written before the head that counts them, so a reader never joins a head with missing
  // chunks; a reader of the old head may see a rewritten chunk, which (as any stripe update,
  // e.g. repair) points at slices that are already stored.
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::optional<v1::ObjectManifest> head;
    absl::StatusOr<v1::ObjectManifest> stored = GetStored(bucket, key, slot);
    if (stored.ok()) {
      head = *std::move(stored);
    } else if (!absl::IsNotFound(stored.status()) || IsNoSuchBucket(stored.status())) {
      return stored.status();
    }
    std::optional<v1::ObjectManifest> full = head;
    if (full.has_value()) {
      if (absl::Status s = Hydrate(*full); !s.ok()) return s;
    }
    absl::StatusOr<std::optional<v1::ObjectManifest>> next = update(full);
    if (!next.ok()) return next.status();
    if (next->has_value() && ((*next)->bucket() != bucket || (*next)->key() != key ||
                              (*next)->version_id() != version_id)) {
      return absl::InvalidArgumentError("CompareAndSet may not change bucket, key or version");
    }
    const SplitManifest before = full.has_value() ? Split(*full) : SplitManifest{};
    std::optional<SplitManifest> after;
    if (next->has_value()) {
      after = Split(**next);
      if (absl::Status s = WriteChunks(version_id, after->chunks, before.chunks); !s.ok()) {
        return s;
      }
    }
    const std::string seen = head.has_value() ? Canonical(*head) : "";
    status = CasStored(bucket, key, slot, version_id,
                       [&](const std::optional<v1::ObjectManifest>& current)
                           -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                         if (current.has_value() != head.has_value() ||
                             (current.has_value() && Canonical(*current) != seen)) {
                           return OutOfLine();  // changed since read: start again
                         }
                         if (!after.has_value()) return std::optional<v1::ObjectManifest>();
                         return std::optional<v1::ObjectManifest>(after->head);
                       });
    if (IsOutOfLine(status)) continue;
    if (!status.ok()) return status;
    const size_t keep = after.has_value() ? after->chunks.size() : 0;
    DropChunks(version_id, keep, before.chunks.size());
    return absl::OkStatus();
  }
  return absl::AbortedError("manifest kept changing during the update; retry");
}

// --- Shard splits (docs/design/metadata.md "Listing") ------------------------------------------

void ReplicatedManifestStore::CountWrite(const std::string& bucket, const std::string& field,
                                         uint32_t shard_number) {
  {
    absl::MutexLock lock(&mu_);
    if (++writes_since_check_[field] < options_.split_check_interval) return;
    writes_since_check_[field] = 0;
    if (!splitting_.insert(bucket).second) return;  // this gateway is splitting it already
  }
  // Best effort: a failed or lost split race changes nothing the next check cannot redo.
  absl::Status ignored = SplitShard(bucket, shard_number);
  (void)ignored;
  absl::MutexLock lock(&mu_);
  splitting_.erase(bucket);
}

absl::Status ReplicatedManifestStore::FinishSplits(const std::string& bucket) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  for (const auto& shard : record->shards()) {
    if (IsPending(shard.id())) return ResumeSplit(bucket, *std::move(record));
  }
  return absl::OkStatus();
}

absl::Status ReplicatedManifestStore::SplitShard(const std::string& bucket, uint32_t shard_number,
                                                 bool force) {
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  for (const auto& shard : record->shards()) {
    if (IsPending(shard.id())) return ResumeSplit(bucket, *std::move(record));
  }
  const std::string field = ShardField(record->bucket_id(), shard_number);
  const std::vector<Segment> segments = Segments(*record);
  const Segment* seg = nullptr;
  for (const Segment& s : segments) {
    if (s.primary == field) seg = &s;
  }
  if (seg == nullptr) return absl::NotFoundError(absl::StrCat("no shard ", shard_number));
  // Step 0: size and median key of the shard (keys only; values are not kept).
  std::vector<std::string> keys;
  int64_t entries = 0;
  std::string token;
  do {
    auto page = meta_->Scan(field, seg->start, seg->end, kScanBatch, token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      ++entries;
      if (keys.empty() || keys.back() != item.key.object_key()) {
        keys.push_back(item.key.object_key());
      }
    }
    token = page->next_page_token;
  } while (!token.empty());
  if ((!force && entries <= options_.split_threshold) || keys.size() < 2) return absl::OkStatus();
  const std::string split_key = keys[keys.size() / 2];  // > keys[0] >= the shard's start
  uint32_t number = 0;
  for (const auto& shard : record->shards()) {
    number = std::max(number, shard.id() & kShardNumberMask);
  }
  ++number;
  // Step 1: intent. The new shard exists, being copied; everyone still uses the source.
  const v1::BucketRecord seen = *record;
  v1::BucketRecord next;
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(kBucketDirectory, 0, bucket, "", meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        auto existing = ParseRecord(current);
        if (!existing.ok()) return existing.status();
        if (!existing->has_value() || (*existing)->bucket_id() != seen.bucket_id()) {
          return NoSuchBucket(bucket);
        }
        if (!SameShards(**existing, seen)) {
          return absl::AbortedError("shard map changed during the split; retry");
        }
        next = **existing;
        auto* shard = next.add_shards();
        shard->set_id(number | kShardCopying);
        shard->set_start_key(split_key);
        return MetaValue(next.SerializeAsString());
      });
  if (!written.ok()) return written.status();
  if (options_.test_stop_after_step == 1) return StoppedAt(1);
  return ResumeSplit(bucket, std::move(next));
}

absl::Status ReplicatedManifestStore::ResumeSplit(const std::string& bucket,
                                                  v1::BucketRecord record) {
  const std::vector<v1::BucketRecord::Shard> sorted = SortedShards(record);
  size_t at = sorted.size();
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (IsPending(sorted[i].id())) at = i;
  }
  if (at == sorted.size()) return absl::OkStatus();
  if (at == 0) return absl::DataLossError("pending shard without a source shard");
  const uint32_t id = sorted[at].id();
  const uint32_t number = id & kShardNumberMask;
  const std::string src = ShardField(record.bucket_id(), sorted[at - 1].id() & kShardNumberMask);
  const std::string dst = ShardField(record.bucket_id(), number);
  const std::string lo = sorted[at].start_key();
  const std::string hi = at + 1 < sorted.size() ? sorted[at + 1].start_key() : "";
  const std::string bucket_id = record.bucket_id();

  // Moves the pending shard from state `from` to `to` (a CAS on the bucket record).
  auto flip = [&](uint32_t from, uint32_t to) -> absl::Status {
    return meta_
        ->CompareAndSet(ObjectEntryKey(kBucketDirectory, 0, bucket, "", meta_->partitions()),
                        [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
                          auto existing = ParseRecord(current);
                          if (!existing.ok()) return existing.status();
                          if (!existing->has_value() || (*existing)->bucket_id() != bucket_id) {
                            return NoSuchBucket(bucket);
                          }
                          v1::BucketRecord updated = **existing;
                          for (auto& shard : *updated.mutable_shards()) {
                            if (shard.id() == from && shard.start_key() == lo) {
                              shard.set_id(to);
                              return MetaValue(updated.SerializeAsString());
                            }
                            if (shard.id() == to && shard.start_key() == lo)
                              return current;  // done already
                          }
                          return absl::AbortedError("split state changed; retry");
                        })
        .status();
  };
  // Copies (or, with `drain`, moves) every entry of the source in [lo, hi) to the new shard.
  // An entry already there is newer or the same and is kept.
  auto move = [&](bool drain) -> absl::Status {
    std::string token;
    do {
      auto page = meta_->Scan(src, lo, hi, kScanBatch, token);
      if (!page.ok()) return page.status();
      for (const ScanItem& item : page->items) {
        const std::string& key = item.key.object_key();
        const std::string& version = item.key.version_id();
        auto copied = meta_->CompareAndSet(
            ObjectEntryKey(dst, 0, key, version, meta_->partitions()),
            [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
              if (current.has_value() && !ReplacesHeld(version, *current, item.value)) {
                return current;
              }
              return MetaValue(item.value);
            });
        if (!copied.ok()) return copied.status();
        if (drain) {
          auto erased = meta_->CompareAndSet(
              ObjectEntryKey(src, 0, key, version, meta_->partitions()),
              [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); });
          if (!erased.ok()) return erased.status();
        }
      }
      token = page->next_page_token;
    } while (!token.empty());
    return absl::OkStatus();
  };

  if ((id & kShardCopying) != 0) {
    // Step 2: copy. Writers still write the source; what they add meanwhile is moved at step 4.
    if (absl::Status s = move(false); !s.ok()) return s;
    if (options_.test_stop_after_step == 2) return StoppedAt(2);
    // Step 3: the new shard owns its range; reads merge the source's remaining entries.
    if (absl::Status s = flip(id, number | kShardDraining); !s.ok()) return s;
    if (options_.test_stop_after_step == 3) return StoppedAt(3);
  }
  // Step 4: drain the source's entries of the range into the new shard.
  if (absl::Status s = move(true); !s.ok()) return s;
  if (options_.test_stop_after_step == 4) return StoppedAt(4);
  // Step 5: done; reads use the new shard alone.
  return flip(number | kShardDraining, number);
}

}  // namespace tessera::services
