#include "storage/store/scrubber.h"

#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/synchronization/mutex.h"
#include "base/env.h"
#include "base/fake_clock.h"
#include "base/fault_injection_env.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "storage/slice/slice_format.h"
#include "storage/store/slice_store.h"
#include "storage/store/store_test_util.h"

namespace tessera::storage {
namespace {

using ::tessera::storage::testing::FilesContaining;
using ::tessera::storage::testing::FreshDir;
using ::tessera::storage::testing::MakeId;
using ::tessera::storage::testing::RandomBytes;

constexpr uint64_t kBlock = slice::kBlockSize;

class ScrubberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = FreshDir();
    SliceStoreOptions o;
    o.index_dir = root_ + "/meta";
    o.data_dirs = {root_ + "/disk0"};
    o.reserved_bytes = 0;
    o.env = &fault_;
    o.clock = &clock_;
    ASSERT_OK_AND_ASSIGN(store_, OpenSliceStore(o));
  }

  std::string FileOf(const SliceId& id) {
    auto files = FilesContaining(Env::Default(), root_ + "/disk0",
                                 absl::BytesToHexString(id.Encode()) + ".slice");
    EXPECT_EQ(files.size(), 1u);
    return files.empty() ? "" : files[0];
  }

  ScrubberOptions Options() {
    ScrubberOptions o;
    o.clock = &clock_;
    o.list_batch = 3;  // several List pages per pass
    o.on_corrupt = [this](const SliceId& id, const absl::Status& s) {
      absl::MutexLock lock(&mu_);
      reported_.push_back(id);
      EXPECT_TRUE(absl::IsDataLoss(s)) << s;
    };
    return o;
  }

  FaultInjectionEnv fault_{Env::Default()};
  FakeClock clock_;
  std::string root_;
  std::unique_ptr<SliceStore> store_;
  absl::Mutex mu_;
  std::vector<SliceId> reported_;
};

TEST_F(ScrubberTest, FindsReportsAndMarksCorruptSlicesAndKeepsGoing) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_OK(store_->Put(MakeId(i), RandomBytes(2 * kBlock + i, i), std::nullopt));
  }
  ASSERT_OK(store_->Put(MakeId(10), "inline slice", std::nullopt));
  ASSERT_OK(fault_.FlipBit(FileOf(MakeId(2)), slice::kHeaderSize + kBlock + 9, 1));
  ASSERT_OK(Env::Default()->DeleteFile(FileOf(MakeId(4))));  // vanished behind our back
  Scrubber scrubber(store_.get(), Options());
  scrubber.RunOnce();
  ScrubberStats s = scrubber.stats();
  EXPECT_EQ(s.passes, 1u);
  EXPECT_EQ(s.slices_checked, 7u);
  EXPECT_EQ(s.corrupt_found, 2u);
  EXPECT_EQ(s.errors, 0u);
  {
    absl::MutexLock lock(&mu_);
    ASSERT_EQ(reported_.size(), 2u);
    EXPECT_EQ(reported_[0], MakeId(2));
    EXPECT_EQ(reported_[1], MakeId(4));
  }
  ASSERT_OK_AND_ASSIGN(SliceInfo info, store_->Stat(MakeId(2)));
  EXPECT_EQ(info.state, SliceState::kCorrupt);
  EXPECT_EQ(store_->Counters().slices_marked_corrupt, 2u);
  // The next pass passes over the known-bad slices and rechecks the rest.
  scrubber.RunOnce();
  s = scrubber.stats();
  EXPECT_EQ(s.passes, 2u);
  EXPECT_EQ(s.slices_checked, 12u);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_EQ(s.corrupt_found, 2u);
}

TEST_F(ScrubberTest, ReadsAreThrottledToTheBudgetOnTheClock) {
  for (int i = 0; i < 8; ++i) {
    ASSERT_OK(store_->Put(MakeId(i), RandomBytes(256 << 10, i), std::nullopt));
  }
  ScrubberOptions o = Options();
  o.bytes_per_second = 1 << 20;
  Scrubber scrubber(store_.get(), o);
  const absl::Time start = clock_.Now();
  scrubber.RunOnce();
  // 8 x 256 KiB at 1 MiB/s: the first slice starts at once, each later one waits 0.25 s.
  EXPECT_EQ(clock_.Now() - start, absl::Milliseconds(1750));
  EXPECT_EQ(scrubber.stats().bytes_checked, 8u * (256 << 10));
}

TEST_F(ScrubberTest, WorkStepsOneSliceAtATimeAndWrapsAround) {
  ASSERT_OK(store_->Put(MakeId(1), "a", std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), "b", std::nullopt));
  Scrubber scrubber(store_.get(), Options());
  EXPECT_TRUE(scrubber.Work());
  EXPECT_EQ(scrubber.stats().slices_checked, 1u);
  EXPECT_TRUE(scrubber.Work());
  EXPECT_FALSE(scrubber.Work());  // end of pass
  EXPECT_EQ(scrubber.stats().passes, 1u);
  EXPECT_TRUE(scrubber.Work());  // new pass from the start
  EXPECT_EQ(scrubber.stats().slices_checked, 3u);
}

TEST_F(ScrubberTest, BackgroundThreadRunsPassesAndStops) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(store_->Put(MakeId(i), RandomBytes(kBlock, i), std::nullopt));
  }
  ScrubberOptions o = Options();
  o.pass_interval = absl::Seconds(1);  // fake time: passes back to back
  Scrubber scrubber(store_.get(), o);
  scrubber.Start();
  scrubber.WaitForPasses(3);
  scrubber.Stop();
  EXPECT_GE(scrubber.stats().passes, 3u);
  EXPECT_GE(scrubber.stats().slices_checked, 12u);
  EXPECT_EQ(scrubber.stats().corrupt_found, 0u);
}

TEST(ScrubberOptionsTest, Validate) {
  ScrubberOptions o;
  EXPECT_OK(o.Validate());
  o.list_batch = 0;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace tessera::storage
