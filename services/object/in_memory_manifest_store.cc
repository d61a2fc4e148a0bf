#include "services/object/in_memory_manifest_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/status_reasons.h"

namespace tessera::services {
namespace {

absl::Status NoSuchBucket(const std::string& name) {
  return MarkNoSuchBucket(absl::NotFoundError(absl::StrCat("no such bucket: ", name)));
}

bool HasLiveObject(const std::map<std::string, std::map<std::string, v1::ObjectManifest>>& keys) {
  for (const auto& [key, versions] : keys) {
    if (!versions.empty() && !versions.begin()->second.delete_marker()) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<InMemoryManifestStore::Bucket*> InMemoryManifestStore::FindBucket(
    const std::string& name) {
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return NoSuchBucket(name);
  return &it->second;
}

absl::Status InMemoryManifestStore::CreateBucket(const v1::BucketRecord& record) {
  if (record.name().empty()) return absl::InvalidArgumentError("bucket name is empty");
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = buckets_.try_emplace(record.name());
  if (!inserted) return absl::AlreadyExistsError(absl::StrCat("bucket exists: ", record.name()));
  it->second.record = record;
  return absl::OkStatus();
}

absl::StatusOr<v1::BucketRecord> InMemoryManifestStore::GetBucket(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto bucket = FindBucket(name);
  if (!bucket.ok()) return bucket.status();
  return (*bucket)->record;
}

absl::Status InMemoryManifestStore::DeleteBucketIfEmpty(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = buckets_.find(name);
  if (it == buckets_.end()) return NoSuchBucket(name);
  if (HasLiveObject(it->second.keys)) {
    return MarkBucketNotEmpty(
        absl::FailedPreconditionError(absl::StrCat("bucket not empty: ", name)));
  }
  buckets_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::BucketRecord>> InMemoryManifestStore::ListBuckets() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::BucketRecord> out;
  for (const auto& [name, bucket] : buckets_) out.push_back(bucket.record);
  return out;
}

absl::StatusOr<v1::ObjectManifest> InMemoryManifestStore::GetLatest(const std::string& bucket,
                                                                    const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(bucket);
  if (!b.ok()) return b.status();
  auto it = (*b)->keys.find(key);
  if (it == (*b)->keys.end() || it->second.empty()) {
    return NoSuchKeyError(bucket, key);
  }
  return it->second.begin()->second;
}

absl::StatusOr<v1::ObjectManifest> InMemoryManifestStore::Get(const std::string& bucket,
                                                              const std::string& key,
                                                              const std::string& version_id) {
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(bucket);
  if (!b.ok()) return b.status();
  auto it = (*b)->keys.find(key);
  if (it != (*b)->keys.end() && !version_id.empty()) {
    auto v = it->second.find(version_id);
    if (v == it->second.end()) v = it->second.find(kHead);
    if (v != it->second.end() && v->second.version_id() == version_id) return v->second;
  }
  return absl::NotFoundError(absl::StrCat("no such version of ", bucket, "/", key));
}

absl::StatusOr<v1::ObjectManifest> InMemoryManifestStore::Commit(const v1::ObjectManifest& manifest,
                                                                 const CommitCondition& condition) {
  if (manifest.key().empty()) return absl::InvalidArgumentError("object key is empty");
  if (manifest.version_id().empty()) return absl::InvalidArgumentError("version id is empty");
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(manifest.bucket());
  if (!b.ok()) return b.status();
  auto key_it = (*b)->keys.find(manifest.key());
  const v1::ObjectManifest* head = nullptr;
  const v1::ObjectManifest* latest = nullptr;  // the head, or the newest entry of an older key
  if (key_it != (*b)->keys.end() && !key_it->second.empty()) {
    latest = &key_it->second.begin()->second;
    if (key_it->second.begin()->first == kHead) head = latest;
  }
  if (head != nullptr && head->version_id() == manifest.version_id()) return *head;
  if (absl::Status s = CheckCommitCondition(condition, manifest.bucket(), manifest.key(), latest);
      !s.ok()) {
    return s;
  }
  v1::ObjectManifest next = manifest;
  next.set_commit_sequence(head != nullptr ? head->commit_sequence() + 1 : 1);
  next.set_superseded_unix_micros(0);
  Versions& versions = (*b)->keys[manifest.key()];
  if (head != nullptr && KeepWhenSuperseded(*head)) {
    v1::ObjectManifest superseded = *head;
    superseded.set_superseded_unix_micros(manifest.created_unix_micros());
    versions.try_emplace(superseded.version_id(), std::move(superseded));
  }
  versions[kHead] = next;
  return next;
}

absl::Status InMemoryManifestStore::PutIfAbsent(const v1::ObjectManifest& manifest) {
  if (manifest.key().empty()) return absl::InvalidArgumentError("object key is empty");
  if (manifest.version_id().empty()) return absl::InvalidArgumentError("version id is empty");
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(manifest.bucket());
  if (!b.ok()) return b.status();
  auto [it, inserted] = (*b)->keys[manifest.key()].try_emplace(manifest.version_id(), manifest);
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("version exists for ", manifest.bucket(), "/", manifest.key()));
  }
  return absl::OkStatus();
}

absl::Status InMemoryManifestStore::CompareAndSet(const std::string& bucket, const std::string& key,
                                                  const std::string& version_id,
                                                  const ManifestUpdate& update) {
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(bucket);
  if (!b.ok()) return b.status();
  Versions& versions = (*b)->keys[key];
  std::optional<v1::ObjectManifest> current;
  // The version's own entry, else the head if it holds this version, else (absent) its own entry.
  auto it = version_id.empty() ? versions.end() : versions.find(version_id);
  std::string slot = version_id;
  if (it == versions.end() && !version_id.empty()) {
    auto head = versions.find(kHead);
    if (head != versions.end() && head->second.version_id() == version_id) {
      it = head;
      slot = kHead;
    }
  }
  if (it != versions.end()) current = it->second;
  absl::StatusOr<std::optional<v1::ObjectManifest>> next = update(current);
  absl::Status status = next.status();
  if (status.ok()) {
    if (!next->has_value()) {
      if (it != versions.end()) versions.erase(it);
    } else if ((*next)->bucket() != bucket || (*next)->key() != key ||
               (*next)->version_id() != version_id) {
      status = absl::InvalidArgumentError("CompareAndSet may not change bucket, key or version");
    } else {
      versions[slot] = **std::move(next);
    }
  }
  if (versions.empty()) (*b)->keys.erase(key);
  return status;
}

absl::StatusOr<ListResult> InMemoryManifestStore::List(const std::string& bucket,
                                                       const ListRequest& request) {
  absl::StatusOr<ListingAssembler> page = ListingAssembler::Start(request);
  if (!page.ok()) return page.status();
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(bucket);
  if (!b.ok()) return b.status();
  const auto& keys = (*b)->keys;
  for (auto it = keys.lower_bound(page->lower()); it != keys.end() && !page->done();) {
    if (it->second.empty()) {  // erased by CompareAndSet; not left behind, but be safe
      ++it;
      continue;
    }
    switch (page->Add(it->first, it->second.begin()->second)) {
      case ListingAssembler::Step::kNext:
        ++it;
        break;
      case ListingAssembler::Step::kSeek:
        it = keys.lower_bound(page->seek_to());
        break;
      case ListingAssembler::Step::kDone:
        it = keys.end();
        break;
    }
  }
  return std::move(*page).Finish();
}

absl::StatusOr<std::vector<KeyVersions>> InMemoryManifestStore::ScanVersions(
    const std::string& bucket, const std::string& start_after, int max_keys) {
  if (max_keys < 1) return absl::InvalidArgumentError("max_keys must be positive");
  absl::MutexLock lock(&mu_);
  auto b = FindBucket(bucket);
  if (!b.ok()) return b.status();
  std::vector<KeyVersions> out;
  for (auto it = (*b)->keys.upper_bound(start_after);
       it != (*b)->keys.end() && static_cast<int>(out.size()) < max_keys; ++it) {
    KeyVersions kv;
    kv.key = it->first;
    for (const auto& [id, manifest] : it->second) kv.versions.push_back(manifest);
    SortVersions(it->second.begin()->first == kHead, kv.versions);
    out.push_back(std::move(kv));
  }
  return out;
}

}  // namespace tessera::services
