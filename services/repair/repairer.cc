#include "services/repair/repairer.h"

#include <algorithm>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "base/status_reasons.h"
#include "services/object/data_path.h"

namespace tessera::services {
namespace {

using RepairQueue = std::multimap<std::tuple<int, int, uint64_t>, StripeRepairTask>;

const char* FailureReason(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kDataLoss:
      return "data_loss";
    case absl::StatusCode::kAborted:
      return "conflict";
    case absl::StatusCode::kFailedPrecondition:
      return "no_target";
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return "unavailable";
    default:
      return IsOutcomeUnknown(s) ? "unavailable" : "other";
  }
}

std::string RedundancyLabel(int redundancy) {
  return redundancy < 0 ? "unreadable" : absl::StrCat(redundancy);
}

}  // namespace

absl::Status RepairerOptions::Validate() const {
  if (dead_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("RepairerOptions.dead_grace must not be negative");
  }
  if (scan_batch < 1) return absl::InvalidArgumentError("RepairerOptions.scan_batch must be >= 1");
  if (max_queued_stripes < 1) {
    return absl::InvalidArgumentError("RepairerOptions.max_queued_stripes must be >= 1");
  }
  if (parallel_stripes < 1) {
    return absl::InvalidArgumentError("RepairerOptions.parallel_stripes must be >= 1");
  }
  if (!(rebalance.threshold >= 0 && rebalance.threshold <= 1)) {
    return absl::InvalidArgumentError("RepairerOptions.rebalance.threshold must be in [0, 1]");
  }
  return budget.Validate();
}

Repairer::Repairer(RepairerOptions options, ClusterView* cluster, ManifestStore* store,
                   SliceClient* slices, SliceLister* lister, WorkPool* pool,
                   std::shared_ptr<const p2p::BandwidthEstimator> bandwidth, RepairMetrics* metrics)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : Clock::Real()),
      cluster_(cluster),
      store_(store),
      lister_(lister),
      metrics_(metrics),
      budget_([this] {
        RepairBudgetOptions b = options_.budget;
        if (b.clock == nullptr) b.clock = clock_;
        return b;
      }()),
      stripes_(slices, pool, store, std::move(bandwidth), &budget_) {}

std::set<DamagedSlice> Repairer::ListDamaged(const ClusterSnapshot& snapshot,
                                             RepairPassStats& stats) {
  std::set<DamagedSlice> damaged;
  for (const StorageNode& node : snapshot.nodes()) {
    if (!node.alive) continue;
    v1::ListSlicesRequest request;
    request.set_only_damaged(true);
    bool ok = true;
    do {
      absl::StatusOr<v1::ListSlicesResponse> page = lister_->List(node.id, node.address, request);
      if (!page.ok()) {
        TESSERA_LOG(WARNING, "repair_list_damaged_failed")
            .Field("node", node.id)
            .Field("status", page.status());
        ok = false;
        break;
      }
      for (const v1::SliceInfo& s : page->slices()) {
        damaged.insert(DamagedSlice{node.id, s.id().version_id(), s.id().part(), s.id().stripe(),
                                    s.id().index()});
      }
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    ++(ok ? stats.nodes_listed : stats.node_list_failures);
  }
  stats.damaged_slices = static_cast<int>(damaged.size());
  return damaged;
}

std::optional<StripeRepairTask> Repairer::RebalanceMove(const v1::StripeRecord& stripe, int m,
                                                        const NodeConditions& nodes,
                                                        RebalancePlan& plan) {
  const ClusterSnapshot& snapshot = nodes.snapshot();
  std::set<std::string> holders;
  std::map<std::string, int> per_site;
  for (const v1::SliceRef& ref : stripe.slices()) {
    holders.insert(ref.node_id());
    if (const StorageNode* n = snapshot.Find(ref.node_id()); n != nullptr) ++per_site[n->site];
  }
  for (int i = 0; i < stripe.slices_size(); ++i) {
    const StorageNode* source = snapshot.Find(stripe.slices(i).node_id());
    if (source == nullptr || !plan.IsSource(source->id)) continue;
    // Some target must take it without a site holding more than m slices of the stripe.
    bool placeable = false;
    for (const std::string& t : plan.targets()) {
      const StorageNode* target = snapshot.Find(t);
      if (target == nullptr || holders.contains(t)) continue;
      placeable |= target->site == source->site || per_site[target->site] < m;
    }
    if (!placeable || !plan.Claim(source->id, stripe.slice_size())) continue;
    StripeRepairTask task;
    task.stripe = stripe;
    task.assessment.healthy = stripe.slices_size();
    task.assessment.moving = {i};
    task.targets = plan.targets();
    return task;
  }
  return std::nullopt;
}

absl::Status Repairer::ScanBucket(const std::string& bucket, const NodeConditions& nodes,
                                  RebalancePlan& plan, RepairQueue& queue, RepairPassStats& stats) {
  std::string after;
  while (true) {
    absl::StatusOr<std::vector<KeyVersions>> batch =
        store_->ScanVersions(bucket, after, options_.scan_batch);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return absl::OkStatus();
    for (const KeyVersions& key : *batch) {
      for (const v1::ObjectManifest& listed : key.versions) {
        if (listed.delete_marker() || listed.parts_size() == 0) continue;
        ++stats.versions_scanned;
        v1::ObjectManifest whole;
        const v1::ObjectManifest* m = &listed;
        if (listed.stripe_chunks() > 0) {  // a head only: read the stripes
          absl::StatusOr<v1::ObjectManifest> got =
              store_->Get(bucket, listed.key(), listed.version_id());
          if (!got.ok()) {
            if (got.status().code() == absl::StatusCode::kNotFound) continue;  // collected
            return got.status();
          }
          whole = *std::move(got);
          m = &whole;
        }
        // Upload records written before they carried their code have none: their parts are
        // repaired once the upload completes (the object's manifest has it).
        if (m->coding().code_id() == 0) continue;
        const int k = static_cast<int>(m->coding().data_shards());
        for (const v1::PartRecord& part : m->parts()) {
          for (const v1::StripeRecord& stripe : part.stripes()) {
            ++stats.stripes_scanned;
            StripeAssessment a = AssessStripe(stripe, k, DataVersionId(*m), part.number(), nodes);
            if (!a.NeedsRepair()) {
              // Only data no other entry names: the old copy is deleted after the move, and a
              // completed upload's retained record (same data version, internal bucket) would
              // still name it.
              if (!plan.active() || a.healthy != stripe.slices_size() ||
                  DataVersionId(*m) != m->version_id() ||
                  std::find(options_.internal_buckets.begin(), options_.internal_buckets.end(),
                            bucket) != options_.internal_buckets.end()) {
                continue;
              }
              std::optional<StripeRepairTask> move =
                  RebalanceMove(stripe, static_cast<int>(m->coding().parity_shards()), nodes, plan);
              if (!move.has_value()) continue;
              move->bucket = bucket;
              move->key = m->key();
              move->version_id = m->version_id();
              move->data_version_id = DataVersionId(*m);
              move->coding = m->coding();
              move->part = part.number();
              ++stats.rebalance_moves;
              // After every repair: the least urgent work there is.
              queue.emplace(std::make_tuple(std::numeric_limits<int>::max(), 2, ++sequence_),
                            *std::move(move));
              if (queue.size() > options_.max_queued_stripes) {
                queue.erase(std::prev(queue.end()));
                ++stats.stripes_deferred;
              }
              continue;
            }
            const int redundancy = a.Redundancy(k);
            ++stats.degraded_by_redundancy[redundancy];
            if (redundancy < 0) {
              ++stats.stripes_unreadable;
              continue;
            }
            StripeRepairTask task;
            task.bucket = bucket;
            task.key = m->key();
            task.version_id = m->version_id();
            task.data_version_id = DataVersionId(*m);
            task.coding = m->coding();
            task.part = part.number();
            task.stripe = stripe;
            task.assessment = std::move(a);
            queue.emplace(std::make_tuple(redundancy, stripe.degraded() ? 0 : 1, ++sequence_),
                          std::move(task));
            if (queue.size() > options_.max_queued_stripes) {
              queue.erase(std::prev(queue.end()));  // the least urgent waits for the next pass
              ++stats.stripes_deferred;
            }
          }
        }
      }
    }
    after = batch->back().key;
  }
}

void Repairer::RepairQueued(RepairQueue& queue, const NodeConditions& nodes,
                            RepairPassStats& stats) {
  absl::Mutex mu;
  uint64_t queued_bytes = 0;
  for (const auto& [order, task] : queue) queued_bytes += task.TransferBytes();
  const absl::Time start = clock_->Now();
  uint64_t moved = 0;
  auto publish = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (metrics_ == nullptr) return;
    metrics_->queue_stripes->Set(static_cast<double>(queue.size()));
    metrics_->queue_bytes->Set(static_cast<double>(queued_bytes));
    const double elapsed = absl::ToDoubleSeconds(clock_->Now() - start);
    double eta = 0;
    if (queued_bytes > 0) {
      eta = moved > 0 && elapsed > 0 ? static_cast<double>(queued_bytes) / (moved / elapsed)
                                     : -1;  // unknown yet
    }
    metrics_->time_to_redundancy->Set(eta);
    if (elapsed > 0) metrics_->bytes_per_second->Set(static_cast<double>(moved) / elapsed);
  };
  {
    absl::MutexLock lock(&mu);
    publish();
  }
  std::vector<std::thread> workers;
  const int n = std::min<int>(options_.parallel_stripes, static_cast<int>(queue.size()));
  for (int w = 0; w < n; ++w) {
    workers.emplace_back([&] {
      while (true) {
        StripeRepairTask task;
        {
          absl::MutexLock lock(&mu);
          if (cancelled_.load()) {
            stats.stripes_deferred += queue.size();
            queue.clear();
          }
          if (queue.empty()) return;
          task = std::move(queue.begin()->second);
          queue.erase(queue.begin());
        }
        absl::StatusOr<StripeRepairOutcome> outcome = stripes_.Repair(task, nodes);
        absl::MutexLock lock(&mu);
        const uint64_t bytes = task.TransferBytes();
        queued_bytes -= std::min(queued_bytes, bytes);
        if (outcome.ok()) {
          ++stats.stripes_repaired;
          stats.slices_rebuilt += outcome->slices_stored;
          stats.slices_released += outcome->slices_released;
          stats.bytes_read += outcome->bytes_read;
          stats.bytes_written += outcome->bytes_written;
          moved += outcome->bytes_read + outcome->bytes_written;
          if (metrics_ != nullptr) {
            metrics_->repaired->Increment();
            metrics_->slices_rebuilt->Increment(outcome->slices_stored);
            metrics_->slices_released->Increment(outcome->slices_released);
            metrics_->read_bytes->Increment(static_cast<double>(outcome->bytes_read));
            metrics_->written_bytes->Increment(static_cast<double>(outcome->bytes_written));
          }
        } else {
          ++stats.stripes_failed;
          if (metrics_ != nullptr) {
            metrics_->failures->WithLabels({FailureReason(outcome.status())}).Increment();
          }
          TESSERA_LOG(WARNING, "repair_stripe_failed")
              .Field("bucket", task.bucket)
              .Field("key", task.key)
              .Field("part", task.part)
              .Field("stripe", task.stripe.index())
              .Field("status", outcome.status());
        }
        publish();
      }
    });
  }
  for (std::thread& t : workers) t.join();
  absl::MutexLock lock(&mu);
  publish();
}

absl::StatusOr<RepairPassStats> Repairer::RunOnce(
    const std::function<bool(const std::string& bucket)>& admit) {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  const absl::Time start = clock_->Now();
  RepairPassStats stats;
  std::shared_ptr<const ClusterSnapshot> snapshot = cluster_->Snapshot();
  down_.Observe(*snapshot, start);
  std::set<DamagedSlice> damaged = ListDamaged(*snapshot, stats);
  const NodeConditions nodes(snapshot, down_, start, options_.dead_grace, std::move(damaged));

  absl::StatusOr<std::vector<v1::BucketRecord>> buckets = store_->ListBuckets();
  if (!buckets.ok()) return buckets.status();
  // A set: an internal bucket may also have a bucket record (multipart's does).
  std::set<std::string> names(options_.internal_buckets.begin(), options_.internal_buckets.end());
  for (const v1::BucketRecord& b : *buckets) names.insert(b.name());
  RepairQueue queue;
  // Every node runs a repairer and leases its share of the buckets: a repairer working under
  // leases plans only its share of each excess, so that together they move about the excess.
  RebalanceOptions rebalance = options_.rebalance;
  if (admit != nullptr) {
    int up = 0;
    for (const StorageNode& n : snapshot->nodes()) up += n.alive && !n.draining ? 1 : 0;
    rebalance.share = 1.0 / std::max(1, up);
  }
  RebalancePlan plan = RebalancePlan::Make(*snapshot, rebalance);
  for (const std::string& bucket : names) {
    if (cancelled_.load()) break;
    if (admit != nullptr && !admit(bucket)) continue;
    absl::Status s = ScanBucket(bucket, nodes, plan, queue, stats);
    if (!s.ok() && !IsNoSuchBucket(s) && s.code() != absl::StatusCode::kNotFound) {
      TESSERA_LOG(WARNING, "repair_scan_failed").Field("bucket", bucket).Field("status", s);
      continue;
    }
    ++stats.buckets_scanned;
  }
  stats.stripes_queued = queue.size();
  if (stats.rebalance_moves > 0) {
    TESSERA_LOG(INFO, "repair_rebalance_planned")
        .Field("moves", stats.rebalance_moves)
        .Field("bytes", plan.claimed_bytes())
        .Field("spread", plan.spread());
  }
  if (metrics_ != nullptr) {
    std::map<std::string, double> degraded;
    for (const auto& [r, count] : stats.degraded_by_redundancy) {
      degraded[RedundancyLabel(r)] += static_cast<double>(count);
    }
    metrics_->SetDegraded(degraded);
    metrics_->damaged_slices->Set(stats.damaged_slices);
  }
  RepairQueued(queue, nodes, stats);
  stats.duration = clock_->Now() - start;
  if (metrics_ != nullptr) {
    metrics_->passes->Increment();
    metrics_->last_pass_seconds->Set(absl::ToDoubleSeconds(stats.duration));
  }
  return stats;
}

}  // namespace tessera::services
