#include "api/sdk/embedded_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "api/sdk/sealing.h"
#include "base/sodium.h"
#include "storage/crypto/key_file.h"

namespace tessera::sdk {

absl::Status GenerateClientKeyFile(const std::string& path) {
  uint32_t id = 0;
  while (id == 0) id = static_cast<uint32_t>(SecureRandomU64());
  return storage::GenerateMasterKeyFile(path, id);
}

absl::Status EmbeddedClientOptions::Validate() const {
  if (gateway == nullptr && endpoint.empty()) {
    return absl::InvalidArgumentError("EmbeddedClientOptions.endpoint is required");
  }
  if (client_keyring == nullptr && client_key_file.empty()) {
    return absl::InvalidArgumentError("EmbeddedClientOptions.client_key_file is required");
  }
  if (stripe_size == 0 || stripe_size > kMaxSealedStripePlaintext) {
    return absl::InvalidArgumentError(absl::StrCat(
        "EmbeddedClientOptions.stripe_size must be in [1, ", kMaxSealedStripePlaintext, "]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<EmbeddedClient>> EmbeddedClient::Open(
    EmbeddedClientOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<EmbeddedClient> client(new EmbeddedClient());
  client->stripe_size_ = options.stripe_size;
  client->keyring_ = options.client_keyring;
  if (client->keyring_ == nullptr) {
    auto loaded = storage::LoadMasterKeyFile(options.client_key_file);
    if (!loaded.ok()) return loaded.status();
    client->owned_keyring_ = *std::move(loaded);
    client->keyring_ = client->owned_keyring_.get();
  }
  client->gateway_ = options.gateway;
  if (client->gateway_ == nullptr) {
    auto connected = Client::Connect(options.endpoint, options.client);
    if (!connected.ok()) return connected.status();
    client->owned_gateway_ = *std::move(connected);
    client->gateway_ = client->owned_gateway_.get();
  }
  return client;
}

EmbeddedClient::~EmbeddedClient() = default;

absl::StatusOr<Bucket> EmbeddedClient::CreateBucket(const std::string& bucket,
                                                    const CreateBucketOptions& options) {
  return gateway_->CreateBucket(bucket, options);
}
absl::Status EmbeddedClient::DeleteBucket(const std::string& bucket) {
  return gateway_->DeleteBucket(bucket);
}
absl::StatusOr<Bucket> EmbeddedClient::HeadBucket(const std::string& bucket) {
  return gateway_->HeadBucket(bucket);
}
absl::StatusOr<std::vector<Bucket>> EmbeddedClient::ListBuckets() {
  return gateway_->ListBuckets();
}
absl::StatusOr<ObjectInfo> EmbeddedClient::HeadObject(const std::string& bucket,
                                                      const std::string& key) {
  return gateway_->HeadObject(bucket, key);
}
absl::Status EmbeddedClient::DeleteObject(const std::string& bucket, const std::string& key) {
  return gateway_->DeleteObject(bucket, key);
}
absl::StatusOr<ListPage> EmbeddedClient::ListObjects(const std::string& bucket,
                                                     const ListOptions& options) {
  return gateway_->ListObjects(bucket, options);
}

absl::StatusOr<ObjectInfo> EmbeddedClient::PutObject(const std::string& bucket,
                                                     const std::string& key, absl::string_view data,
                                                     const PutOptions& options) {
  size_t pos = 0;
  ReaderFn reader = [&](char* buffer, size_t capacity) -> absl::StatusOr<size_t> {
    const size_t n = std::min(capacity, data.size() - pos);
    std::copy_n(data.data() + pos, n, buffer);
    pos += n;
    return n;
  };
  return PutObjectFromReader(bucket, key, reader, static_cast<int64_t>(data.size()), options);
}

absl::StatusOr<ObjectInfo> EmbeddedClient::PutObjectFromReader(const std::string& bucket,
                                                               const std::string& key,
                                                               const ReaderFn& reader, int64_t size,
                                                               const PutOptions& options) {
  if (size < -1) return absl::InvalidArgumentError("size must be >= 0, or -1 when unknown");
  absl::StatusOr<std::unique_ptr<StripeSealer>> sealer =
      StripeSealer::Create(*keyring_, bucket, key);
  if (!sealer.ok()) return sealer.status();
  // One stripe is read ahead, so the final one can be sealed as last (even an empty object has
  // one, so a reader can tell it was not cut short).
  auto fill = [&](std::string& chunk) -> absl::Status {
    chunk.resize(stripe_size_);
    size_t filled = 0;
    while (filled < chunk.size()) {
      absl::StatusOr<size_t> n = reader(chunk.data() + filled, chunk.size() - filled);
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      filled += *n;
    }
    chunk.resize(filled);
    return absl::OkStatus();
  };
  std::string current, ahead;
  if (absl::Status s = fill(current); !s.ok()) return s;
  uint32_t index = 0;
  uint64_t offset = 0;
  bool done = false;
  SealedStripeSource next = [&]() -> absl::StatusOr<SealedStripe> {
    if (done) return absl::InternalError("no stripe after the last one");
    bool last = current.size() < stripe_size_;
    if (!last) {
      if (absl::Status s = fill(ahead); !s.ok()) return s;
      last = ahead.empty();
    }
    if (size >= 0 && offset + current.size() > static_cast<uint64_t>(size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the source has more than the declared ", size, " bytes"));
    }
    if (last && size >= 0 && offset + current.size() != static_cast<uint64_t>(size)) {
      return absl::InvalidArgumentError(absl::StrCat("the source ended after ",
                                                     offset + current.size(), " of the declared ",
                                                     size, " bytes; nothing was stored"));
    }
    absl::StatusOr<SealedStripe> stripe = (*sealer)->Seal(index, offset, current, last);
    if (!stripe.ok()) return stripe.status();
    ++index;
    offset += current.size();
    current.swap(ahead);
    ahead.clear();
    done = last;
    return stripe;
  };
  return gateway_->PutSealedObject(bucket, key, (*sealer)->sealing(), next, options);
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
  const std::string name = absl::StrCat(bucket, "/", key);
  std::unique_ptr<StripeOpener> opener;
  uint32_t stripe_count = 0;
  // What has been opened so far; every position below is authenticated (in the stripes' AAD),
  // none is taken from the gateway's word.
  bool started = false;
  uint32_t next_index = 0;
  uint64_t next_offset = 0;
  bool saw_final = false;
  uint64_t delivered = 0;
  const uint64_t want_end =
      options.length == 0 ? UINT64_MAX : options.offset + options.length;  // exclusive
  uint64_t done = 0;
  int64_t total = -1;
  SealedHeaderFn on_header = [&](const ObjectInfo& info, const ClientSealing& sealing,
                                 uint32_t count) -> absl::Status {
    if (sealing.format == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(name, " was not sealed by its client; read it with sdk::Client"));
    }
    absl::StatusOr<std::unique_ptr<StripeOpener>> made =
        StripeOpener::Create(*keyring_, bucket, key, sealing);
    if (!made.ok()) return made.status();
    opener = *std::move(made);
    stripe_count = count;
    const uint64_t rest = info.size > options.offset ? info.size - options.offset : 0;
    total = static_cast<int64_t>(options.length == 0 ? rest : std::min(options.length, rest));
    if (options.progress) options.progress(0, total);
    return absl::OkStatus();
  };
  SealedStripeFn on_stripe = [&](SealedStripe stripe) -> absl::Status {
    if (opener == nullptr)
      return absl::DataLossError("the gateway sent a stripe before its header");
    if (saw_final) return absl::DataLossError(absl::StrCat("stripe after the last one of ", name));
    if (started && (stripe.index != next_index || stripe.plaintext_offset != next_offset)) {
      return absl::DataLossError(absl::StrCat("the gateway sent stripe ", stripe.index, " of ",
                                              name, " out of order (expected ", next_index, ")"));
    }
    if (!started && stripe.plaintext_offset > options.offset) {
      return absl::DataLossError(
          absl::StrCat("the gateway's first stripe of ", name, " starts past the range"));
    }
    const bool last = stripe.index + 1 == stripe_count;
    absl::StatusOr<std::string> plain =
        opener->Open(stripe.index, stripe.plaintext_offset, stripe.sealed, last);
    if (!plain.ok()) return plain.status();
    started = true;
    saw_final = last;
    next_index = stripe.index + 1;
    next_offset = stripe.plaintext_offset + plain->size();
    const uint64_t from = std::max(options.offset, stripe.plaintext_offset);
    const uint64_t to = std::min(want_end, next_offset);
    if (from < to) {
      absl::string_view piece =
          absl::string_view(*plain).substr(from - stripe.plaintext_offset, to - from);
      if (absl::Status s = sink(piece); !s.ok()) return s;
      delivered += piece.size();
      done += piece.size();
      if (options.progress) options.progress(done, total);
    }
    return absl::OkStatus();
  };
  absl::StatusOr<ObjectInfo> info =
      gateway_->GetSealedObject(bucket, key, options, on_header, on_stripe);
  if (!info.ok()) return info.status();
  if (!started) return absl::DataLossError(absl::StrCat("the gateway sent no stripe of ", name));
  // Complete: either the whole requested range, or everything up to the authenticated end.
  const bool covered = options.length != 0 && next_offset >= want_end;
  if (!covered && !saw_final) {
    return absl::DataLossError(absl::StrCat("the gateway cut ", name, " short after ", delivered,
                                            " bytes (its last stripe never arrived)"));
  }
  if (options.offset > next_offset) {
    return absl::OutOfRangeError(absl::StrCat("range starts at ", options.offset, " but ", name,
                                              " has ", next_offset, " bytes"));
  }
  return info;
}

}  // namespace tessera::sdk
