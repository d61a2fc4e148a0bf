#include "base/sodium.h"

#include <sodium.h>

#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(SodiumTest, InitialisesLibsodiumOnceFromManyThreads) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([] { EnsureSodiumInitialized(); });
  for (std::thread& t : threads) t.join();
  // sodium_init() returns 1 when the library was already initialised.
  EXPECT_EQ(sodium_init(), 1);
}

TEST(SodiumTest, RandomStringsHaveTheRequestedSizeAndDiffer) {
  EXPECT_EQ(SecureRandomString(0), "");
  const std::string a = SecureRandomString(32);
  const std::string b = SecureRandomString(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);  // 2^-256 chance of a false failure.
}

TEST(SodiumTest, RandomBytesFillTheWholeBuffer) {
  // A 4 KiB buffer with no non-zero byte would mean the tail was not written.
  std::string buf(4096, '\0');
  SecureRandomBytes(buf.data(), buf.size());
  EXPECT_NE(buf.find_first_not_of('\0', 4000), std::string::npos);
  SecureRandomBytes(nullptr, 0);  // n == 0 is a no-op.
}

TEST(SodiumTest, U64ValuesDiffer) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 64; ++i) seen.insert(SecureRandomU64());
  EXPECT_EQ(seen.size(), 64u);
}

TEST(SodiumTest, UniformStaysInRange) {
  EXPECT_EQ(SecureRandomUniform(0), 0u);
  EXPECT_EQ(SecureRandomUniform(1), 0u);
  std::set<uint32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    const uint32_t v = SecureRandomUniform(10);
    ASSERT_LT(v, 10u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 10u);
}

}  // namespace
}  // namespace tessera
