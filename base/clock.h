// Clock: the seam for time. Production uses the system clock; tests use FakeClock and advance it
// by hand, so nothing waits on real time. Thread-safe.
#pragma once

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace tessera {

class Clock {
 public:
  virtual ~Clock() = default;
  // The process-wide real clock. Never null; never deleted.
  static Clock* Real();
  // Wall-clock time (may jump).
  virtual absl::Time Now() = 0;
  // Blocks the caller for `d` (FakeClock returns at once after advancing itself).
  virtual void SleepFor(absl::Duration d) = 0;
};

}  // namespace tessera
