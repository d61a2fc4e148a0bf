#include "services/gateway/replicated_manifest_store.h"

#include <sodium.h>

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/gateway/in_memory_manifest_store.h"
#include "services/meta/meta_key.h"

namespace tessera::services {
namespace {

absl::Status NoSuchBucket(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("no such bucket: ", name));
}

// The smallest string strictly greater than `s`.
std::string After(const std::string& s) { return s + std::string(1, '\0'); }

absl::StatusOr<v1::ObjectManifest> ParseManifest(const std::string& bytes) {
  v1::ObjectManifest m;
  if (!m.ParseFromString(bytes)) return absl::DataLossError("unparsable object manifest entry");
  return m;
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

}  // namespace

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

absl::StatusOr<std::string> ReplicatedManifestStore::BucketId(const std::string& name) {
  auto value = meta_->Get(ObjectEntryKey(kBucketDirectory, 0, name, "", meta_->partitions()));
  if (!value.ok()) return value.status();
  auto record = ParseRecord(*value);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return NoSuchBucket(name);
  return (*record)->bucket_id();
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
    return absl::FailedPreconditionError(absl::StrCat("bucket not empty: ", name));
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
  auto id = BucketId(bucket);
  if (!id.ok()) return id.status();
  // Versions of a key sort newest first: the first entry in [key, key\0) is the latest.
  auto page = meta_->Scan(*id, key, After(key), 1);
  if (!page.ok()) return page.status();
  if (page->items.empty() || page->items[0].key.object_key() != key) {
    return absl::NotFoundError(absl::StrCat("no such key: ", bucket, "/", key));
  }
  return ParseManifest(page->items[0].value);
}

absl::StatusOr<v1::ObjectManifest> ReplicatedManifestStore::Get(const std::string& bucket,
                                                                const std::string& key,
                                                                const std::string& version_id) {
  auto id = BucketId(bucket);
  if (!id.ok()) return id.status();
  auto value = meta_->Get(ObjectEntryKey(*id, 0, key, version_id, meta_->partitions()));
  if (!value.ok()) return value.status();
  if (!value->has_value()) {
    return absl::NotFoundError(absl::StrCat("no such version of ", bucket, "/", key));
  }
  return ParseManifest(**value);
}

absl::Status ReplicatedManifestStore::PutIfAbsent(const v1::ObjectManifest& manifest) {
  if (manifest.key().empty()) return absl::InvalidArgumentError("object key is empty");
  if (manifest.version_id().empty()) return absl::InvalidArgumentError("version id is empty");
  auto id = BucketId(manifest.bucket());
  if (!id.ok()) return id.status();
  const std::string bytes = manifest.SerializeAsString();
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(*id, 0, manifest.key(), manifest.version_id(), meta_->partitions()),
      [&](const MetaValue& current) -> absl::StatusOr<MetaValue> {
        if (current.has_value()) {
          return absl::AlreadyExistsError(
              absl::StrCat("version exists for ", manifest.bucket(), "/", manifest.key()));
        }
        return MetaValue(bytes);
      });
  return written.status();
}

absl::Status ReplicatedManifestStore::CompareAndSet(const std::string& bucket,
                                                    const std::string& key,
                                                    const std::string& version_id,
                                                    const ManifestUpdate& update) {
  auto id = BucketId(bucket);
  if (!id.ok()) return id.status();
  auto written = meta_->CompareAndSet(
      ObjectEntryKey(*id, 0, key, version_id, meta_->partitions()),
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
  return written.status();
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

  auto id = BucketId(bucket);
  if (!id.ok()) return id.status();

  ListResult result;
  int emitted = 0;
  std::string last_emitted;
  bool last_is_prefix = false;
  std::string skip_prefix;  // the common prefix just emitted: its keys are skipped
  std::string current_key;  // the key whose newest version was seen last
  bool have_current = false;
  std::string cursor = lower;
  std::string page_token;
  uint32_t batch = FirstBatch(request.max_keys);
  bool done = false;
  while (!done) {
    auto page = meta_->Scan(*id, cursor, end, batch, page_token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      const std::string& key = item.key.object_key();
      if (have_current && key == current_key) continue;  // an older version
      current_key = key;
      have_current = true;
      if (!skip_prefix.empty() && absl::StartsWith(key, skip_prefix)) continue;
      auto manifest = ParseManifest(item.value);
      if (!manifest.ok()) return manifest.status();
      if (manifest->delete_marker()) continue;
      if (!request.delimiter.empty()) {
        const size_t pos = key.find(request.delimiter, request.prefix.size());
        if (pos != std::string::npos) {
          std::string cp = key.substr(0, pos + request.delimiter.size());
          if (emitted == request.max_keys) {
            result.truncated = true;
            done = true;
            break;
          }
          result.common_prefixes.push_back(cp);
          last_emitted = cp;
          last_is_prefix = true;
          skip_prefix = std::move(cp);
          ++emitted;
          continue;
        }
      }
      if (emitted == request.max_keys) {
        result.truncated = true;
        done = true;
        break;
      }
      result.objects.push_back(*std::move(manifest));
      last_emitted = key;
      last_is_prefix = false;
      ++emitted;
    }
    if (done || page->next_page_token.empty()) break;
    batch = NextBatch(batch);
    if (!skip_prefix.empty() && have_current && absl::StartsWith(current_key, skip_prefix)) {
      // Still inside a common prefix: jump past all of it instead of reading its keys.
      std::string next = PrefixSuccessor(skip_prefix);
      if (next.empty() || (!end.empty() && next >= end)) break;
      cursor = std::move(next);
      page_token.clear();
    } else {
      page_token = page->next_page_token;
    }
  }
  if (result.truncated) {
    result.next_continuation_token = EncodeContinuationToken(last_is_prefix, last_emitted);
  }
  return result;
}

absl::StatusOr<std::vector<KeyVersions>> ReplicatedManifestStore::ScanVersions(
    const std::string& bucket, const std::string& start_after, int max_keys) {
  if (max_keys < 1) return absl::InvalidArgumentError("max_keys must be positive");
  auto id = BucketId(bucket);
  if (!id.ok()) return id.status();
  std::vector<KeyVersions> out;
  std::string token;
  uint32_t batch = FirstBatch(max_keys);
  while (true) {
    auto page = meta_->Scan(*id, start_after.empty() ? "" : After(start_after), "", batch, token);
    if (!page.ok()) return page.status();
    for (const ScanItem& item : page->items) {
      const std::string& key = item.key.object_key();
      if (out.empty() || out.back().key != key) {
        if (static_cast<int>(out.size()) == max_keys) return out;
        out.push_back(KeyVersions{key, {}});
      }
      auto manifest = ParseManifest(item.value);
      if (!manifest.ok()) return manifest.status();
      out.back().versions.push_back(*std::move(manifest));
    }
    if (page->next_page_token.empty()) return out;
    token = page->next_page_token;
    batch = NextBatch(batch);
  }
}

}  // namespace tessera::services
