// RepairWorker: the repair scheduler as it runs on every storage node (tessera-node).
//
// Repair runs on the nodes, not on the front ends, because it needs no key: the node opens a
// keyless ObjectBackend over its own gRPC address (cluster view from membership, the replicated
// metadata, authenticated slice client) and never loads the master key. Every `interval` it runs
// a Repairer pass over the buckets it is responsible for:
//   - responsibility: for each bucket, the alive node with the highest rendezvous hash of
//     (bucket, node id) is its preferred repairer, so buckets spread evenly over the nodes and
//     move only when membership changes; the preferred node then takes the bucket's RepairLease
//     (repair_lease.h), so two nodes with different views never repair a bucket at once; leases of
//     buckets it is no longer preferred for are released after each pass;
//   - a renewer thread renews held leases every third of their duration while passes run.
// Until a front end has created the metadata layout (a new cluster), opening the backend fails
// and is retried every `open_retry`.
//
// Thread-safety: Start/Stop from one thread; the worker runs on its own threads.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/bandwidth/estimator.h"
#include "services/object/object_backend.h"
#include "services/repair/repair_lease.h"
#include "services/repair/repair_metrics.h"
#include "services/repair/repairer.h"

namespace tessera::services {

struct RepairWorkerOptions {
  // This node's id (lease holder; rendezvous key). Required.
  std::string node_id;
  // gRPC host:port of this node (the backend's seed). Required.
  std::string self_address;
  // Mints tokens for the node's own calls; null only for insecure clusters.
  std::shared_ptr<const p2p::ClusterAuth> auth;
  // Time between two passes. Default 1 minute.
  absl::Duration interval = absl::Minutes(1);
  // Time between attempts to open the backend. Default 10 s.
  absl::Duration open_retry = absl::Seconds(10);
  // Repair lease duration (repair_lease.h). Default 60 s.
  absl::Duration lease_duration = absl::Seconds(60);
  RepairerOptions repair;
  // Threads running repair's slice RPCs. Default 8.
  size_t rpc_threads = 8;
  // The node's bandwidth estimates (sources are chosen by them; repair transfers feed them).
  // Null: a private estimator.
  std::shared_ptr<p2p::BandwidthEstimator> bandwidth;
  // Where tessera_repair_* (and the repair traffic's tessera_slice_traffic_bytes_total) are
  // registered; null = Registry::Default(). Not owned.
  Registry* registry = nullptr;
  // This node's location: repair traffic is counted by the boundary it crosses.
  v1::Location location;

  [[nodiscard]] absl::Status Validate() const;
};

class RepairWorker {
 public:
  // Validates the options, registers the metrics and starts the threads (the backend is opened
  // on the worker thread). INVALID_ARGUMENT for bad options.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<RepairWorker>> Start(
      RepairWorkerOptions options);
  ~RepairWorker();  // Stop()

  // Stops after the pass in progress (a pass checks for stop between stripes), releases the
  // leases and joins. Idempotent.
  void Stop();

  // The repair figures (RepairMetrics::Status). Thread-safe.
  v1::RepairStatus Status() const { return metrics_->Status(); }

 private:
  explicit RepairWorker(RepairWorkerOptions options) : options_(std::move(options)) {}
  void Run();
  void RenewLoop();
  absl::Status Open();
  // Whether this node is the preferred repairer of `bucket` in the current view, and holds (or
  // just took) its lease.
  bool Admit(const std::string& bucket, std::set<std::string>& admitted);

  const RepairWorkerOptions options_;
  std::unique_ptr<RepairMetrics> metrics_;
  std::unique_ptr<ObjectBackend> backend_;
  std::unique_ptr<SliceLister> lister_;
  std::unique_ptr<WorkPool> pool_;
  std::unique_ptr<RepairLeases> leases_;
  std::unique_ptr<Repairer> repairer_;
  absl::Notification opened_;
  absl::Notification stop_;
  std::thread runner_;
  std::thread renewer_;
};

// The alive node of `snapshot` with the highest rendezvous hash for `bucket`; "" if none.
std::string PreferredRepairer(const ClusterSnapshot& snapshot, const std::string& bucket);

}  // namespace tessera::services
