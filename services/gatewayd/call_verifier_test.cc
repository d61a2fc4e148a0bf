#include "services/gatewayd/call_verifier.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/sdk/call_signature.h"
#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/auth/credential_store.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kList[] = "/tessera.v1.Gateway/ListBuckets";
constexpr char kDelete[] = "/tessera.v1.Gateway/DeleteBucket";
constexpr char kKey[] = "ALICEACCESSKEY000001";
constexpr char kSecret[] = "alice-secret-key-0000000001";

class CallVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(store_.Add({kKey, kSecret, "alice"}));
    ASSERT_OK(store_.Add({"BOBACCESSKEY00000001", "bob-secret-key-00000000001", "bob"}));
  }

  sdk::CallSignature Sign(absl::string_view method, absl::Time at, absl::string_view key = kKey,
                          absl::string_view secret = kSecret) {
    absl::StatusOr<sdk::CallSignature> s = sdk::SignCall(key, secret, method, at);
    EXPECT_OK(s.status());
    return s.ok() ? *s : sdk::CallSignature();
  }

  s3::CredentialStore store_;
  FakeClock clock_;
  CallVerifier verifier_{&store_, &clock_};
};

TEST_F(CallVerifierTest, AcceptsASignedCallAsItsUser) {
  ASSERT_OK_AND_ASSIGN(Principal p, verifier_.Verify(kList, Sign(kList, clock_.Now())));
  EXPECT_FALSE(p.anonymous);
  EXPECT_EQ(p.user_id, "alice");
  // Within the skew window either way.
  EXPECT_OK(verifier_.Verify(kList, Sign(kList, clock_.Now() - absl::Minutes(14))).status());
  EXPECT_OK(verifier_.Verify(kList, Sign(kList, clock_.Now() + absl::Minutes(14))).status());
}

TEST_F(CallVerifierTest, RefusesMissingAndMalformedCredentials) {
  EXPECT_THAT(verifier_.Verify(kList, sdk::CallSignature()),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("no credentials")));
  sdk::CallSignature good = Sign(kList, clock_.Now());
  for (std::string sdk::CallSignature::*field :
       {&sdk::CallSignature::access_key, &sdk::CallSignature::date, &sdk::CallSignature::nonce,
        &sdk::CallSignature::signature}) {
    sdk::CallSignature c = good;
    c.*field = "";
    EXPECT_THAT(verifier_.Verify(kList, c), StatusIs(absl::StatusCode::kUnauthenticated));
  }
  sdk::CallSignature c = good;
  c.date = "yesterday";
  EXPECT_THAT(verifier_.Verify(kList, c), StatusIs(absl::StatusCode::kUnauthenticated));
  c = good;
  c.nonce = "short";
  EXPECT_THAT(verifier_.Verify(kList, c), StatusIs(absl::StatusCode::kUnauthenticated));
  c = good;
  c.signature[0] = c.signature[0] == 'a' ? 'B' : 'A';  // not lowercase hex
  EXPECT_THAT(verifier_.Verify(kList, c), StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(verifier_.remembered_nonces(), 0u);  // nothing unverified is remembered
  EXPECT_OK(verifier_.Verify(kList, good).status());
}

TEST_F(CallVerifierTest, RefusesWrongSecretUnknownKeyAndAnotherMethod) {
  EXPECT_THAT(verifier_.Verify(kList, Sign(kList, clock_.Now(), kKey, "not-alices-secret-00001")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not match")));
  EXPECT_THAT(verifier_.Verify(kList, Sign(kList, clock_.Now(), "UNKNOWNACCESSKEY0001")),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("unknown access key")));
  // Bob's secret with Alice's key id: does not make the caller Bob (or Alice).
  EXPECT_THAT(
      verifier_.Verify(kList, Sign(kList, clock_.Now(), kKey, "bob-secret-key-00000000001")),
      StatusIs(absl::StatusCode::kUnauthenticated));
  // Signed for ListBuckets, presented on DeleteBucket.
  EXPECT_THAT(verifier_.Verify(kDelete, Sign(kList, clock_.Now())),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("does not match")));
  // A field changed after signing.
  sdk::CallSignature c = Sign(kList, clock_.Now());
  c.nonce[0] = c.nonce[0] == '0' ? '1' : '0';
  EXPECT_THAT(verifier_.Verify(kList, c), StatusIs(absl::StatusCode::kUnauthenticated));
  c = Sign(kList, clock_.Now());
  c.date = absl::StrCat(absl::ToUnixSeconds(clock_.Now()) + 1);
  EXPECT_THAT(verifier_.Verify(kList, c), StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(CallVerifierTest, RefusesCallsOutsideTheSkewWindow) {
  EXPECT_THAT(verifier_.Verify(kList, Sign(kList, clock_.Now() - absl::Minutes(16))),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("too far")));
  EXPECT_THAT(verifier_.Verify(kList, Sign(kList, clock_.Now() + absl::Minutes(16))),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("too far")));
}

TEST_F(CallVerifierTest, RefusesReplaysForAsLongAsTheDateIsAccepted) {
  const sdk::CallSignature call = Sign(kList, clock_.Now());
  EXPECT_OK(verifier_.Verify(kList, call).status());
  EXPECT_THAT(verifier_.Verify(kList, call),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("replayed")));
  clock_.Advance(absl::Minutes(15));  // the last instant the date is accepted
  EXPECT_THAT(verifier_.Verify(kList, call),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("replayed")));
  clock_.Advance(absl::Seconds(1));  // now the date check refuses it, and the entry is dropped
  EXPECT_THAT(verifier_.Verify(kList, call),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("too far")));
  EXPECT_OK(verifier_.Verify(kList, Sign(kList, clock_.Now())).status());
  EXPECT_EQ(verifier_.remembered_nonces(), 1u);
}

TEST_F(CallVerifierTest, AFullReplayCacheRefusesRatherThanForgets) {
  CallVerifier small(&store_, &clock_, CallVerifierOptions{.max_nonces = 2});
  EXPECT_OK(small.Verify(kList, Sign(kList, clock_.Now())).status());
  const sdk::CallSignature second = Sign(kList, clock_.Now());
  EXPECT_OK(small.Verify(kList, second).status());
  EXPECT_THAT(small.Verify(kList, Sign(kList, clock_.Now())),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(small.Verify(kList, second), StatusIs(absl::StatusCode::kUnauthenticated));
  clock_.Advance(absl::Minutes(16));
  EXPECT_OK(small.Verify(kList, Sign(kList, clock_.Now())).status());
}

TEST(CallSignatureTest, FreshNonceEveryCallAndAKnownVector) {
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  ASSERT_OK_AND_ASSIGN(sdk::CallSignature a, sdk::SignCall(kKey, kSecret, kList, t));
  ASSERT_OK_AND_ASSIGN(sdk::CallSignature b, sdk::SignCall(kKey, kSecret, kList, t));
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_NE(a.signature, b.signature);
  EXPECT_EQ(a.date, "1700000000");
  // Pins the scheme (docs/design/security.md): another client implementation can check itself
  // against it. Computed independently with Python's hmac module:
  //   ctx = b"TESSERA-GRPC-HMAC-SHA256-V1"; k = hmac.new(secret, ctx, sha256).digest()
  //   hmac.new(k, ctx + b"\n" + key + b"\n" + method + b"\n" + date + b"\n" + nonce, sha256)
  EXPECT_EQ(
      sdk::CallSignatureHex(kSecret, kKey, kList, "1700000000", "000102030405060708090a0b0c0d0e0f"),
      "da85e67933ab635142c324b98f44b60a6910c8a667fe9f5da0b37e546b5c0c84");
}

}  // namespace
}  // namespace tessera::services
