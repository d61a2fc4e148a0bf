// Space-reclamation flags shared by both front-end daemons (tessera-gateway, tessera-s3), so a
// production deployment of either reclaims space the same way: the backend's reclamation thread
// (ObjectBackendOptions::gc_interval / orphan_interval) runs the SliceGarbageCollector with the
// multipart purge, and the OrphanReclaimer. Flags:
//   --reclaim           (bool, default true)  off-switch for both passes in this process;
//   --gc_interval       (default 5m; 0 = never)  slice GC + multipart purge period;
//   --gc_grace          (default 15m)            how long a superseded version stays readable;
//   --orphan_interval   (default 1h; 0 = never)  orphan scan period;
//   --orphan_grace      (default 6h)             minimum age of an orphan slice.
// The graces are applied even with --reclaim=false: readers time their version re-checks by
// gc_grace and writers their stall guard by orphan_grace, against collectors that other gateways
// run (configure them alike cluster-wide). The passes are stateless and idempotent, so any number
// of front ends may run them at once.
//
// Thread-safety: call after absl::ParseCommandLine, from the main thread.
#pragma once

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/object/object_backend.h"

namespace tessera::services {

struct ReclaimSettings {
  absl::Duration gc_interval;  // zero = off
  absl::Duration gc_grace;
  absl::Duration orphan_interval;  // zero = off
  absl::Duration orphan_grace;
};

// The flags' values (intervals zero when --reclaim=false). INVALID_ARGUMENT naming the flag for a
// negative duration.
[[nodiscard]] absl::StatusOr<ReclaimSettings> ReclaimSettingsFromFlags();

// Puts `settings` into a backend's options (gc_interval, gc.grace, orphan_interval,
// orphans.grace).
void ApplyReclaimSettings(const ReclaimSettings& settings, ObjectBackendOptions* options);

}  // namespace tessera::services
