#include "storage/pipeline/stripe_codec.h"

#include <random>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

using ::tessera::testing::StatusIs;

std::string RandomString(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class StripeCodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(codec_, StripeCodec::Create({.data_shards = 4, .parity_shards = 2}));
    ASSERT_OK_AND_ASSIGN(cipher_, StripeCipher::Create(AeadAlgorithm::kXChaCha20Poly1305Ietf,
                                                       SecretKey::Generate()));
  }

  std::vector<std::optional<absl::string_view>> AllSlices(const EncodedStripe& stripe) {
    std::vector<std::optional<absl::string_view>> slices;
    for (int i = 0; i < codec_->total_shards(); ++i) slices.emplace_back(stripe.slice(i));
    return slices;
  }

  const std::string version_id_ = std::string(16, 'v');
  StripeContext context_{.version_id = version_id_, .part = 1, .stripe = 7};
  std::unique_ptr<StripeCodec> codec_;
  std::optional<StripeCipher> cipher_;
};

TEST_F(StripeCodecTest, RoundTripsManySizes) {
  for (size_t size : {0u, 1u, 63u, 64u, 65u, 4095u, 4096u, 100000u, (1u << 20) + 3}) {
    std::string plaintext = RandomString(size, static_cast<uint32_t>(size));
    ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->Encode(*cipher_, context_, plaintext));
    EXPECT_EQ(stripe.slice_size % 64, 0u);
    EXPECT_GE(stripe.slice_size * 4, stripe.sealed_size);
    DecodeReport report;
    ASSERT_OK_AND_ASSIGN(std::string decoded,
                         codec_->Decode(*cipher_, context_, stripe.sealed_size, AllSlices(stripe),
                                        stripe.hashes, &report));
    EXPECT_EQ(decoded, plaintext) << size;
    EXPECT_FALSE(report.reconstructed) << "healthy reads need no erasure decoding";
  }
}

// Client-sealed stripes: coded as given (same layout as Encode) and given back sealed, also when
// slices must be reconstructed.
TEST_F(StripeCodecTest, SealedStripesCodeAndDecodeWithoutAKey) {
  for (size_t size : {1u, 41u, 64u, 1000u, 100000u}) {
    const std::string sealed = RandomString(size, static_cast<uint32_t>(size) + 1);
    ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->EncodeSealed(sealed));
    EXPECT_EQ(stripe.sealed_size, size);
    std::vector<std::optional<absl::string_view>> slices = AllSlices(stripe);
    slices[0].reset();  // a data slice lost: parity rebuilds it
    slices[2].reset();
    DecodeReport report;
    ASSERT_OK_AND_ASSIGN(std::string back,
                         codec_->DecodeSealed(stripe.sealed_size, slices, stripe.hashes, &report));
    EXPECT_TRUE(back == sealed) << size;
    EXPECT_TRUE(report.reconstructed);
  }
  // Encode's output is EncodeSealed of the sealed stripe: one code-and-place format.
  ASSERT_OK_AND_ASSIGN(EncodedStripe encoded, codec_->Encode(*cipher_, context_, "plaintext"));
  ASSERT_OK_AND_ASSIGN(
      std::string sealed,
      codec_->DecodeSealed(encoded.sealed_size, AllSlices(encoded), encoded.hashes));
  ASSERT_OK_AND_ASSIGN(EncodedStripe again, codec_->EncodeSealed(sealed));
  EXPECT_EQ(again.buffer, encoded.buffer);
}

TEST_F(StripeCodecTest, SlicesHoldNoPlaintext) {
  std::string plaintext(64 << 10, 'A');
  ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->Encode(*cipher_, context_, plaintext));
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(stripe.slice(i).find(std::string(32, 'A')), absl::string_view::npos) << i;
  }
}

TEST_F(StripeCodecTest, EveryPatternOfUpToMMissingSlicesDecodes) {
  std::string plaintext = RandomString(300000, 1);
  ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->Encode(*cipher_, context_, plaintext));
  for (uint32_t mask = 0; mask < 64; ++mask) {
    auto slices = AllSlices(stripe);
    int missing = 0;
    for (int i = 0; i < 6; ++i) {
      if (mask & (1u << i)) {
        slices[i].reset();
        ++missing;
      }
    }
    DecodeReport report;
    auto decoded =
        codec_->Decode(*cipher_, context_, stripe.sealed_size, slices, stripe.hashes, &report);
    if (missing <= 2) {
      ASSERT_TRUE(decoded.ok()) << "mask " << mask << ": " << decoded.status();
      EXPECT_EQ(*decoded, plaintext) << "mask " << mask;
      EXPECT_EQ(report.missing.size(), static_cast<size_t>(missing));
      EXPECT_EQ(report.reconstructed, (mask & 0xf) != 0) << "mask " << mask;
    } else {
      EXPECT_THAT(decoded.status(), StatusIs(absl::StatusCode::kDataLoss)) << "mask " << mask;
    }
  }
}

TEST_F(StripeCodecTest, AlteredSlicesAreRejectedByHashAndRepairedAround) {
  std::string plaintext = RandomString(200000, 2);
  ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->Encode(*cipher_, context_, plaintext));
  std::string bad0(stripe.slice(0)), bad3(stripe.slice(3));
  bad0[100] ^= 1;
  bad3[bad3.size() - 1] ^= 0x80;
  auto slices = AllSlices(stripe);
  slices[0] = bad0;
  slices[3] = bad3;
  DecodeReport report;
  ASSERT_OK_AND_ASSIGN(std::string decoded, codec_->Decode(*cipher_, context_, stripe.sealed_size,
                                                           slices, stripe.hashes, &report));
  EXPECT_EQ(decoded, plaintext);
  EXPECT_EQ(report.corrupt, (std::vector<int>{0, 3}));
  EXPECT_TRUE(report.reconstructed);

  // A third bad slice leaves only 3 good ones: DATA_LOSS, never wrong bytes.
  std::string bad5(stripe.slice(5));
  bad5[0] ^= 1;
  slices[5] = bad5;
  EXPECT_THAT(
      codec_->Decode(*cipher_, context_, stripe.sealed_size, slices, stripe.hashes).status(),
      StatusIs(absl::StatusCode::kDataLoss));
  // A truncated slice counts as corrupt too.
  slices = AllSlices(stripe);
  slices[1] = stripe.slice(1).substr(1);
  report = {};
  ASSERT_OK(codec_->Decode(*cipher_, context_, stripe.sealed_size, slices, stripe.hashes, &report)
                .status());
  EXPECT_EQ(report.corrupt, (std::vector<int>{1}));
}

TEST_F(StripeCodecTest, WrongContextOrKeyFailsAuthentication) {
  std::string plaintext = RandomString(5000, 3);
  ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->Encode(*cipher_, context_, plaintext));
  StripeContext moved = context_;
  moved.stripe = 8;
  EXPECT_THAT(codec_->Decode(*cipher_, moved, stripe.sealed_size, AllSlices(stripe), stripe.hashes)
                  .status(),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(
      StripeCipher other,
      StripeCipher::Create(AeadAlgorithm::kXChaCha20Poly1305Ietf, SecretKey::Generate()));
  EXPECT_THAT(codec_->Decode(other, context_, stripe.sealed_size, AllSlices(stripe), stripe.hashes)
                  .status(),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(StripeCodecTest, RebuildRestoresLostSlicesWithoutKeys) {
  std::string plaintext = RandomString(123457, 4);
  ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec_->Encode(*cipher_, context_, plaintext));
  auto slices = AllSlices(stripe);
  slices[1].reset();
  slices[4].reset();
  ASSERT_OK_AND_ASSIGN(auto rebuilt,
                       codec_->Rebuild(stripe.sealed_size, slices, stripe.hashes, {4, 1}));
  ASSERT_EQ(rebuilt.size(), 2u);
  EXPECT_EQ(rebuilt[0], stripe.slice(4));
  EXPECT_EQ(rebuilt[1], stripe.slice(1));

  slices[2].reset();
  EXPECT_THAT(codec_->Rebuild(stripe.sealed_size, slices, stripe.hashes, {1}).status(),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(codec_->Rebuild(stripe.sealed_size, AllSlices(stripe), stripe.hashes, {6}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StripeCodecOptionsTest, RejectsBadShapes) {
  EXPECT_THAT(StripeCodec::Create({.data_shards = 0}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(StripeCodec::Create({.data_shards = 40, .parity_shards = 30}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(
      StripeCodec::Create({.data_shards = 4, .parity_shards = 2, .slice_alignment = 48}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StripeCodecShapesTest, LargeShapesRoundTrip) {
  for (auto [k, m] : {std::pair{1, 0}, {1, 3}, {10, 4}, {16, 16}}) {
    ASSERT_OK_AND_ASSIGN(auto codec, StripeCodec::Create({.data_shards = k, .parity_shards = m}));
    ASSERT_OK_AND_ASSIGN(auto cipher, StripeCipher::Create(AeadAlgorithm::kXChaCha20Poly1305Ietf,
                                                           SecretKey::Generate()));
    std::string version(16, 'x');
    StripeContext context{.version_id = version};
    std::string plaintext = RandomString(77777, k * 100 + m);
    ASSERT_OK_AND_ASSIGN(EncodedStripe stripe, codec->Encode(cipher, context, plaintext));
    std::vector<std::optional<absl::string_view>> slices;
    for (int i = 0; i < k + m; ++i) slices.emplace_back(stripe.slice(i));
    for (int i = 0; i < m; ++i) slices[(i * 7) % (k + m)].reset();
    ASSERT_OK_AND_ASSIGN(std::string decoded,
                         codec->Decode(cipher, context, stripe.sealed_size, slices, stripe.hashes));
    EXPECT_EQ(decoded, plaintext) << k << "+" << m;
  }
}

}  // namespace
}  // namespace tessera::storage
