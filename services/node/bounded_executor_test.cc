#include "services/node/bounded_executor.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

TEST(BoundedExecutorTest, RunsEveryAcceptedTaskBeforeShutdownReturns) {
  std::atomic<int> ran{0};
  BoundedExecutor executor(2, 1000);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(executor.TrySubmit([&] { ++ran; }));
  executor.Shutdown();
  EXPECT_EQ(ran.load(), 500);
  EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));
  executor.Shutdown();  // idempotent
}

TEST(BoundedExecutorTest, RefusesWhenQueueIsFull) {
  BoundedExecutor executor(1, 2);
  absl::Notification release, started;
  ASSERT_TRUE(executor.TrySubmit([&] {
    started.Notify();
    release.WaitForNotification();
  }));
  started.WaitForNotification();  // the worker is busy; the queue is empty
  EXPECT_TRUE(executor.TrySubmit([] {}));
  EXPECT_TRUE(executor.TrySubmit([] {}));
  EXPECT_FALSE(executor.TrySubmit([] {}));
  release.Notify();
}

}  // namespace
}  // namespace tessera::services
