#include "services/object/object_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/sodium.h"
#include "base/status_reasons.h"
#include "base/utf8.h"

namespace tessera::services {
namespace {

absl::Status CheckKey(const std::string& key) {
  if (key.empty()) return absl::InvalidArgumentError("object key is empty");
  if (key.size() > 1024) return absl::InvalidArgumentError("object key is over 1024 bytes");
  if (!IsValidUtf8(key)) return absl::InvalidArgumentError("object key is not valid UTF-8");
  return absl::OkStatus();
}

// Everything a PUT stores as text in the manifest must be UTF-8 (protobuf string fields).
absl::Status CheckStoredText(const PutObjectOptions& o) {
  auto bad = [](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not valid UTF-8"));
  };
  if (!IsValidUtf8(o.content_type)) return bad("Content-Type");
  if (!IsValidUtf8(o.owner)) return bad("the owner");
  for (const auto& [k, v] : o.user_metadata) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v)) return bad("user metadata");
  }
  for (const auto& [k, v] : o.headers) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v)) return bad(absl::StrCat("header ", k));
  }
  return absl::OkStatus();
}

bool LooksLikeIpv4(absl::string_view name) {
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  if (parts.size() != 4) return false;
  for (absl::string_view p : parts) {
    int v = 0;
    if (p.empty() || !absl::SimpleAtoi(p, &v)) return false;
  }
  return true;
}

}  // namespace

bool IsValidBucketName(absl::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '-')) return false;
  }
  auto alnum = [](char c) { return absl::ascii_islower(c) || absl::ascii_isdigit(c); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (absl::StrContains(name, "..")) return false;
  return !LooksLikeIpv4(name);
}

absl::StatusOr<std::unique_ptr<ObjectService>> ObjectService::Create(const DataPathOptions& options,
                                                                     const DataPathDeps& deps,
                                                                     ManifestStore* store) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  if (absl::Status s = deps.Validate(); !s.ok()) return s;
  if (store == nullptr) return absl::InvalidArgumentError("ObjectService needs a ManifestStore");
  storage::StripeCodecOptions codec_options;
  codec_options.data_shards = options.data_shards;
  codec_options.parity_shards = options.parity_shards;
  codec_options.slice_alignment = options.slice_alignment;
  absl::StatusOr<std::unique_ptr<storage::StripeCodec>> codec =
      storage::StripeCodec::Create(codec_options);
  if (!codec.ok()) return codec.status();
  return std::unique_ptr<ObjectService>(new ObjectService(options, deps, store, *std::move(codec)));
}

ObjectService::ObjectService(const DataPathOptions& options, const DataPathDeps& deps,
                             ManifestStore* store, std::unique_ptr<storage::StripeCodec> codec)
    : options_(options),
      deps_(deps),
      store_(store),
      codec_(std::move(codec)),
      reader_(deps, codec_.get()),
      versions_(deps.clock) {}

absl::Status ObjectService::CreateBucket(const std::string& name, const std::string& owner,
                                         absl::string_view acl, absl::string_view region) {
  if (!IsValidBucketName(name)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid bucket name: ", name));
  }
  absl::StatusOr<std::string> canned = ParseCannedAcl(acl);
  if (!canned.ok()) return canned.status();
  v1::BucketRecord record;
  record.set_schema_version(kManifestSchemaVersion);
  record.set_name(name);
  record.set_bucket_id(SecureRandomString(16));
  record.set_owner(owner);
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  record.set_created_unix_micros(absl::ToUnixMicros(clock->Now()));
  record.set_acl(*canned);
  if (!region.empty()) record.set_region(std::string(region));
  record.add_shards()->set_id(0);
  return store_->CreateBucket(record);
}

absl::Status ObjectService::DeleteBucket(const std::string& name) {
  return store_->DeleteBucketIfEmpty(name);
}

absl::StatusOr<v1::BucketRecord> ObjectService::HeadBucket(const std::string& name) {
  return store_->GetBucket(name);
}

absl::StatusOr<std::vector<v1::BucketRecord>> ObjectService::ListBuckets() {
  absl::StatusOr<std::vector<v1::BucketRecord>> all = store_->ListBuckets();
  if (!all.ok()) return all;
  // Internal buckets (".tessera-multipart-uploads" ...) start with '.', which no valid bucket
  // name does: they are never listed, through the gRPC API or S3.
  all->erase(
      std::remove_if(all->begin(), all->end(),
                     [](const v1::BucketRecord& b) { return absl::StartsWith(b.name(), "."); }),
      all->end());
  return all;
}

absl::StatusOr<v1::BucketRecord> ObjectService::Authorize(const Principal& who,
                                                          const std::string& bucket,
                                                          BucketAccess access) {
  absl::StatusOr<v1::BucketRecord> record = store_->GetBucket(bucket);
  if (!record.ok()) return record.status();
  if (absl::Status s = CheckBucketAccess(who, *record, access); !s.ok()) return s;
  return record;
}

absl::StatusOr<std::vector<v1::BucketRecord>> ObjectService::ListBuckets(const Principal& who) {
  if (absl::Status s = RequireUser(who, "list buckets"); !s.ok()) return s;
  absl::StatusOr<std::vector<v1::BucketRecord>> all = ListBuckets();
  if (!all.ok()) return all;
  all->erase(std::remove_if(all->begin(), all->end(),
                            [&who](const v1::BucketRecord& b) { return !OwnsBucket(who, b); }),
             all->end());
  return all;
}

absl::Status ObjectService::CreateBucket(const std::string& name, const Principal& owner,
                                         absl::string_view acl, absl::string_view region) {
  if (absl::Status s = RequireUser(owner, "create buckets"); !s.ok()) return s;
  return CreateBucket(name, owner.user_id, acl, region);
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectService::PutObject(
    const std::string& bucket, const std::string& key, const PutObjectOptions& options) {
  return NewWriter(bucket, key, options, nullptr);
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectService::PutSealedObject(
    const std::string& bucket, const std::string& key, const PutObjectOptions& options,
    const v1::EncryptionParams& client_sealing) {
  return NewWriter(bucket, key, options, &client_sealing);
}

absl::StatusOr<std::unique_ptr<ObjectWriter>> ObjectService::NewWriter(
    const std::string& bucket, const std::string& key, const PutObjectOptions& options,
    const v1::EncryptionParams* client_sealing) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (absl::Status s = CheckStoredText(options); !s.ok()) return s;
  absl::StatusOr<v1::BucketRecord> record = store_->GetBucket(bucket);
  if (!record.ok()) return record.status();
  v1::ObjectManifest base;
  base.set_bucket(bucket);
  base.set_key(key);
  base.set_content_type(options.content_type);
  base.set_owner(options.owner);
  for (const auto& [k, v] : options.user_metadata) (*base.mutable_user_metadata())[k] = v;
  for (const auto& [k, v] : options.headers) (*base.mutable_headers())[k] = v;
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer =
      client_sealing != nullptr
          ? ObjectWriter::CreateSealed(options_, deps_, store_, codec_.get(), std::move(base),
                                       versions_.Next(), *client_sealing)
          : ObjectWriter::Create(options_, deps_, store_, codec_.get(), std::move(base),
                                 versions_.Next());
  if (writer.ok()) (*writer)->set_condition(options.condition);
  return writer;
}

absl::StatusOr<v1::ObjectManifest> ObjectService::PutObject(const std::string& bucket,
                                                            const std::string& key,
                                                            absl::string_view data,
                                                            const PutObjectOptions& options) {
  absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = PutObject(bucket, key, options);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = (*writer)->Write(data); !s.ok()) return s;
  return (*writer)->Finish();
}

absl::StatusOr<v1::ObjectManifest> ObjectService::HeadObject(const std::string& bucket,
                                                             const std::string& key) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  absl::StatusOr<v1::ObjectManifest> manifest = store_->GetLatest(bucket, key);
  if (!manifest.ok()) return manifest.status();
  if (manifest->delete_marker()) return NoSuchKeyError(bucket, key);
  return manifest;
}

absl::StatusOr<v1::ObjectManifest> ObjectService::GetObject(const std::string& bucket,
                                                            const std::string& key,
                                                            const ObjectRange& range,
                                                            const ByteSink& sink,
                                                            ReadStats* stats) {
  absl::StatusOr<v1::ObjectManifest> manifest = HeadObject(bucket, key);
  if (!manifest.ok()) return manifest.status();
  const uint64_t size = manifest->size();
  if (range.offset > size ||
      (range.offset == size && size > 0 && range.length.has_value() && *range.length > 0)) {
    return absl::OutOfRangeError(absl::StrCat("range starts at ", range.offset, " but ", bucket,
                                              "/", key, " has ", size, " bytes"));
  }
  // As HTTP ranges: a length past the end is cut to the end.
  const uint64_t length = range.length.has_value()
                              ? std::min<uint64_t>(*range.length, size - range.offset)
                              : size - range.offset;
  if (absl::Status s = reader_.Read(*manifest, range.offset, length, sink, stats); !s.ok()) {
    return s;
  }
  return manifest;
}

absl::Status ObjectService::DeleteObject(const std::string& bucket, const std::string& key) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  // No such bucket is an error; no such key is not (S3 answers 204 either way).
  if (absl::StatusOr<v1::BucketRecord> b = store_->GetBucket(bucket); !b.ok()) return b.status();
  v1::ObjectManifest marker;
  marker.set_schema_version(kManifestSchemaVersion);
  marker.set_bucket(bucket);
  marker.set_key(key);
  marker.set_version_id(versions_.Next());
  marker.set_delete_marker(true);
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  marker.set_created_unix_micros(absl::ToUnixMicros(clock->Now()));
  // A marker only over a live version (decided in the commit): none over nothing or a marker.
  CommitCondition only_if_live;
  only_if_live.if_live = true;
  absl::Status s = store_->Commit(marker, only_if_live).status();
  if (IsNoSuchKey(s)) return absl::OkStatus();
  return s;
}

absl::StatusOr<ListResult> ObjectService::ListObjects(const std::string& bucket,
                                                      const ListRequest& request) {
  if (!IsValidUtf8(request.prefix) || !IsValidUtf8(request.delimiter) ||
      !IsValidUtf8(request.start_after)) {
    return absl::InvalidArgumentError("prefix, delimiter and start-after must be valid UTF-8");
  }
  return store_->List(bucket, request);
}

}  // namespace tessera::services
