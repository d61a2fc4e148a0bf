#include "storage/slice/slice_format.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "storage/slice/crc32c.h"

namespace tessera::storage::slice {
namespace {

SliceHeader SampleHeader() {
  SliceHeader h;
  h.length = 123456789;
  h.id = std::string(28, 'k');
  h.id[0] = '\0';
  h.id[27] = '\xff';
  return h;
}

TEST(SliceFormatTest, HeaderRoundTrip) {
  const SliceHeader h = SampleHeader();
  const std::string bytes = EncodeHeader(h);
  ASSERT_EQ(bytes.size(), kHeaderSize);
  EXPECT_EQ(bytes.substr(0, 8), std::string(kMagic, 8));
  EXPECT_EQ(static_cast<uint8_t>(bytes[8]), kFormatVersion);
  auto decoded = DecodeHeader(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->version, kFormatVersion);
  EXPECT_EQ(decoded->block_size, kBlockSize);
  EXPECT_EQ(decoded->length, h.length);
  EXPECT_EQ(decoded->id, h.id);
}

TEST(SliceFormatTest, LayoutIsLittleEndianAtDocumentedOffsets) {
  SliceHeader h;
  h.length = 0x0102030405060708ull;
  h.id = "abc";
  const std::string b = EncodeHeader(h);
  EXPECT_EQ(static_cast<uint8_t>(b[10]), 3);
  EXPECT_EQ(static_cast<uint8_t>(b[12]), 0x00);  // 65536 = 0x00010000
  EXPECT_EQ(static_cast<uint8_t>(b[14]), 0x01);
  EXPECT_EQ(static_cast<uint8_t>(b[16]), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(b[23]), 0x01);
  EXPECT_EQ(b.substr(24, 3), "abc");
  const uint32_t crc = crc32c::Value(b.data(), 60);
  EXPECT_EQ(static_cast<uint8_t>(b[60]), crc & 0xff);
  EXPECT_EQ(static_cast<uint8_t>(b[63]), crc >> 24);
}

TEST(SliceFormatTest, EveryFlippedHeaderBitIsDetected) {
  const std::string good = EncodeHeader(SampleHeader());
  for (size_t i = 0; i < kHeaderSize * 8; ++i) {
    std::string bad = good;
    bad[i / 8] ^= static_cast<char>(1 << (i % 8));
    EXPECT_FALSE(DecodeHeader(bad).ok()) << "bit " << i;
  }
}

TEST(SliceFormatTest, TruncatedHeaderIsDataLoss) {
  const std::string good = EncodeHeader(SampleHeader());
  EXPECT_EQ(DecodeHeader(good.substr(0, kHeaderSize - 1)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(SliceFormatTest, NewerVersionIsRefusedClearly) {
  SliceHeader h = SampleHeader();
  h.version = kFormatVersion + 1;
  auto decoded = DecodeHeader(EncodeHeader(h));
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(decoded.status().message().find("newer"), absl::string_view::npos);
}

TEST(SliceFormatTest, ChecksumsCoverBlocksAndWhole) {
  std::string data(2 * kBlockSize + 100, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i % 251);
  Checksums sums = ComputeChecksums(data);
  ASSERT_EQ(sums.blocks.size(), 3u);
  EXPECT_EQ(sums.whole, crc32c::Value(data));
  EXPECT_EQ(sums.blocks[0], crc32c::Value(data.data(), kBlockSize));
  EXPECT_EQ(sums.blocks[1], crc32c::Value(data.data() + kBlockSize, kBlockSize));
  EXPECT_EQ(sums.blocks[2], crc32c::Value(data.data() + 2 * kBlockSize, 100));
  EXPECT_TRUE(ComputeChecksums("").blocks.empty());
  EXPECT_EQ(ComputeChecksums("").whole, 0u);
}

TEST(SliceFormatTest, BlockCountAndSpans) {
  EXPECT_EQ(BlockCount(0), 0u);
  EXPECT_EQ(BlockCount(1), 1u);
  EXPECT_EQ(BlockCount(kBlockSize), 1u);
  EXPECT_EQ(BlockCount(kBlockSize + 1), 2u);
  BlockSpan s = BlocksForRange(kBlockSize - 1, 2);
  EXPECT_EQ(s.first, 0u);
  EXPECT_EQ(s.count, 2u);
  s = BlocksForRange(kBlockSize, kBlockSize);
  EXPECT_EQ(s.first, 1u);
  EXPECT_EQ(s.count, 1u);
  s = BlocksForRange(0, 1);
  EXPECT_EQ(s.first, 0u);
  EXPECT_EQ(s.count, 1u);
}

}  // namespace
}  // namespace tessera::storage::slice
