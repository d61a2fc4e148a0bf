#include "storage/index/index_entry.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

IndexEntry FileEntry() {
  IndexEntry e;
  e.state = EntryState::kCorrupt;
  e.dir_index = 3;
  e.file_name = "ab/0123.slice";
  e.length = 65536 * 2 + 5;
  e.crc32c = 0xdeadbeef;
  e.block_size = 65536;
  e.block_crcs = {1, 2, 0xffffffff};
  e.created_micros = 1700000000000000;
  e.verified_micros = -5;
  return e;
}

TEST(IndexEntryTest, FileEntryRoundTrip) {
  const IndexEntry e = FileEntry();
  auto d = DecodeIndexEntry(EncodeIndexEntry(e));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, e);
}

TEST(IndexEntryTest, InlineEntryRoundTrip) {
  IndexEntry e;
  e.is_inline = true;
  e.inline_data = std::string("a\0b", 3);
  e.length = 3;
  e.crc32c = 7;
  e.state = EntryState::kMissing;
  auto d = DecodeIndexEntry(EncodeIndexEntry(e));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, e);
}

TEST(IndexEntryTest, EveryTruncationIsDataLoss) {
  const std::string bytes = EncodeIndexEntry(FileEntry());
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_EQ(DecodeIndexEntry(bytes.substr(0, n)).status().code(), absl::StatusCode::kDataLoss)
        << n;
  }
}

TEST(IndexEntryTest, TrailingBytesAreAcceptedForForwardCompatibility) {
  auto d = DecodeIndexEntry(EncodeIndexEntry(FileEntry()) + "future");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, FileEntry());
}

TEST(IndexEntryTest, NewerVersionAndBadFieldsAreRefused) {
  std::string bytes = EncodeIndexEntry(FileEntry());
  bytes[0] = 2;
  EXPECT_EQ(DecodeIndexEntry(bytes).status().code(), absl::StatusCode::kFailedPrecondition);
  bytes = EncodeIndexEntry(FileEntry());
  bytes[1] = 9;  // state
  EXPECT_EQ(DecodeIndexEntry(bytes).status().code(), absl::StatusCode::kDataLoss);
  bytes = EncodeIndexEntry(FileEntry());
  bytes[2] = 0;  // location kind
  EXPECT_EQ(DecodeIndexEntry(bytes).status().code(), absl::StatusCode::kDataLoss);
  IndexEntry e = FileEntry();
  e.block_crcs.pop_back();  // count no longer matches the length
  EXPECT_EQ(DecodeIndexEntry(EncodeIndexEntry(e)).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace tessera::storage
