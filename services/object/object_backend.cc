#include "services/object/object_backend.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/logging.h"
#include "base/status_reasons.h"
#include "services/meta/layout_record.h"
#include "services/object/locality_traffic.h"
#include "storage/crypto/key_file.h"

namespace tessera::services {

absl::Status LayoutMaintainerOptions::Validate() const {
  if (grace_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("layout_maintainer.grace_period must be >= 0");
  }
  if (check_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("layout_maintainer.check_interval must be > 0");
  }
  if (handoff_timeout < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("layout_maintainer.handoff_timeout must be >= 0");
  }
  return absl::OkStatus();
}

absl::Status ObjectBackendOptions::Validate() const {
  if (seeds.empty()) return absl::InvalidArgumentError("seeds: at least one storage node address");
  const bool has_auth = auth != nullptr || !cluster_secret_file.empty();
  if (has_auth && insecure_no_auth) {
    return absl::InvalidArgumentError(
        "cluster_secret_file and insecure_no_auth are mutually exclusive");
  }
  if (!has_auth && !insecure_no_auth) {
    return absl::InvalidArgumentError(
        "cluster_secret_file is required (or insecure_no_auth for development)");
  }
  if (keyring == nullptr && master_key_file.empty() && !keyless) {
    return absl::InvalidArgumentError("master_key_file is required");
  }
  if (data_path_threads == 0) return absl::InvalidArgumentError("data_path_threads must be > 0");
  if (membership_refresh <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("membership_refresh must be > 0");
  }
  if (meta_rpc_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("meta_rpc_deadline must be > 0");
  }
  if (absl::Status s = EffectiveLayout().Validate(); !s.ok()) return s;
  if (absl::Status s = layout_maintainer.Validate(); !s.ok()) return s;
  return data.Validate();
}

LayoutOptions ObjectBackendOptions::EffectiveLayout() const {
  if (layout.replicas != 0) return layout;
  LayoutOptions derived = layout;
  const uint32_t m = static_cast<uint32_t>(std::max(data.parity_shards, 0));
  derived.replicas = std::max<uint32_t>(3, 2 * m + 1);
  derived.write_quorum = derived.replicas / 2 + 1;
  derived.read_quorum = derived.replicas / 2 + 1;
  return derived;
}

ObjectBackend::~ObjectBackend() {
  // Users are gone; stop what runs on its own in dependency order.
  stop_.Notify();
  if (maintainer_.joinable()) maintainer_.join();
  if (reclaimer_.joinable()) reclaimer_.join();
  orphans_.reset();
  lister_.reset();
  gc_.reset();
  objects_.reset();
  pool_.reset();     // drains slice RPCs
  cluster_.reset();  // stops the membership refresher
  store_.reset();
  meta_.reset();
}

absl::StatusOr<std::unique_ptr<ObjectBackend>> OpenObjectBackend(ObjectBackendOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<ObjectBackend> b(new ObjectBackend());
  b->write_width_ = options.data.data_shards + options.data.parity_shards;

  if (options.auth != nullptr) {
    b->auth_ = options.auth;
  } else if (!options.cluster_secret_file.empty()) {
    auto auth = p2p::ClusterAuth::FromSecretFile(options.cluster_secret_file, options.caller_id);
    if (!auth.ok()) return auth.status();
    b->auth_ = *std::move(auth);
  }

  const storage::MasterKeyring* keyring = options.keyring;
  if (keyring == nullptr && !options.keyless) {
    auto loaded = storage::LoadMasterKeyFile(options.master_key_file);
    if (!loaded.ok()) return loaded.status();
    b->owned_keyring_ = *std::move(loaded);
    keyring = b->owned_keyring_.get();
  }

  MembershipClusterViewOptions view_options;
  view_options.seeds = options.seeds;
  view_options.seed_node_ids = options.seed_node_ids;
  view_options.auth = b->auth_;
  view_options.refresh_interval = options.membership_refresh;
  auto cluster = MembershipClusterView::Start(std::move(view_options));
  if (!cluster.ok()) return cluster.status();
  b->cluster_ = *std::move(cluster);

  // The client starts on a placeholder view of the alive members (epoch 0: not sent, never used
  // for data) and follows the decided record from here on.
  const LayoutOptions layout_options = options.EffectiveLayout();
  const std::vector<MetaMember> members = b->cluster_->members();
  auto placeholder = Layout::Compute(0, members, layout_options);
  if (!placeholder.ok()) return placeholder.status();
  MetaClientOptions meta_options;
  meta_options.auth = b->auth_;
  meta_options.rpc_deadline = options.meta_rpc_deadline;
  meta_options.rpc_observer = options.meta_rpc_observer;
  auto meta = MetaClient::Create(LayoutView(*std::move(placeholder)), std::move(meta_options));
  if (!meta.ok()) return meta.status();
  b->meta_ = *std::move(meta);
  // A new cluster: epoch 1 is proposed from the members we see, all of which must take part; a
  // concurrent first gateway whose view shares any node with ours loses the CAS and follows the
  // winner's record.
  absl::StatusOr<v1::LayoutRecord> record =
      options.keyless ? b->meta_->LoadLayout(members)
                      : b->meta_->LoadOrCreateLayout(members, layout_options);
  if (options.keyless && record.status().code() == absl::StatusCode::kNotFound) {
    return absl::UnavailableError("no metadata layout yet (a front end creates it)");
  }
  if (!record.ok()) {
    return absl::Status(record.status().code(),
                        absl::StrCat("loading the metadata layout record from ", members.size(),
                                     " members: ", record.status().message()));
  }
  TESSERA_LOG(INFO, "meta_layout_loaded")
      .Field("epoch", record->epoch())
      .Field("members", record->members_size())
      .Field("in_transition", record->in_transition());
  b->maintainer_options_ = options.layout_maintainer;
  if (b->maintainer_options_.clock == nullptr) b->maintainer_options_.clock = Clock::Real();

  b->store_ = std::make_unique<ReplicatedManifestStore>(b->meta_.get());

  if (options.bandwidth != nullptr) b->bandwidth_ = options.bandwidth;
  auto traffic = LocalityTraffic::Create(
      options.location,
      [cluster = b->cluster_.get()](const std::string& address) -> std::optional<v1::Location> {
        const std::shared_ptr<const ClusterSnapshot> snapshot = cluster->Snapshot();
        for (const StorageNode& n : snapshot->nodes()) {
          if (n.address != address) continue;
          v1::Location where;
          where.set_site(n.site);
          where.set_zone(n.zone);
          where.set_isp(n.isp);
          return where;
        }
        return std::nullopt;
      },
      b->bandwidth_, options.registry != nullptr ? options.registry : &Registry::Default());
  if (!traffic.ok()) return traffic.status();
  GrpcSliceClientOptions slice_options;
  slice_options.auth = b->auth_;
  slice_options.observer = *std::move(traffic);
  // Slice RPCs go to the node the placement chose, checked by its id over TLS. The view
  // outlives every slice RPC (the destructor drains pool_ before resetting cluster_).
  slice_options.node_id_for_address = [cluster = b->cluster_.get()](const std::string& address) {
    const std::shared_ptr<const ClusterSnapshot> snapshot = cluster->Snapshot();
    for (const StorageNode& n : snapshot->nodes()) {
      if (n.address == address) return n.id;
    }
    return std::string();
  };
  if (absl::Status s = slice_options.Validate(); !s.ok()) return s;
  b->grpc_slices_ = std::make_unique<GrpcSliceClient>(slice_options);
  b->pool_ = std::make_unique<WorkPool>(options.data_path_threads);

  b->deps_.cluster = b->cluster_.get();
  b->deps_.slices = options.slices != nullptr ? options.slices : b->grpc_slices_.get();
  b->deps_.keyring = keyring;
  b->deps_.key_source = options.key_source;
  b->deps_.pool = b->pool_.get();
  b->deps_.clock = options.clock;
  // Readers re-check their version against the slice GC's grace (ObjectReader "Long reads"),
  // whether or not this backend runs the collector.
  b->deps_.versions = b->store_.get();
  b->deps_.gc_grace = options.gc.grace;
  // A writer gives up before the orphan reclaimer (of this or any gateway configured alike) could
  // take its slices as abandoned: its stall guard is at most half the orphan grace.
  const absl::Duration stall_cap = options.orphans.grace / 2;
  if (options.data.max_write_stall == absl::ZeroDuration() ||
      options.data.max_write_stall > stall_cap) {
    options.data.max_write_stall = stall_cap;
  }
  if (!options.keyless) {
    auto objects = ObjectService::Create(options.data, b->deps_, b->store_.get());
    if (!objects.ok()) return objects.status();
    b->objects_ = *std::move(objects);
  }
  if (b->maintainer_options_.run_thread) {
    ObjectBackend* raw = b.get();
    b->maintainer_ = std::thread([raw] { raw->MaintainLoop(); });
  }
  if (options.gc_interval > absl::ZeroDuration()) {
    if (absl::Status s = options.gc.Validate(); !s.ok()) return s;
    b->gc_ = std::make_unique<SliceGarbageCollector>(options.gc, b->deps_, b->store_.get());
    storage::StripeCodecOptions codec_options;
    codec_options.data_shards = options.data.data_shards;
    codec_options.parity_shards = options.data.parity_shards;
    codec_options.slice_alignment = options.data.slice_alignment;
    auto codec = storage::StripeCodec::Create(codec_options);
    if (!codec.ok()) return codec.status();
    b->upload_codec_ = *std::move(codec);
    b->upload_purger_ = std::make_unique<MultipartUploads>(options.data, b->deps_, b->store_.get(),
                                                           b->upload_codec_.get());
    b->completed_upload_retention_ = options.completed_upload_retention;
  }
  if (options.orphan_interval > absl::ZeroDuration()) {
    if (absl::Status s = options.orphans.Validate(); !s.ok()) return s;
    b->lister_ = NewGrpcSliceLister(b->auth_);
    b->orphans_ = std::make_unique<OrphanReclaimer>(options.orphans, b->deps_, b->store_.get(),
                                                    b->lister_.get());
  }
  if (b->gc_ != nullptr || b->orphans_ != nullptr) {
    ObjectBackend* raw = b.get();
    b->reclaimer_ = std::thread([raw, gc = options.gc_interval, orphan = options.orphan_interval] {
      raw->ReclaimLoop(gc, orphan);
    });
  }
  return b;
}

void ObjectBackend::ReclaimLoop(absl::Duration gc_interval, absl::Duration orphan_interval) {
  absl::Time next_gc = absl::Now() + gc_interval;
  absl::Time next_orphans = absl::Now() + orphan_interval;
  absl::Duration tick = absl::Seconds(1);
  for (absl::Duration d : {gc_interval, orphan_interval}) {
    if (d > absl::ZeroDuration()) tick = std::min(tick, d);
  }
  while (!stop_.WaitForNotificationWithTimeout(tick)) {
    const absl::Time now = absl::Now();
    if (gc_ != nullptr && now >= next_gc) {
      absl::StatusOr<SliceGcStats> st = gc_->RunOnce();
      if (!st.ok()) {
        TESSERA_LOG(WARNING, "slice_gc_failed").Field("error", st.status().message());
      } else if (st->versions_collected > 0 || st->slice_failures > 0) {
        TESSERA_LOG(INFO, "slice_gc_pass")
            .Field("versions", st->versions_collected)
            .Field("slices_deleted", st->slices_deleted)
            .Field("slice_failures", st->slice_failures);
      }
      if (upload_purger_ != nullptr) {
        absl::StatusOr<int> purged = upload_purger_->PurgeFinished(completed_upload_retention_);
        if (!purged.ok()) {
          TESSERA_LOG(WARNING, "upload_purge_failed").Field("error", purged.status().message());
        } else if (*purged > 0) {
          TESSERA_LOG(INFO, "upload_purge_pass").Field("records", *purged);
        }
      }
      next_gc = absl::Now() + gc_interval;
    }
    if (orphans_ != nullptr && now >= next_orphans) {
      absl::StatusOr<OrphanReclaimStats> st = orphans_->RunOnce();
      if (!st.ok()) {
        TESSERA_LOG(WARNING, "orphan_reclaim_failed").Field("error", st.status().message());
      } else if (st->orphan_versions > 0 || st->slice_failures > 0) {
        TESSERA_LOG(INFO, "orphan_reclaim_pass")
            .Field("orphan_versions", st->orphan_versions)
            .Field("slices_deleted", st->slices_deleted)
            .Field("slice_failures", st->slice_failures);
      }
      next_orphans = absl::Now() + orphan_interval;
    }
  }
}

void ObjectBackend::MaintainLoop() {
  while (!stop_.WaitForNotificationWithTimeout(maintainer_options_.check_interval)) {
    if (absl::Status s = MaintainLayoutOnce(); !s.ok()) {
      TESSERA_LOG(WARNING, "meta_layout_maintenance_failed").Field("error", s.message());
    }
  }
}

absl::Status ObjectBackend::MaintainLayoutOnce() {
  absl::MutexLock lock(&maintain_mu_);
  const std::vector<MetaMember> alive = cluster_->members();
  // Periodic refresh: another gateway may have decided a newer epoch (requests would also find
  // out through "stale layout epoch" refusals, but only once the acceptors they touch know).
  absl::StatusOr<v1::LayoutRecord> record = meta_->ReloadLayout();
  if (!record.ok()) record = meta_->LoadLayout(alive);  // e.g. the record's members moved
  if (!record.ok()) return record.status();
  if (record->in_transition()) return DriveHandOff();
  transition_since_.reset();
  if (SameMembers(RecordMembers(*record), alive)) {
    members_differ_since_.reset();
    return absl::OkStatus();
  }
  const absl::Time now = maintainer_options_.clock->Now();
  if (!members_differ_since_.has_value()) {
    members_differ_since_ = now;
    TESSERA_LOG(INFO, "meta_layout_members_differ")
        .Field("epoch", record->epoch())
        .Field("decided_members", record->members_size())
        .Field("alive_members", alive.size());
  }
  if (now - *members_differ_since_ < maintainer_options_.grace_period) return absl::OkStatus();
  absl::StatusOr<v1::LayoutRecord> proposed = meta_->ProposeLayout(alive);
  if (!proposed.ok()) {
    // Another gateway changed the record first: it is reloaded; the next round continues.
    if (IsLayoutChanged(proposed.status())) return absl::OkStatus();
    return proposed.status();
  }
  members_differ_since_.reset();
  return DriveHandOff();
}

absl::Status ObjectBackend::DriveHandOff() {
  std::optional<v1::LayoutRecord> record = meta_->layout_record();
  if (!record.has_value() || !record->in_transition()) return absl::OkStatus();
  const absl::Time now = maintainer_options_.clock->Now();
  if (!transition_since_.has_value() || transition_since_->first != record->epoch()) {
    transition_since_ = std::make_pair(record->epoch(), now);
  }
  absl::Status done = meta_->CompleteHandOff();
  if (done.ok()) {
    transition_since_.reset();
    return done;
  }
  if (now - transition_since_->second < maintainer_options_.handoff_timeout) return done;
  // Stuck (e.g. W replicas of a new set unreachable): reads and writes keep working on the old
  // sets once the transition is rolled back; the next round proposes from the members alive then.
  TESSERA_LOG(WARNING, "meta_layout_handoff_stuck")
      .Field("epoch", record->epoch())
      .Field("error", done.message());
  absl::Status abandoned = meta_->AbandonHandOff();
  if (abandoned.ok() || absl::IsFailedPrecondition(abandoned)) {
    transition_since_.reset();  // rolled back, or another gateway moved the record meanwhile
    members_differ_since_.reset();
    return absl::OkStatus();
  }
  return abandoned;
}

absl::Status ObjectBackend::Readiness() const {
  const std::shared_ptr<const ClusterSnapshot> snapshot = cluster_->Snapshot();
  int writable = 0;
  for (const StorageNode& node : snapshot->nodes()) writable += node.alive && !node.draining;
  if (writable < write_width_) {
    return absl::UnavailableError(absl::StrCat(writable, " storage nodes alive and writable, ",
                                               write_width_,
                                               " needed for writes at full redundancy"));
  }
  // A metadata partition without a quorum is not a reason: it blocks the keys hashed to it, not
  // the others, and failing /readyz on every front end at once would turn that partial outage
  // into a total one. It shows in tessera_meta_partitions{quorum="unavailable"} and its alert.
  return absl::OkStatus();
}

BackendHealth ObjectBackend::Health() const {
  BackendHealth h;
  h.write_width = write_width_;
  std::shared_ptr<const ClusterSnapshot> snapshot = cluster_->Snapshot();
  for (const StorageNode& node : snapshot->nodes()) {
    if (!node.alive) {
      ++h.nodes_down;
    } else if (node.draining) {
      ++h.nodes_draining;
    } else {
      ++h.nodes_writable;
    }
  }
  std::optional<v1::LayoutRecord> record = meta_->layout_record();
  if (!record.has_value()) return h;
  h.layout_epoch = record->epoch();
  h.layout_in_transition = record->in_transition();
  const LayoutView view = meta_->layout();
  for (uint32_t p = 0; p < view.partitions(); ++p) {
    bool at_risk = false, unavailable = false;
    for (const ReplicaSet& set : view.ReplicaSets(p)) {
      uint32_t alive = 0;
      for (const std::string& id : set.nodes) {
        const StorageNode* node = snapshot->Find(id);
        if (node != nullptr && node->alive) ++alive;
      }
      unavailable |= alive < set.write_quorum;
      at_risk |= alive == set.write_quorum;
    }
    if (unavailable) {
      ++h.partitions_unavailable;
    } else if (at_risk) {
      ++h.partitions_at_risk;
    } else {
      ++h.partitions_healthy;
    }
  }
  return h;
}

}  // namespace tessera::services
