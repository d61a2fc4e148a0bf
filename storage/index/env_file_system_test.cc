#include "storage/index/env_file_system.h"

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/fault_injection_env.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"

namespace tessera::storage {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;

std::string TestDir(const std::string& name) {
  const char* root = std::getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(root != nullptr ? root : "/tmp", "/envfs_", name);
  EXPECT_OK(Env::Default()->CreateDirs(dir));
  return dir;
}

class EnvFileSystemTest : public ::testing::Test {
 protected:
  void Open() {
    rocks_env_ = NewRocksEnv(&fault_);
    rocksdb::Options options;
    options.env = rocks_env_.get();
    options.create_if_missing = true;
    options.allow_mmap_reads = false;
    options.manual_wal_flush = false;
    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, dir_, &db);
    ASSERT_TRUE(s.ok()) << s.ToString();
    db_.reset(db);
  }
  void Close() {
    if (db_ != nullptr) (void)db_->Close();
    db_.reset();
    rocks_env_.reset();
  }
  // Power loss: nothing more reaches the disk, unsynced data vanishes, the process "restarts".
  void Crash() {
    fault_.SetFilesystemActive(false);
    ASSERT_OK(fault_.DropUnsyncedData());
    Close();
    fault_.ClearFaults();
  }
  absl::Status Put(const std::string& k, const std::string& v, bool sync) {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return FromRocksStatus(db_->Put(wo, k, v));
  }
  absl::StatusOr<std::string> Get(const std::string& k) {
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), k, &v);
    if (!s.ok()) return FromRocksStatus(s);
    return v;
  }

  void TearDown() override { Close(); }

  FaultInjectionEnv fault_{Env::Default()};
  std::string dir_ = TestDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::unique_ptr<rocksdb::Env> rocks_env_;
  std::unique_ptr<rocksdb::DB> db_;
};

TEST_F(EnvFileSystemTest, SyncedWritesSurviveCrashUnsyncedOnesDoNot) {
  Open();
  for (int i = 0; i < 100; ++i) ASSERT_OK(Put(absl::StrCat("synced", i), "v", /*sync=*/true));
  for (int i = 0; i < 100; ++i) ASSERT_OK(Put(absl::StrCat("unsynced", i), "v", /*sync=*/false));
  // The adapter really carried RocksDB's writes and syncs.
  EXPECT_GT(fault_.counters().appends, 0u);
  EXPECT_GT(fault_.counters().syncs, 0u);
  EXPECT_FALSE(fault_.UnsyncedFiles().empty());
  Crash();
  Open();
  for (int i = 0; i < 100; ++i) {
    EXPECT_THAT(Get(absl::StrCat("synced", i)), IsOkAndHolds(std::string("v"))) << i;
    EXPECT_THAT(Get(absl::StrCat("unsynced", i)), StatusIs(absl::StatusCode::kNotFound)) << i;
  }
}

TEST_F(EnvFileSystemTest, ReadsOfTableFilesGoThroughTheEnv) {
  Open();
  for (int i = 0; i < 50; ++i) ASSERT_OK(Put(absl::StrCat("k", i), std::string(100, 'x'), true));
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  Close();
  Open();
  const uint64_t reads_before = fault_.counters().reads;
  EXPECT_THAT(Get("k7"), IsOkAndHolds(std::string(100, 'x')));
  EXPECT_GT(fault_.counters().reads, reads_before);
}

TEST_F(EnvFileSystemTest, FlushedTableSurvivesCrashAndCrashAfterFlushKeepsData) {
  Open();
  for (int i = 0; i < 20; ++i) ASSERT_OK(Put(absl::StrCat("k", i), "v1", true));
  ASSERT_TRUE(db_->Flush(rocksdb::FlushOptions()).ok());
  ASSERT_OK(Put("after", "v2", false));
  Crash();
  Open();
  for (int i = 0; i < 20; ++i) EXPECT_THAT(Get(absl::StrCat("k", i)), IsOk());
  EXPECT_THAT(Get("after"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(EnvFileSystemTest, DiskFullBecomesResourceExhausted) {
  Open();
  ASSERT_OK(Put("a", "1", true));
  fault_.SetDiskFull(true);
  EXPECT_THAT(Put("b", std::string(1000, 'z'), true),
              StatusIs(absl::StatusCode::kResourceExhausted));
  fault_.SetDiskFull(false);
  EXPECT_THAT(Get("a"), IsOkAndHolds(std::string("1")));
}

TEST(StatusConversionTest, CodesKeepTheirMeaning) {
  EXPECT_TRUE(ToIOStatus(absl::NotFoundError("x")).IsNotFound());
  EXPECT_TRUE(ToIOStatus(absl::ResourceExhaustedError("x")).IsNoSpace());
  EXPECT_TRUE(ToIOStatus(absl::DataLossError("x")).IsCorruption());
  EXPECT_TRUE(ToIOStatus(absl::InternalError("x")).IsIOError());
  EXPECT_TRUE(ToIOStatus(absl::OkStatus()).ok());
  EXPECT_EQ(FromRocksStatus(rocksdb::Status::NotFound()).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(FromRocksStatus(rocksdb::Status::NoSpace()).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(FromRocksStatus(rocksdb::Status::Corruption()).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FromRocksStatus(rocksdb::Status::IOError()).code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace tessera::storage
