#include "services/object/reclaim_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"

ABSL_FLAG(bool, reclaim, true,
          "Run space reclamation (slice GC, multipart purge, orphan reclaimer) in this process. "
          "The graces still apply when off.");
ABSL_FLAG(absl::Duration, gc_interval, absl::Minutes(5),
          "How often superseded and deleted versions' slices are collected (0 = never).");
ABSL_FLAG(absl::Duration, gc_grace, absl::Minutes(15),
          "How long a superseded version stays readable before its slices are deleted.");
ABSL_FLAG(absl::Duration, orphan_interval, absl::Hours(1),
          "How often nodes are scanned for slices no manifest refers to (0 = never).");
ABSL_FLAG(absl::Duration, orphan_grace, absl::Hours(6),
          "Minimum age of an orphan slice before it is deleted; single PUTs idle for half of it "
          "fail rather than commit.");

namespace tessera::services {

absl::StatusOr<ReclaimSettings> ReclaimSettingsFromFlags() {
  ReclaimSettings s;
  s.gc_interval = absl::GetFlag(FLAGS_gc_interval);
  s.gc_grace = absl::GetFlag(FLAGS_gc_grace);
  s.orphan_interval = absl::GetFlag(FLAGS_orphan_interval);
  s.orphan_grace = absl::GetFlag(FLAGS_orphan_grace);
  const std::pair<const char*, absl::Duration> all[] = {{"gc_interval", s.gc_interval},
                                                        {"gc_grace", s.gc_grace},
                                                        {"orphan_interval", s.orphan_interval},
                                                        {"orphan_grace", s.orphan_grace}};
  for (const auto& [name, value] : all) {
    if (value < absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " must not be negative"));
    }
  }
  // Writers give up after half the orphan grace (their stall guard) so that the orphan reclaimer
  // of any gateway never takes the slices of a PUT still in progress. A zero grace would leave
  // writers unguarded and let a reclaimer delete an upload's slices just before it commits.
  if (s.orphan_grace <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--orphan_grace must be positive (writers stop after half of it; 0 would let the orphan "
        "reclaimer delete uploads in progress)");
  }
  if (!absl::GetFlag(FLAGS_reclaim)) {
    s.gc_interval = absl::ZeroDuration();
    s.orphan_interval = absl::ZeroDuration();
  }
  return s;
}

void ApplyReclaimSettings(const ReclaimSettings& settings, ObjectBackendOptions* options) {
  options->gc_interval = settings.gc_interval;
  options->gc.grace = settings.gc_grace;
  options->orphan_interval = settings.orphan_interval;
  options->orphans.grace = settings.orphan_grace;
}

}  // namespace tessera::services
