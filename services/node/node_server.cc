#include "services/node/node_server.h"

#include <chrono>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/logging.h"
#include "grpcpp/grpcpp.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/auth/gossip_auth.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/membership_service.h"
#include "services/common/admin_server.h"
#include "services/common/host_port.h"
#include "services/meta/acceptor_store.h"
#include "services/meta/layout_record.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_compactor.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_limits.h"
#include "services/meta/meta_service.h"
#include "services/node/bounded_executor.h"
#include "services/node/node_metrics.h"
#include "services/node/slice_service.h"
#include "services/node/slice_service_core.h"
#include "storage/store/scrubber.h"
#include "storage/store/slice_store.h"

namespace tessera::services {

namespace {

// The real clock shifted by a fixed offset (NodeOptions::test_meta_clock_offset).
class OffsetClock final : public Clock {
 public:
  explicit OffsetClock(absl::Duration offset) : offset_(offset) {}
  absl::Time Now() override { return Clock::Real()->Now() + offset_; }
  void SleepFor(absl::Duration d) override { Clock::Real()->SleepFor(d); }

 private:
  const absl::Duration offset_;
};

bool IsWildcardHost(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

}  // namespace

absl::Status NodeOptions::Validate() const {
  if (data_dir.empty()) return absl::InvalidArgumentError("data_dir is required");
  if (auto hp = ParseHostPort(listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("listen: ", hp.status().message()));
  }
  if (auto hp = ParseHostPort(admin_listen); !hp.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("admin_listen: ", hp.status().message()));
  }
  if (max_slice_bytes == 0 || max_slice_bytes > (1ull << 30)) {
    return absl::InvalidArgumentError("max_slice_bytes must be in 1..1073741824");
  }
  if (capacity_bytes != 0 && capacity_bytes < max_slice_bytes) {
    return absl::InvalidArgumentError(
        "capacity_bytes must be 0 (whole disk) or at least max_slice_bytes");
  }
  if (max_buffered_put_bytes < max_slice_bytes) {
    return absl::InvalidArgumentError("max_buffered_put_bytes must be >= max_slice_bytes");
  }
  if (disk_threads == 0 || disk_threads > 256) {
    return absl::InvalidArgumentError("disk_threads must be in 1..256");
  }
  if (max_queued_tasks == 0) return absl::InvalidArgumentError("max_queued_tasks must be > 0");
  if (meta_compaction_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("meta_compaction_interval must be >= 0");
  }
  if (meta_tombstone_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("meta_tombstone_grace must be >= 0");
  }
  if (!cluster_secret_file.empty() && insecure_no_auth) {
    return absl::InvalidArgumentError(
        "cluster_secret_file and insecure_no_auth are mutually exclusive");
  }
  if (auth_max_skew <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("auth_max_skew must be > 0");
  }
  if (enable_membership) {
    if (auto hp = ParseHostPort(gossip_listen); !hp.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("gossip_listen: ", hp.status().message()));
    }
    if (gossip_advertise.empty() && IsWildcardHost(ParseHostPort(gossip_listen)->host)) {
      return absl::InvalidArgumentError(
          "gossip_advertise is required when gossip_listen is a wildcard address");
    }
    if (!gossip_advertise.empty()) {
      if (auto hp = ParseHostPort(gossip_advertise); !hp.ok() || hp->port == 0) {
        return absl::InvalidArgumentError("gossip_advertise must be host:port with a port");
      }
    }
    if (!grpc_advertise.empty()) {
      if (auto hp = ParseHostPort(grpc_advertise); !hp.ok() || hp->port == 0) {
        return absl::InvalidArgumentError("grpc_advertise must be host:port with a port");
      }
    }
    for (const std::string& seed : seeds) {
      if (auto hp = ParseHostPort(seed); !hp.ok() || hp->port == 0) {
        return absl::InvalidArgumentError(absl::StrCat("seeds: bad address \"", seed, "\""));
      }
    }
    if (absl::Status s = gossip.Validate(); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("gossip: ", s.message()));
    }
    if (capacity_refresh_interval <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("capacity_refresh_interval must be > 0");
    }
    if (absl::Status s = bandwidth.Validate(); !s.ok()) return s;
    if (leave_wait < absl::ZeroDuration()) {
      return absl::InvalidArgumentError("leave_wait must not be negative");
    }
  }
  return absl::OkStatus();
}

class NodeServer::Impl final : public NodeControl {
 public:
  absl::Status Init(NodeOptions options) {
    options_ = std::move(options);
    Env* env = options_.env != nullptr ? options_.env : Env::Default();
    Registry* registry = options_.registry != nullptr ? options_.registry : &Registry::Default();

    if (absl::Status s = env->CreateDirs(options_.data_dir); !s.ok()) return s;
    {
      absl::MutexLock lock(&membership_mu_);
      draining_ = env->FileExists(DrainMarker());
    }
    auto identity = p2p::NodeIdentity::LoadOrCreate(env, options_.data_dir + "/node.key");
    if (!identity.ok()) return identity.status();
    identity_ = *std::move(identity);

    storage::SliceStoreOptions store_options;
    store_options.index_dir = options_.data_dir + "/index";
    store_options.data_dirs = {options_.data_dir + "/slices"};
    store_options.max_slice_bytes = options_.max_slice_bytes;
    store_options.capacity_bytes = options_.capacity_bytes;
    store_options.reserved_bytes = options_.reserved_bytes;
    store_options.env = env;
    store_options.registry = registry;
    auto store = storage::OpenSliceStore(store_options);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    const storage::RecoveryReport& report = store_->recovery_report();
    TESSERA_LOG(INFO, "store_opened")
        .Field("slices", report.slices)
        .Field("orphan_files", report.orphan_files)
        .Field("missing_files", report.missing_files)
        .Field("temp_files", report.temp_files);
    if (options_.scrub_bytes_per_second > 0) {
      storage::ScrubberOptions scrub_options;
      scrub_options.bytes_per_second = options_.scrub_bytes_per_second;
      scrub_options.pass_interval = options_.scrub_interval;
      scrub_options.on_corrupt = [](const storage::SliceId& id, const absl::Status& status) {
        TESSERA_LOG(WARNING, "scrub_found_damaged_slice")
            .Field("slice", id.ToString())
            .Field("error", status.message());
      };
      if (absl::Status s = scrub_options.Validate(); !s.ok()) return s;
      scrubber_ = std::make_unique<storage::Scrubber>(store_.get(), std::move(scrub_options));
      scrubber_->Start();
    }

    if (!options_.cluster_secret_file.empty()) {
      absl::StatusOr<p2p::ClusterSecret> secret =
          p2p::ClusterSecret::Load(options_.cluster_secret_file);
      if (!secret.ok()) return secret.status();
      p2p::ClusterAuthOptions auth_options;
      auth_options.caller_id = identity_->node_id();
      auth_options.max_skew = options_.auth_max_skew;
      // Mutual TLS with this node's own key: callers check they reached this node id.
      auth_options.identity = identity_.get();
      auth_options.transport_tls = options_.transport_tls;
      auto auth = p2p::ClusterAuth::Create(*secret, auth_options);
      if (!auth.ok()) return auth.status();
      auth_ = *std::move(auth);
      // Gossip datagrams are MACed with a key derived from the same secret ("gossip"), with the
      // same clock tolerance as RPC tokens.
      p2p::GossipAuthOptions gossip_auth_options;
      gossip_auth_options.max_skew = options_.auth_max_skew;
      auto gossip_auth = p2p::GossipAuth::Create(*secret, gossip_auth_options);
      if (!gossip_auth.ok()) return gossip_auth.status();
      gossip_auth_ = *std::move(gossip_auth);
    } else {
      TESSERA_LOG(WARNING, "node_auth_disabled")
          .Field("detail",
                 "NO AUTHENTICATION: any host that reaches the gRPC port can read, write and "
                 "delete slices. Use a cluster secret file outside development.");
    }

    if (options_.enable_meta_service) {
      // The replicated-metadata acceptor (docs/design/metadata.md): synced RocksDB.
      AcceptorStoreOptions meta_options;
      if (options_.test_meta_clock_offset != absl::ZeroDuration()) {
        meta_clock_ = std::make_unique<OffsetClock>(options_.test_meta_clock_offset);
        meta_options.clock = meta_clock_.get();
        TESSERA_LOG(WARNING, "test_meta_clock_offset")
            .Field("offset", absl::FormatDuration(options_.test_meta_clock_offset))
            .Field("detail", "TEST ONLY: the metadata acceptor's clock is deliberately off");
      }
      meta_options.tombstone_grace = options_.meta_tombstone_grace;
      auto meta_store = AcceptorStore::Open(options_.data_dir + "/meta", meta_options);
      if (!meta_store.ok()) return meta_store.status();
      meta_store_ = *std::move(meta_store);
    }

    auto metrics = NodeMetrics::Create(registry);
    if (!metrics.ok()) return metrics.status();
    metrics_ = *std::move(metrics);

    SliceServiceOptions service_options;
    service_options.max_slice_bytes = options_.max_slice_bytes;
    service_options.max_buffered_put_bytes = options_.max_buffered_put_bytes;
    if (absl::Status s = service_options.Validate(); !s.ok()) return s;
    NodeDescription description;
    description.node_id = identity_->node_id();
    description.public_key = identity_->public_key();
    description.location = options_.location;
    description.version = kNodeVersion;
    core_ = std::make_unique<SliceServiceCore>(store_.get(), service_options, description);
    executor_ = std::make_unique<BoundedExecutor>(options_.disk_threads, options_.max_queued_tasks);
    service_ = std::make_unique<SliceServiceImpl>(
        core_.get(), executor_.get(), metrics_.get(), auth_.get(),
        [this]() -> std::shared_ptr<const p2p::MembershipView> { return MembershipView(); }, this);

    AdminServerOptions admin_options;
    admin_options.listen = options_.admin_listen;
    admin_options.metrics_text = [this, registry] {
      metrics_->UpdateStore(store_->Stats(), core_->buffered_put_bytes());
      if (scrubber_ != nullptr) metrics_->UpdateScrub(scrubber_->stats());
      std::shared_ptr<const p2p::MembershipView> view = MembershipView();
      metrics_->UpdateMembership(view.get());
      std::string text = registry->Serialize();
      if (view != nullptr) text += BandwidthMetricsText(*view);
      return text;
    };
    admin_options.readiness = [this] { return Readiness(); };
    auto admin = AdminServer::Start(admin_options);
    if (!admin.ok()) return admin.status();
    admin_ = *std::move(admin);

    grpc::ServerBuilder builder;
    int port = 0;
    // With a cluster secret the port speaks only mutual TLS (cluster_tls.h): a plaintext or
    // foreign-cluster caller fails the handshake before any RPC exists.
    builder.AddListeningPort(options_.listen,
                             auth_ != nullptr && auth_->tls() != nullptr
                                 ? auth_->tls()->ServerCredentials()
                                 : grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    if (meta_store_ != nullptr) {
      // Same port and the same per-call token check as the SliceService.
      meta_service_ = RegisterMetaService(builder, meta_store_.get(), auth_.get());
    }
    // Requests: one data chunk (1 MiB) plus the header fields and framing; a MetaService request
    // has the same cap. Responses: MetaService answers may carry two values of that size (a
    // Prepare with an accepted and a committed value; meta_limits.h), slice reads one chunk.
    static_assert(kMaxMetaRequestBytes == SliceServiceCore::kMaxChunkBytes + 64 * 1024);
    builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxMetaRequestBytes));
    builder.SetMaxSendMessageSize(static_cast<int>(kMaxMetaResponseBytes));
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.listen));
    }
    port_ = static_cast<uint16_t>(port);
    admin_->SetHealth(Health::kServing);
    if (options_.enable_membership) {
      if (absl::Status s = StartMembership(); !s.ok()) return s;
    }
    if (meta_store_ != nullptr && options_.meta_compaction_interval > absl::ZeroDuration()) {
      StartMetaCompactor();
    }
    return absl::OkStatus();
  }

  // The compactor confirms through this node's own MetaService like through the others', with
  // the node's cluster auth (not owned by the client: auth_ outlives it).
  void StartMetaCompactor() {
    compactor_client_ = std::make_unique<GrpcAcceptorClient>(
        absl::Seconds(5), std::shared_ptr<const p2p::ClusterAuth>(
                              std::shared_ptr<const p2p::ClusterAuth>(), auth_.get()));
    MetaCompactorOptions co;
    co.interval = options_.meta_compaction_interval;
    co.on_pass = [this](const absl::StatusOr<CompactionStats>& pass) {
      if (absl::IsNotFound(pass.status())) return;  // no layout record yet: nothing to do
      absl::StatusOr<uint64_t> records = meta_store_->CountRecords();
      metrics_->OnMetaCompactionPass(pass.ok(), pass.ok() ? pass->purged : 0,
                                     pass.ok() ? pass->unconfirmed : 0,
                                     records.ok() ? static_cast<int64_t>(*records) : -1);
    };
    compactor_ = std::make_unique<MetaCompactor>(
        identity_->node_id(), meta_store_.get(), compactor_client_.get(),
        [this] { return LocalLayoutView(); }, co);
    compactor_->Start();
  }

  // The data layout of the layout record this node's acceptor holds (committed; a node that
  // missed a newer record confirms against an older epoch and is refused by acceptors that know
  // the newer one, so it purges nothing meanwhile). NOT_FOUND before the first record.
  absl::StatusOr<LayoutView> LocalLayoutView() {
    tessera::v1::ReadRequest req;
    *req.mutable_key() = LayoutRecordKey();
    absl::StatusOr<tessera::v1::ReadResponse> r = meta_store_->Read(req);
    if (!r.ok()) return r.status();
    if (!r->state().committed_value().exists()) {
      return absl::NotFoundError("no metadata layout record on this node yet");
    }
    tessera::v1::LayoutRecord record;
    if (!record.ParseFromString(r->state().committed_value().data())) {
      return absl::DataLossError("corrupt metadata layout record on this node");
    }
    absl::StatusOr<LayoutView> view = DataLayoutView(record);
    if (!view.ok()) return view.status();
    std::vector<MetaMember> members = RecordMembers(record);
    for (MetaMember& m : RecordPreviousMembers(record)) members.push_back(std::move(m));
    compactor_client_->SetMembers(members);
    return view;
  }

  absl::Status StartMembership() {
    p2p::MembershipServiceOptions m;
    m.gossip_listen = options_.gossip_listen;
    m.advertise_address = options_.gossip_advertise;
    m.seeds = options_.seeds;
    m.protocol = options_.gossip;
    m.datagram_auth = gossip_auth_;  // null in insecure mode: unauthenticated gossip
    m.location = {options_.location.site(), options_.location.isp(), options_.location.zone(),
                  options_.location.host()};
    const storage::StoreStats stats = store_->Stats();
    m.capacity_bytes = stats.capacity_bytes;
    m.free_bytes = stats.free_bytes;
    published_free_ = stats.free_bytes;
    published_capacity_ = stats.capacity_bytes;
    if (!options_.grpc_advertise.empty()) {
      m.grpc_address = options_.grpc_advertise;
    } else {
      std::string host = ParseHostPort(options_.listen)->host;
      if (IsWildcardHost(host)) {
        const std::string gossip =
            options_.gossip_advertise.empty() ? options_.gossip_listen : options_.gossip_advertise;
        host = ParseHostPort(gossip)->host;
      }
      if (IsWildcardHost(host)) {
        return absl::InvalidArgumentError(
            "cannot tell which gRPC address to publish: set grpc_advertise (or gossip_advertise) "
            "when listen and gossip_listen are wildcard addresses");
      }
      m.grpc_address = FormatHostPort(host, port_);
    }
    if (absl::Status s = m.Validate(); !s.ok()) return s;
    auto membership = p2p::MembershipService::Start(std::move(m), identity_.get());
    if (!membership.ok()) return membership.status();
    std::shared_ptr<p2p::MembershipService> service(std::move(*membership));
    {
      absl::MutexLock lock(&membership_mu_);
      membership_ = service;
      // A drain survives restarts (the marker file); say so from the first gossip on.
      if (draining_) service->SetState(p2p::MemberState::kDraining);
    }
    TESSERA_LOG(INFO, "membership_started")
        .Field("gossip_address", service->gossip_address())
        .Field("seeds", options_.seeds.size());
    refresher_ = std::thread([this, service] { RefreshCapacityLoop(service.get()); });
    BandwidthReporterDeps deps;
    deps.estimator = bandwidth_;
    deps.view = [service] { return service->view(); };
    deps.publish = [service](const p2p::BandwidthSummary& s) { service->SetBandwidth(s); };
    deps.probe = [this](const std::string& node_id, const std::string& address) {
      return Probe(node_id, address);
    };
    reporter_ = std::make_unique<BandwidthReporter>(options_.bandwidth, std::move(deps));
    reporter_->Start();
    return absl::OkStatus();
  }

  // A NodeInfo call: small, answered from memory, so its duration is a round trip. Reporter
  // thread only (probe_stubs_).
  absl::Status Probe(const std::string& node_id, const std::string& address) {
    auto& stub = probe_stubs_[std::make_pair(node_id, address)];
    if (stub == nullptr) {
      stub = v1::SliceService::NewStub(
          p2p::CreateNodeChannel(address, grpc::ChannelArguments(),
                                 std::shared_ptr<const p2p::ClusterAuth>(
                                     std::shared_ptr<const p2p::ClusterAuth>(), auth_.get()),
                                 node_id));
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::NodeInfoRequest request;
    v1::NodeInfoResponse response;
    const grpc::Status s = stub->NodeInfo(&ctx, request, &response);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    return absl::OkStatus();
  }

  // Re-publishes capacity/free bytes when they moved by more than 1 % of capacity (or 64 MiB,
  // whichever is smaller), so the cluster sees fresh numbers without a new incarnation per put.
  void RefreshCapacityLoop(p2p::MembershipService* membership) {
    while (!stop_refresh_.WaitForNotificationWithTimeout(options_.capacity_refresh_interval)) {
      const storage::StoreStats stats = store_->Stats();
      const uint64_t threshold = std::min<uint64_t>(stats.capacity_bytes / 100, 64ull << 20);
      const uint64_t delta = stats.free_bytes > published_free_
                                 ? stats.free_bytes - published_free_
                                 : published_free_ - stats.free_bytes;
      if (stats.capacity_bytes != published_capacity_ || delta > threshold) {
        membership->SetCapacity(stats.capacity_bytes, stats.free_bytes);
        published_capacity_ = stats.capacity_bytes;
        published_free_ = stats.free_bytes;
      }
    }
  }

  // SetDraining (tessera node drain / undrain / remove): persists the state in <data_dir>/draining
  // and publishes it through membership. Leaving needs a drained, empty node.
  absl::StatusOr<bool> ApplyDrain(const v1::SetDrainingRequest& request) override {
    Env* env = options_.env != nullptr ? options_.env : Env::Default();
    const std::string marker = DrainMarker();
    absl::MutexLock lock(&membership_mu_);
    if (request.leave()) {
      if (!draining_) {
        return absl::FailedPreconditionError(
            "drain the node before it leaves (tessera node drain)");
      }
      const uint64_t slices = store_->Stats().slice_count;
      if (slices > 0) {
        return absl::FailedPreconditionError(
            absl::StrCat(slices, " slices are still on this node: wait for the drain to finish"));
      }
      if (membership_ != nullptr) membership_->SetState(p2p::MemberState::kLeft);
      TESSERA_LOG(INFO, "node_left_cluster");
      return true;
    }
    if (request.draining()) {
      if (absl::Status s = WriteFileAtomically(env, marker, "draining\n"); !s.ok()) return s;
    } else if (env->FileExists(marker)) {
      if (absl::Status s = env->DeleteFile(marker); !s.ok()) return s;
    }
    draining_ = request.draining();
    if (membership_ != nullptr) {
      membership_->SetState(draining_ ? p2p::MemberState::kDraining : p2p::MemberState::kAlive);
    }
    TESSERA_LOG(INFO, "node_draining").Field("draining", draining_);
    return draining_;
  }
  void AddStatus(v1::NodeInfoResponse* info) const override {
    std::function<v1::RepairStatus()> repair;
    {
      absl::MutexLock lock(&membership_mu_);
      info->set_draining(draining_);
      repair = repair_status_;
    }
    if (repair) *info->mutable_repair() = repair();
    if (scrubber_ != nullptr) {
      const storage::ScrubberStats stats = scrubber_->stats();
      v1::ScrubStatus* scrub = info->mutable_scrub();
      scrub->set_passes(stats.passes);
      scrub->set_slices_checked(stats.slices_checked);
      scrub->set_bytes_checked(stats.bytes_checked);
      scrub->set_corrupt_found(stats.corrupt_found);
      scrub->set_errors(stats.errors);
      scrub->set_pass_slices_checked(stats.pass_slices_checked);
    }
  }
  void SetRepairStatus(std::function<v1::RepairStatus()> source) {
    absl::MutexLock lock(&membership_mu_);
    repair_status_ = std::move(source);
  }
  std::string DrainMarker() const { return options_.data_dir + "/draining"; }

  // /readyz: the store is open and, when the node was given seeds, it has joined the overlay
  // (it sees another member alive). A first node started without seeds is ready on its own.
  // Whether the cluster has enough nodes for full-redundancy writes is the front ends' readiness
  // (they know k+m); a node serves reads and repair either way.
  absl::Status Readiness() {
    if (store_ == nullptr) return absl::UnavailableError("slice store not open");
    if (!options_.enable_membership || options_.seeds.empty()) return absl::OkStatus();
    std::shared_ptr<const p2p::MembershipView> view = MembershipView();
    if (view == nullptr) return absl::UnavailableError("membership not started");
    for (const p2p::MemberInfo& m : view->members()) {
      if (!m.is_self && m.liveness == p2p::MemberLiveness::kAlive) return absl::OkStatus();
    }
    return absl::UnavailableError(absl::StrCat(
        "not joined the overlay: no other member seen alive (", options_.seeds.size(), " seeds)"));
  }

  std::shared_ptr<const p2p::MembershipView> MembershipView() {
    absl::MutexLock lock(&membership_mu_);
    if (membership_ == nullptr) return nullptr;
    return membership_->view();
  }

  void Shutdown(absl::Duration grace) {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
    if (admin_ != nullptr) admin_->SetHealth(Health::kStopping);
    // Before the MetaService stops: a pass ends after its current batch.
    if (compactor_ != nullptr) compactor_->Stop();
    std::shared_ptr<p2p::MembershipService> membership;
    {
      absl::MutexLock lock(&membership_mu_);
      membership = membership_;
    }
    const absl::Time leave_start = absl::Now();
    if (refresher_.joinable()) {
      stop_refresh_.Notify();
      refresher_.join();
    }
    if (reporter_ != nullptr) reporter_->Stop();
    // Tell the cluster first, so gateways stop choosing this node while its RPCs drain.
    if (membership != nullptr) membership->SetState(p2p::MemberState::kLeft);
    if (server_ != nullptr) {
      // Stops accepting at once; in-flight calls get until the deadline, then are cancelled.
      // Reactors still queued on the executor finish their calls, as it keeps running here.
      server_->Shutdown(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(grace));
      server_->Wait();
      TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "rpcs_drained");
    }
    if (membership != nullptr) {
      const absl::Duration wait = std::min(options_.leave_wait, grace);
      const absl::Duration left = wait - (absl::Now() - leave_start);
      if (left > absl::ZeroDuration()) absl::SleepFor(left);
      membership->Stop();
      TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "membership_left");
    }
    if (executor_ != nullptr) executor_->Shutdown();
    if (scrubber_ != nullptr) scrubber_->Stop();
    // The admin server's /metrics reads the store: stop it before the store goes away.
    if (admin_ != nullptr) admin_->Stop();
    TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "executor_and_admin_stopped");
    server_.reset();
    meta_service_.reset();
    compactor_.reset();
    compactor_client_.reset();  // waits for its RPCs' callbacks
    meta_store_.reset();        // closes the metadata RocksDB
    service_.reset();
    core_.reset();
    scrubber_.reset();
    store_.reset();  // closes the index
    TESSERA_LOG(DEBUG, "node_shutdown").Field("step", "store_closed");
  }

  NodeOptions options_;
  std::unique_ptr<p2p::NodeIdentity> identity_;
  std::unique_ptr<p2p::ClusterAuth> auth_;
  std::shared_ptr<p2p::GossipAuth> gossip_auth_;  // with a cluster secret only
  mutable absl::Mutex membership_mu_;
  std::shared_ptr<p2p::MembershipService> membership_ ABSL_GUARDED_BY(membership_mu_);
  std::thread refresher_;
  absl::Notification stop_refresh_;
  uint64_t published_free_ = 0;      // refresher thread only (after start)
  uint64_t published_capacity_ = 0;  // refresher thread only (after start)
  std::shared_ptr<p2p::BandwidthEstimator> bandwidth_ = std::make_shared<p2p::BandwidthEstimator>();
  std::map<std::pair<std::string, std::string>, std::unique_ptr<v1::SliceService::Stub>>
      probe_stubs_;  // reporter thread only
  // Declared after what its thread uses (destroyed, and so stopped, first).
  std::unique_ptr<BandwidthReporter> reporter_;  // with membership only
  std::unique_ptr<storage::SliceStore> store_;
  std::unique_ptr<storage::Scrubber> scrubber_;  // null when scrubbing is off
  std::unique_ptr<NodeMetrics> metrics_;
  std::unique_ptr<SliceServiceCore> core_;
  std::unique_ptr<BoundedExecutor> executor_;
  std::unique_ptr<SliceServiceImpl> service_;
  std::unique_ptr<Clock> meta_clock_;  // test_meta_clock_offset only; outlives meta_store_
  std::unique_ptr<AcceptorStore> meta_store_;
  std::unique_ptr<MetaServiceImpl> meta_service_;
  std::unique_ptr<GrpcAcceptorClient> compactor_client_;  // null without compaction
  std::unique_ptr<MetaCompactor> compactor_;
  std::unique_ptr<AdminServer> admin_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  bool draining_ ABSL_GUARDED_BY(membership_mu_) = false;
  std::function<v1::RepairStatus()> repair_status_ ABSL_GUARDED_BY(membership_mu_);
};

absl::StatusOr<std::unique_ptr<NodeServer>> NodeServer::Start(NodeOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  auto impl = std::make_unique<Impl>();
  if (absl::Status s = impl->Init(std::move(options)); !s.ok()) {
    impl->Shutdown(absl::ZeroDuration());
    return s;
  }
  return std::unique_ptr<NodeServer>(new NodeServer(std::move(impl)));
}

NodeServer::NodeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NodeServer::~NodeServer() { Shutdown(absl::ZeroDuration()); }
uint16_t NodeServer::port() const { return impl_->port_; }
uint16_t NodeServer::admin_port() const { return impl_->admin_->port(); }
const std::string& NodeServer::node_id() const { return impl_->identity_->node_id(); }
void NodeServer::Shutdown(absl::Duration grace) { impl_->Shutdown(grace); }
std::shared_ptr<p2p::BandwidthEstimator> NodeServer::bandwidth() const { return impl_->bandwidth_; }

void NodeServer::SetRepairStatus(std::function<v1::RepairStatus()> source) {
  impl_->SetRepairStatus(std::move(source));
}

std::shared_ptr<const p2p::MembershipView> NodeServer::membership_view() const {
  return impl_->MembershipView();
}
std::string NodeServer::gossip_address() const {
  absl::MutexLock lock(&impl_->membership_mu_);
  return impl_->membership_ != nullptr ? impl_->membership_->gossip_address() : "";
}

}  // namespace tessera::services
