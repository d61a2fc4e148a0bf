#include "services/gateway/orphan_reclaimer.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "base/logging.h"
#include "p2p/auth/cluster_auth.h"
#include "services/gateway/version_id.h"

namespace tessera::services {
namespace {

class GrpcSliceLister final : public SliceLister {
 public:
  GrpcSliceLister(std::shared_ptr<const p2p::ClusterAuth> auth, absl::Duration timeout)
      : auth_(std::move(auth)), timeout_(timeout) {}

  absl::StatusOr<v1::ListSlicesResponse> List(const std::string& address,
                                              const v1::ListSlicesRequest& request) override {
    v1::SliceService::Stub* stub = StubFor(address);
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
  v1::SliceService::Stub* StubFor(const std::string& address) {
    absl::MutexLock lock(&mu_);
    auto& stub = stubs_[address];
    if (stub == nullptr) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(16 << 20);
      stub = v1::SliceService::NewStub(p2p::CreateNodeChannel(address, args, auth_));
    }
    return stub.get();
  }

  const std::shared_ptr<const p2p::ClusterAuth> auth_;
  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<v1::SliceService::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

struct VersionSlices {
  int64_t newest_micros = 0;
  std::vector<std::pair<std::string, v1::SliceId>> slices;  // (address, id)
};

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
  for (const StorageNode& node : deps_.cluster->Snapshot()->nodes()) {
    std::string token;
    bool failed = false;
    do {
      v1::ListSlicesRequest request;
      request.set_page_token(token);
      absl::StatusOr<v1::ListSlicesResponse> page = lister_->List(node.address, request);
      if (!page.ok()) {
        TESSERA_LOG(WARNING, "orphan_list_failed")
            .Field("node", node.id)
            .Field("status", page.status());
        failed = true;
        break;
      }
      for (const v1::SliceInfo& info : page->slices()) {
        ++stats.slices_seen;
        VersionSlices& v = versions[info.id().version_id()];
        v.newest_micros = std::max(v.newest_micros, info.created_unix_micros());
        v.slices.emplace_back(node.address, info.id());
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
  if (candidates.empty()) return stats;

  // 3. Scan every manifest entry; any failure aborts before deleting.
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
        }
      }
      if (static_cast<int>(batch->size()) < options_.scan_batch) break;
      after = batch->back().key;
    }
  }
  stats.orphan_versions = static_cast<int>(candidates.size());

  // 4. Delete the orphans' slices.
  for (const std::string& version_id : candidates) {
    for (const auto& [address, id] : versions[version_id].slices) {
      absl::Status s = deps_.slices->Delete(address, id);
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
  return stats;
}

}  // namespace tessera::services
