#include "storage/erasure/reed_solomon.h"

#include <algorithm>
#include <bit>
#include <random>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

using ::testing::HasSubstr;

constexpr uint8_t kGarbage = 0xA5;

// k data shards of random bytes plus m parity shards computed by Encode.
class Stripe {
 public:
  Stripe(const ReedSolomon& rs, size_t shard_len, uint32_t seed)
      : k_(rs.data_shards()), shards_(rs.total_shards(), std::vector<uint8_t>(shard_len)) {
    std::mt19937 rng(seed);
    for (int i = 0; i < k_; ++i) {
      for (auto& b : shards_[i]) b = static_cast<uint8_t>(rng());
    }
    std::vector<const uint8_t*> data;
    std::vector<uint8_t*> parity;
    for (int i = 0; i < rs.total_shards(); ++i) {
      if (i < k_) {
        data.push_back(shards_[i].data());
      } else {
        parity.push_back(shards_[i].data());
      }
    }
    EXPECT_TRUE(rs.Encode(data, parity, shard_len).ok());
  }

  const std::vector<std::vector<uint8_t>>& shards() const { return shards_; }

 private:
  int k_;
  std::vector<std::vector<uint8_t>> shards_;
};

// A copy of `original` with the shards not in `present_mask` overwritten by garbage.
struct Damaged {
  Damaged(const std::vector<std::vector<uint8_t>>& original, uint64_t present_mask)
      : shards(original) {
    for (size_t i = 0; i < shards.size(); ++i) {
      if (!((present_mask >> i) & 1)) std::fill(shards[i].begin(), shards[i].end(), kGarbage);
      ptrs.push_back(shards[i].data());
    }
  }
  std::vector<std::vector<uint8_t>> shards;
  std::vector<uint8_t*> ptrs;
};

uint64_t AllMask(int total) { return total == 64 ? ~uint64_t{0} : (uint64_t{1} << total) - 1; }

TEST(ReedSolomonOptionsTest, RejectsBadShapes) {
  EXPECT_EQ(ReedSolomon::Create(0, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReedSolomon::Create(4, -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReedSolomon::Create(40, 25).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(ReedSolomon::Create(0, 1).status().message()), HasSubstr("data_shards"));
  EXPECT_TRUE(ReedSolomon::Create(1, 0).ok());
  EXPECT_TRUE(ReedSolomon::Create(32, 32).ok());
  EXPECT_TRUE(ReedSolomon::Create(60, 4).ok());
}

TEST(ReedSolomonTest, CodeIdIsStable) {
  EXPECT_EQ(kCodeIdRsCauchyIsal, 1);
  auto rs = ReedSolomon::Create(4, 2);
  ASSERT_TRUE(rs.ok());
  EXPECT_EQ((*rs)->code_id(), ErasureCodeId::kRsCauchyIsal);
}

// Pins the parity byte layout behind kCodeIdRsCauchyIsal: if this changes, objects already
// stored under code id 1 would no longer decode. The expected bytes are Cauchy rows
// 1/(i ^ j) in GF(2^8) with polynomial 0x11d, applied to unit data.
TEST(ReedSolomonTest, ParityLayoutIsPinned) {
  auto rs = ReedSolomon::Create(3, 2);
  ASSERT_TRUE(rs.ok());
  // Data shard j holds the single byte 1 at position j, so parity byte j of shard p is the
  // generator coefficient (p, j).
  std::vector<std::vector<uint8_t>> data(3, std::vector<uint8_t>(3, 0));
  for (int j = 0; j < 3; ++j) data[j][j] = 1;
  std::vector<std::vector<uint8_t>> parity(2, std::vector<uint8_t>(3, 0));
  std::vector<const uint8_t*> d = {data[0].data(), data[1].data(), data[2].data()};
  std::vector<uint8_t*> p = {parity[0].data(), parity[1].data()};
  ASSERT_TRUE((*rs)->Encode(d, p, 3).ok());
  // Rows i = 3, 4 over columns j = 0..2: inverses of (3^0, 3^1, 3^2) = (3, 2, 1) and
  // (4^0, 4^1, 4^2) = (4, 5, 6) in GF(2^8)/0x11d.
  EXPECT_EQ(parity[0], (std::vector<uint8_t>{0xf4, 0x8e, 0x01}));
  EXPECT_EQ(parity[1], (std::vector<uint8_t>{0x47, 0xa7, 0x7a}));
}

TEST(ReedSolomonTest, EncodeRejectsWrongArity) {
  auto rs = ReedSolomon::Create(2, 1);
  ASSERT_TRUE(rs.ok());
  std::vector<uint8_t> a(8), b(8), c(8);
  std::vector<const uint8_t*> one = {a.data()};
  std::vector<uint8_t*> parity = {c.data()};
  EXPECT_EQ((*rs)->Encode(one, parity, 8).code(), absl::StatusCode::kInvalidArgument);
  std::vector<const uint8_t*> two = {a.data(), nullptr};
  EXPECT_EQ((*rs)->Encode(two, parity, 8).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ReedSolomonTest, NoParityIsIdentity) {
  auto rs = ReedSolomon::Create(3, 0);
  ASSERT_TRUE(rs.ok());
  Stripe stripe(**rs, 17, 1);
  Damaged all(stripe.shards(), AllMask(3));
  EXPECT_TRUE((*rs)->Reconstruct(all.ptrs, AllMask(3), 17).ok());
  EXPECT_EQ(all.shards, stripe.shards());
  Damaged one_lost(stripe.shards(), 0b011);
  EXPECT_EQ((*rs)->Reconstruct(one_lost.ptrs, 0b011, 17).code(), absl::StatusCode::kDataLoss);
}

// Every erasure pattern of up to m lost shards decodes byte-exactly; every pattern of m+1 lost
// shards fails with DATA_LOSS and writes nothing.
class ExhaustiveTest : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(ExhaustiveTest, EveryPattern) {
  const auto [k, m] = GetParam();
  auto rs = ReedSolomon::Create(k, m);
  ASSERT_TRUE(rs.ok());
  const int total = k + m;
  for (size_t shard_len : {size_t{1}, size_t{31}, size_t{4097}}) {
    Stripe stripe(**rs, shard_len, static_cast<uint32_t>(k * 100 + m + shard_len));
    int decoded = 0;
    int refused = 0;
    for (uint64_t present = 0; present <= AllMask(total); ++present) {
      const int lost = total - std::popcount(present);
      if (lost > m + 1) continue;
      Damaged damaged(stripe.shards(), present);
      absl::Status status = (*rs)->Reconstruct(damaged.ptrs, present, shard_len);
      if (lost <= m) {
        ASSERT_TRUE(status.ok()) << status << " k=" << k << " m=" << m << " mask=" << present;
        ASSERT_EQ(damaged.shards, stripe.shards())
            << "k=" << k << " m=" << m << " mask=" << present << " len=" << shard_len;
        ++decoded;
      } else {
        ASSERT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
        ASSERT_THAT(std::string(status.message()), HasSubstr("at most"));
        Damaged untouched(stripe.shards(), present);
        ASSERT_EQ(damaged.shards, untouched.shards) << "wrote into buffers on failure";
        ++refused;
      }
    }
    EXPECT_GT(decoded, 0);
    EXPECT_GT(refused, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(SmallCodes, ExhaustiveTest,
                         ::testing::Values(std::make_pair(1, 1), std::make_pair(1, 3),
                                           std::make_pair(2, 1), std::make_pair(3, 2),
                                           std::make_pair(4, 2), std::make_pair(6, 3),
                                           std::make_pair(8, 4)),
                         [](const auto& info) {
                           return "k" + std::to_string(info.param.first) + "m" +
                                  std::to_string(info.param.second);
                         });

// Random erasure patterns of exactly m and fewer lost shards for wide codes, seeded.
class RandomPatternTest : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(RandomPatternTest, RandomPatterns) {
  const auto [k, m] = GetParam();
  auto rs = ReedSolomon::Create(k, m);
  ASSERT_TRUE(rs.ok());
  const int total = k + m;
  constexpr size_t kShardLen = 1031;
  Stripe stripe(**rs, kShardLen, 7);
  std::mt19937_64 rng(k * 1000 + m);
  std::vector<int> order(total);
  for (int i = 0; i < total; ++i) order[i] = i;
  for (int trial = 0; trial < 60; ++trial) {
    std::shuffle(order.begin(), order.end(), rng);
    const int lost = trial % 3 == 0 ? 1 + static_cast<int>(rng() % m) : m;
    uint64_t present = AllMask(total);
    for (int i = 0; i < lost; ++i) present &= ~(uint64_t{1} << order[i]);
    Damaged damaged(stripe.shards(), present);
    ASSERT_TRUE((*rs)->Reconstruct(damaged.ptrs, present, kShardLen).ok());
    ASSERT_EQ(damaged.shards, stripe.shards()) << "mask=" << present;
  }
  // One more than m lost is refused.
  uint64_t present = AllMask(total);
  for (int i = 0; i <= m; ++i) present &= ~(uint64_t{1} << order[i]);
  Damaged damaged(stripe.shards(), present);
  EXPECT_EQ((*rs)->Reconstruct(damaged.ptrs, present, kShardLen).code(),
            absl::StatusCode::kDataLoss);
}

INSTANTIATE_TEST_SUITE_P(WideCodes, RandomPatternTest,
                         ::testing::Values(std::make_pair(16, 16), std::make_pair(20, 12),
                                           std::make_pair(28, 4), std::make_pair(32, 32),
                                           std::make_pair(10, 54)),
                         [](const auto& info) {
                           return "k" + std::to_string(info.param.first) + "m" +
                                  std::to_string(info.param.second);
                         });

TEST(ReedSolomonTest, BoolPresenceMatchesMask) {
  auto rs = ReedSolomon::Create(4, 2);
  ASSERT_TRUE(rs.ok());
  Stripe stripe(**rs, 100, 3);
  const uint64_t mask = 0b101101;  // shards 1 and 4 lost
  Damaged damaged(stripe.shards(), mask);
  std::vector<bool> flags_vec = {true, false, true, true, false, true};
  bool flags[6];
  std::copy(flags_vec.begin(), flags_vec.end(), flags);
  ASSERT_TRUE((*rs)->Reconstruct(damaged.ptrs, absl::MakeConstSpan(flags, 6), 100).ok());
  EXPECT_EQ(damaged.shards, stripe.shards());
  EXPECT_EQ((*rs)->Reconstruct(damaged.ptrs, absl::MakeConstSpan(flags, 5), 100).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*rs)->Reconstruct(damaged.ptrs, uint64_t{1} << 6 | mask, 100).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ReedSolomonTest, CacheHitEqualsColdPath) {
  auto rs = ReedSolomon::Create(6, 3);
  ASSERT_TRUE(rs.ok());
  Stripe stripe(**rs, 513, 11);
  const uint64_t mask = AllMask(9) & ~(uint64_t{1} << 2) & ~(uint64_t{1} << 7);
  Damaged cold(stripe.shards(), mask);
  ASSERT_TRUE((*rs)->Reconstruct(cold.ptrs, mask, 513).ok());
  EXPECT_EQ((*rs)->cache_stats().misses, 1u);
  EXPECT_EQ((*rs)->cache_stats().hits, 0u);
  // A different stripe decoded with the cached tables.
  Stripe other(**rs, 513, 12);
  Damaged warm(other.shards(), mask);
  ASSERT_TRUE((*rs)->Reconstruct(warm.ptrs, mask, 513).ok());
  EXPECT_EQ((*rs)->cache_stats().hits, 1u);
  EXPECT_EQ(cold.shards, stripe.shards());
  EXPECT_EQ(warm.shards, other.shards());
}

TEST(ReedSolomonTest, CacheEvictsLeastRecentlyUsed) {
  ReedSolomonOptions options;
  options.data_shards = 4;
  options.parity_shards = 2;
  options.decode_cache_entries = 2;
  auto rs = ReedSolomon::Create(options);
  ASSERT_TRUE(rs.ok());
  Stripe stripe(**rs, 64, 5);
  for (uint64_t lost : {0, 1, 2, 3, 0}) {
    const uint64_t mask = AllMask(6) & ~(uint64_t{1} << lost);
    Damaged d(stripe.shards(), mask);
    ASSERT_TRUE((*rs)->Reconstruct(d.ptrs, mask, 64).ok());
    ASSERT_EQ(d.shards, stripe.shards());
  }
  const ReedSolomonCacheStats stats = (*rs)->cache_stats();
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.hits, 0u);  // pattern 0 was evicted before its second use
  EXPECT_EQ(stats.misses, 5u);

  options.decode_cache_entries = 0;  // caching off still decodes
  auto uncached = ReedSolomon::Create(options);
  ASSERT_TRUE(uncached.ok());
  Damaged d(stripe.shards(), 0b110011);
  ASSERT_TRUE((*uncached)->Reconstruct(d.ptrs, 0b110011, 64).ok());
  EXPECT_EQ(d.shards, stripe.shards());
  EXPECT_EQ((*uncached)->cache_stats().entries, 0u);
}

TEST(ReedSolomonTest, ConcurrentReconstruct) {
  auto rs = ReedSolomon::Create(8, 4);
  ASSERT_TRUE(rs.ok());
  Stripe stripe(**rs, 2048, 21);
  constexpr int kThreads = 4;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int iter = 0; iter < 200; ++iter) {
        uint64_t present = AllMask(12);
        // A small pattern space so threads share cache entries and also race on misses.
        for (int i = 0; i < 1 + static_cast<int>(rng() % 4); ++i) {
          present &= ~(uint64_t{1} << (rng() % 6));
        }
        Damaged d(stripe.shards(), present);
        if (!(*rs)->Reconstruct(d.ptrs, present, 2048).ok() || d.shards != stripe.shards()) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  EXPECT_GT((*rs)->cache_stats().hits, 0u);
}

}  // namespace
}  // namespace tessera::storage
