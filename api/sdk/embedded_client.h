// EmbeddedClient: the SDK running the object pipeline itself, end to end encrypted
// (docs/design/e2e_mode.md).
//
//   #include "api/sdk/embedded_client.h"                  // dep: //api/sdk:embedded_client
//   // Once: a client key file (same format as master key files, mode 0600).
//   absl::Status s = tessera::sdk::GenerateClientKeyFile("/home/me/.tessera/photos.key");
//   tessera::sdk::EmbeddedClientOptions o;
//   o.seeds = {"10.0.0.5:7400"};                      // storage nodes (gRPC)
//   o.cluster_secret_file = "/etc/tessera/cluster.secret";
//   o.client_key_file = "/home/me/.tessera/photos.key";
//   auto client = tessera::sdk::EmbeddedClient::Open(o);
//   auto info = (*client)->PutObject("photos", "cat.jpg", jpeg_bytes);
//   absl::StatusOr<std::string> back = (*client)->GetObject("photos", "cat.jpg");
//
// The client encrypts and erasure-codes in process and talks to the storage nodes and the
// replicated metadata directly (an embedded gateway: services::OpenGatewayBackend). Every data
// key is wrapped by the CLIENT's key ring, never by the cluster master key, and manifests record
// key_source = CLIENT_KEY and the client key id. No server ever sees plaintext or the client key.
//
// What a client key does NOT hide: bucket names, object keys, sizes, content types, user
// metadata and times are in the (replicated) manifests in clear, as for gateway objects.
// The cluster secret is still needed: the client is a cluster member for transport (tokens on
// every node RPC); confidentiality rests on the client key alone.
//
// Reading: objects written this way are read back only with an EmbeddedClient holding the key.
//   - a gateway (cluster master key) refuses them: FAILED_PRECONDITION "... is end-to-end
//     encrypted with a client key (key id N); read it with the SDK's embedded client and that
//     key" - it never tries to unwrap them;
//   - an EmbeddedClient without that key: PERMISSION_DENIED naming the key id;
//   - an EmbeddedClient reading a gateway-written object: FAILED_PRECONDITION.
// Listing, HEAD and DELETE work on any object (metadata is not end-to-end protected).
//
// Other errors are those of services::ObjectService (NOT_FOUND "no such key: b/k", ...).
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
#include "absl/time/time.h"
#include "api/sdk/client.h"
#include "services/gateway/data_path.h"
#include "services/meta/layout.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::p2p {
class ClusterAuth;
}
namespace tessera::services {
class GatewayBackend;
}

namespace tessera::sdk {

// Creates a client key file at `path`: one fresh random 32-byte key under a random non-zero key
// id (so different clients' ids rarely collide and errors can name the id), mode 0600, in the
// master key file format (storage/crypto/key_file.h). ALREADY_EXISTS if `path` exists (never
// overwrites a key). Back the file up: objects written with it are unreadable without it.
[[nodiscard]] absl::Status GenerateClientKeyFile(const std::string& path);

struct EmbeddedClientOptions {
  // gRPC host:port of one or more storage nodes. Required.
  std::vector<std::string> seeds;
  // Cluster secret file (transport only). Required unless `auth`.
  std::string cluster_secret_file;
  // Client key file (GenerateClientKeyFile). Required unless `client_keyring`. Never point this
  // at the cluster master key file: that key would let every gateway read the objects.
  std::string client_key_file;
  // Erasure code, stripe size, inline threshold, cipher (as a gateway's).
  services::DataPathOptions data;
  // Threads running slice RPCs.
  size_t threads = 8;
  // Must match the cluster's gateways: replicas == 0 derives it from the erasure code exactly as
  // gateways do (services::GatewayBackendOptions::EffectiveLayout).
  services::LayoutOptions layout{.replicas = 0, .write_quorum = 0, .read_quorum = 0};
  absl::Duration membership_refresh = absl::Seconds(1);

  // --- Seams for tests and embedding (not owned unless shared) ---
  std::shared_ptr<const p2p::ClusterAuth> auth;  // instead of cluster_secret_file
  // Instead of client_key_file; must outlive the client.
  const storage::MasterKeyring* client_keyring = nullptr;

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

class EmbeddedClient {
 public:
  // Loads the key file (NOT_FOUND / FAILED_PRECONDITION for a missing or unsafe one), learns the
  // cluster from the seeds (UNAVAILABLE if none answers).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EmbeddedClient>> Open(
      EmbeddedClientOptions options);
  ~EmbeddedClient();
  EmbeddedClient(const EmbeddedClient&) = delete;
  EmbeddedClient& operator=(const EmbeddedClient&) = delete;

  // Buckets.
  [[nodiscard]] absl::StatusOr<Bucket> CreateBucket(const std::string& bucket);
  [[nodiscard]] absl::Status DeleteBucket(const std::string& bucket);  // must be empty
  [[nodiscard]] absl::StatusOr<Bucket> HeadBucket(const std::string& bucket);
  [[nodiscard]] absl::StatusOr<std::vector<Bucket>> ListBuckets();

  // Uploads (all-or-nothing). options.if_none_match / if_match are decided atomically with the
  // commit (also checked before the upload starts, to fail early).
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObject(const std::string& bucket,
                                                     const std::string& key, absl::string_view data,
                                                     const PutOptions& options = {});
  [[nodiscard]] absl::StatusOr<ObjectInfo> PutObjectFromReader(const std::string& bucket,
                                                               const std::string& key,
                                                               const ReaderFn& reader, int64_t size,
                                                               const PutOptions& options = {});

  // Downloads (newest version; options.version_id is UNIMPLEMENTED).
  [[nodiscard]] absl::StatusOr<std::string> GetObject(const std::string& bucket,
                                                      const std::string& key,
                                                      const GetOptions& options = {});
  [[nodiscard]] absl::StatusOr<ObjectInfo> GetObjectToSink(const std::string& bucket,
                                                           const std::string& key,
                                                           const SinkFn& sink,
                                                           const GetOptions& options = {});

  [[nodiscard]] absl::StatusOr<ObjectInfo> HeadObject(const std::string& bucket,
                                                      const std::string& key);
  [[nodiscard]] absl::Status DeleteObject(const std::string& bucket, const std::string& key);
  [[nodiscard]] absl::StatusOr<ListPage> ListObjects(const std::string& bucket,
                                                     const ListOptions& options = {});

  // The embedded backend (for tests and tools).
  services::GatewayBackend& backend() { return *backend_; }

 private:
  EmbeddedClient() = default;

  std::unique_ptr<storage::MasterKeyring> owned_keyring_;
  std::unique_ptr<services::GatewayBackend> backend_;
};

}  // namespace tessera::sdk
