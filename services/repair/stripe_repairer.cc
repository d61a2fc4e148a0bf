#include "services/repair/stripe_repairer.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "p2p/placement/placement.h"
#include "services/object/data_path.h"

namespace tessera::services {
namespace {

// Targets tried per slice before the slice is left for the next pass.
constexpr int kTargetAttempts = 3;

bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The stripe `index` of part `part` in `m`, or nullptr.
v1::StripeRecord* FindStripe(v1::ObjectManifest& m, uint32_t part, uint32_t index) {
  for (v1::PartRecord& p : *m.mutable_parts()) {
    if (p.number() != part) continue;
    for (v1::StripeRecord& s : *p.mutable_stripes()) {
      if (s.index() == index) return &s;
    }
  }
  return nullptr;
}

// Below this confidence a peer's prediction is mostly the estimator's assumed defaults.
constexpr double kMinSpeedConfidence = 0.25;

}  // namespace

void SpeedsFromEstimates(const p2p::BandwidthEstimator& bandwidth, uint64_t bytes,
                         double min_confidence,
                         const std::function<std::string(const std::string&)>& address_of,
                         std::vector<p2p::PlacementCandidate>* candidates) {
  std::vector<std::optional<double>> seconds(candidates->size());
  double fastest = 0;
  for (size_t c = 0; c < candidates->size(); ++c) {
    const std::string address = address_of((*candidates)[c].node_id);
    if (address.empty()) continue;
    // Puts to the node measure best what a target costs; a node only read from so far (repair
    // sources, hand-off) is judged by its reads: a slow link or disk is slow both ways.
    p2p::TransferPrediction p =
        bandwidth.PredictTransferTime(address, bytes, p2p::TransferDirection::kSend);
    if (p.confidence < min_confidence) {
      p = bandwidth.PredictTransferTime(address, bytes, p2p::TransferDirection::kReceive);
    }
    const double t = absl::ToDoubleSeconds(p.time);
    if (p.confidence < min_confidence || !(t > 0)) continue;
    seconds[c] = t;
    if (fastest == 0 || t < fastest) fastest = t;
  }
  for (size_t c = 0; c < candidates->size(); ++c) {
    (*candidates)[c].speed = seconds[c].has_value() ? fastest / *seconds[c] : 1.0;
  }
}

StripeRepairer::StripeRepairer(SliceClient* slices, WorkPool* pool, ManifestStore* store,
                               std::shared_ptr<const p2p::BandwidthEstimator> bandwidth,
                               RepairBudget* budget)
    : slices_(slices),
      pool_(pool),
      store_(store),
      bandwidth_(std::move(bandwidth)),
      budget_(budget) {}

absl::StatusOr<const storage::StripeCodec*> StripeRepairer::CodecFor(
    const v1::CodingParams& coding) {
  if (coding.code_id() != kCodeIdRsCauchyIsal ||
      coding.slice_hash_id() != static_cast<uint32_t>(storage::SliceHashId::kSha256)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown code id ", coding.code_id(),
                                                   " or slice hash id ", coding.slice_hash_id()));
  }
  const auto key =
      std::make_tuple(coding.data_shards(), coding.parity_shards(), coding.slice_alignment());
  absl::MutexLock lock(&codecs_mu_);
  auto& codec = codecs_[key];
  if (codec == nullptr) {
    storage::StripeCodecOptions options;
    options.data_shards = static_cast<int>(coding.data_shards());
    options.parity_shards = static_cast<int>(coding.parity_shards());
    options.slice_alignment = coding.slice_alignment();
    auto created = storage::StripeCodec::Create(options);
    if (!created.ok()) {
      codecs_.erase(key);
      return created.status();
    }
    codec = *std::move(created);
  }
  return codec.get();
}

absl::StatusOr<StripeRepairOutcome> StripeRepairer::Repair(const StripeRepairTask& task,
                                                           const NodeConditions& nodes) {
  absl::StatusOr<const storage::StripeCodec*> codec_or = CodecFor(task.coding);
  if (!codec_or.ok()) return codec_or.status();
  const storage::StripeCodec& codec = **codec_or;
  const int k = codec.data_shards();
  const int n = codec.total_shards();
  const v1::StripeRecord& stripe = task.stripe;
  if (stripe.slices_size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("stripe has ", stripe.slices_size(), " slice refs, the code ", n));
  }
  std::vector<storage::SliceHash> hashes(n);
  for (int i = 0; i < n; ++i) {
    const std::string& h = stripe.slices(i).hash();
    if (h.size() != hashes[i].size()) {
      return absl::InvalidArgumentError(absl::StrCat("slice ", i, " has no SHA-256 hash"));
    }
    std::copy(h.begin(), h.end(), hashes[i].begin());
  }
  const ClusterSnapshot& snapshot = nodes.snapshot();
  const uint64_t slice_size = stripe.slice_size();
  auto slice_id = [&](int i) {
    return MakeSliceId(task.data_version_id, task.part, stripe.index(), static_cast<uint32_t>(i));
  };

  std::vector<int> wanted = task.assessment.lost;
  wanted.insert(wanted.end(), task.assessment.moving.begin(), task.assessment.moving.end());
  std::sort(wanted.begin(), wanted.end());
  wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  if (wanted.empty()) return StripeRepairOutcome{};

  StripeRepairOutcome outcome;
  std::vector<std::optional<std::string>> data(n);  // verified slices read so far
  // Reads `indexes` from their holders in parallel (within the budget); keeps the verified ones.
  auto read = [&](const std::vector<int>& indexes) {
    TaskGroup group;
    absl::Mutex mu;
    for (int i : indexes) {
      const StorageNode* holder = snapshot.Find(stripe.slices(i).node_id());
      if (holder == nullptr) continue;
      group.Add();
      pool_->Submit([&, i, node = *holder] {
        absl::StatusOr<std::string> got = [&] {
          RepairBudget::Slot slot =
              budget_->Transfer(node, TransferDirection::kFromNode, slice_size);
          return slices_->Get(node.address, slice_id(i));
        }();  // the slot is released here, before Done() lets the caller return
        {
          absl::MutexLock lock(&mu);
          if (got.ok()) {
            outcome.bytes_read += got->size();
            if (got->size() == slice_size && storage::HashSlice(*got) == hashes[i]) {
              data[i] = *std::move(got);
            }
          }
        }
        group.Done();  // last: `mu` and `group` live on the waiting thread's stack
      });
    }
    group.Wait();
  };
  auto good = [&] {
    return static_cast<int>(
        std::count_if(data.begin(), data.end(), [](const auto& d) { return d.has_value(); }));
  };

  // 1. A slice on a draining node is copied from it (one read instead of k).
  read(task.assessment.moving);
  std::vector<int> to_rebuild;
  for (int i : wanted) {
    if (!data[i].has_value()) to_rebuild.push_back(i);
  }

  // 2. Anything else is rebuilt from k verified sources, cheapest first; the copies count.
  std::vector<std::optional<std::string>> rebuilt_by_index(n);
  if (!to_rebuild.empty()) {
    std::vector<std::pair<absl::Duration, int>> ranked;
    for (int i = 0; i < n; ++i) {
      if (data[i].has_value() || Contains(task.assessment.lost, i) ||
          Contains(task.assessment.down, i) || Contains(task.assessment.moving, i)) {
        continue;
      }
      const StorageNode* node = snapshot.Find(stripe.slices(i).node_id());
      if (node == nullptr || !node->alive) continue;
      absl::Duration cost = absl::ZeroDuration();
      if (bandwidth_ != nullptr) {
        cost =
            bandwidth_
                ->PredictTransferTime(node->address, slice_size, p2p::TransferDirection::kReceive)
                .time;
      }
      ranked.emplace_back(cost, i);
    }
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t next = 0;
    while (good() < k && next < ranked.size()) {
      std::vector<int> batch;
      for (int need = k - good(); need > 0 && next < ranked.size(); --need) {
        batch.push_back(ranked[next++].second);
      }
      read(batch);
    }
    if (good() < k) {
      return absl::DataLossError(absl::StrCat("only ", good(), " of the k=", k,
                                              " slices needed could be read and verified"));
    }
    std::vector<std::optional<absl::string_view>> views(n);
    for (int i = 0; i < n; ++i) {
      if (data[i].has_value()) views[i] = *data[i];
    }
    absl::StatusOr<std::vector<std::string>> rebuilt =
        codec.Rebuild(stripe.sealed_size(), views, hashes, to_rebuild);
    if (!rebuilt.ok()) return rebuilt.status();
    for (size_t r = 0; r < to_rebuild.size(); ++r) {
      rebuilt_by_index[to_rebuild[r]] = std::move((*rebuilt)[r]);
    }
  }
  auto bytes_of = [&](int i) -> const std::string& {
    return rebuilt_by_index[i].has_value() ? *rebuilt_by_index[i] : *data[i];
  };

  // 3. Targets, in rounds: place every pending slice (sequentially: site caps count the slices
  // placed before), put them in parallel, re-place the failures.
  std::vector<std::string> placement(n);
  for (int i = 0; i < n; ++i) placement[i] = stripe.slices(i).node_id();
  for (int i : wanted) placement[i].clear();
  std::vector<p2p::PlacementCandidate> candidates = snapshot.Candidates();
  // A rebalance move may only go to its targets; the others are excluded per slice below (not
  // marked unavailable: the site cap must still be computed over every eligible node).
  std::vector<std::string> not_targets;
  if (!task.targets.empty()) {
    for (const p2p::PlacementCandidate& c : candidates) {
      if (!task.targets.contains(c.node_id)) not_targets.push_back(c.node_id);
    }
  }
  if (bandwidth_ != nullptr) {
    SpeedsFromEstimates(
        *bandwidth_, slice_size, kMinSpeedConfidence,
        [&](const std::string& id) {
          const StorageNode* node = snapshot.Find(id);
          return node == nullptr ? std::string() : node->address;
        },
        &candidates);
  }
  p2p::PlacementRequest request;
  request.k = k;
  request.m = codec.parity_shards();
  request.slice_bytes = slice_size;
  request.seed = PlacementSeed(task.data_version_id, task.part, stripe.index()) ^ 0x5265706169;
  std::vector<std::vector<std::string>> failed_targets(n);
  std::vector<bool> stored(n, false);
  absl::Status last_error;
  for (int round = 0; round < kTargetAttempts; ++round) {
    std::vector<std::pair<int, std::string>> puts;  // (index in `wanted`, target node id)
    for (size_t w = 0; w < wanted.size(); ++w) {
      const int i = wanted[w];
      if (stored[i]) continue;
      const std::string& old_node = stripe.slices(i).node_id();
      std::string target;
      // A damaged slice on a node that is up is rewritten where it is (a Put replaces it).
      if (round == 0 && Contains(task.assessment.damaged, i) &&
          nodes.Of(old_node) == NodeCondition::kUp) {
        target = old_node;
      } else {
        request.seed += 1;
        absl::StatusOr<std::string> placed =
            p2p::PlaceReplacement(candidates, request, placement, i, [&] {
              std::vector<std::string> excluded = failed_targets[i];
              excluded.insert(excluded.end(), not_targets.begin(), not_targets.end());
              return excluded;
            }());
        if (!placed.ok()) {
          last_error = placed.status();
          continue;
        }
        target = *placed;
      }
      placement[i] = target;
      puts.emplace_back(static_cast<int>(w), target);
    }
    if (puts.empty()) break;
    TaskGroup group;
    absl::Mutex mu;
    for (const auto& [w, target] : puts) {
      const int i = wanted[w];
      const StorageNode* node = snapshot.Find(target);
      if (node == nullptr) continue;
      group.Add();
      pool_->Submit([&, i, node = *node] {
        const absl::Status s = [&] {
          RepairBudget::Slot slot = budget_->Transfer(node, TransferDirection::kToNode, slice_size);
          return slices_->Put(node.address, slice_id(i), bytes_of(i));
        }();
        {
          absl::MutexLock lock(&mu);
          if (s.ok()) {
            stored[i] = true;
            ++outcome.slices_stored;
            outcome.bytes_written += slice_size;
          } else {
            last_error = s;
            failed_targets[i].push_back(node.id);
            placement[i].clear();
          }
        }
        group.Done();
      });
    }
    group.Wait();
  }

  // 4. Record the new homes: one compare-and-set that changes only refs still as read.
  std::map<int, std::string> moved;  // index -> new node
  int in_place = 0;
  for (int i : wanted) {
    if (!stored[i]) continue;
    if (placement[i] == stripe.slices(i).node_id()) {
      ++in_place;
    } else {
      moved[i] = placement[i];
    }
  }
  if (moved.empty()) {
    outcome.slices_recorded = in_place;
    if (in_place == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("no rebuilt slice could be stored: ", last_error.message()));
    }
    return outcome;
  }
  std::vector<int> applied;
  const ManifestUpdate record_moves = [&](const std::optional<v1::ObjectManifest>& current)
      -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
    applied.clear();
    if (!current.has_value()) return absl::AbortedError("the version is gone");
    v1::ObjectManifest m = *current;
    v1::StripeRecord* s = FindStripe(m, task.part, stripe.index());
    if (s == nullptr || s->slices_size() != n) {
      return absl::AbortedError("the stripe is no longer in the version");
    }
    for (const auto& [i, node] : moved) {
      v1::SliceRef* ref = s->mutable_slices(i);
      if (ref->node_id() == stripe.slices(i).node_id() && ref->hash() == stripe.slices(i).hash()) {
        ref->set_node_id(node);
        applied.push_back(i);
      }
    }
    if (applied.empty()) return absl::AbortedError("every slice ref changed meanwhile");
    bool complete = true;
    for (const v1::SliceRef& ref : s->slices()) complete &= !ref.node_id().empty();
    s->set_degraded(!complete);
    return m;
  };
  const absl::Status cas =
      store_->CompareAndSet(task.bucket, task.key, task.version_id, record_moves);
  if (!cas.ok()) return cas;
  outcome.slices_recorded = static_cast<int>(applied.size()) + in_place;
  // A draining node's copy is unreferenced now: delete it, so the drain ends with the node empty.
  // (Another entry naming the same slice -- a completed upload's retained record -- then finds it
  // gone on a draining node and has it rebuilt: redundancy, never data, is what it costs.)
  for (int i : applied) {
    if (!Contains(task.assessment.moving, i)) continue;
    const StorageNode* old_node = snapshot.Find(stripe.slices(i).node_id());
    if (old_node == nullptr) continue;
    const absl::Status deleted = slices_->Delete(old_node->address, slice_id(i));
    if (deleted.ok() || deleted.code() == absl::StatusCode::kNotFound) ++outcome.slices_released;
  }
  return outcome;
}

}  // namespace tessera::services
