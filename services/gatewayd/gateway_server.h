// GatewayServer: assembles a tessera-gateway process: master keyring, cluster view, slice client,
// manifest store, ObjectService, the gRPC Gateway service and the admin HTTP server.
//
// Gateways keep no durable state of their own. INTERIM pieces (see docs/design/sdk_cli.md):
//   - cluster view: NodeDirectory polling NodeInfo of the --nodes addresses (until nodes serve
//     the membership ClusterMembers RPC, which will replace it behind the ClusterView seam);
//   - manifest store: InMemoryManifestStore (until the replicated services/meta ManifestStore
//     lands behind the ManifestStore seam). Until then bucket and object metadata live in this
//     gateway's memory and are lost when it stops; slices on nodes are durable.
//
// Thread-safety: Start/Shutdown from one thread; the accessors are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "services/gateway/data_path.h"

namespace tessera::services {

struct GatewayServerOptions {
  std::string listen = "127.0.0.1:0";        // gRPC Gateway service
  std::string admin_listen = "127.0.0.1:0";  // /metrics, /healthz
  std::string master_key_file;               // required (storage/crypto/key_file.h)
  std::vector<std::string> nodes;            // storage nodes' gRPC addresses; at least k+m
  std::string cluster_secret_file;           // optional: cluster auth tokens on node calls
  DataPathOptions data;
  size_t data_path_threads = 32;  // slice RPC parallelism
  size_t handler_threads = 64;    // concurrent blocking handler work
  absl::Duration node_poll_interval = absl::Seconds(1);
  Registry* registry = nullptr;  // nullptr = Registry::Default()

  [[nodiscard]] absl::Status Validate() const;
};

class GatewayServer {
 public:
  // Starts serving. INVALID_ARGUMENT for bad options; the key file's own errors
  // (NOT_FOUND / FAILED_PRECONDITION); UNAVAILABLE if a port cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GatewayServer>> Start(
      GatewayServerOptions options);
  ~GatewayServer();  // Shutdown(0) if not done

  int port() const;
  int admin_port() const;
  // Nodes the directory has heard from / currently considers alive.
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
