// OrphanReclaimer: deletes slices that no manifest refers to (a writer died between its first
// slice and its manifest), so space is not leaked. See docs/design/object_layer.md "Orphan slices".
//
// Mapping a slice back to its object: a slice id carries the version id of the object version
// it belongs to (MakeSliceId), and every entry in the ManifestStore carries its version id:
// object manifests, delete markers, and in-progress multipart uploads (kUploadsBucket entries
// keyed by the upload's version id, which the completed object keeps as data_version_id). No
// index is added: a pass that finds candidate orphans scans every bucket's versions once
// (ScanVersions) and keeps the candidate version ids (and data version ids) it meets. Nothing
// durable is written, so there is nothing to get out of step after a crash.
//
// One pass (RunOnce):
//   1. List every known node's slices (ListSlices, paged) and group them by version id, keeping
//      the newest slice creation time of each version.
//   2. Candidates: versions whose newest slice AND whose version-id timestamp are both older than
//      `grace` (clock = deps.clock). A write in flight keeps writing slices, so its newest slice
//      is recent; a new version id is recent: neither is ever a candidate.
//   3. If there are candidates, scan all buckets (plus options.internal_buckets); any failure
//      aborts the pass WITHOUT deleting anything. Candidates met in the scan are live.
//   4. Delete every slice of the remaining candidates (NOT_FOUND counts as gone).
//   5. Stale copies: a copy older than `grace` of a live version, on a node that no manifest of
//      that version names for that slice (a node back after repair rebuilt its slices
//      elsewhere), is deleted as the copy listed only (SliceClient::DeleteIfCreatedAt): if a
//      writer (repair) has put it there again since, its creation time moved and it stays. The
//      scan of step 3 then runs whenever any copy is older than `grace`.
// If any node cannot be listed the pass deletes nothing: a version's newest slices may be on that
// node, and only all of them together show that it is idle (a slow but live upload's early
// stripes would otherwise look abandoned).
//
// Safety argument and limits: a version is deleted only if no manifest entry referred to it
// when the scan ran, its id is older than `grace`, and none of its slices was written in the
// last `grace`. A writer that stalls longer than `grace` between two stripes or before its manifest
// write would lose its slices; writers guard against it themselves (DataPathOptions::
// max_write_stall, at most grace / 2 in a backend: they fail UNAVAILABLE instead of committing a
// manifest over reclaimed slices). Default grace 6 h. A pass costs one listing of every slice
// and, when orphans exist, one scan of all manifests: run it rarely (hours).
//
// Thread-safety: RunOnce may be called from one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "api/node.grpc.pb.h"
#include "services/object/data_path.h"
#include "services/object/manifest_store.h"

namespace tessera::p2p {
class ClusterAuth;
}

namespace tessera::services {

// One page of a node's slices (SliceService.ListSlices): `request` carries the page token and,
// for repair, only_damaged. The node is dialled at `address` and, when `node_id` is not empty,
// must prove that identity (its TLS certificate), like every other node channel.
class SliceLister {
 public:
  virtual ~SliceLister() = default;
  [[nodiscard]] virtual absl::StatusOr<v1::ListSlicesResponse> List(
      const std::string& node_id, const std::string& address,
      const v1::ListSlicesRequest& request) = 0;
};

// The gRPC SliceLister (authenticated when `auth` is set); one channel per node id and address.
[[nodiscard]] std::unique_ptr<SliceLister> NewGrpcSliceLister(
    std::shared_ptr<const p2p::ClusterAuth> auth, absl::Duration timeout = absl::Seconds(30));

struct OrphanReclaimerOptions {
  // Slices younger than this, and versions whose id is younger, are never touched. Default 6 h.
  absl::Duration grace = absl::Hours(6);
  // Keys per ScanVersions call. Default 1000.
  int scan_batch = 1000;
  // Buckets scanned even if ListBuckets does not return them (multipart upload state,
  // services/object/multipart.h kUploadsBucket). NOT_FOUND for these is fine.
  std::vector<std::string> internal_buckets = {".tessera-multipart-uploads"};

  [[nodiscard]] absl::Status Validate() const;
};

struct OrphanReclaimStats {
  int nodes_listed = 0;
  int node_failures = 0;  // nodes that could not be listed (skipped)
  int slices_seen = 0;
  int candidate_versions = 0;      // old enough to be checked against manifests
  int orphan_versions = 0;         // no manifest refers to them
  int slices_deleted = 0;          // deleted or already gone
  int slice_failures = 0;          // deletes that failed; retried next pass
  int stale_slices_deleted = 0;    // old copies no manifest names on their node (step 5)
  int stale_slices_rewritten = 0;  // judged stale but put there again since: kept
};

class OrphanReclaimer {
 public:
  // Nothing is owned. deps.cluster names the nodes, deps.slices deletes, deps.clock measures
  // the grace period.
  OrphanReclaimer(OrphanReclaimerOptions options, const DataPathDeps& deps, ManifestStore* store,
                  SliceLister* lister);

  // One pass (above). An error means nothing was deleted after the failure point; a manifest
  // scan failure means nothing was deleted at all.
  [[nodiscard]] absl::StatusOr<OrphanReclaimStats> RunOnce();

 private:
  const OrphanReclaimerOptions options_;
  const DataPathDeps deps_;
  ManifestStore* const store_;
  SliceLister* const lister_;
};

}  // namespace tessera::services
