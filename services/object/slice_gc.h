// SliceGarbageCollector: deletes the slices of object versions nobody can read any more, then
// their manifest entries.
//
// A version is garbage when a newer version of its key (a newer object or a delete marker)
// replaced it at least `grace` ago: the grace period lets reads that fetched the old manifest
// just before it was superseded finish. "Newer" is the order the metadata's commits decided
// (manifest_store.h: the key's head register is its newest version, every other entry is
// superseded, with the time it was replaced); gateways' clocks never decide it. A delete marker
// that is the only entry of its key and is older than `grace` is removed too (the key then simply
// does not exist).
//
// The collector is stateless: each pass scans the ManifestStore (ScanVersions), so nothing is
// lost when a gateway restarts, and slice deletes that fail (node down) are retried on the next
// pass because the manifest entry is removed only after all its slices are gone (NOT_FOUND counts
// as gone). Slices no manifest refers to at all (a gateway died mid-upload) are NOT found by
// this collector: OrphanReclaimer (orphan_reclaimer.h) compares nodes' ListSlices against the
// manifests for those.
//
// Thread-safety: RunOnce may be called from one thread at a time.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/object/data_path.h"
#include "services/object/manifest_store.h"

namespace tessera::services {

struct SliceGcOptions {
  // How long a superseded version stays readable. Default 15 minutes.
  absl::Duration grace = absl::Minutes(15);
  // Keys scanned per ManifestStore call. Default 1000.
  int scan_batch = 1000;

  [[nodiscard]] absl::Status Validate() const;
};

struct SliceGcStats {
  int versions_collected = 0;  // manifest entries removed (objects and delete markers)
  int slices_deleted = 0;      // slices deleted (or found already gone)
  int slice_failures = 0;      // slice deletes that failed; retried next pass
};

class SliceGarbageCollector {
 public:
  // Nothing is owned; deps.clock is the clock the grace period is measured with.
  SliceGarbageCollector(SliceGcOptions options, const DataPathDeps& deps, ManifestStore* store);

  // One pass over every bucket.
  [[nodiscard]] absl::StatusOr<SliceGcStats> RunOnce();

 private:
  // Deletes the slices of `manifest` (unless !delete_slices), then its entry. OK only if all of
  // it is gone.
  absl::Status Collect(const v1::ObjectManifest& manifest, bool delete_slices, SliceGcStats& stats);

  const SliceGcOptions options_;
  const DataPathDeps deps_;
  ManifestStore* const store_;
};

}  // namespace tessera::services
