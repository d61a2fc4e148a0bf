#include "services/repair/repair_worker.h"

#include <utility>
#include <vector>

#include "base/logging.h"

namespace tessera::services {
namespace {

// FNV-1a then a splitmix64 finaliser: stable across processes and releases (absl::Hash is
// seeded per process, so nodes would disagree on preferences).
uint64_t StableHash(const std::string& a, const std::string& b) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : a) mix(c);
  mix(0);
  for (unsigned char c : b) mix(c);
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

}  // namespace

std::string PreferredRepairer(const ClusterSnapshot& snapshot, const std::string& bucket) {
  std::string best;
  uint64_t best_hash = 0;
  for (const StorageNode& node : snapshot.nodes()) {
    if (!node.alive) continue;
    const uint64_t h = StableHash(bucket, node.id);
    if (best.empty() || h > best_hash || (h == best_hash && node.id < best)) {
      best = node.id;
      best_hash = h;
    }
  }
  return best;
}

absl::Status RepairWorkerOptions::Validate() const {
  if (node_id.empty()) return absl::InvalidArgumentError("RepairWorkerOptions.node_id is required");
  if (self_address.empty()) {
    return absl::InvalidArgumentError("RepairWorkerOptions.self_address is required");
  }
  if (interval <= absl::ZeroDuration() || open_retry <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("RepairWorkerOptions: interval and open_retry must be > 0");
  }
  if (lease_duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("RepairWorkerOptions.lease_duration must be > 0");
  }
  if (rpc_threads < 1) return absl::InvalidArgumentError("RepairWorkerOptions.rpc_threads < 1");
  return repair.Validate();
}

absl::StatusOr<std::unique_ptr<RepairWorker>> RepairWorker::Start(RepairWorkerOptions options) {
  if (absl::Status s = options.Validate(); !s.ok()) return s;
  std::unique_ptr<RepairWorker> w(new RepairWorker(std::move(options)));
  auto metrics = RepairMetrics::Create(w->options_.registry != nullptr ? w->options_.registry
                                                                       : &Registry::Default());
  if (!metrics.ok()) return metrics.status();
  w->metrics_ = *std::move(metrics);
  RepairWorker* raw = w.get();
  w->runner_ = std::thread([raw] { raw->Run(); });
  w->renewer_ = std::thread([raw] { raw->RenewLoop(); });
  return w;
}

RepairWorker::~RepairWorker() { Stop(); }

void RepairWorker::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (repairer_ != nullptr && opened_.HasBeenNotified()) repairer_->Cancel();
  if (runner_.joinable()) runner_.join();
  if (renewer_.joinable()) renewer_.join();
  if (leases_ != nullptr) leases_->ReleaseAll();
  repairer_.reset();
  leases_.reset();
  pool_.reset();
  lister_.reset();
  backend_.reset();
}

absl::Status RepairWorker::Open() {
  ObjectBackendOptions o;
  o.seeds = {options_.self_address};
  o.seed_node_ids = {{options_.self_address, options_.node_id}};
  o.auth = options_.auth;
  o.insecure_no_auth = options_.auth == nullptr;
  o.keyless = true;
  o.caller_id = "repair";
  o.layout_maintainer.run_thread = false;  // front ends drive layouts; repair only follows
  o.bandwidth = options_.bandwidth;
  o.location = options_.location;
  o.registry = options_.registry;
  absl::StatusOr<std::unique_ptr<ObjectBackend>> backend = OpenObjectBackend(std::move(o));
  if (!backend.ok()) return backend.status();
  backend_ = *std::move(backend);
  lister_ = NewGrpcSliceLister(backend_->auth());
  pool_ = std::make_unique<WorkPool>(options_.rpc_threads);
  RepairLeaseOptions lease;
  lease.holder = options_.node_id;
  lease.duration = options_.lease_duration;
  leases_ = std::make_unique<RepairLeases>(&backend_->meta(), lease);
  repairer_ = std::make_unique<Repairer>(options_.repair, &backend_->cluster(), &backend_->store(),
                                         &backend_->grpc_slices(), lister_.get(), pool_.get(),
                                         backend_->bandwidth(), metrics_.get());
  opened_.Notify();
  return absl::OkStatus();
}

bool RepairWorker::Admit(const std::string& bucket, std::set<std::string>& admitted) {
  const std::shared_ptr<const ClusterSnapshot> snapshot = backend_->cluster().Snapshot();
  if (PreferredRepairer(*snapshot, bucket) != options_.node_id) return false;
  absl::StatusOr<bool> held = leases_->Acquire(bucket);
  if (!held.ok()) {
    TESSERA_LOG(WARNING, "repair_lease_failed")
        .Field("bucket", bucket)
        .Field("status", held.status());
    return false;
  }
  if (*held) admitted.insert(bucket);
  return *held;
}

void RepairWorker::Run() {
  bool logged_wait = false;
  while (!stop_.HasBeenNotified()) {
    if (!opened_.HasBeenNotified()) {
      if (absl::Status s = Open(); !s.ok()) {
        if (!logged_wait) {
          TESSERA_LOG(INFO, "repair_waiting_for_cluster").Field("status", s);
          logged_wait = true;
        }
        stop_.WaitForNotificationWithTimeout(options_.open_retry);
        continue;
      }
      TESSERA_LOG(INFO, "repair_started").Field("interval", options_.interval);
    }
    std::set<std::string> admitted;
    absl::StatusOr<RepairPassStats> pass =
        repairer_->RunOnce([&](const std::string& bucket) { return Admit(bucket, admitted); });
    for (const std::string& bucket : leases_->Held()) {
      if (!admitted.contains(bucket)) leases_->Release(bucket);
    }
    metrics_->buckets_leased->Set(static_cast<double>(admitted.size()));
    if (!pass.ok()) {
      TESSERA_LOG(WARNING, "repair_pass_failed").Field("status", pass.status());
    } else if (pass->stripes_queued > 0 || pass->stripes_unreadable > 0) {
      TESSERA_LOG(INFO, "repair_pass")
          .Field("buckets", pass->buckets_scanned)
          .Field("stripes_scanned", pass->stripes_scanned)
          .Field("queued", pass->stripes_queued)
          .Field("repaired", pass->stripes_repaired)
          .Field("failed", pass->stripes_failed)
          .Field("unreadable", pass->stripes_unreadable)
          .Field("slices_rebuilt", pass->slices_rebuilt)
          .Field("bytes_written", pass->bytes_written)
          .Field("duration", pass->duration);
    }
    stop_.WaitForNotificationWithTimeout(options_.interval);
  }
}

void RepairWorker::RenewLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.lease_duration / 3)) {
    if (opened_.HasBeenNotified()) leases_->RenewAll();
  }
}

}  // namespace tessera::services
