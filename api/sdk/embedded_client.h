// EmbeddedClient: the SDK's end-to-end encrypted mode (docs/design/e2e_mode.md). A sealing layer
// over sdk::Client: the client seals every stripe with its own key (api/sdk/sealing.h) and sends
// the sealed stripes through the gateway's authenticated API (PutSealedObject /
// GetSealedObject); the gateway only erasure-codes, places and commits them. The client needs no
// cluster secret and no node addresses: it is an ordinary gateway user, subject to the same
// signatures and bucket ACLs as sdk::Client.
//
//   #include "api/sdk/embedded_client.h"                  // dep: //api/sdk:embedded_client
//   // Once: a client key file (same format as master key files, mode 0600).
//   absl::Status s = tessera::sdk::GenerateClientKeyFile("/home/me/.tessera/photos.key");
//   tessera::sdk::EmbeddedClientOptions o;
//   o.endpoint = "gateway.example:7500";
//   o.client.access_key_id = "...";  o.client.secret_access_key = "...";   // as sdk::Client
//   o.client_key_file = "/home/me/.tessera/photos.key";
//   auto client = tessera::sdk::EmbeddedClient::Open(o);
//   auto info = (*client)->PutObject("photos", "cat.jpg", jpeg_bytes);
//   absl::StatusOr<std::string> back = (*client)->GetObject("photos", "cat.jpg");
//
// What a client key hides: the object data. What it does NOT hide: bucket names, object keys,
// sizes (to the stripe), content types, user metadata and times (in the manifests in clear).
// The ETag of a sealed object is the MD5 of its sealed bytes, not of the plaintext.
//
// Reading: objects written this way are read back only with an EmbeddedClient holding the key.
//   - GetObject through the plain API or S3: FAILED_PRECONDITION "... is sealed end to end by its
//     client ..." (never the ciphertext as if it were the data);
//   - an EmbeddedClient without that key: PERMISSION_DENIED naming the key id;
//   - an EmbeddedClient reading a plain object: FAILED_PRECONDITION;
//   - any stripe altered, reordered, moved or dropped (also a cut-short object): DATA_LOSS, and
//     no byte of that stripe reaches the sink.
// Listing, HEAD and DELETE work on any object (metadata is not end-to-end protected).
// Other errors are sdk::Client's (UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND, ...).
//
// Thread-safety: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/sdk/client.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::sdk {

// Creates a client key file at `path`: one fresh random 32-byte key under a random non-zero key
// id (so different clients' ids rarely collide and errors can name the id), mode 0600, in the
// master key file format (storage/crypto/key_file.h). ALREADY_EXISTS if `path` exists (never
// overwrites a key). Back the file up: objects written with it are unreadable without it.
[[nodiscard]] absl::Status GenerateClientKeyFile(const std::string& path);

// Plaintext bytes per sealed stripe: at most this (a sealed stripe fits one gateway message).
inline constexpr size_t kMaxSealedStripePlaintext = (1 << 20) - 64;

struct EmbeddedClientOptions {
  // The gateway (host:port) and how to reach it: credentials, TLS, timeouts as sdk::Client.
  // Required unless `gateway`.
  std::string endpoint;
  ClientOptions client;
  // Client key file (GenerateClientKeyFile). Required unless `client_keyring`. Never point this
  // at the cluster master key file.
  std::string client_key_file;
  // Plaintext bytes per sealed stripe, 1..kMaxSealedStripePlaintext. Default 1 MiB - 64.
  size_t stripe_size = kMaxSealedStripePlaintext;

  // --- Seams for tests and embedding (not owned; must outlive the client) ---
  Client* gateway = nullptr;                               // instead of endpoint + client
  const storage::MasterKeyring* client_keyring = nullptr;  // instead of client_key_file

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

class EmbeddedClient final : public ObjectClient {
 public:
  // Loads the key file (NOT_FOUND / FAILED_PRECONDITION for a missing or unsafe one) and connects
  // (sdk::Client::Connect's errors).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EmbeddedClient>> Open(
      EmbeddedClientOptions options);
  ~EmbeddedClient();
  EmbeddedClient(const EmbeddedClient&) = delete;
  EmbeddedClient& operator=(const EmbeddedClient&) = delete;

  // Buckets: sdk::Client's.
  [[nodiscard]] absl::StatusOr<Bucket> CreateBucket(
      const std::string& bucket, const CreateBucketOptions& options = {}) override;
  [[nodiscard]] absl::Status DeleteBucket(const std::string& bucket) override;  // must be empty
  [[nodiscard]] absl::StatusOr<Bucket> HeadBucket(const std::string& bucket) override;
  [[nodiscard]] absl::StatusOr<std::vector<Bucket>> ListBuckets() override;

  // Uploads (all-or-nothing), sealed here. options.if_none_match / if_match are decided
  // atomically with the commit, as for sdk::Client. `size` may be -1 when unknown; a known size
  // that the reader does not deliver exactly is INVALID_ARGUMENT and nothing is stored.
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObject(const std::string& bucket,
                                                     const std::string& key, absl::string_view data,
                                                     const PutOptions& options = {}) override;
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObjectFromReader(
      const std::string& bucket, const std::string& key, const ReaderFn& reader, int64_t size,
      const PutOptions& options = {}) override;

  // Downloads, opened here (ranges and version ids as sdk::Client).
  [[nodiscard]] absl::StatusOr<std::string> GetObject(const std::string& bucket,
                                                      const std::string& key,
                                                      const GetOptions& options = {}) override;
  [[nodiscard]] absl::StatusOr<ObjectInfo> GetObjectToSink(const std::string& bucket,
                                                           const std::string& key,
                                                           const SinkFn& sink,
                                                           const GetOptions& options = {}) override;

  [[nodiscard]] absl::StatusOr<ObjectInfo> HeadObject(const std::string& bucket,
                                                      const std::string& key) override;
  [[nodiscard]] absl::Status DeleteObject(const std::string& bucket,
                                          const std::string& key) override;
  [[nodiscard]] absl::StatusOr<ListPage> ListObjects(const std::string& bucket,
                                                     const ListOptions& options = {}) override;

  // The gateway client underneath.
  Client& gateway() { return *gateway_; }

 private:
  EmbeddedClient() = default;

  size_t stripe_size_ = kMaxSealedStripePlaintext;
  std::unique_ptr<storage::MasterKeyring> owned_keyring_;
  const storage::MasterKeyring* keyring_ = nullptr;
  std::unique_ptr<Client> owned_gateway_;
  Client* gateway_ = nullptr;
};

}  // namespace tessera::sdk
