#include "storage/index/slice_index.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/env.h"
#include "base/fault_injection_env.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;

std::string TestDir(const std::string& name) {
  return ::tessera::testing::UniqueTestDir("slice_index_" + name);  // fresh per call and repetition
}

IndexEntry Entry(uint64_t length) {
  IndexEntry e;
  e.is_inline = true;
  e.inline_data = std::string(length, 'd');
  e.length = length;
  e.crc32c = static_cast<uint32_t>(length * 31);
  return e;
}

std::string Key(int i) { return absl::StrFormat("key%05d", i); }

TEST(SliceIndexTest, PutGetDeleteAndReopen) {
  const std::string dir = TestDir("basic");
  {
    ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(dir, Env::Default()));
    EXPECT_THAT(index->Get("a"), StatusIs(absl::StatusCode::kNotFound));
    ASSERT_OK(index->Put("a", Entry(3)));
    ASSERT_OK(index->Put("b", Entry(4)));
    EXPECT_THAT(index->Get("a"), IsOkAndHolds(Entry(3)));
    ASSERT_OK(index->Delete("b"));
    EXPECT_THAT(index->Get("b"), StatusIs(absl::StatusCode::kNotFound));
    ASSERT_OK(index->PutMeta("format", "v1"));
  }
  ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(dir, Env::Default()));
  EXPECT_THAT(index->Get("a"), IsOkAndHolds(Entry(3)));
  EXPECT_THAT(index->Get("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(index->GetMeta("format"), IsOkAndHolds(std::string("v1")));
  EXPECT_THAT(index->GetMeta("other"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SliceIndexTest, ScanPagesInKeyOrderAndSkipsMetadata) {
  ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(TestDir("scan"), Env::Default()));
  ASSERT_OK(index->PutMeta("zzz", "meta"));
  ASSERT_OK(index->PutMeta("aaa", "meta"));
  for (int i = 99; i >= 0; --i) ASSERT_OK(index->Put(Key(i), Entry(i), /*sync=*/false));
  std::optional<std::string> cursor;
  int next = 0;
  while (true) {
    ASSERT_OK_AND_ASSIGN(auto page, index->Scan(cursor, 7));
    if (page.empty()) break;
    EXPECT_LE(page.size(), 7u);
    for (const auto& [key, entry] : page) {
      EXPECT_EQ(key, Key(next));
      EXPECT_EQ(entry.length, static_cast<uint64_t>(next));
      ++next;
    }
    cursor = page.back().first;
  }
  EXPECT_EQ(next, 100);
  int count = 0;
  ASSERT_OK(index->ForEach([&](absl::string_view key, const IndexEntry&) {
    EXPECT_EQ(std::string(key), Key(count));
    ++count;
    return absl::OkStatus();
  }));
  EXPECT_EQ(count, 100);
  EXPECT_THAT(index->Scan(std::nullopt, 0), IsOkAndHolds(::testing::IsEmpty()));
}

TEST(SliceIndexTest, ResumesAfterDiskFullClears) {
  FaultInjectionEnv fault(Env::Default());
  ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(TestDir("full"), &fault));
  ASSERT_OK(index->Put("a", Entry(1)));
  fault.SetDiskFull(true);
  EXPECT_THAT(index->Put("b", Entry(2)), StatusIs(absl::StatusCode::kResourceExhausted));
  fault.SetDiskFull(false);
  ASSERT_OK(index->Put("c", Entry(3)));
  EXPECT_THAT(index->Get("a"), IsOkAndHolds(Entry(1)));
  EXPECT_THAT(index->Get("c"), IsOkAndHolds(Entry(3)));
}

TEST(SliceIndexTest, SyncedPutsSurviveCrash) {
  FaultInjectionEnv fault(Env::Default());
  const std::string dir = TestDir("crash");
  {
    ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(dir, &fault));
    ASSERT_OK(index->Put("durable", Entry(5), /*sync=*/true));
    ASSERT_OK(index->Put("volatile", Entry(6), /*sync=*/false));
    fault.SetFilesystemActive(false);
    ASSERT_OK(fault.DropUnsyncedData());
  }
  fault.ClearFaults();
  ASSERT_OK_AND_ASSIGN(auto index, SliceIndex::Open(dir, &fault));
  EXPECT_THAT(index->Get("durable"), IsOkAndHolds(Entry(5)));
  EXPECT_THAT(index->Get("volatile"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace tessera::storage
