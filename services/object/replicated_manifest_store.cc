// ReplicatedManifestStore, part 1: buckets, object versions (Commit, PutIfAbsent, CompareAndSet,
// Get) and listing. Shard splits: manifest_shard_split.cc; large manifests' chunk records:
// replicated_manifest_chunks.cc; the shard map: manifest_shard_map.h; the ordered walk over
// shards: replicated_manifest_cursor.h; LIST pages: listing_assembler.h.
#include "services/object/replicated_manifest_store.h"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/sodium.h"
#include "base/status_reasons.h"
#include "services/meta/meta_key.h"
#include "services/object/listing_assembler.h"
#include "services/object/manifest_chunks.h"
#include "services/object/replicated_manifest_internal.h"

namespace tessera::services {

using replicated_internal::After;
using replicated_internal::Canonical;
using replicated_internal::NoSuchBucket;
using replicated_internal::ParseManifest;
using replicated_internal::ParseRecord;

namespace {

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

}  // namespace

absl::Status ReplicatedManifestStoreOptions::Validate() const {
  if (split_threshold < 2) {
    return absl::InvalidArgumentError(
        "ReplicatedManifestStoreOptions.split_threshold must be >= 2");
  }
  if (split_check_interval < 1) {
    return absl::InvalidArgumentError(
        "ReplicatedManifestStoreOptions.split_check_interval must be >= 1");
  }
  return absl::OkStatus();
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
    EnsureSodiumInitialized();
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
    return NoSuchKeyError(bucket, key);
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
  absl::StatusOr<ListingAssembler> page = ListingAssembler::Start(request);
  if (!page.ok()) return page.status();
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  if (page->done()) return std::move(*page).Finish();
  EntryCursor cursor(meta_, Segments(*record), page->lower(), page->end(),
                     FirstScanBatch(request.max_keys));
  std::string current_key;  // the key whose newest version was seen last
  bool have_current = false;
  ScanItem item;
  while (!page->done()) {
    auto more = cursor.Next(&item);
    if (!more.ok()) return more.status();
    if (!*more) break;
    const std::string& key = item.key.object_key();
    if (have_current && key == current_key) continue;  // an older version
    current_key = key;
    have_current = true;
    auto manifest = ParseManifest(item.value);
    if (!manifest.ok()) return manifest.status();
    // A seek past a common prefix jumps over its keys instead of reading them.
    if (page->Add(key, *std::move(manifest)) == ListingAssembler::Step::kSeek) {
      cursor.Seek(page->seek_to());
    }
  }
  return std::move(*page).Finish();
}

absl::StatusOr<std::vector<KeyVersions>> ReplicatedManifestStore::ScanVersions(
    const std::string& bucket, const std::string& start_after, int max_keys) {
  if (max_keys < 1) return absl::InvalidArgumentError("max_keys must be positive");
  auto record = Record(bucket);
  if (!record.ok()) return record.status();
  std::vector<KeyVersions> out;
  EntryCursor cursor(meta_, Segments(*record), start_after.empty() ? "" : After(start_after), "",
                     FirstScanBatch(max_keys));
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

}  // namespace tessera::services
