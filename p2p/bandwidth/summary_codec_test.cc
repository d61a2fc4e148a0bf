#include "p2p/bandwidth/summary_codec.h"

#include <cmath>
#include <limits>
#include <string>

#include "api/membership.pb.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "p2p/identity/node_identity.h"
#include "p2p/membership/records.h"

namespace tessera::p2p {
namespace {

using ::tessera::testing::IsOk;

TEST(SummaryCodecTest, RoundTrip) {
  BandwidthSummary s;
  s.egress_bytes_per_second = 123456789;
  s.ingress_bytes_per_second = 987654321;
  s.median_rtt = absl::Microseconds(1234);
  s.peers = 17;
  const tessera::v1::BandwidthSummary p = BandwidthSummaryToProto(s);
  tessera::v1::BandwidthSummary parsed;
  ASSERT_TRUE(parsed.ParseFromString(p.SerializeAsString()));
  const BandwidthSummary back = BandwidthSummaryFromProto(parsed);
  EXPECT_EQ(back.egress_bytes_per_second, s.egress_bytes_per_second);
  EXPECT_EQ(back.ingress_bytes_per_second, s.ingress_bytes_per_second);
  EXPECT_EQ(back.median_rtt, s.median_rtt);
  EXPECT_EQ(back.peers, 17u);
  EXPECT_EQ(parsed.format_version(), kBandwidthSummaryFormatVersion);
}

TEST(SummaryCodecTest, SizeIsBoundedEvenAtExtremes) {
  BandwidthSummary huge;
  huge.egress_bytes_per_second = 1e30;
  huge.ingress_bytes_per_second = std::numeric_limits<double>::infinity();
  huge.median_rtt = absl::Hours(1e6);
  huge.peers = std::numeric_limits<uint32_t>::max();
  const tessera::v1::BandwidthSummary p = BandwidthSummaryToProto(huge);
  EXPECT_LE(p.ByteSizeLong(), kMaxEncodedSummaryBytes);
  EXPECT_EQ(p.median_rtt_micros(), std::numeric_limits<uint32_t>::max());
  // Garbage in: zeros out, never a failure.
  BandwidthSummary bad;
  bad.egress_bytes_per_second = std::nan("");
  bad.ingress_bytes_per_second = -5;
  bad.median_rtt = -absl::Seconds(1);
  const tessera::v1::BandwidthSummary q = BandwidthSummaryToProto(bad);
  EXPECT_EQ(q.egress_bytes_per_second(), 0u);
  EXPECT_EQ(q.ingress_bytes_per_second(), 0u);
  EXPECT_EQ(q.median_rtt_micros(), 0u);
}

tessera::v1::NodeRecord Record(const NodeIdentity& id) {
  tessera::v1::NodeRecord r;
  r.set_format_version(kRecordFormatVersion);
  r.set_node_id(id.node_id());
  r.set_public_key(id.public_key());
  r.set_incarnation(7);
  r.set_state(tessera::v1::MEMBER_STATE_ALIVE);
  r.set_gossip_address("127.0.0.1:7946");
  r.set_grpc_address("127.0.0.1:7400");
  r.mutable_location()->set_site("site-a");
  r.set_capacity_bytes(1ull << 40);
  r.set_free_bytes(1ull << 39);
  return r;
}

TEST(SummaryCodecTest, SignedRecordCarriesItAndRecordsWithoutItStillVerify) {
  auto id = NodeIdentity::Generate();
  ASSERT_THAT(id.status(), IsOk());
  // Old format: no bandwidth field.
  tessera::v1::NodeRecord old_record = Record(**id);
  auto old_parsed = VerifyRecord(SignRecord(**id, old_record));
  ASSERT_THAT(old_parsed.status(), IsOk());
  EXPECT_FALSE(old_parsed->has_bandwidth());
  EXPECT_TRUE(BandwidthSummaryFromProto(old_parsed->bandwidth()).empty());

  // New format: the summary round-trips through signing and verification.
  tessera::v1::NodeRecord record = Record(**id);
  BandwidthSummary s;
  s.egress_bytes_per_second = 5e8;
  s.ingress_bytes_per_second = 4e8;
  s.median_rtt = absl::Microseconds(350);
  s.peers = 99;
  *record.mutable_bandwidth() = BandwidthSummaryToProto(s);
  const tessera::v1::SignedNodeRecord signed_record = SignRecord(**id, record);
  auto parsed = VerifyRecord(signed_record);
  ASSERT_THAT(parsed.status(), IsOk());
  EXPECT_EQ(BandwidthSummaryFromProto(parsed->bandwidth()).peers, 99u);
  // Size: the field adds at most the summary bound plus its tag and length, and the whole
  // signed update stays far below a 1,400-byte gossip datagram.
  EXPECT_LE(signed_record.record().size() - SignRecord(**id, old_record).record().size(),
            kMaxEncodedSummaryBytes + 2);
  tessera::v1::GossipUpdate u;
  *u.mutable_record() = signed_record;
  EXPECT_LT(u.ByteSizeLong(), 400u);
}

}  // namespace
}  // namespace tessera::p2p
