// Scrubber: a background worker that re-reads every slice of a SliceStore, verifying each block
// checksum (SliceStore::Verify, which marks bad slices corrupt in the index), reports the bad
// ones, and keeps going. Reading is throttled to a bytes-per-second budget measured on an
// injectable Clock, so a scrub never starves foreground traffic and tests run in simulated time.
//
// Step API for tests: Work() checks one slice; RunOnce() finishes the current pass. Production
// calls Start(), which runs passes on a thread (pausing `pass_interval` between passes) until
// Stop() or destruction.
//
// Thread-safety: all methods are thread-safe; Work()/RunOnce() calls are serialised internally.
// The store must outlive the scrubber.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "storage/store/slice_store.h"

namespace tessera::storage {

struct ScrubberOptions {
  // Read budget in bytes per second (the sum of verified slice lengths). 0 = unthrottled.
  // Default 32 MiB/s.
  uint64_t bytes_per_second = 32ull << 20;
  // Slices fetched per List call. Default 256.
  size_t list_batch = 256;
  // Pause between full passes when run by Start(). Default 24 h.
  absl::Duration pass_interval = absl::Hours(24);
  // Called (on the scrubbing thread) for every slice found damaged, with Verify()'s status.
  std::function<void(const SliceId& id, const absl::Status& status)> on_corrupt;
  // Null means Clock::Real().
  Clock* clock = nullptr;

  // OK, or INVALID_ARGUMENT naming the offending field.
  absl::Status Validate() const;
};

struct ScrubberStats {
  uint64_t passes = 0;               // completed passes
  uint64_t slices_checked = 0;       // Verify() calls on live slices
  uint64_t bytes_checked = 0;        // their lengths
  uint64_t corrupt_found = 0;        // Verify() returned DATA_LOSS
  uint64_t skipped = 0;              // already corrupt/missing slices passed over
  uint64_t errors = 0;               // other failures (I/O errors, List failures)
  uint64_t pass_slices_checked = 0;  // slices_checked in the pass in progress (progress)
};

class Scrubber {
 public:
  // `store` is not owned. `options` must be valid (see Validate()).
  Scrubber(SliceStore* store, ScrubberOptions options);
  ~Scrubber();  // Stop()s

  Scrubber(const Scrubber&) = delete;
  Scrubber& operator=(const Scrubber&) = delete;

  // Checks the next slice in id order, first sleeping on the clock as the budget requires.
  // Returns true if there may be more in this pass, false when the pass just completed (the next
  // call starts a new pass from the first slice) or listing failed.
  bool Work();
  // Work()s until the current pass completes.
  void RunOnce();

  // Runs passes on a background thread until Stop(). Idempotent.
  void Start();
  // Stops the background thread, interrupting budget and interval sleeps within ~100 ms of
  // clock time. Idempotent.
  void Stop();
  // Blocks until at least `n` passes have completed in total.
  void WaitForPasses(uint64_t n) const;

  ScrubberStats stats() const;

 private:
  // Sleeps until the budget allows `bytes` more; false if stopped meanwhile. Called by Work(),
  // which holds work_mu_ (the budget is per scrubber, charged one slice at a time).
  bool Throttle(uint64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(work_mu_);
  // Sleeps `d` on the clock in slices, returning early (false) on Stop().
  bool SleepUnlessStopped(absl::Duration d);
  void Loop();

  SliceStore* const store_;
  const ScrubberOptions options_;
  Clock* const clock_;

  absl::Mutex work_mu_;  // serialises Work()
  std::optional<SliceId> cursor_ ABSL_GUARDED_BY(work_mu_);
  std::vector<SliceInfo> batch_ ABSL_GUARDED_BY(work_mu_);
  size_t batch_pos_ ABSL_GUARDED_BY(work_mu_) = 0;
  std::optional<absl::Time> next_allowed_ ABSL_GUARDED_BY(work_mu_);

  mutable absl::Mutex stats_mu_;
  ScrubberStats stats_ ABSL_GUARDED_BY(stats_mu_);

  std::atomic<bool> stop_{false};
  absl::Mutex thread_mu_;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace tessera::storage
