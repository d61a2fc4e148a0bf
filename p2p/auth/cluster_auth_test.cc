#include "p2p/auth/cluster_auth.h"

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_secret.h"

namespace tessera::p2p {
namespace {

constexpr char kNonce[] = "00112233445566778899aabbccddeeff";

class ClusterAuthTest : public ::testing::Test {
 protected:
  std::unique_ptr<ClusterAuth> Make(char fill, const std::string& caller) {
    absl::StatusOr<ClusterSecret> secret = ClusterSecret::FromBytes(std::string(32, fill));
    EXPECT_OK(secret.status());
    ClusterAuthOptions o;
    o.caller_id = caller;
    o.clock = &clock_;
    absl::StatusOr<std::unique_ptr<ClusterAuth>> auth = ClusterAuth::Create(*secret, o);
    EXPECT_OK(auth.status());
    return *std::move(auth);
  }
  AuthFailure VerifyFailure(const ClusterAuth& auth, const std::string& token,
                            absl::string_view method) {
    AuthFailure failure = AuthFailure::kNone;
    absl::Status s = auth.VerifyToken(token, method, nullptr, &failure);
    if (!s.ok()) {
      EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
    }
    return failure;
  }
  FakeClock clock_;
};

TEST_F(ClusterAuthTest, ValidTokenVerifiesAndNamesTheCaller) {
  auto gateway = Make(7, "gateway-1");
  auto node = Make(7, "");
  const std::string token = gateway->Mint(kPutSliceMethod);
  std::string caller;
  AuthFailure failure = AuthFailure::kMalformed;
  EXPECT_OK(node->VerifyToken(token, kPutSliceMethod, &caller, &failure));
  EXPECT_EQ(caller, "gateway-1");
  EXPECT_EQ(failure, AuthFailure::kNone);
  // Fresh nonce each time.
  EXPECT_NE(gateway->Mint(kPutSliceMethod), gateway->Mint(kPutSliceMethod));
}

TEST_F(ClusterAuthTest, WrongSecretOrMethodFailsTheMac) {
  auto good = Make(7, "gw");
  auto stranger = Make(8, "gw");
  EXPECT_EQ(VerifyFailure(*good, stranger->Mint(kDeleteSliceMethod), kDeleteSliceMethod),
            AuthFailure::kBadMac);
  EXPECT_EQ(VerifyFailure(*good, good->Mint(kGetSliceMethod), kDeleteSliceMethod),
            AuthFailure::kBadMac);
}

TEST_F(ClusterAuthTest, EveryTamperedFieldFails) {
  auto auth = Make(7, "gw");
  const std::string token = auth->MintAt(kStatSliceMethod, clock_.Now(), kNonce);
  EXPECT_OK(auth->VerifyToken(token, kStatSliceMethod));
  const std::vector<std::string> fields = absl::StrSplit(token, '.');
  ASSERT_EQ(fields.size(), 5u);
  for (size_t i = 1; i < fields.size(); ++i) {
    std::vector<std::string> f = fields;
    f[i][0] = f[i][0] == '1' ? '2' : '1';
    const std::string tampered = absl::StrJoin(f, ".");
    EXPECT_EQ(VerifyFailure(*auth, tampered, kStatSliceMethod), AuthFailure::kBadMac) << i;
  }
}

TEST_F(ClusterAuthTest, ExpiredAndFutureTokensAreRefusedAfterTheMac) {
  auto auth = Make(7, "gw");
  const std::string old_token =
      auth->MintAt(kGetSliceMethod, clock_.Now() - absl::Minutes(5) - absl::Seconds(1), kNonce);
  EXPECT_EQ(VerifyFailure(*auth, old_token, kGetSliceMethod), AuthFailure::kExpired);
  const std::string future = auth->MintAt(kGetSliceMethod, clock_.Now() + absl::Minutes(6), kNonce);
  EXPECT_EQ(VerifyFailure(*auth, future, kGetSliceMethod), AuthFailure::kExpired);
  const std::string edge = auth->MintAt(kGetSliceMethod, clock_.Now() - absl::Minutes(4), kNonce);
  EXPECT_OK(auth->VerifyToken(edge, kGetSliceMethod));
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(VerifyFailure(*auth, edge, kGetSliceMethod), AuthFailure::kExpired);
}

TEST_F(ClusterAuthTest, MalformedAndMissing) {
  auto auth = Make(7, "gw");
  const std::string good = auth->Mint(kListSlicesMethod);
  EXPECT_EQ(VerifyFailure(*auth, "", kListSlicesMethod), AuthFailure::kMissing);
  for (const std::string& bad :
       {std::string("garbage"), "t2" + good.substr(2), good + ".x", good.substr(0, good.size() - 1),
        std::string("t1.bad caller.1.") + kNonce + "." + std::string(64, '0'),
        std::string("t1.gw.notanumber.") + kNonce + "." + std::string(64, '0'),
        std::string(300, 'a')}) {
    EXPECT_EQ(VerifyFailure(*auth, bad, kListSlicesMethod), AuthFailure::kMalformed) << bad;
  }
}

TEST_F(ClusterAuthTest, OptionsAreValidated) {
  ASSERT_OK_AND_ASSIGN(ClusterSecret secret, ClusterSecret::FromBytes(std::string(32, 'k')));
  ClusterAuthOptions o;
  o.caller_id = "has.dot";
  EXPECT_EQ(ClusterAuth::Create(secret, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.caller_id = std::string(65, 'a');
  EXPECT_EQ(ClusterAuth::Create(secret, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.caller_id = "ok";
  o.max_skew = absl::ZeroDuration();
  EXPECT_EQ(ClusterAuth::Create(secret, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_STREQ(AuthFailureName(AuthFailure::kBadMac), "bad_mac");
}

}  // namespace
}  // namespace tessera::p2p
