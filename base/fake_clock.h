// FakeClock: a Clock that moves only when told to. Tests advance it by hand (Advance/SetTime);
// SleepFor(d) advances it by d and returns at once, so code under test never waits on real time.
//
// Thread-safety: all methods are thread-safe. WaitForSleepCalls() lets a test wait until a given
// number of SleepFor calls have happened (e.g. a background loop has reached its sleep) without
// real-time sleeps.
#pragma once

#include <cstdint>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "base/clock.h"

namespace tessera {

class FakeClock final : public Clock {
 public:
  // Starts at `start` (default: 2020-01-01T00:00:00Z, a fixed, recognisable instant).
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1577836800)) : now_(start) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Advances the clock by `d` (negative durations are ignored) and returns immediately.
  void SleepFor(absl::Duration d) override {
    absl::MutexLock lock(&mu_);
    if (d > absl::ZeroDuration()) now_ += d;
    ++sleep_calls_;
  }

  // Moves the clock forward by `d`; negative `d` moves it back (to test clock jumps).
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

  // Sets the clock to `t` (may move backwards, as a wall clock can).
  void SetTime(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

  // Number of SleepFor calls so far.
  uint64_t sleep_calls() const {
    absl::MutexLock lock(&mu_);
    return sleep_calls_;
  }

  // Blocks until at least `n` SleepFor calls have been made in total.
  void WaitForSleepCalls(uint64_t n) const {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sleep_calls_ >= n; };
    mu_.Await(absl::Condition(&reached));
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  uint64_t sleep_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace tessera
