#include "services/s3/checksum/crc64nvme.h"

#include <random>
#include <string>

#include "gtest/gtest.h"

namespace tessera::services::s3 {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Published check values: the CRC catalogue's check for CRC-64/NVME, AWS CRT (aws-c-checksums)
// for 32 zero bytes, and the NVM Command Set specification vectors (as in SPDK's tests) for
// 4096 bytes of 0x00 and of 0xFF.
TEST(Crc64NvmeTest, PublishedVectors) {
  const std::string check = "123456789";
  const std::string zeros32(32, '\0');
  const std::string zeros4k(4096, '\0');
  const std::string ones4k(4096, '\xff');
  for (auto fn : {&Crc64Nvme, &internal::Crc64NvmeTable, &internal::Crc64NvmeBitwise}) {
    EXPECT_EQ(fn(0, check.data(), check.size()), 0xae8b14860a799888ULL);
    EXPECT_EQ(fn(0, zeros32.data(), zeros32.size()), 0xCF3473434D4ECF3BULL);
    EXPECT_EQ(fn(0, zeros4k.data(), zeros4k.size()), 0x6482D367EB22B64EULL);
    EXPECT_EQ(fn(0, ones4k.data(), ones4k.size()), 0xC0DDBA7302ECA3ACULL);
    EXPECT_EQ(fn(0, nullptr, 0), 0u);
  }
}

TEST(Crc64NvmeTest, MatchesBitwiseReferenceOnRandomData) {
  std::string data = RandomBytes(70000, 1);
  std::mt19937 rng(2);
  for (int iter = 0; iter < 300; ++iter) {
    size_t len = iter < 200 ? static_cast<size_t>(iter) * 7 : rng() % 60000;
    size_t off = rng() % 17;  // misaligned starts
    uint64_t init = (iter % 3 == 0) ? 0 : (static_cast<uint64_t>(rng()) << 32 | rng());
    uint64_t want = internal::Crc64NvmeBitwise(init, data.data() + off, len);
    EXPECT_EQ(Crc64Nvme(init, data.data() + off, len), want) << "len=" << len << " off=" << off;
    EXPECT_EQ(internal::Crc64NvmeTable(init, data.data() + off, len), want) << "len=" << len;
  }
}

TEST(Crc64NvmeTest, IncrementalEqualsOneShot) {
  std::string data = RandomBytes(1 << 20, 3);
  uint64_t whole = Crc64Nvme(0, data.data(), data.size());
  EXPECT_EQ(whole, internal::Crc64NvmeTable(0, data.data(), data.size()));
  std::mt19937 rng(4);
  for (int round = 0; round < 5; ++round) {
    uint64_t crc = 0;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t piece = std::min<size_t>(data.size() - pos, 1 + rng() % 5000);
      crc = Crc64Nvme(crc, data.data() + pos, piece);
      pos += piece;
    }
    EXPECT_EQ(crc, whole);
  }
}

TEST(Crc64NvmeTest, DetectsSingleBitFlips) {
  std::string data = RandomBytes(4096, 5);
  uint64_t base = Crc64Nvme(0, data.data(), data.size());
  for (size_t bit = 0; bit < data.size() * 8; bit += 97) {
    std::string copy = data;
    copy[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    EXPECT_NE(Crc64Nvme(0, copy.data(), copy.size()), base) << bit;
  }
}

}  // namespace
}  // namespace tessera::services::s3
