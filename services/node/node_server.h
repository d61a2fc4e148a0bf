// NodeServer: one running storage node -- identity, slice store, gRPC SliceService and the admin
// HTTP server -- assembled from NodeOptions. Used by main.cc and by in-process tests.
//
// Data directory layout:
//   <data_dir>/node.key   identity keypair (p2p/identity), mode 0600
//   <data_dir>/index/     RocksDB slice index and store metadata
//   <data_dir>/slices/    slice files
//
// Lifecycle: Start() opens everything and serves; /healthz turns 200 once the gRPC server is up.
// Shutdown(grace): /healthz 503, stop accepting RPCs, let in-flight RPCs finish for up to
// `grace` (then cancel them), drain the disk executor, close the store, stop the admin server.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/node.pb.h"
#include "base/env.h"
#include "base/metrics.h"

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

  // See the file comment. Idempotent; later calls return at once.
  void Shutdown(absl::Duration grace);

  class Impl;

 private:
  explicit NodeServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::services
