#include "storage/slice/crc32c.h"

#include <string>

#include "gtest/gtest.h"

namespace tessera::storage::crc32c {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  // The catalogued check value of CRC-32C (CRC-32/ISCSI).
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
}

TEST(Crc32cTest, KnownVectorsFromRfc3720) {
  // RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and ascending 0..31.
  std::string zeros(32, '\0');
  EXPECT_EQ(Value(zeros), 0x8A9136AAu);
  std::string ones(32, '\xff');
  EXPECT_EQ(Value(ones), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Value(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, EmptyIsZero) { EXPECT_EQ(Value(""), 0u); }

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 7 + 3));
  const uint32_t whole = Value(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{4096}, size_t{65536}, data.size()}) {
    uint32_t a = Value(data.data(), split);
    EXPECT_EQ(Extend(a, data.data() + split, data.size() - split), whole) << split;
  }
}

TEST(Crc32cTest, DetectsSingleBitFlip) {
  std::string data(65536, 'x');
  const uint32_t before = Value(data);
  data[12345] ^= 0x01;
  EXPECT_NE(Value(data), before);
}

}  // namespace
}  // namespace tessera::storage::crc32c
