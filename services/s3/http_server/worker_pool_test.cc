#include "services/s3/http_server/worker_pool.h"

#include <atomic>
#include <stdexcept>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::services::s3 {
namespace {

TEST(WorkerPoolTest, RunsTasksOnAFixedSetOfThreadsAndSurvivesThrowingTasks) {
  ASSERT_OK_AND_ASSIGN(auto pool, WorkerPool::Start(2));
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(pool->Submit([&ran, i] {
      if (i % 10 == 0) throw std::runtime_error("boom");
      ++ran;
    }));
  }
  // A blocked worker does not stop the other from serving.
  absl::Notification release, second_ran;
  ASSERT_TRUE(pool->Submit([&] { release.WaitForNotification(); }));
  ASSERT_TRUE(pool->Submit([&] { second_ran.Notify(); }));
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(absl::Seconds(30)));
  release.Notify();
  pool->Stop();  // runs what is queued first
  EXPECT_EQ(ran.load(), 90);
  EXPECT_FALSE(pool->Submit([] {}));
  pool->Stop();  // idempotent
}

TEST(WorkerPoolTest, RejectsNoThreads) { EXPECT_FALSE(WorkerPool::Start(0).ok()); }

}  // namespace
}  // namespace tessera::services::s3
