// ObjectBackend: everything a gateway process needs behind its front ends (gRPC Gateway service,
// S3), opened with one call:
//
//   #include "services/object/object_backend.h"     // dep: //services/object:object_backend
//   ObjectBackendOptions o;
//   o.seeds = {"10.0.0.5:7400"};                        // gRPC addresses of some storage nodes
//   o.cluster_secret_file = "/etc/tessera/cluster.secret";
//   o.master_key_file = "/etc/tessera/master.keys";
//   o.data.data_shards = 4; o.data.parity_shards = 2;   // k, m; o.data.stripe_size = 8 MiB
//   TESSERA_ASSIGN_OR_RETURN(std::unique_ptr<ObjectBackend> backend, OpenObjectBackend(o));
//   backend->objects().PutObject("photos", "cat.jpg", bytes);
//
// It assembles: ClusterAuth (from the secret file) -> MembershipClusterView (cluster learned
// from the seeds' ClusterMembers, refreshed every second) -> MetaClient (authenticated; follows
// the consensus-decided layout record, loaded at open or, in a new cluster, proposed as epoch 1
// from the alive members) -> ReplicatedManifestStore -> authenticated GrpcSliceClient + WorkPool +
// master keyring -> ObjectService, plus a layout maintainer thread (LayoutMaintainerOptions): it
// re-reads the record periodically, proposes the alive member set as the next epoch once it has
// differed from the decided members for longer than a grace period, and completes the hand-off
// of a layout in transition (docs/design/metadata.md, "Wiring into the gateway"). Gateways keep no
// durable state: any number of backends over the same nodes are one consistent store
// (docs/design/metadata.md "Consistency").
//
// Thread-safety: the accessors' objects are thread-safe. Destroy the backend only after its users
// (front ends, garbage collector) stopped.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "api/node.pb.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/bandwidth/estimator.h"
#include "services/meta/layout.h"
#include "services/meta/meta_client.h"
#include "services/object/data_path.h"
#include "services/object/membership_cluster_view.h"
#include "services/object/multipart.h"
#include "services/object/object_service.h"
#include "services/object/orphan_reclaimer.h"
#include "services/object/replicated_manifest_store.h"
#include "services/object/slice_client.h"
#include "services/object/slice_gc.h"
#include "services/object/work_pool.h"
#include "storage/crypto/key_wrap.h"

namespace tessera::services {

// The backend's layout maintainer (one thread per gateway; any number of gateways may run it).
struct LayoutMaintainerOptions {
  // A change of the alive metadata members must persist this long before it is proposed as a new
  // layout epoch (a restarting node should not move partitions twice).
  absl::Duration grace_period = absl::Seconds(30);
  // Time between two checks (record re-read, hand-off, proposal).
  absl::Duration check_interval = absl::Seconds(1);
  // A transition whose hand-off has been failing this long (since this gateway first saw it) is
  // rolled back to the previous members (MetaClient::AbandonHandOff), so the cluster is not stuck
  // in transition; the next proposal starts from the members alive then.
  absl::Duration handoff_timeout = absl::Minutes(5);
  // Clock of the grace period and the checks; null = real. Not owned.
  Clock* clock = nullptr;
  // False: no thread (tests drive MaintainLayoutOnce() themselves).
  bool run_thread = true;

  [[nodiscard]] absl::Status Validate() const;
};

struct ObjectBackendOptions {
  // gRPC host:port of one or more storage nodes. Required.
  std::vector<std::string> seeds;
  // Seeds whose node id is known (address -> id): asked for by id from the first call
  // (MembershipClusterViewOptions.seed_node_ids).
  std::map<std::string, std::string> seed_node_ids;
  // Cluster secret file (p2p/auth/cluster_secret.h). Required unless insecure_no_auth or `auth`.
  std::string cluster_secret_file;
  // Development only: talk to nodes without tokens (nodes started with --insecure_no_auth).
  bool insecure_no_auth = false;
  // Caller id put in tokens (1..64 of [A-Za-z0-9_-]).
  std::string caller_id = "gateway";
  // Master key file (storage/crypto/key_file.h). Required unless `keyring` or `keyless`.
  std::string master_key_file;
  // A backend for cluster maintenance on storage nodes (the repair worker,
  // services/repair/repair_worker.h): no key is loaded and no ObjectService is built (objects()
  // must not be called), and the layout record is only loaded, never created (a node must not
  // bootstrap the metadata from its own partial view: UNAVAILABLE until a front end created it).
  bool keyless = false;
  // Erasure code (k = data_shards, m = parity_shards), stripe size, inline threshold, cipher.
  DataPathOptions data;
  // Threads running slice RPCs.
  size_t data_path_threads = 16;
  // Membership refresh and metadata settings (LayoutOptions must match across gateways).
  absl::Duration membership_refresh = absl::Seconds(1);
  // Metadata replication. replicas == 0 (the default) derives it from the erasure code, see
  // EffectiveLayout(): metadata must survive the same m node losses the data survives.
  LayoutOptions layout{.replicas = 0, .write_quorum = 0, .read_quorum = 0};
  absl::Duration meta_rpc_deadline = absl::Seconds(2);
  LayoutMaintainerOptions layout_maintainer;
  // Space reclamation on a background thread: the SliceGarbageCollector (slices of superseded and
  // deleted versions, after gc.grace) every gc_interval, and the OrphanReclaimer (slices no
  // manifest refers to, after orphans.grace) every orphan_interval. Both are stateless and
  // idempotent, so any number of gateways may run them. Zero turns either off (the default here;
  // the daemons turn both on).
  absl::Duration gc_interval = absl::ZeroDuration();
  SliceGcOptions gc;
  absl::Duration orphan_interval = absl::ZeroDuration();
  // orphans.grace also caps data.max_write_stall at half of it (a stalled PUT fails before the
  // reclaimer could take its slices), whether or not this backend runs the reclaimer.
  OrphanReclaimerOptions orphans;
  // Completed multipart upload records are kept this long (so a client's retried Complete gets
  // its answer, as from S3), then purged with abandoned ones every gc_interval
  // (MultipartUploads::PurgeFinished).
  absl::Duration completed_upload_retention = absl::Hours(24);

  // --- Seams for tests and embedding (optional, not owned unless shared) ---
  // Used instead of cluster_secret_file when set.
  std::shared_ptr<const p2p::ClusterAuth> auth;
  // Used instead of master_key_file when set; must outlive the backend.
  const storage::MasterKeyring* keyring = nullptr;
  // Who holds the keyring's keys (DataPathDeps::key_source). CLIENT_KEY was the previous SDK
  // embedded client's (it ran this backend in process with its own key); the SDK now seals in the
  // client and goes through the gateway (CLIENT_SEALED, docs/design/e2e_mode.md), so nothing in
  // the tree sets it any more; gateways still refuse such objects.
  v1::EncryptionParams::KeySource key_source = v1::EncryptionParams::CLUSTER_MASTER_KEY;
  // Wraps or replaces the slice client (fault injection); must outlive the backend. Null: the
  // backend's authenticated GrpcSliceClient.
  SliceClient* slices = nullptr;
  // Sees every MetaService RPC (metrics; tests count round trips).
  GrpcAcceptorClient::RpcObserver meta_rpc_observer;
  // Told of every slice transfer (bandwidth()); null = the backend's own. A storage node's repair
  // backend passes the node's estimator, so what repair measures is what the node publishes.
  std::shared_ptr<p2p::BandwidthEstimator> bandwidth;
  // Where this process runs (a front end's --site/--zone/--isp; a node's repair backend: the
  // node's location). Slice bytes are counted by the boundary they cross to reach each node
  // (LocalityTraffic, tessera_slice_traffic_bytes_total); no site = "unknown".
  v1::Location location;
  // Where the backend's own metrics go (the traffic counters); null = Registry::Default().
  Registry* registry = nullptr;
  // Data path clock; null = real.
  Clock* clock = nullptr;

  // OK, or INVALID_ARGUMENT naming the field.
  [[nodiscard]] absl::Status Validate() const;

  // `layout`, or when layout.replicas == 0: N = max(3, 2m+1) replicas with majority quorums
  // W = R = N/2 + 1, so that any m dead nodes still leave W and R replicas of every partition
  // (N = 3, W = R = 2 for m <= 1; N = 5, W = R = 3 for m = 2).
  LayoutOptions EffectiveLayout() const;
};

// What a front end knows of the cluster's health (ObjectBackend::Health()): its metrics and
// `tessera cluster status` read it.
struct BackendHealth {
  // Storage nodes in the cluster view: alive and writable, alive but draining, suspected down.
  int nodes_writable = 0;
  int nodes_draining = 0;
  int nodes_down = 0;
  int write_width = 0;  // k + m: writable nodes a write at full redundancy needs
  // The followed metadata layout (0 / false before one is loaded).
  uint64_t layout_epoch = 0;
  bool layout_in_transition = false;
  // Metadata partitions by quorum health, over their replica sets (during a transition, the
  // worse of the old and new set counts): `unavailable` when fewer than the write quorum of some
  // set are alive (writes to it fail), `at_risk` when exactly the write quorum is (one more
  // failure and they do), `healthy` otherwise.
  uint32_t partitions_healthy = 0;
  uint32_t partitions_at_risk = 0;
  uint32_t partitions_unavailable = 0;
};

class ObjectBackend {
 public:
  ~ObjectBackend();
  ObjectBackend(const ObjectBackend&) = delete;
  ObjectBackend& operator=(const ObjectBackend&) = delete;

  // Not in a keyless backend.
  ObjectService& objects() { return *objects_; }
  ManifestStore& store() { return *store_; }
  MembershipClusterView& cluster() { return *cluster_; }
  MetaClient& meta() { return *meta_; }
  // The data path's dependencies (for GatewayService, SliceGarbageCollector, multipart).
  const DataPathDeps& deps() const { return deps_; }
  // The real gRPC slice client (authenticated), also when options.slices replaced it.
  GrpcSliceClient& grpc_slices() { return *grpc_slices_; }
  // Per-node throughput/RTT estimates from every call of grpc_slices() (keyed by node gRPC
  // address; docs/design/bandwidth.md). Never null.
  const std::shared_ptr<p2p::BandwidthEstimator>& bandwidth() const { return bandwidth_; }
  // Null when options.auth / a secret file was not given (insecure).
  const std::shared_ptr<const p2p::ClusterAuth>& auth() const { return auth_; }

  // Readiness for writes at full redundancy (what /readyz reports): OK when at least k + m
  // storage nodes are alive and not draining in the cluster view, so a PUT can place every slice
  // of a stripe on its own node; otherwise UNAVAILABLE saying how many are. A metadata partition
  // without a write quorum does not fail it (see Health() and the metric). Cheap; thread-safe.
  [[nodiscard]] absl::Status Readiness() const;
  // Node and metadata-quorum health from the cluster view and the followed layout. Cheap (one
  // snapshot, no RPC); thread-safe.
  [[nodiscard]] BackendHealth Health() const;

  // One round of the layout maintainer (what its thread runs every check_interval): re-reads the
  // decided record; if it is in transition, CompleteHandOff (and, once that has failed for
  // handoff_timeout since this backend first saw the transition, AbandonHandOff: back to the
  // previous members); otherwise, when the alive members
  // have differed from the record's for at least grace_period (measured on this backend's
  // maintainer clock since the first round that saw the difference), ProposeLayout (losing the
  // race to another gateway is fine: the record is reloaded) and then the hand-off. Returns the
  // first error of the round (also logged by the thread).
  absl::Status MaintainLayoutOnce();

 private:
  // Completes the hand-off of the followed record's transition; once it has failed for
  // handoff_timeout, rolls the transition back instead.
  absl::Status DriveHandOff() ABSL_EXCLUSIVE_LOCKS_REQUIRED(maintain_mu_);
  friend absl::StatusOr<std::unique_ptr<ObjectBackend>> OpenObjectBackend(
      ObjectBackendOptions options);
  ObjectBackend() = default;
  void MaintainLoop();

  std::shared_ptr<const p2p::ClusterAuth> auth_;
  std::unique_ptr<storage::MasterKeyring> owned_keyring_;
  std::unique_ptr<MembershipClusterView> cluster_;
  std::unique_ptr<MetaClient> meta_;
  std::unique_ptr<ReplicatedManifestStore> store_;
  std::shared_ptr<p2p::BandwidthEstimator> bandwidth_ = std::make_shared<p2p::BandwidthEstimator>();
  std::unique_ptr<GrpcSliceClient> grpc_slices_;
  std::unique_ptr<WorkPool> pool_;
  DataPathDeps deps_;
  std::unique_ptr<ObjectService> objects_;

  int write_width_ = 0;  // k + m: nodes a stripe needs
  LayoutMaintainerOptions maintainer_options_;
  absl::Mutex maintain_mu_;  // serializes MaintainLayoutOnce
  std::optional<absl::Time> members_differ_since_ ABSL_GUARDED_BY(maintain_mu_);
  // (epoch, when this gateway first saw it in transition) for the hand-off timeout.
  std::optional<std::pair<uint64_t, absl::Time>> transition_since_ ABSL_GUARDED_BY(maintain_mu_);
  absl::Notification stop_;
  std::thread maintainer_;
  // Space reclamation (see ObjectBackendOptions::gc_interval).
  void ReclaimLoop(absl::Duration gc_interval, absl::Duration orphan_interval);
  std::unique_ptr<SliceGarbageCollector> gc_;
  std::unique_ptr<storage::StripeCodec> upload_codec_;
  std::unique_ptr<MultipartUploads> upload_purger_;  // runs beside gc_
  absl::Duration completed_upload_retention_;
  std::unique_ptr<SliceLister> lister_;
  std::unique_ptr<OrphanReclaimer> orphans_;
  std::thread reclaimer_;
};

// Opens the backend: loads the secret and keys, learns the cluster from the seeds (UNAVAILABLE
// if none answers), loads the layout record (or proposes epoch 1 when none exists; UNAVAILABLE
// without a majority of the members), starts the layout maintainer, and wires the replicated store
// and the data path. INVALID_ARGUMENT for bad options; NOT_FOUND / FAILED_PRECONDITION for missing
// or unsafe key files.
[[nodiscard]] absl::StatusOr<std::unique_ptr<ObjectBackend>> OpenObjectBackend(
    ObjectBackendOptions options);

}  // namespace tessera::services
