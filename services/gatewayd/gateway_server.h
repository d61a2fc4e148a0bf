// GatewayServer: assembles a tessera-gateway process: the ObjectBackend (OpenObjectBackend:
// cluster learned from the seeds' membership, metadata replicated on the storage nodes,
// authenticated slice client, master keyring, ObjectService), the gRPC Gateway service with its
// caller authentication (the users of a credentials file, as tessera-s3; CallVerifier), optionally
// over TLS, and the admin HTTP server.
//
// Gateways keep no durable state: bucket and object metadata live on the storage nodes
// (services/meta via ReplicatedManifestStore), slices too. Any number of gateways over the same
// nodes are one consistent store, and a restarted gateway loses nothing.
//
// Thread-safety: Start/Shutdown from one thread; the accessors are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/node.pb.h"
#include "base/metrics.h"
#include "services/object/data_path.h"

namespace tessera::services {

struct GatewayServerOptions {
  std::string listen = "127.0.0.1:0";  // gRPC Gateway service
  // Users who may call the Gateway service: the same file format and users as tessera-s3
  // (services/s3/auth/credential_store.h; mode 0600). Required.
  std::string credentials_file;
  // PEM certificate chain and private key: serve gRPC over TLS. Both or neither. The files are
  // re-read every tls_refresh_interval (a renewed certificate is served without a restart;
  // until a renewed pair loads, the last good one stays in use).
  std::string tls_cert_file;
  std::string tls_key_file;
  absl::Duration tls_refresh_interval = absl::Minutes(1);
  absl::Duration max_clock_skew = absl::Minutes(15);  // of a call's signing time
  std::string admin_listen = "127.0.0.1:0";           // /metrics, /healthz
  std::string master_key_file;                        // required (storage/crypto/key_file.h)
  std::vector<std::string> seeds;   // some storage nodes' gRPC addresses; at least one
  v1::Location location;            // where it runs (traffic by reach); empty = unknown
  std::string cluster_secret_file;  // required unless insecure_no_auth
  bool insecure_no_auth = false;    // development only: nodes run without auth
  DataPathOptions data;
  size_t data_path_threads = 32;  // slice RPC parallelism
  size_t handler_threads = 64;    // concurrent blocking handler work
  absl::Duration membership_refresh = absl::Seconds(1);
  // Space reclamation (ObjectBackendOptions::gc_interval): superseded/deleted versions' slices
  // after gc_grace, every gc_interval; orphan slices after orphan_grace, every orphan_interval.
  // Zero intervals turn either off.
  absl::Duration gc_interval = absl::Minutes(5);
  absl::Duration gc_grace = absl::Minutes(15);
  absl::Duration orphan_interval = absl::Hours(1);
  absl::Duration orphan_grace = absl::Hours(6);
  Registry* registry = nullptr;  // nullptr = Registry::Default()

  [[nodiscard]] absl::Status Validate() const;
};

class GatewayServer {
 public:
  // Starts serving. INVALID_ARGUMENT for bad options; the key, secret and credentials files' own
  // errors (NOT_FOUND / FAILED_PRECONDITION / PERMISSION_DENIED), NOT_FOUND for an unreadable TLS
  // file; UNAVAILABLE if no seed answers or a port cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      GatewayServerOptions options);
  ~GatewayServer();  // Shutdown(0) if not done

  int port() const;
  int admin_port() const;
  // Storage nodes in the membership view / currently alive.
  // Re-reads credentials_file (SIGHUP): calls signed with keys no longer in it are refused from
  // now on, new keys accepted. On an error (naming the file) the current users stay in effect.
  // Thread-safe.
  [[nodiscard]] absl::Status ReloadCredentials();
  int known_nodes() const;
  int alive_nodes() const;

  // /healthz turns "stopping"; in-flight calls may run up to `grace`, then are cancelled.
  void Shutdown(absl::Duration grace);

  class Impl;

 private:
  explicit GatewayServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::services
