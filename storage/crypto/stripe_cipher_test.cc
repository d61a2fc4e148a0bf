#include "storage/crypto/stripe_cipher.h"

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

const std::string kVersionA(16, 'a');
const std::string kVersionB(16, 'b');

std::string RandomString(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

StripeContext Ctx(const std::string& version, uint32_t part, uint32_t stripe) {
  StripeContext ctx;
  ctx.version_id = version;
  ctx.part = part;
  ctx.stripe = stripe;
  return ctx;
}

class StripeCipherTest : public ::testing::TestWithParam<AeadAlgorithm> {
 protected:
  void SetUp() override {
    if (!AeadAlgorithmAvailable(GetParam())) {
      GTEST_SKIP() << AeadAlgorithmName(GetParam()) << " not available on this CPU";
    }
  }
  StripeCipher MakeCipher(const SecretKey& key) {
    absl::StatusOr<StripeCipher> cipher = StripeCipher::Create(GetParam(), key.Clone());
    EXPECT_TRUE(cipher.ok()) << cipher.status();
    return std::move(*cipher);
  }
  size_t NonceSize() const { return GetParam() == AeadAlgorithm::kAes256Gcm ? 12 : 24; }
};

TEST_P(StripeCipherTest, RoundTripAndLayout) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  EXPECT_EQ(cipher.header_size(), 2 + NonceSize());
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{1000}, size_t{65539}}) {
    const std::string plain = RandomString(len, static_cast<uint32_t>(len));
    absl::StatusOr<std::string> sealed = cipher.SealToString(Ctx(kVersionA, 1, 7), plain);
    ASSERT_TRUE(sealed.ok()) << sealed.status();
    ASSERT_EQ(sealed->size(), 2 + NonceSize() + len + 16);
    EXPECT_EQ(static_cast<uint8_t>((*sealed)[0]), StripeCipher::kFormatVersion);
    EXPECT_EQ(static_cast<uint8_t>((*sealed)[1]), static_cast<uint8_t>(GetParam()));
    if (len >= 16) {
      EXPECT_EQ(sealed->find(plain.substr(0, 16)), std::string::npos) << "plaintext leaked";
    }
    absl::StatusOr<std::string> opened = cipher.OpenToString(Ctx(kVersionA, 1, 7), *sealed);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, plain);
  }
}

TEST_P(StripeCipherTest, InPlaceInteroperatesWithCopyingForms) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  const std::string plain = RandomString(4099, 3);
  const StripeContext ctx = Ctx(kVersionA, 2, 3);

  // Seal in place, open by copy.
  std::vector<uint8_t> buffer(cipher.SealedSize(plain.size()));
  std::copy(plain.begin(), plain.end(), buffer.begin() + cipher.header_size());
  ASSERT_TRUE(cipher.SealInPlace(ctx, absl::MakeSpan(buffer)).ok());
  std::vector<uint8_t> out(plain.size());
  absl::StatusOr<size_t> n = cipher.Open(ctx, buffer, absl::MakeSpan(out));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, plain.size());
  EXPECT_EQ(std::string(out.begin(), out.end()), plain);

  // Seal by copy, open in place.
  std::vector<uint8_t> sealed(cipher.SealedSize(plain.size()));
  ASSERT_TRUE(
      cipher
          .Seal(ctx,
                absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(plain.data()), plain.size()),
                absl::MakeSpan(sealed))
          .ok());
  absl::StatusOr<absl::Span<uint8_t>> opened = cipher.OpenInPlace(ctx, absl::MakeSpan(sealed));
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->data(), sealed.data() + cipher.header_size());
  EXPECT_EQ(std::string(opened->begin(), opened->end()), plain);
}

TEST_P(StripeCipherTest, EveryFlippedBitFails) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  const StripeContext ctx = Ctx(kVersionA, 1, 0);
  absl::StatusOr<std::string> sealed = cipher.SealToString(ctx, RandomString(20, 9));
  ASSERT_TRUE(sealed.ok());
  // Covers version, algorithm, nonce, ciphertext and tag.
  for (size_t byte = 0; byte < sealed->size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = *sealed;
      bad[byte] = static_cast<char>(bad[byte] ^ (1 << bit));
      absl::StatusOr<std::string> opened = cipher.OpenToString(ctx, bad);
      ASSERT_EQ(opened.status().code(), absl::StatusCode::kDataLoss)
          << "byte " << byte << " bit " << bit;
    }
  }
  EXPECT_TRUE(cipher.OpenToString(ctx, *sealed).ok());
}

TEST_P(StripeCipherTest, MisplacedStripeFails) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  absl::StatusOr<std::string> sealed = cipher.SealToString(Ctx(kVersionA, 1, 5), "stripe five");
  ASSERT_TRUE(sealed.ok());
  for (const StripeContext& wrong :
       {Ctx(kVersionA, 1, 6), Ctx(kVersionA, 1, 4), Ctx(kVersionA, 2, 5), Ctx(kVersionA, 0, 5),
        Ctx(kVersionB, 1, 5)}) {
    absl::StatusOr<std::string> opened = cipher.OpenToString(wrong, *sealed);
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss)
        << "part " << wrong.part << " stripe " << wrong.stripe;
    EXPECT_THAT(std::string(opened.status().message()), ::testing::HasSubstr("authentication"));
  }
  EXPECT_TRUE(cipher.OpenToString(Ctx(kVersionA, 1, 5), *sealed).ok());
}

TEST_P(StripeCipherTest, WrongKeyFails) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  StripeCipher other = MakeCipher(SecretKey::Generate());
  absl::StatusOr<std::string> sealed = cipher.SealToString(Ctx(kVersionA, 1, 0), "secret");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(other.OpenToString(Ctx(kVersionA, 1, 0), *sealed).status().code(),
            absl::StatusCode::kDataLoss);
  // Out-of-place failure leaves the output zeroed, not partially decrypted.
  std::vector<uint8_t> out(other.PlaintextSize(sealed->size()), 0x77);
  EXPECT_FALSE(other
                   .Open(Ctx(kVersionA, 1, 0),
                         absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(sealed->data()),
                                             sealed->size()),
                         absl::MakeSpan(out))
                   .ok());
  EXPECT_EQ(out, std::vector<uint8_t>(out.size(), 0));
}

TEST_P(StripeCipherTest, TruncatedAndMalformedFail) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  const StripeContext ctx = Ctx(kVersionA, 1, 0);
  absl::StatusOr<std::string> sealed = cipher.SealToString(ctx, "some bytes");
  ASSERT_TRUE(sealed.ok());
  for (size_t len = 0; len < sealed->size(); ++len) {
    EXPECT_EQ(cipher.OpenToString(ctx, sealed->substr(0, len)).status().code(),
              absl::StatusCode::kDataLoss)
        << "length " << len;
  }
  std::string extended = *sealed + "x";
  EXPECT_EQ(cipher.OpenToString(ctx, extended).status().code(), absl::StatusCode::kDataLoss);
  std::vector<uint8_t> small(3);
  EXPECT_EQ(cipher.OpenInPlace(ctx, absl::MakeSpan(small)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_P(StripeCipherTest, RejectsBadArguments) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  const std::string short_version = "short";
  EXPECT_EQ(cipher.SealToString(Ctx(short_version, 1, 0), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::vector<uint8_t> plain(10), out(cipher.SealedSize(10) - 1);
  EXPECT_EQ(cipher.Seal(Ctx(kVersionA, 1, 0), plain, absl::MakeSpan(out)).code(),
            absl::StatusCode::kInvalidArgument);
  // Overlapping but not exactly in place.
  std::vector<uint8_t> buffer(cipher.SealedSize(10) + 1);
  EXPECT_EQ(cipher
                .Seal(Ctx(kVersionA, 1, 0), absl::MakeConstSpan(buffer.data() + 1, 10),
                      absl::MakeSpan(buffer.data(), cipher.SealedSize(10)))
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(StripeCipherTest, NoncesAreUnique) {
  SecretKey key = SecretKey::Generate();
  StripeCipher cipher = MakeCipher(key);
  const StripeContext ctx = Ctx(kVersionA, 1, 0);
  absl::flat_hash_set<std::string> nonces;
  absl::flat_hash_set<std::string> ciphertexts;
  constexpr int kSeals = 20000;
  for (int i = 0; i < kSeals; ++i) {
    absl::StatusOr<std::string> sealed = cipher.SealToString(ctx, "same plaintext");
    ASSERT_TRUE(sealed.ok());
    nonces.insert(sealed->substr(2, NonceSize()));
    ciphertexts.insert(sealed->substr(cipher.header_size()));
  }
  EXPECT_EQ(nonces.size(), static_cast<size_t>(kSeals));
  EXPECT_EQ(ciphertexts.size(), static_cast<size_t>(kSeals));
}

TEST_P(StripeCipherTest, ConcurrentSealOpenOnOneCipher) {
  SecretKey key = SecretKey::Generate();
  const StripeCipher cipher = MakeCipher(key);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint32_t i = 0; i < 200; ++i) {
        const StripeContext ctx = Ctx(kVersionA, static_cast<uint32_t>(t), i);
        const std::string plain = RandomString(100 + i, i * 4 + t);
        absl::StatusOr<std::string> sealed = cipher.SealToString(ctx, plain);
        if (!sealed.ok()) {
          ++failures;
          continue;
        }
        absl::StatusOr<std::string> opened = cipher.OpenToString(ctx, *sealed);
        if (!opened.ok() || *opened != plain) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(Algorithms, StripeCipherTest,
                         ::testing::Values(AeadAlgorithm::kXChaCha20Poly1305Ietf,
                                           AeadAlgorithm::kAes256Gcm),
                         [](const auto& info) {
                           return info.param == AeadAlgorithm::kAes256Gcm ? "Aes256Gcm"
                                                                          : "XChaCha20Poly1305";
                         });

TEST(StripeCipherAlgorithmTest, AlgorithmMismatchFails) {
  if (!AeadAlgorithmAvailable(AeadAlgorithm::kAes256Gcm)) GTEST_SKIP() << "no AES-GCM";
  SecretKey key = SecretKey::Generate();
  auto chacha = StripeCipher::Create(AeadAlgorithm::kXChaCha20Poly1305Ietf, key.Clone());
  auto aes = StripeCipher::Create(AeadAlgorithm::kAes256Gcm, key.Clone());
  ASSERT_TRUE(chacha.ok() && aes.ok());
  const StripeContext ctx = Ctx(kVersionA, 1, 0);
  absl::StatusOr<std::string> sealed = chacha->SealToString(ctx, "hello");
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(aes->OpenToString(ctx, *sealed).status().code(), absl::StatusCode::kDataLoss);
}

TEST(StripeCipherAlgorithmTest, UnknownAlgorithmRejected) {
  EXPECT_EQ(
      StripeCipher::Create(static_cast<AeadAlgorithm>(9), SecretKey::Generate()).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(static_cast<int>(AeadAlgorithm::kXChaCha20Poly1305Ietf), 1);
  EXPECT_EQ(static_cast<int>(AeadAlgorithm::kAes256Gcm), 2);
}

}  // namespace
}  // namespace tessera::storage
