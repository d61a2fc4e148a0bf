#include "base/clock.h"

#include <thread>

#include "absl/time/time.h"
#include "base/fake_clock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(RealClockTest, IsSingletonAndMonotoneEnough) {
  Clock* clock = Clock::Real();
  EXPECT_EQ(clock, Clock::Real());
  absl::Time a = clock->Now();
  clock->SleepFor(absl::Milliseconds(2));
  absl::Time b = clock->Now();
  EXPECT_GE(b - a, absl::Milliseconds(1));
  // Within a day of absl::Now(): it really is the system clock.
  EXPECT_LT(absl::AbsDuration(absl::Now() - b), absl::Hours(24));
}

TEST(FakeClockTest, StartsWhereToldAndOnlyMovesByHand) {
  const absl::Time start = absl::FromUnixSeconds(1000);
  FakeClock clock(start);
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(clock.Now(), start);
  clock.Advance(absl::Seconds(5));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(5));
  clock.Advance(absl::Seconds(-2));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(3));
  clock.SetTime(absl::FromUnixSeconds(42));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(42));
}

TEST(FakeClockTest, SleepForAdvancesAndCounts) {
  FakeClock clock(absl::FromUnixSeconds(0));
  Clock* as_clock = &clock;
  as_clock->SleepFor(absl::Hours(1));
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(3600));
  as_clock->SleepFor(-absl::Seconds(10));  // negative: no movement, still counted
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(3600));
  EXPECT_EQ(clock.sleep_calls(), 2u);
}

TEST(FakeClockTest, WaitForSleepCallsSeesOtherThreads) {
  FakeClock clock(absl::FromUnixSeconds(0));
  std::thread worker([&] {
    for (int i = 0; i < 3; ++i) clock.SleepFor(absl::Seconds(1));
  });
  clock.WaitForSleepCalls(3);
  EXPECT_EQ(clock.Now(), absl::FromUnixSeconds(3));
  worker.join();
}

}  // namespace
}  // namespace tessera
