// Client sealing (api/sdk/sealing.h): round trip, and every way a gateway or node could rearrange
// stored stripes fails to open.
#include "api/sdk/sealing.h"

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::sdk {
namespace {

using ::tessera::testing::StatusIs;

class SealingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(ring_.Add(42, storage::SecretKey::Generate()));
    ASSERT_OK(ring_.SetActive(42));
    ASSERT_OK_AND_ASSIGN(sealer_, StripeSealer::Create(ring_, "b", "k"));
    ASSERT_OK_AND_ASSIGN(opener_, StripeOpener::Create(ring_, "b", "k", sealer_->sealing()));
  }
  storage::MasterKeyring ring_;
  std::unique_ptr<StripeSealer> sealer_;
  std::unique_ptr<StripeOpener> opener_;
};

TEST_F(SealingTest, RoundTrip) {
  EXPECT_EQ(sealer_->sealing().format, kSealingFormat);
  EXPECT_EQ(sealer_->sealing().key_id, 42u);
  EXPECT_EQ(sealer_->sealing().upload_nonce.size(), kUploadNonceSize);
  ASSERT_OK_AND_ASSIGN(SealedStripe s, sealer_->Seal(3, 300, "hello", true));
  EXPECT_EQ(s.sealed.size(), 5 + kSealOverhead);
  EXPECT_EQ(s.sealed.find("hello"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::string back, opener_->Open(3, 300, s.sealed, true));
  EXPECT_EQ(back, "hello");
  ASSERT_OK_AND_ASSIGN(SealedStripe empty, sealer_->Seal(0, 0, "", true));
  ASSERT_OK_AND_ASSIGN(std::string none, opener_->Open(0, 0, empty.sealed, true));
  EXPECT_EQ(none, "");
}

TEST_F(SealingTest, TamperedReorderedMovedOrTruncatedStripesFailToOpen) {
  ASSERT_OK_AND_ASSIGN(SealedStripe s0, sealer_->Seal(0, 0, "first", false));
  ASSERT_OK_AND_ASSIGN(SealedStripe s1, sealer_->Seal(1, 5, "second", true));
  const auto lost = StatusIs(absl::StatusCode::kDataLoss);
  // Tampered: any flipped bit.
  for (size_t i = 0; i < s0.sealed.size(); ++i) {
    std::string bad = s0.sealed;
    bad[i] ^= 1;
    EXPECT_THAT(opener_->Open(0, 0, bad, false), lost) << "byte " << i;
  }
  // Reordered: stripe 1's bytes at index 0 (or stripe 0 at index 1).
  EXPECT_THAT(opener_->Open(0, 0, s1.sealed, false), lost);
  EXPECT_THAT(opener_->Open(1, 5, s0.sealed, true), lost);
  // Moved to another plaintext offset.
  EXPECT_THAT(opener_->Open(1, 6, s1.sealed, true), lost);
  // Truncated: stripe 0 presented as the final stripe.
  EXPECT_THAT(opener_->Open(0, 0, s0.sealed, true), lost);
  // Extended: the final stripe presented as a middle one.
  EXPECT_THAT(opener_->Open(1, 5, s1.sealed, false), lost);
  // Cut bytes.
  EXPECT_THAT(opener_->Open(0, 0, s0.sealed.substr(0, 10), false), lost);
  // Into another upload of the same object (a fresh nonce and data key).
  ASSERT_OK_AND_ASSIGN(auto again, StripeSealer::Create(ring_, "b", "k"));
  ASSERT_OK_AND_ASSIGN(auto again_opener, StripeOpener::Create(ring_, "b", "k", again->sealing()));
  EXPECT_THAT(again_opener->Open(0, 0, s0.sealed, false), lost);
}

TEST_F(SealingTest, WrappedKeyIsBoundToObjectAndKey) {
  // Another object: the wrapped key does not unwrap there.
  EXPECT_THAT(StripeOpener::Create(ring_, "b", "other", sealer_->sealing()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // Another upload nonce: likewise.
  ClientSealing moved = sealer_->sealing();
  moved.upload_nonce[0] ^= 1;
  EXPECT_THAT(StripeOpener::Create(ring_, "b", "k", moved),
              StatusIs(absl::StatusCode::kPermissionDenied));
  // A ring without key 42; a ring with other bytes under 42.
  storage::MasterKeyring other;
  ASSERT_OK(other.Add(7, storage::SecretKey::Generate()));
  EXPECT_THAT(StripeOpener::Create(other, "b", "k", sealer_->sealing()),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::HasSubstr("does not hold")));
  storage::MasterKeyring impostor;
  ASSERT_OK(impostor.Add(42, storage::SecretKey::Generate()));
  EXPECT_THAT(StripeOpener::Create(impostor, "b", "k", sealer_->sealing()),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::HasSubstr("does not open")));
  ClientSealing future = sealer_->sealing();
  future.format = 2;
  EXPECT_THAT(StripeOpener::Create(ring_, "b", "k", future),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace tessera::sdk
