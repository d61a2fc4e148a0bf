#include "p2p/auth/gossip_auth.h"

#include <memory>
#include <string>

#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_secret.h"

namespace tessera::p2p {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;

class GossipAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(ClusterSecret secret, ClusterSecret::Random());
    GossipAuthOptions o;
    o.clock = &clock_;
    o.max_skew = absl::Seconds(60);
    ASSERT_OK_AND_ASSIGN(sender_, GossipAuth::Create(secret, o));
    ASSERT_OK_AND_ASSIGN(receiver_, GossipAuth::Create(secret, o));
    ASSERT_OK_AND_ASSIGN(ClusterSecret other, ClusterSecret::Random());
    ASSERT_OK_AND_ASSIGN(stranger_, GossipAuth::Create(other, o));
  }

  GossipRejection OpenWhy(absl::string_view datagram) {
    GossipRejection why = GossipRejection::kNone;
    EXPECT_THAT(receiver_->Open(datagram, &why), StatusIs(absl::StatusCode::kUnauthenticated));
    return why;
  }

  FakeClock clock_{absl::FromUnixSeconds(1800000000)};
  std::unique_ptr<GossipAuth> sender_, receiver_, stranger_;
};

TEST_F(GossipAuthTest, SealedDatagramOpensOnceWithItsPayload) {
  const std::string d = sender_->Seal("ping");
  EXPECT_EQ(d.size(), 4 + GossipAuth::kOverheadBytes);
  EXPECT_THAT(receiver_->Open(d), IsOkAndHolds("ping"));
  EXPECT_EQ(OpenWhy(d), GossipRejection::kReplayed);
  EXPECT_THAT(receiver_->Open(sender_->Seal("")), IsOkAndHolds(""));
}

TEST_F(GossipAuthTest, UnkeyedForeignOrTamperedDatagramsAreRefused) {
  EXPECT_EQ(OpenWhy("a bare protobuf, no frame"), GossipRejection::kMalformed);
  EXPECT_EQ(OpenWhy(""), GossipRejection::kMalformed);
  EXPECT_EQ(OpenWhy(stranger_->Seal("ping")), GossipRejection::kBadMac);
  for (size_t i = 0; i < 40; ++i) {  // every header byte, the payload and the MAC
    std::string d = sender_->SealAt("payload", 100 + i, clock_.Now());
    d[i % d.size()] ^= 0x01;
    EXPECT_NE(OpenWhy(d), GossipRejection::kNone) << i;
  }
  std::string truncated = sender_->Seal("payload");
  truncated.pop_back();
  EXPECT_EQ(OpenWhy(truncated), GossipRejection::kBadMac);
}

TEST_F(GossipAuthTest, StaleOrFutureDatagramsAreRefused) {
  EXPECT_EQ(OpenWhy(sender_->SealAt("x", 1, clock_.Now() - absl::Seconds(61))),
            GossipRejection::kStale);
  EXPECT_EQ(OpenWhy(sender_->SealAt("x", 2, clock_.Now() + absl::Seconds(61))),
            GossipRejection::kStale);
  EXPECT_THAT(receiver_->Open(sender_->SealAt("x", 3, clock_.Now() - absl::Seconds(59))),
              IsOkAndHolds("x"));
}

TEST_F(GossipAuthTest, ReorderedDatagramsWithinTheWindowAreAcceptedOnce) {
  const absl::Time t = clock_.Now();
  EXPECT_THAT(receiver_->Open(sender_->SealAt("a", 10, t)), IsOkAndHolds("a"));
  EXPECT_THAT(receiver_->Open(sender_->SealAt("c", 12, t)), IsOkAndHolds("c"));
  EXPECT_THAT(receiver_->Open(sender_->SealAt("b", 11, t)), IsOkAndHolds("b"));  // late, new
  EXPECT_EQ(OpenWhy(sender_->SealAt("b", 11, t)), GossipRejection::kReplayed);
  EXPECT_EQ(OpenWhy(sender_->SealAt("a", 10, t)), GossipRejection::kReplayed);
  EXPECT_THAT(receiver_->Open(sender_->SealAt("far", 200, t)), IsOkAndHolds("far"));
  EXPECT_EQ(OpenWhy(sender_->SealAt("old", 100, t)), GossipRejection::kReplayed);  // below window
  EXPECT_THAT(receiver_->Open(sender_->SealAt("in", 150, t)), IsOkAndHolds("in"));
}

TEST_F(GossipAuthTest, SessionTableIsBoundedAndFailsClosed) {
  ASSERT_OK_AND_ASSIGN(ClusterSecret secret, ClusterSecret::Random());
  GossipAuthOptions o;
  o.clock = &clock_;
  o.max_sessions = 2;
  ASSERT_OK_AND_ASSIGN(auto rx, GossipAuth::Create(secret, o));
  std::unique_ptr<GossipAuth> tx[3];
  for (auto& t : tx) {
    ASSERT_OK_AND_ASSIGN(t, GossipAuth::Create(secret, o));
  }
  const std::string replay = tx[0]->Seal("0");
  EXPECT_OK(rx->Open(replay));
  EXPECT_OK(rx->Open(tx[1]->Seal("1")));
  GossipRejection why;
  EXPECT_FALSE(rx->Open(tx[2]->Seal("2"), &why).ok());
  EXPECT_EQ(why, GossipRejection::kTooManySessions);
  // Once the first sessions are too old to matter, they are forgotten for a new one, and their
  // datagrams are stale by then (no replay through the forgetting).
  clock_.Advance(absl::Seconds(121));
  EXPECT_OK(rx->Open(tx[2]->Seal("2")));
  EXPECT_FALSE(rx->Open(replay, &why).ok());
  EXPECT_EQ(why, GossipRejection::kStale);
}

TEST_F(GossipAuthTest, OptionsAreValidated) {
  ASSERT_OK_AND_ASSIGN(ClusterSecret secret, ClusterSecret::Random());
  GossipAuthOptions o;
  o.max_skew = absl::ZeroDuration();
  EXPECT_THAT(GossipAuth::Create(secret, o).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  o = GossipAuthOptions();
  o.max_sessions = 0;
  EXPECT_THAT(GossipAuth::Create(secret, o).status(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::p2p
