#include "storage/store/dir_sync_group.h"

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "base/env.h"
#include "base/fault_injection_env.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

// The guarantee Put relies on: when Sync returns OK, a SyncDir of the directory that started
// after Sync was called has finished (so it covers the caller's directory change). Concurrent
// callers share syncs, so there are never more SyncDirs than callers.
TEST(DirSyncGroupTest, EveryCallerIsCoveredByASyncThatStartedAfterItsCall) {
  const std::string dir = testing::UniqueTestDir("dir_sync_group");
  FaultInjectionEnv env(Env::Default());
  std::atomic<uint64_t> started{0};
  env.SetHook([&](OpKind op, const std::string&) {
    if (op == OpKind::kSyncDir) started.fetch_add(1);
    return absl::OkStatus();
  });
  DirSyncGroup group(&env);
  constexpr int kThreads = 8;
  constexpr int kCallsPerThread = 50;
  std::atomic<int> uncovered{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        const uint64_t before = started.load();
        if (!group.Sync(dir).ok()) failed.fetch_add(1);
        if (started.load() <= before) uncovered.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(uncovered.load(), 0);
  EXPECT_LE(env.counters().sync_dirs, uint64_t{kThreads * kCallsPerThread});
  EXPECT_GE(env.counters().sync_dirs, 1u);
}

TEST(DirSyncGroupTest, AFailedSyncIsReportedAndTheNextCallSyncsAgain) {
  const std::string dir = testing::UniqueTestDir("dir_sync_group");
  FaultInjectionEnv env(Env::Default());
  DirSyncGroup group(&env);
  env.FailNthCall(1, absl::UnavailableError("injected"), Mask(OpKind::kSyncDir));
  EXPECT_EQ(group.Sync(dir).code(), absl::StatusCode::kUnavailable);
  EXPECT_OK(group.Sync(dir));
  EXPECT_EQ(env.counters().sync_dirs, 2u);
}

TEST(DirSyncGroupTest, DirectoriesAreSyncedSeparately) {
  const std::string a = testing::UniqueTestDir("dir_sync_group_a");
  const std::string b = testing::UniqueTestDir("dir_sync_group_b");
  FaultInjectionEnv env(Env::Default());
  DirSyncGroup group(&env);
  env.FailNthCall(1, absl::UnavailableError("injected"), Mask(OpKind::kSyncDir));
  EXPECT_FALSE(group.Sync(a).ok());
  EXPECT_OK(group.Sync(b));  // a's failure is not b's result
  EXPECT_OK(group.Sync(a));
}

}  // namespace
}  // namespace tessera::storage
