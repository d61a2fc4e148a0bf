// NodeServer: one running storage node -- identity, slice store, gRPC SliceService and the admin
// HTTP server -- assembled from NodeOptions. Used by main.cc and by in-process tests.
//
// Data directory layout:
//   <data_dir>/node.key   identity keypair (p2p/identity), mode 0600
//   <data_dir>/index/     RocksDB slice index and store metadata
//   <data_dir>/slices/    slice files
//   <data_dir>/meta/      RocksDB acceptor store of the replicated metadata (MetaService)
//
// Lifecycle: Start() opens everything and serves; /healthz turns 200 once the gRPC server is up;
// then the node joins the cluster (p2p MembershipService over UDP, through `seeds`), publishing
// its gRPC address, location, capacity and free bytes (refreshed every
// capacity_refresh_interval from the store's Stats).
// Shutdown(grace): /healthz 503, announce kLeft to the cluster, stop accepting RPCs, let
// in-flight RPCs finish for up to `grace` (then cancel them), give the leave up to `leave_wait`
// (never more than `grace`) to spread, stop gossiping, drain the disk executor, close the store,
// stop the admin server.
//
// MetaService (services/meta, docs/design/metadata.md) is served on the same gRPC port as the
// SliceService, over <data_dir>/meta, unless enable_meta_service is false.
//
// Authentication: with cluster_secret_file the gRPC port speaks only mutual TLS with the
// cluster's certificates, this node presenting its identity key (p2p/auth/cluster_tls.h), and
// every RPC (SliceService and MetaService) also needs a valid x-tessera-auth token
// (p2p/auth/cluster_auth.h); with neither it nor insecure_no_auth, the node
// still starts but trusts every caller and logs a warning (tessera-node itself refuses to start
// that way).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/node.pb.h"
#include "base/env.h"
#include "base/metrics.h"
#include "p2p/bandwidth/estimator.h"
#include "p2p/membership/membership_view.h"
#include "p2p/membership/protocol.h"
#include "services/node/bandwidth_reporter.h"

namespace tessera::services {

// The version string NodeInfo reports.
inline constexpr char kNodeVersion[] = "tessera-node/0.1.0";

struct NodeOptions {
  // Root of the node's state (see the layout above). Required.
  std::string data_dir;
  // host:port for the gRPC SliceService; port 0 picks a free port. Default 0.0.0.0:7400.
  std::string listen = "0.0.0.0:7400";
  // host:port for /metrics and /healthz; port 0 picks a free port. Default 0.0.0.0:7401.
  std::string admin_listen = "0.0.0.0:7401";
  // Location labels reported by NodeInfo (used by placement).
  v1::Location location;
  // Store capacity cap in bytes; 0 = the file system's capacity.
  uint64_t capacity_bytes = 0;
  // Largest slice accepted in bytes. Default 16 MiB.
  uint64_t max_slice_bytes = 16ull << 20;
  // Free space kept in reserve; puts fail with RESOURCE_EXHAUSTED rather than use it. 64 MiB.
  uint64_t reserved_bytes = 64ull << 20;
  // Cap on bytes buffered by all open PutSlice streams. Default 256 MiB.
  uint64_t max_buffered_put_bytes = 256ull << 20;
  // Threads doing store (disk) work, and how many tasks may wait for them.
  size_t disk_threads = 4;
  size_t max_queued_tasks = 1024;

  // Host the replicated-metadata acceptor (MetaService over <data_dir>/meta). Default true.
  bool enable_meta_service = true;
  // Metadata compaction (docs/design/metadata.md, "Compaction"): with the MetaService on, a
  // MetaCompactor purges this node's old tombstones every interval (zero: never), confirming
  // each with every replica of the layout record this node holds. Tombstones younger than the
  // grace are kept (safety does not depend on it; see AcceptorStoreOptions.tombstone_grace).
  absl::Duration meta_compaction_interval = absl::Minutes(1);
  absl::Duration meta_tombstone_grace = absl::Minutes(10);

  // --- Authentication (docs/design/security.md) ---
  // Cluster secret file (p2p/auth/cluster_secret.h); every RPC then needs a token.
  std::string cluster_secret_file;
  // Explicitly run without authentication (development only). Exclusive with the above.
  bool insecure_no_auth = false;
  // Accepted clock difference for tokens.
  absl::Duration auth_max_skew = absl::Minutes(5);
  // TEST ONLY (tessera-node --test_meta_clock_offset): the metadata acceptor reads its wall clock
  // this far off the real one, to test the clock guard and linearizability under acceptor clock
  // skew with real processes. Zero (default) in production.
  absl::Duration test_meta_clock_offset = absl::ZeroDuration();
  // With a cluster secret: serve only mutual TLS (p2p/auth/cluster_tls.h). false = tokens over
  // plaintext, for benchmarks comparing the two (clients must then use
  // ClusterAuthOptions::transport_tls = false too); tessera-node has no flag for it.
  bool transport_tls = true;

  // --- Cluster membership (docs/design/membership.md) ---
  bool enable_membership = true;
  // Numeric IPv4 ip:port for the UDP gossip socket; port 0 picks one. Default 127.0.0.1:0.
  std::string gossip_listen = "127.0.0.1:0";
  // Gossip address peers use; empty = the bound address (required with a 0.0.0.0 listen).
  std::string gossip_advertise;
  // Gossip addresses of existing members; empty for the first node.
  std::vector<std::string> seeds;
  // gRPC host:port published to the cluster; empty = the --listen host (or, if that is a
  // wildcard, the gossip advertise host) with the bound gRPC port.
  std::string grpc_advertise;
  // Protocol timing (probe_interval, suspicion_timeout, ...).
  p2p::MembershipOptions gossip;
  // How often free bytes are re-read from the store and, if changed, re-published.
  absl::Duration capacity_refresh_interval = absl::Seconds(30);
  // Cold-peer probing and publication of this node's bandwidth summary (membership only;
  // docs/design/bandwidth.md).
  BandwidthReporterOptions bandwidth;
  // On Shutdown, how long the kLeft record may spread before gossip stops (capped by grace).
  absl::Duration leave_wait = absl::Seconds(2);
  // Background scrub: every slice is re-read and its checksums verified at most this many bytes
  // per second; slices found damaged are flagged corrupt (reads fail fast, repair finds them).
  // 0 disables scrubbing. Default 32 MiB/s.
  uint64_t scrub_bytes_per_second = 32ull << 20;
  // Pause between full scrub passes. Default 24 h.
  absl::Duration scrub_interval = absl::Hours(24);

  // Metrics registry; null = Registry::Default(). Not owned.
  Registry* registry = nullptr;
  // File-system seam; null = Env::Default(). Not owned.
  Env* env = nullptr;

  // OK, or INVALID_ARGUMENT with a one-line message naming the field.
  [[nodiscard]] absl::Status Validate() const;
};

class NodeServer {
 public:
  // INVALID_ARGUMENT for bad options; other errors from the identity, the store or binding.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<NodeServer>> Start(NodeOptions options);

  ~NodeServer();  // Shutdown(absl::ZeroDuration())
  NodeServer(const NodeServer&) = delete;
  NodeServer& operator=(const NodeServer&) = delete;

  // Bound ports (the real ones when the options asked for 0).
  uint16_t port() const;
  uint16_t admin_port() const;
  const std::string& node_id() const;
  // The current membership snapshot; null when membership is disabled.
  std::shared_ptr<const p2p::MembershipView> membership_view() const;
  // The advertised gossip address ("" when membership is disabled).
  std::string gossip_address() const;
  // This node's per-peer bandwidth estimates (keyed by peer gRPC address); never null. Slice
  // clients the node runs (repair, hand-off) report to it (GrpcSliceClientOptions::observer);
  // its summary is what the node publishes.
  std::shared_ptr<p2p::BandwidthEstimator> bandwidth() const;
  // Where NodeInfo's `repair` comes from (the node's RepairWorker, started after the server);
  // until set, NodeInfo carries none. `source` must stay callable until Shutdown. Thread-safe.
  void SetRepairStatus(std::function<v1::RepairStatus()> source);

  // See the file comment. Idempotent; later calls return at once.
  void Shutdown(absl::Duration grace);

  class Impl;

 private:
  explicit NodeServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::services
