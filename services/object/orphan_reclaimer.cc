#include "services/object/orphan_reclaimer.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdint>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "p2p/auth/cluster_auth.h"
#include "services/object/version_id.h"

namespace tessera::services {
namespace {

class GrpcSliceLister final : public SliceLister {
 public:
  GrpcSliceLister(std::shared_ptr<const p2p::ClusterAuth> auth, absl::Duration timeout)
      : auth_(std::move(auth)), timeout_(timeout) {}

  absl::StatusOr<v1::ListSlicesResponse> List(const std::string& node_id,
                                              const std::string& address,
                                              const v1::ListSlicesRequest& request) override {
    v1::SliceService::Stub* stub = StubFor(node_id, address);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout_));
    v1::ListSlicesResponse response;
    grpc::Status s = stub->ListSlices(&ctx, request, &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          absl::StrCat(address, ": ListSlices: ", s.error_message()));
    }
    return response;
  }

 private:
  v1::SliceService::Stub* StubFor(const std::string& node_id, const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto& stub = stubs_[std::make_pair(node_id, address)];
    if (stub == nullptr) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(16 << 20);
      stub = v1::SliceService::NewStub(p2p::CreateNodeChannel(address, args, auth_, node_id));
    }
    return stub.get();
  }

  const std::shared_ptr<const p2p::ClusterAuth> auth_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::map<std::pair<std::string, std::string>, std::unique_ptr<v1::SliceService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
};

struct ListedSlice {
  std::string address;
  std::string node_id;
  v1::SliceId id;
  int64_t created_micros = 0;
};

struct VersionSlices {
  int64_t newest_micros = 0;
  int64_t oldest_micros = INT64_MAX;
  std::vector<ListedSlice> slices;
};

// (part, stripe, slice index) of a version, and the nodes its manifests name for it.
using SliceSlot = std::tuple<uint32_t, uint32_t, uint32_t>;
using SlotHomes = std::map<SliceSlot, std::set<std::string>>;

}  // namespace

std::unique_ptr<SliceLister> NewGrpcSliceLister(std::shared_ptr<const p2p::ClusterAuth> auth,
                                                absl::Duration timeout) {
  return std::make_unique<GrpcSliceLister>(std::move(auth), timeout);
}

absl::Status OrphanReclaimerOptions::Validate() const {
  if (grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("OrphanReclaimerOptions.grace must not be negative");
  }
  if (scan_batch < 1) return absl::InvalidArgumentError("OrphanReclaimerOptions.scan_batch < 1");
  return absl::OkStatus();
}

OrphanReclaimer::OrphanReclaimer(OrphanReclaimerOptions options, const DataPathDeps& deps,
                                 ManifestStore* store, SliceLister* lister)
    : options_(std::move(options)), deps_(deps), store_(store), lister_(lister) {}

absl::StatusOr<OrphanReclaimStats> OrphanReclaimer::RunOnce() {
  if (absl::Status s = options_.Validate(); !s.ok()) return s;
  OrphanReclaimStats stats;
  Clock* clock = deps_.clock != nullptr ? deps_.clock : Clock::Real();
  const int64_t cutoff = absl::ToUnixMicros(clock->Now() - options_.grace);

  // 1. Every node's slices, by version.
  std::map<std::string, VersionSlices> versions;
  // Per node id: its clock when listed (0: a node too old for conditional deletes).
  std::map<std::string, int64_t> node_now;
  // Held for the whole loop: a range-for over Snapshot()->nodes() would keep only the vector
  // reference, and the view may drop the snapshot it belongs to at any time.
  const std::shared_ptr<const ClusterSnapshot> snapshot = deps_.cluster->Snapshot();
  for (const StorageNode& node : snapshot->nodes()) {
    std::string token;
    bool failed = false;
    do {
      v1::ListSlicesRequest request;
      request.set_page_token(token);
      absl::StatusOr<v1::ListSlicesResponse> page = lister_->List(node.id, node.address, request);
      if (!page.ok()) {
        TESSERA_LOG(WARNING, "orphan_list_failed")
            .Field("node", node.id)
            .Field("status", page.status());
        failed = true;
        break;
      }
      if (!node_now.contains(node.id)) node_now[node.id] = page->node_now_unix_micros();
      for (const v1::SliceInfo& info : page->slices()) {
        ++stats.slices_seen;
        VersionSlices& v = versions[info.id().version_id()];
        v.newest_micros = std::max(v.newest_micros, info.created_unix_micros());
        v.oldest_micros = std::min(v.oldest_micros, info.created_unix_micros());
        v.slices.push_back({node.address, node.id, info.id(), info.created_unix_micros()});
      }
      token = page->next_page_token();
    } while (!token.empty());
    ++(failed ? stats.node_failures : stats.nodes_listed);
  }

  // A node we could not list may hold a version's newest slices (a slow but live upload whose
  // early stripes are on listed nodes): the listed ones alone cannot show that a version is
  // idle, so a pass with any listing failure deletes nothing.
  if (stats.node_failures > 0) {
    TESSERA_LOG(WARNING, "orphan_pass_skipped")
        .Field("reason", "a node could not be listed")
        .Field("node_failures", stats.node_failures);
    return stats;
  }

  // 2. Candidates: nothing about them is recent.
  std::set<std::string> candidates;
  for (const auto& [version_id, v] : versions) {
    if (v.newest_micros <= cutoff && VersionIdMicros(version_id) <= cutoff) {
      candidates.insert(version_id);
    }
  }
  stats.candidate_versions = static_cast<int>(candidates.size());
  // Versions with a copy older than the grace: such a copy may be stale (see step 5).
  bool old_copies = false;
  for (const auto& [version_id, v] : versions) old_copies |= v.oldest_micros <= cutoff;
  if (candidates.empty() && !old_copies) return stats;

  // 3. Scan every manifest entry; any failure aborts before deleting. Besides the orphans, note
  // where the manifests put every slice of the versions with old copies.
  std::map<std::string, SlotHomes> places;  // by data version id: live versions only
  absl::StatusOr<std::vector<v1::BucketRecord>> buckets = store_->ListBuckets();
  if (!buckets.ok()) return buckets.status();
  std::set<std::string> names(options_.internal_buckets.begin(), options_.internal_buckets.end());
  for (const v1::BucketRecord& b : *buckets) names.insert(b.name());
  for (const std::string& bucket : names) {
    std::string after;
    for (;;) {
      absl::StatusOr<std::vector<KeyVersions>> batch =
          store_->ScanVersions(bucket, after, options_.scan_batch);
      if (absl::IsNotFound(batch.status())) break;  // bucket gone (or internal one never made)
      if (!batch.ok()) return batch.status();
      for (const KeyVersions& kv : *batch) {
        for (const v1::ObjectManifest& m : kv.versions) {
          candidates.erase(m.version_id());
          candidates.erase(DataVersionId(m));  // a completed multipart upload's parts
          auto listed = versions.find(DataVersionId(m));
          if (listed == versions.end() || listed->second.oldest_micros > cutoff) continue;
          v1::ObjectManifest whole;
          const v1::ObjectManifest* full = &m;
          if (m.stripe_chunks() > 0) {  // a large manifest's head: its stripes are out of line
            absl::StatusOr<v1::ObjectManifest> got = store_->Get(bucket, m.key(), m.version_id());
            if (absl::IsNotFound(got.status())) continue;  // collected meanwhile
            if (!got.ok()) return got.status();
            whole = *std::move(got);
            full = &whole;
          }
          SlotHomes& homes = places[listed->first];
          for (const v1::PartRecord& part : full->parts()) {
            for (const v1::StripeRecord& stripe : part.stripes()) {
              for (int i = 0; i < stripe.slices_size(); ++i) {
                if (stripe.slices(i).node_id().empty()) continue;  // not stored anywhere
                homes[SliceSlot(part.number(), stripe.index(), static_cast<uint32_t>(i))].insert(
                    stripe.slices(i).node_id());
              }
            }
          }
        }
      }
      if (static_cast<int>(batch->size()) < options_.scan_batch) break;
      after = batch->back().key;
    }
  }
  stats.orphan_versions = static_cast<int>(candidates.size());

  // 4. Delete the orphans' slices.
  for (const std::string& version_id : candidates) {
    for (const ListedSlice& slice : versions[version_id].slices) {
      absl::Status s = deps_.slices->Delete(slice.address, slice.id);
      if (s.ok() || absl::IsNotFound(s)) {
        ++stats.slices_deleted;
      } else {
        ++stats.slice_failures;
      }
    }
  }
  if (stats.orphan_versions > 0) {
    TESSERA_LOG(INFO, "orphans_reclaimed")
        .Field("versions", stats.orphan_versions)
        .Field("slices", stats.slices_deleted)
        .Field("failures", stats.slice_failures);
  }

  // 5. Stale copies: an old copy of a live version on a node its manifests do not name for that
  // slice (a node that came back after repair rebuilt its slices elsewhere). Deleted only as the
  // copy that was listed: a writer that put it there again since (repair choosing this node)
  // refreshed its creation time, and the delete fails instead. A copy younger than the grace is
  // never judged (a repair between its put and its manifest update), nor a copy of a slice no
  // manifest places anywhere (it may be the only one left).
  for (const auto& [version_id, homes] : places) {
    // Where this version's slices were actually listed: a copy is stale only while the node its
    // manifests name for it does hold it.
    std::set<std::pair<std::string, SliceSlot>> held;
    for (const ListedSlice& slice : versions[version_id].slices) {
      held.emplace(slice.node_id, SliceSlot(slice.id.part(), slice.id.stripe(), slice.id.index()));
    }
    for (const ListedSlice& slice : versions[version_id].slices) {
      // Judged on the node's own clock (creation times are stamped by it), and only on nodes
      // that honour the conditional delete.
      const int64_t now_there = node_now[slice.node_id];
      if (now_there == 0 ||
          slice.created_micros > now_there - absl::ToInt64Microseconds(options_.grace)) {
        continue;
      }
      const SliceSlot slot(slice.id.part(), slice.id.stripe(), slice.id.index());
      auto home = homes.find(slot);
      if (home == homes.end() || home->second.contains(slice.node_id)) continue;
      bool held_at_home = false;
      for (const std::string& h : home->second) held_at_home |= held.contains({h, slot});
      if (!held_at_home) continue;
      absl::Status s = deps_.slices->DeleteIfCreatedAt(slice.address, slice.id,
                                                       absl::FromUnixMicros(slice.created_micros));
      if (s.ok() || absl::IsNotFound(s)) {
        ++stats.stale_slices_deleted;
      } else if (absl::IsFailedPrecondition(s)) {
        ++stats.stale_slices_rewritten;
      } else {
        ++stats.slice_failures;
      }
    }
  }
  if (stats.stale_slices_deleted > 0 || stats.stale_slices_rewritten > 0) {
    TESSERA_LOG(INFO, "stale_copies_reclaimed")
        .Field("slices", stats.stale_slices_deleted)
        .Field("rewritten_since", stats.stale_slices_rewritten);
  }
  return stats;
}

}  // namespace tessera::services
