#include "storage/store/slice_store.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/fault_injection_env.h"
#include "base/logging.h"
#include "base/metrics.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/index/slice_index.h"
#include "storage/slice/crc32c.h"
#include "storage/slice/slice_format.h"
#include "storage/store/store_test_util.h"

namespace tessera::storage {
namespace {

using ::tessera::storage::testing::FilesContaining;
using ::tessera::storage::testing::FreshDir;
using ::tessera::storage::testing::MakeId;
using ::tessera::storage::testing::RandomBytes;
using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint64_t kBlock = slice::kBlockSize;

class SliceStoreTest : public ::testing::Test {
 protected:
  SliceStoreTest() {
    root_ = FreshDir();
    options_.index_dir = root_ + "/meta";
    options_.data_dirs = {root_ + "/disk0", root_ + "/disk1"};
    options_.reserved_bytes = 0;
    options_.env = &fault_;
    options_.registry = &registry_;
  }

  void Open() {
    store_.reset();
    auto store = OpenSliceStore(options_);
    ASSERT_OK(store.status());
    store_ = std::move(store).value();
  }

  // The path of a file slice (there is exactly one such file per id).
  std::string FileOf(const SliceId& id) {
    const std::string hex = absl::BytesToHexString(id.Encode());
    std::vector<std::string> found;
    for (const auto& dir : options_.data_dirs) {
      for (auto& f : FilesContaining(Env::Default(), dir, hex + ".slice")) found.push_back(f);
    }
    EXPECT_EQ(found.size(), 1u) << id.ToString();
    return found.empty() ? "" : found[0];
  }

  std::vector<std::string> TempFiles() {
    std::vector<std::string> out;
    for (const auto& dir : options_.data_dirs) {
      for (auto& f : FilesContaining(Env::Default(), dir, ".tmp.")) out.push_back(f);
    }
    return out;
  }

  size_t SliceFiles() {
    size_t n = 0;
    for (const auto& dir : options_.data_dirs)
      n += FilesContaining(Env::Default(), dir, ".slice").size();
    return n;
  }

  FaultInjectionEnv fault_{Env::Default()};
  Registry registry_;  // before store_: outlives it
  std::string root_;
  SliceStoreOptions options_;
  std::unique_ptr<SliceStore> store_;
};

TEST(SliceStoreOptionsTest, ValidateNamesTheField) {
  SliceStoreOptions o;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("index_dir")));
  o.index_dir = "/x";
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("data_dirs")));
  o.data_dirs = {"/a", "/a"};
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  o.data_dirs = {"/a", "/b"};
  EXPECT_OK(o.Validate());
  o.max_slice_bytes = 0;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_slice")));
  EXPECT_THAT(OpenSliceStore(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(SliceIdTest, EncodeDecodeOrderAndString) {
  SliceId a = MakeId(1, 2);
  a.part = 0x01020304;
  const std::string key = a.Encode();
  ASSERT_EQ(key.size(), 28u);
  EXPECT_EQ(key.substr(16, 4), std::string("\x01\x02\x03\x04", 4));  // big-endian
  EXPECT_THAT(SliceId::Decode(key), IsOkAndHolds(a));
  EXPECT_THAT(SliceId::Decode("short"), StatusIs(absl::StatusCode::kInvalidArgument));
  SliceId b = a;
  b.index = 3;
  SliceId c = a;
  c.stripe = a.stripe + 1;
  c.index = 0;
  EXPECT_LT(a.Encode(), b.Encode());
  EXPECT_LT(b.Encode(), c.Encode());
  EXPECT_THAT(a.ToString(), HasSubstr("/16909060/"));
  EXPECT_EQ(a.ToString().substr(0, 2), "76");  // hex of 'v'
}

TEST_F(SliceStoreTest, InlineAndFileRoundTripWithStat) {
  Open();
  const std::string small = RandomBytes(1000, 1);
  const std::string big = RandomBytes(3 * kBlock + 17, 2);
  ASSERT_OK(store_->Put(MakeId(1), small, std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), big, crc32c::Value(big)));
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(small));
  EXPECT_THAT(store_->Get(MakeId(2), {}), IsOkAndHolds(big));
  // Only the big one has a file, with the documented size.
  EXPECT_EQ(SliceFiles(), 1u);
  EXPECT_THAT(Env::Default()->FileSize(FileOf(MakeId(2))),
              IsOkAndHolds(slice::kHeaderSize + big.size()));
  ASSERT_OK_AND_ASSIGN(SliceInfo info, store_->Stat(MakeId(2)));
  EXPECT_EQ(info.id, MakeId(2));
  EXPECT_EQ(info.length, big.size());
  EXPECT_EQ(info.crc32c, crc32c::Value(big));
  EXPECT_EQ(info.state, SliceState::kLive);
  EXPECT_THAT(store_->Stat(MakeId(3)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Get(MakeId(3), {}), StatusIs(absl::StatusCode::kNotFound));
  StoreStats stats = store_->Stats();
  EXPECT_EQ(stats.slice_count, 2u);
  EXPECT_EQ(stats.used_bytes, small.size() + big.size());
  EXPECT_GT(stats.capacity_bytes, 0u);
  EXPECT_EQ(store_->Counters().puts, 2u);
  EXPECT_EQ(store_->Counters().gets, 2u);
}

TEST_F(SliceStoreTest, RangesAcrossBlockBoundaries) {
  Open();
  const std::string big = RandomBytes(3 * kBlock + 100, 3);
  ASSERT_OK(store_->Put(MakeId(1), big, std::nullopt));
  const uint64_t offsets[] = {
      0, 1, kBlock - 1, kBlock, kBlock + 1, 2 * kBlock - 3, 3 * kBlock, 3 * kBlock + 99};
  const uint64_t lengths[] = {1, 2, 100, kBlock, kBlock + 2, 2 * kBlock + 1};
  for (uint64_t off : offsets) {
    for (uint64_t len : lengths) {
      const std::string want = big.substr(off, len);  // clamps at the end, like Get
      EXPECT_THAT(store_->Get(MakeId(1), {off, len}), IsOkAndHolds(want))
          << "offset " << off << " length " << len;
    }
    EXPECT_THAT(store_->Get(MakeId(1), {off, 0}), IsOkAndHolds(big.substr(off)));
  }
  // Reads only the blocks they touch: a one-block range reads one block's worth.
  const uint64_t reads_before = fault_.counters().reads;
  ASSERT_OK(store_->Get(MakeId(1), {kBlock + 5, 10}).status());
  EXPECT_EQ(fault_.counters().reads, reads_before + 1);
  // At the end: empty; past the end: OUT_OF_RANGE.
  EXPECT_THAT(store_->Get(MakeId(1), {big.size(), 0}), IsOkAndHolds(std::string()));
  EXPECT_THAT(store_->Get(MakeId(1), {big.size() + 1, 0}), StatusIs(absl::StatusCode::kOutOfRange));
  // Inline slices too.
  ASSERT_OK(store_->Put(MakeId(2), "hello world", std::nullopt));
  EXPECT_THAT(store_->Get(MakeId(2), {6, 100}), IsOkAndHolds(std::string("world")));
  EXPECT_THAT(store_->Get(MakeId(2), {12, 1}), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_F(SliceStoreTest, IdempotentRetryAndAlreadyExists) {
  Open();
  const std::string data = RandomBytes(2 * kBlock, 4);
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));
  EXPECT_OK(store_->Put(MakeId(1), data, crc32c::Value(data)));  // retry
  std::string other = data;
  other[5] ^= 1;
  EXPECT_THAT(store_->Put(MakeId(1), other, std::nullopt),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Put(MakeId(1), "short", std::nullopt),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(store_->Put(MakeId(2), "inline", std::nullopt));
  EXPECT_OK(store_->Put(MakeId(2), "inline", std::nullopt));
  EXPECT_THAT(store_->Put(MakeId(2), "INLINE", std::nullopt),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(data));
  EXPECT_THAT(store_->Get(MakeId(2), {}), IsOkAndHolds(std::string("inline")));
  EXPECT_EQ(SliceFiles(), 1u);
}

// Reclaiming a stale copy (a node back after repair moved its slices) must not race a writer
// that puts the same slice here again: the identical Put refreshes the creation time, and the
// conditional delete of the copy seen before fails.
TEST_F(SliceStoreTest, DeleteIfCreatedAtDeletesOnlyTheCopySeen) {
  Open();
  const std::string data = RandomBytes(2 * kBlock, 6);
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));
  ASSERT_OK_AND_ASSIGN(SliceInfo seen, store_->Stat(MakeId(1)));
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));  // put here again
  ASSERT_OK_AND_ASSIGN(SliceInfo now, store_->Stat(MakeId(1)));
  EXPECT_GT(now.created, seen.created);
  EXPECT_THAT(store_->DeleteIfCreatedAt(MakeId(1), seen.created),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(data));
  ASSERT_OK(store_->DeleteIfCreatedAt(MakeId(1), now.created));
  EXPECT_THAT(store_->Get(MakeId(1), {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->DeleteIfCreatedAt(MakeId(1), now.created),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SliceFiles(), 0u);
  // Inline slices alike; and the refreshed time survives a reopen.
  ASSERT_OK(store_->Put(MakeId(2), "inline", std::nullopt));
  ASSERT_OK_AND_ASSIGN(SliceInfo inline_seen, store_->Stat(MakeId(2)));
  ASSERT_OK(store_->Put(MakeId(2), "inline", std::nullopt));
  Open();
  EXPECT_THAT(store_->DeleteIfCreatedAt(MakeId(2), inline_seen.created),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(store_->Get(MakeId(2), {}), IsOkAndHolds(std::string("inline")));
}

TEST_F(SliceStoreTest, ExpectedCrcMismatchStoresNothing) {
  Open();
  const std::string data = RandomBytes(kBlock + 1, 5);
  EXPECT_THAT(store_->Put(MakeId(1), data, crc32c::Value(data) ^ 1),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store_->Put(MakeId(2), "tiny", 0), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store_->Stat(MakeId(1)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Stat(MakeId(2)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SliceFiles(), 0u);
  EXPECT_TRUE(TempFiles().empty());
}

TEST_F(SliceStoreTest, OversizeAndBadIdsAreRejected) {
  options_.max_slice_bytes = 1000;
  options_.inline_threshold_bytes = 100;
  Open();
  EXPECT_THAT(store_->Put(MakeId(1), std::string(1001, 'x'), std::nullopt),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_slice_bytes")));
  EXPECT_OK(store_->Put(MakeId(1), std::string(1000, 'x'), std::nullopt));
  SliceId bad = MakeId(2);
  bad.version_id = "too short";
  EXPECT_THAT(store_->Put(bad, "x", std::nullopt), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Get(bad, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Delete(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Stat(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_->Verify(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SliceStoreTest, DeleteIsDurableAndRemovesTheFile) {
  Open();
  ASSERT_OK(store_->Put(MakeId(1), RandomBytes(kBlock * 2, 6), std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), "inline", std::nullopt));
  ASSERT_OK(store_->Delete(MakeId(1)));
  ASSERT_OK(store_->Delete(MakeId(2)));
  EXPECT_THAT(store_->Delete(MakeId(1)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Get(MakeId(1), {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SliceFiles(), 0u);
  EXPECT_EQ(store_->Stats().slice_count, 0u);
  EXPECT_EQ(store_->Stats().used_bytes, 0u);
  // The delete survives a crash.
  fault_.SetFilesystemActive(false);
  ASSERT_OK(fault_.DropUnsyncedData());
  store_.reset();
  fault_.ClearFaults();
  Open();
  EXPECT_THAT(store_->Get(MakeId(1), {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Get(MakeId(2), {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(SliceFiles(), 0u);
  // Can be stored again afterwards, with other bytes.
  ASSERT_OK(store_->Put(MakeId(1), "new", std::nullopt));
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(std::string("new")));
}

TEST_F(SliceStoreTest, ListPagesReturnEverySliceOnceInIdOrder) {
  Open();
  std::set<std::string> keys;
  for (int i = 0; i < 60; ++i) {
    // Scrambled insertion order, mixed sizes.
    const SliceId id = MakeId((i * 37) % 61, i % 3);
    const std::string data = RandomBytes(i % 4 == 0 ? kBlock + i : 10 + i, i);
    ASSERT_OK(store_->Put(id, data, std::nullopt));
    keys.insert(id.Encode());
  }
  std::vector<std::string> seen;
  std::optional<SliceId> cursor;
  for (int pages = 0; pages < 100; ++pages) {
    ASSERT_OK_AND_ASSIGN(std::vector<SliceInfo> page, store_->List(cursor, 7));
    if (page.empty()) break;
    EXPECT_LE(page.size(), 7u);
    for (const SliceInfo& info : page) seen.push_back(info.id.Encode());
    cursor = page.back().id;
  }
  EXPECT_EQ(seen, std::vector<std::string>(keys.begin(), keys.end()));
}

TEST_F(SliceStoreTest, ReopenKeepsEverySlice) {
  Open();
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(store_->Put(MakeId(i), RandomBytes(i * 9000, i), std::nullopt));
  }
  const StoreStats before = store_->Stats();
  Open();
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(store_->Get(MakeId(i), {}), IsOkAndHolds(RandomBytes(i * 9000, i))) << i;
  }
  EXPECT_EQ(store_->recovery_report().slices, 20u);
  EXPECT_EQ(store_->recovery_report().missing_files, 0u);
  EXPECT_EQ(store_->recovery_report().orphan_files, 0u);
  EXPECT_EQ(store_->Stats().used_bytes, before.used_bytes);
  EXPECT_EQ(store_->Stats().slice_count, 20u);
}

TEST_F(SliceStoreTest, RecoveryFlagsMissingAndShortFilesAndRemovesOrphansAndTemps) {
  Open();
  const std::string a = RandomBytes(2 * kBlock, 1), b = RandomBytes(2 * kBlock, 2);
  ASSERT_OK(store_->Put(MakeId(1), a, std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), b, std::nullopt));
  ASSERT_OK(store_->Put(MakeId(3), RandomBytes(2 * kBlock, 3), std::nullopt));
  const std::string file1 = FileOf(MakeId(1)), file2 = FileOf(MakeId(2));
  store_.reset();
  ASSERT_OK(Env::Default()->DeleteFile(file1));
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(Env::Default(), file2));
  // Truncate the second inside its last block (block 0 stays whole).
  ASSERT_OK(
      WriteFileAtomically(Env::Default(), file2, contents.substr(0, contents.size() - kBlock / 2)));
  // An orphan (valid name, no entry) and a leftover temporary file.
  const std::string shard = file2.substr(0, file2.find_last_of('/'));
  const std::string orphan =
      absl::StrCat(shard, "/", absl::BytesToHexString(MakeId(99).Encode()), ".slice");
  ASSERT_OK(WriteFileAtomically(Env::Default(), orphan, "orphan"));
  ASSERT_OK(WriteFileAtomically(Env::Default(), file2 + ".tmp.7", "partial"));
  ASSERT_OK(WriteFileAtomically(Env::Default(), shard + "/README", "unknown names are kept"));
  // By default recovery only lists directories: the missing file is flagged at open, the short
  // one when a read reaches its end.
  Open();
  const RecoveryReport& r = store_->recovery_report();
  EXPECT_EQ(r.slices, 2u);
  EXPECT_EQ(r.missing_files, 1u);
  EXPECT_EQ(r.orphan_files, 1u);
  EXPECT_EQ(r.temp_files, 1u);
  EXPECT_FALSE(Env::Default()->FileExists(orphan));
  EXPECT_FALSE(Env::Default()->FileExists(file2 + ".tmp.7"));
  EXPECT_TRUE(Env::Default()->FileExists(shard + "/README"));
  // Missing slices: DATA_LOSS (the index says they should be here: repair), and reported as such.
  EXPECT_THAT(store_->Get(MakeId(1), {}), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(SliceInfo info, store_->Stat(MakeId(1)));
  EXPECT_EQ(info.state, SliceState::kMissing);
  EXPECT_THAT(store_->Get(MakeId(2), {0, 10}), IsOkAndHolds(b.substr(0, 10)));  // first half
  EXPECT_EQ(store_->Stat(MakeId(2))->state, SliceState::kLive);
  EXPECT_THAT(store_->Get(MakeId(2), {}), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(store_->Stat(MakeId(2))->state, SliceState::kMissing);
  EXPECT_THAT(store_->Get(MakeId(2), {0, 10}), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(store_->Stats().slice_count, 1u);
  // The flag is persistent, and a Put of the slice repairs it.
  Open();
  EXPECT_EQ(store_->recovery_report().missing_files, 2u);
  ASSERT_OK(store_->Put(MakeId(2), b, std::nullopt));
  EXPECT_THAT(store_->Get(MakeId(2), {}), IsOkAndHolds(b));
  EXPECT_EQ(store_->Stats().slice_count, 2u);
}

TEST_F(SliceStoreTest, RecoveryChecksFileSizesAtOpenWhenAsked) {
  options_.check_file_sizes_at_open = true;
  Open();
  const std::string a = RandomBytes(2 * kBlock, 1);
  ASSERT_OK(store_->Put(MakeId(1), a, std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), RandomBytes(2 * kBlock, 2), std::nullopt));
  const std::string file2 = FileOf(MakeId(2));
  store_.reset();
  ASSERT_OK_AND_ASSIGN(std::string contents, ReadFileToString(Env::Default(), file2));
  ASSERT_OK(WriteFileAtomically(Env::Default(), file2, contents.substr(0, contents.size() - 1)));
  Open();
  EXPECT_EQ(store_->recovery_report().slices, 1u);
  EXPECT_EQ(store_->recovery_report().missing_files, 1u);
  EXPECT_EQ(store_->Stat(MakeId(2))->state, SliceState::kMissing);
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(a));
}

TEST_F(SliceStoreTest, FailedIndexWriteRemovesTheNewFile) {
  Open();
  const std::string data = RandomBytes(2 * kBlock, 4);
  // The index's WAL append fails once with a full disk (RocksDB can resume from that).
  std::atomic<int> failures{0};
  fault_.SetHook([&](OpKind op, const std::string& path) -> absl::Status {
    if (op == OpKind::kAppend && absl::EndsWith(path, ".log") && failures.fetch_add(1) == 0) {
      return absl::ResourceExhaustedError("injected: disk full");
    }
    return absl::OkStatus();
  });
  EXPECT_FALSE(store_->Put(MakeId(1), data, std::nullopt).ok());
  fault_.SetHook(nullptr);
  EXPECT_GE(failures.load(), 1);
  EXPECT_EQ(SliceFiles(), 0u);  // not left for the next open to find
  EXPECT_THAT(store_->Stat(MakeId(1)), StatusIs(absl::StatusCode::kNotFound));
  // The store works on, and the retry lands.
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(data));
  Open();
  EXPECT_EQ(store_->recovery_report().orphan_files, 0u);
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(data));
}

TEST_F(SliceStoreTest, FileStaysWhenTheIndexCannotSayItIsUnreferenced) {
  Open();
  const std::string data = RandomBytes(2 * kBlock, 4);
  // A failed WAL sync: RocksDB refuses further writes until reopened, so the Put cannot durably
  // undo its entry, which may still be in the WAL. The file must stay.
  fault_.SetHook([&](OpKind op, const std::string& path) -> absl::Status {
    if (op == OpKind::kSync && absl::EndsWith(path, ".log")) {
      return absl::UnavailableError("injected WAL sync failure");
    }
    return absl::OkStatus();
  });
  EXPECT_FALSE(store_->Put(MakeId(1), data, std::nullopt).ok());
  fault_.SetHook(nullptr);
  EXPECT_EQ(SliceFiles(), 1u);
  // After a restart the slice is wholly there (the WAL record survived) or wholly absent (and
  // its file an orphan), never DATA_LOSS.
  Open();
  absl::StatusOr<std::string> got = store_->Get(MakeId(1), {});
  if (got.ok()) {
    EXPECT_EQ(*got, data);
    EXPECT_EQ(store_->recovery_report().orphan_files, 0u);
  } else {
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kNotFound));
    EXPECT_EQ(store_->recovery_report().orphan_files, 1u);
  }
}

TEST_F(SliceStoreTest, ExportsMetricsAndLogsDamageWithoutData) {
  CapturingLogSink sink;
  ScopedLogSink scoped(&sink);
  Open();
  const std::string data = RandomBytes(2 * kBlock, 5);
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), "small", std::nullopt));
  ASSERT_OK(store_->Get(MakeId(1), {}).status());
  EXPECT_THAT(store_->Put(MakeId(1), RandomBytes(10, 6), std::nullopt),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK(fault_.FlipBit(FileOf(MakeId(1)), slice::kHeaderSize + 10, 0));
  EXPECT_THAT(store_->Get(MakeId(1), {}), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK(store_->Delete(MakeId(2)));
  const std::string text = registry_.Serialize();
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_puts_total 2\n"));
  EXPECT_THAT(
      text, HasSubstr(absl::StrCat("tessera_slice_store_put_bytes_total ", data.size() + 5, "\n")));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_gets_total 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_deletes_total 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_errors_total{code=\"ALREADY_EXISTS\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_errors_total{code=\"DATA_LOSS\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_checksum_failures_total 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_slices_flagged_total{state=\"corrupt\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_slice_store_recovery_slices 0\n"));
  // One durability barrier of each kind per slice file written; an inline slice only commits
  // its index entry.
  EXPECT_THAT(text,
              HasSubstr("tessera_slice_store_fsync_duration_seconds_count{target=\"file\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("tessera_slice_store_fsync_duration_seconds_count{target=\"directory\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("tessera_slice_store_fsync_duration_seconds_count{target=\"index\"} 2\n"));
  ASSERT_OK(store_->Put(MakeId(3), data, std::nullopt));
  Open();  // the corrupt slice is not counted as valid; slice 3 is
  EXPECT_THAT(registry_.Serialize(), HasSubstr("tessera_slice_store_recovery_slices 1\n"));
  EXPECT_THAT(registry_.Serialize(), HasSubstr("tessera_slice_store_recovery_orphan_files 0\n"));
  bool flagged = false, recovered = false;
  for (const std::string& line : sink.lines()) {
    if (absl::StrContains(line, "event=slice_flagged")) {
      flagged = true;
      EXPECT_THAT(line, HasSubstr(MakeId(1).ToString()));
      EXPECT_THAT(line, HasSubstr("state=corrupt"));
    }
    if (absl::StrContains(line, "event=slice_store_recovered")) recovered = true;
    // Never slice bytes: no 16-byte run of the data, hex or raw, appears in a log line.
    EXPECT_FALSE(absl::StrContains(line, data.substr(100, 16))) << line;
    EXPECT_FALSE(absl::StrContains(line, absl::BytesToHexString(data.substr(100, 16)))) << line;
    EXPECT_FALSE(absl::StrContains(line, "small")) << line;
  }
  EXPECT_TRUE(flagged);
  EXPECT_TRUE(recovered);
}

TEST_F(SliceStoreTest, FlippedBitFailsOnlyRangesTouchingItsBlock) {
  Open();
  const std::string data = RandomBytes(3 * kBlock, 8);
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));
  ASSERT_OK(store_->Verify(MakeId(1)));
  ASSERT_OK(fault_.FlipBit(FileOf(MakeId(1)), slice::kHeaderSize + kBlock + 100, 3));
  EXPECT_THAT(store_->Get(MakeId(1), {0, kBlock}), IsOkAndHolds(data.substr(0, kBlock)));
  EXPECT_THAT(store_->Get(MakeId(1), {2 * kBlock, 0}), IsOkAndHolds(data.substr(2 * kBlock)));
  EXPECT_EQ(store_->Stat(MakeId(1))->state, SliceState::kLive);  // good blocks found no damage
  EXPECT_THAT(store_->Get(MakeId(1), {kBlock + 100, 1}), StatusIs(absl::StatusCode::kDataLoss));
  // The read that found the damage marked the slice corrupt: later reads fail fast, even of
  // good blocks, and List shows it to repair.
  ASSERT_OK_AND_ASSIGN(SliceInfo info, store_->Stat(MakeId(1)));
  EXPECT_EQ(info.state, SliceState::kCorrupt);
  ASSERT_OK_AND_ASSIGN(std::vector<SliceInfo> listed, store_->List(std::nullopt, 10));
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state, SliceState::kCorrupt);
  EXPECT_THAT(store_->Get(MakeId(1), {0, 10}), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store_->Get(MakeId(1), {}), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store_->Verify(MakeId(1)), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(store_->Counters().slices_marked_corrupt, 1u);
  EXPECT_GE(store_->Counters().checksum_failures, 4u);
  EXPECT_EQ(store_->Stats().slice_count, 0u);
  // The mark is durable.
  Open();
  EXPECT_EQ(store_->Stat(MakeId(1))->state, SliceState::kCorrupt);
  // A Put of the right bytes repairs it.
  ASSERT_OK(store_->Put(MakeId(1), data, std::nullopt));
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(data));
  EXPECT_OK(store_->Verify(MakeId(1)));
}

TEST_F(SliceStoreTest, CorruptHeaderAndInlineCorruptionAreCaughtByVerify) {
  Open();
  ASSERT_OK(store_->Put(MakeId(1), RandomBytes(kBlock + 5, 9), std::nullopt));
  ASSERT_OK(fault_.FlipBit(FileOf(MakeId(1)), 20, 0));  // inside the header's length field
  EXPECT_OK(store_->Get(MakeId(1), {0, 10}).status());  // data blocks are still fine
  EXPECT_THAT(store_->Verify(MakeId(1)), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(SliceStoreTest, DiskFullLeavesNothingPartialAndRecovers) {
  Open();
  const std::string keep = RandomBytes(2 * kBlock, 10);
  ASSERT_OK(store_->Put(MakeId(1), keep, std::nullopt));
  ASSERT_OK(store_->Put(MakeId(2), "small one", std::nullopt));
  fault_.SetDiskFull(true);
  EXPECT_THAT(store_->Put(MakeId(3), RandomBytes(2 * kBlock, 11), std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(store_->Put(MakeId(4), "inline", std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted));
  fault_.SetDiskFull(false);
  // A disk that fills up in the middle of the slice's bytes.
  fault_.SetWriteBudget(kBlock);
  EXPECT_THAT(store_->Put(MakeId(5), RandomBytes(2 * kBlock, 12), std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted));
  fault_.SetWriteBudget(std::nullopt);
  EXPECT_TRUE(TempFiles().empty());
  EXPECT_EQ(SliceFiles(), 1u);
  EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(keep));
  EXPECT_THAT(store_->Get(MakeId(2), {}), IsOkAndHolds(std::string("small one")));
  EXPECT_THAT(store_->Stat(MakeId(3)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->Stat(MakeId(5)), StatusIs(absl::StatusCode::kNotFound));
  // Space is back: Puts work again.
  ASSERT_OK(store_->Put(MakeId(3), RandomBytes(2 * kBlock, 11), std::nullopt));
  ASSERT_OK(store_->Put(MakeId(4), "inline", std::nullopt));
  EXPECT_THAT(store_->Get(MakeId(3), {}), IsOkAndHolds(RandomBytes(2 * kBlock, 11)));
  EXPECT_THAT(store_->Get(MakeId(4), {}), IsOkAndHolds(std::string("inline")));
}

TEST_F(SliceStoreTest, CapacityCapIsRespectedPerDirectory) {
  const uint64_t slice_bytes = 4 * kBlock;
  const uint64_t file_bytes = slice::FileSize(slice_bytes);
  options_.capacity_bytes = 2 * file_bytes + file_bytes / 2;  // two files per directory
  Open();
  StoreStats empty = store_->Stats();
  EXPECT_EQ(empty.capacity_bytes, 2 * options_.capacity_bytes);
  EXPECT_EQ(empty.free_bytes, 2 * options_.capacity_bytes);
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(store_->Put(MakeId(i), RandomBytes(slice_bytes, i), std::nullopt));
  }
  EXPECT_EQ(store_->Stats().free_bytes, 2 * (options_.capacity_bytes - 2 * file_bytes));
  EXPECT_THAT(store_->Put(MakeId(9), RandomBytes(slice_bytes, 9), std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_TRUE(TempFiles().empty());
  // Small slices live in the index and still fit.
  EXPECT_OK(store_->Put(MakeId(10), "inline", std::nullopt));
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(store_->Get(MakeId(i), {}), IsOkAndHolds(RandomBytes(slice_bytes, i)));
  }
  ASSERT_OK(store_->Delete(MakeId(0)));
  EXPECT_OK(store_->Put(MakeId(9), RandomBytes(slice_bytes, 9), std::nullopt));
  // The accounting survives a restart.
  Open();
  EXPECT_THAT(store_->Put(MakeId(11), RandomBytes(slice_bytes, 11), std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(SliceStoreTest, ReservedBytesAreNotEaten) {
  ASSERT_OK_AND_ASSIGN(DiskSpace space, Env::Default()->GetDiskSpace(root_));
  options_.reserved_bytes = space.free_bytes + (1ull << 30);  // more than the disk has free
  Open();
  EXPECT_EQ(store_->Stats().free_bytes, 0u);
  EXPECT_THAT(store_->Put(MakeId(1), RandomBytes(2 * kBlock, 1), std::nullopt),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST_F(SliceStoreTest, NewerStoreFormatIsRefusedClearly) {
  Open();
  store_.reset();
  {
    ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(options_.index_dir + "/index", &fault_));
    ASSERT_OK(index->PutMeta("store_format", "2.0"));
  }
  EXPECT_THAT(OpenSliceStore(options_),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("newer")));
  {
    ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(options_.index_dir + "/index", &fault_));
    ASSERT_OK(index->PutMeta("store_format", "1.7"));  // newer minor: still readable
  }
  Open();
}

TEST_F(SliceStoreTest, ConcurrentPutsAndGetsOfDistinctAndIdenticalIds) {
  Open();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 12;
  const std::string shared = RandomBytes(kBlock + 3, 1234);
  std::atomic<int> conflicting_ok{0}, conflicting_exists{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t n = 1000 + t * kPerThread + i;
        const std::string data = RandomBytes(i % 2 ? 2 * kBlock + t : 100 + t, n);
        EXPECT_OK(store_->Put(MakeId(n), data, std::nullopt));
        EXPECT_THAT(store_->Get(MakeId(n), {}), IsOkAndHolds(data));
        // Everyone stores the same slice: all succeed, one copy.
        EXPECT_OK(store_->Put(MakeId(1), shared, std::nullopt));
        EXPECT_THAT(store_->Get(MakeId(1), {}), IsOkAndHolds(shared));
      }
      // Everyone races to store different bytes under one id: exactly one wins.
      absl::Status s = store_->Put(MakeId(2), RandomBytes(kBlock * 2, 50 + t), std::nullopt);
      if (s.ok()) {
        ++conflicting_ok;
      } else {
        EXPECT_THAT(s, StatusIs(absl::StatusCode::kAlreadyExists));
        ++conflicting_exists;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(conflicting_ok.load(), 1);
  EXPECT_EQ(conflicting_exists.load(), kThreads - 1);
  EXPECT_EQ(store_->Stats().slice_count, kThreads * kPerThread + 2u);
  ASSERT_OK_AND_ASSIGN(std::string winner, store_->Get(MakeId(2), {}));
  bool matches_one = false;
  for (int t = 0; t < kThreads; ++t) matches_one |= winner == RandomBytes(kBlock * 2, 50 + t);
  EXPECT_TRUE(matches_one);
  EXPECT_TRUE(TempFiles().empty());
  Open();
  EXPECT_EQ(store_->recovery_report().slices, kThreads * kPerThread + 2u);
  EXPECT_EQ(store_->recovery_report().orphan_files, 0u);
}

}  // namespace
}  // namespace tessera::storage
