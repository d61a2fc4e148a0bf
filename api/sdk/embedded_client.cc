#include "api/sdk/embedded_client.h"

#include <sodium.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/gateway/gateway_backend.h"
#include "storage/crypto/key_file.h"
#include "storage/crypto/sodium.h"

namespace tessera::sdk {
namespace {

Bucket ToBucket(const v1::BucketRecord& r) {
  Bucket b;
  b.name = r.name();
  b.created = absl::FromUnixMicros(r.created_unix_micros());
  b.owner = r.owner();
  return b;
}

ObjectInfo ToInfo(const v1::ObjectManifest& m) {
  ObjectInfo info;
  info.bucket = m.bucket();
  info.key = m.key();
  info.version_id = m.version_id();
  info.size = m.size();
  info.etag = m.etag();
  info.modified = absl::FromUnixMicros(m.created_unix_micros());
  info.content_type = m.content_type();
  for (const auto& [k, v] : m.user_metadata()) info.user_metadata[k] = v;
  for (const v1::PartRecord& part : m.parts()) {
    for (const v1::StripeRecord& stripe : part.stripes()) info.degraded |= stripe.degraded();
  }
  return info;
}

services::PutObjectOptions ToPutOptions(const PutOptions& options) {
  services::PutObjectOptions o;
  o.content_type = options.content_type;
  o.user_metadata = options.user_metadata;
  o.condition.if_none_match = options.if_none_match;  // decided inside the commit
  o.condition.if_match = options.if_match;
  return o;
}

}  // namespace

absl::Status GenerateClientKeyFile(const std::string& path) {
  storage::EnsureSodiumInitialized();
  uint32_t id = 0;
  while (id == 0) id = randombytes_random();
  return storage::GenerateMasterKeyFile(path, id);
}

absl::Status EmbeddedClientOptions::Validate() const {
  if (seeds.empty()) return absl::InvalidArgumentError("EmbeddedClientOptions.seeds is empty");
  if (auth == nullptr && cluster_secret_file.empty()) {
    return absl::InvalidArgumentError("EmbeddedClientOptions.cluster_secret_file is required");
  }
  if (client_keyring == nullptr && client_key_file.empty()) {
    return absl::InvalidArgumentError("EmbeddedClientOptions.client_key_file is required");
  }
  if (threads == 0) return absl::InvalidArgumentError("EmbeddedClientOptions.threads is 0");
  return data.Validate();
}

absl::StatusOr<std::unique_ptr<EmbeddedClient>> EmbeddedClient::Open(
    EmbeddedClientOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<EmbeddedClient> client(new EmbeddedClient());
  const storage::MasterKeyring* keyring = options.client_keyring;
  if (keyring == nullptr) {
    auto loaded = storage::LoadMasterKeyFile(options.client_key_file);
    if (!loaded.ok()) return loaded.status();
    client->owned_keyring_ = *std::move(loaded);
    keyring = client->owned_keyring_.get();
  }
  services::GatewayBackendOptions b;
  b.seeds = options.seeds;
  b.cluster_secret_file = options.cluster_secret_file;
  b.auth = options.auth;
  b.caller_id = "sdk-embedded";
  b.keyring = keyring;
  b.key_source = v1::EncryptionParams::CLIENT_KEY;
  b.data = options.data;
  b.data_path_threads = options.threads;
  b.layout = options.layout;
  b.membership_refresh = options.membership_refresh;
  auto backend = services::OpenGatewayBackend(std::move(b));
  if (!backend.ok()) return backend.status();
  client->backend_ = *std::move(backend);
  return client;
}

EmbeddedClient::~EmbeddedClient() = default;

absl::StatusOr<Bucket> EmbeddedClient::CreateBucket(const std::string& bucket) {
  if (absl::Status s = backend_->objects().CreateBucket(bucket); !s.ok()) return s;
  return HeadBucket(bucket);
}

absl::Status EmbeddedClient::DeleteBucket(const std::string& bucket) {
  return backend_->objects().DeleteBucket(bucket);
}

absl::StatusOr<Bucket> EmbeddedClient::HeadBucket(const std::string& bucket) {
  absl::StatusOr<v1::BucketRecord> r = backend_->objects().HeadBucket(bucket);
  if (!r.ok()) return r.status();
  return ToBucket(*r);
}

absl::StatusOr<std::vector<Bucket>> EmbeddedClient::ListBuckets() {
  absl::StatusOr<std::vector<v1::BucketRecord>> records = backend_->objects().ListBuckets();
  if (!records.ok()) return records.status();
  std::vector<Bucket> out;
  for (const v1::BucketRecord& r : *records) {
    if (!r.name().empty() && r.name()[0] == '.') continue;  // internal buckets
    out.push_back(ToBucket(r));
  }
  return out;
}

absl::StatusOr<ObjectInfo> EmbeddedClient::PutObject(const std::string& bucket,
                                                     const std::string& key, absl::string_view data,
                                                     const PutOptions& options) {
  bool done = false;
  return PutObjectFromReader(
      bucket, key,
      [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
        if (done) return size_t{0};
        const size_t n = std::min(capacity, data.size());
        std::copy(data.begin(), data.begin() + n, buffer);
        data.remove_prefix(n);
        done = data.empty();
        return n;
      },
      static_cast<int64_t>(data.size()), options);
}

absl::StatusOr<ObjectInfo> EmbeddedClient::PutObjectFromReader(const std::string& bucket,
                                                               const std::string& key,
                                                               const ReaderFn& reader, int64_t size,
                                                               const PutOptions& options) {
  if (options.if_none_match) {
    absl::StatusOr<v1::ObjectManifest> existing = backend_->objects().HeadObject(bucket, key);
    if (existing.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("object exists: ", bucket, "/", key));
    }
    if (!absl::IsNotFound(existing.status())) return existing.status();
    if (absl::StatusOr<v1::BucketRecord> b = backend_->objects().HeadBucket(bucket); !b.ok()) {
      return b.status();
    }
  }
  auto writer = backend_->objects().PutObject(bucket, key, ToPutOptions(options));
  if (!writer.ok()) return writer.status();
  std::string buffer(1 << 20, '\0');
  uint64_t done = 0;
  for (;;) {
    absl::StatusOr<size_t> n = reader(buffer.data(), buffer.size());
    if (!n.ok()) return n.status();  // the writer's destructor deletes its slices
    if (*n == 0) break;
    if (absl::Status s = (*writer)->Write(absl::string_view(buffer.data(), *n)); !s.ok()) return s;
    done += *n;
    if (options.progress) options.progress(done, size);
  }
  if (size >= 0 && done != static_cast<uint64_t>(size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reader gave ", done, " bytes but the size given was ", size));
  }
  absl::StatusOr<v1::ObjectManifest> manifest = (*writer)->Finish();
  if (!manifest.ok()) return manifest.status();
  return ToInfo(*manifest);
}

absl::StatusOr<std::string> EmbeddedClient::GetObject(const std::string& bucket,
                                                      const std::string& key,
                                                      const GetOptions& options) {
  std::string out;
  absl::StatusOr<ObjectInfo> info = GetObjectToSink(
      bucket, key,
      [&out](absl::string_view data) {
        out.append(data.data(), data.size());
        return absl::OkStatus();
      },
      options);
  if (!info.ok()) return info.status();
  return out;
}

absl::StatusOr<ObjectInfo> EmbeddedClient::GetObjectToSink(const std::string& bucket,
                                                           const std::string& key,
                                                           const SinkFn& sink,
                                                           const GetOptions& options) {
  if (!options.version_id.empty()) {
    return absl::UnimplementedError("EmbeddedClient reads the newest version only");
  }
  services::ObjectRange range;
  range.offset = options.offset;
  if (options.length > 0) range.length = options.length;
  uint64_t done = 0;
  absl::StatusOr<v1::ObjectManifest> manifest = backend_->objects().GetObject(
      bucket, key, range, [&](absl::string_view data) -> absl::Status {
        if (absl::Status s = sink(data); !s.ok()) return s;
        done += data.size();
        if (options.progress) options.progress(done, -1);
        return absl::OkStatus();
      });
  if (!manifest.ok()) return manifest.status();
  return ToInfo(*manifest);
}

absl::StatusOr<ObjectInfo> EmbeddedClient::HeadObject(const std::string& bucket,
                                                      const std::string& key) {
  absl::StatusOr<v1::ObjectManifest> m = backend_->objects().HeadObject(bucket, key);
  if (!m.ok()) return m.status();
  return ToInfo(*m);
}

absl::Status EmbeddedClient::DeleteObject(const std::string& bucket, const std::string& key) {
  return backend_->objects().DeleteObject(bucket, key);
}

absl::StatusOr<ListPage> EmbeddedClient::ListObjects(const std::string& bucket,
                                                     const ListOptions& options) {
  services::ListRequest request;
  request.prefix = options.prefix;
  request.delimiter = options.delimiter;
  request.start_after = options.start_after;
  request.continuation_token = options.continuation_token;
  request.max_keys = options.max_keys == 0 ? 1000 : static_cast<int>(options.max_keys);
  absl::StatusOr<services::ListResult> r = backend_->objects().ListObjects(bucket, request);
  if (!r.ok()) return r.status();
  ListPage page;
  for (const v1::ObjectManifest& m : r->objects) page.objects.push_back(ToInfo(m));
  page.common_prefixes = r->common_prefixes;
  page.truncated = r->truncated;
  page.next_continuation_token = r->next_continuation_token;
  return page;
}

}  // namespace tessera::sdk
