// The data path over six real storage nodes in three sites (k=4, m=2, 64 KiB stripes): byte-exact
// round trips at every size boundary, ranges, inline objects, and a large streamed object with
// bounded writer memory.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/random.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/object_test_util.h"
#include "services/object/test_cluster.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::GetAll;
using ::tessera::services::testing::Md5Etag;
using ::tessera::services::testing::TestCluster;
using ::tessera::services::testing::TestClusterOptions;
using ::tessera::testing::StatusIs;

constexpr uint64_t kStripe = 64 << 10;

TestClusterOptions SmallStripes(uint64_t inline_threshold = 1024) {
  TestClusterOptions options;
  options.data.stripe_size = kStripe;
  options.data.inline_threshold = inline_threshold;
  return options;
}

TEST(GatewayClusterTest, RoundTripsEverySizeBoundary) {
  TestCluster cluster(SmallStripes());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::vector<uint64_t> sizes = {
      0, 1, 1023, 1024, 1025, kStripe - 1, kStripe, kStripe + 1, 3 * kStripe + 17, 4 * kStripe};
  for (size_t i = 0; i < sizes.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("size ", sizes[i]));
    const std::string data = RandomBytes(sizes[i], 100 + i);
    const std::string key = absl::StrCat("obj", i);
    ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, s.PutObject("bkt", key, data));
    EXPECT_EQ(m.size(), sizes[i]);
    EXPECT_EQ(m.etag(), Md5Etag(data));
    const bool inline_expected = sizes[i] <= 1024;
    EXPECT_EQ(m.parts(0).stripes_size() == 0, inline_expected);
    if (!inline_expected) {
      EXPECT_EQ(m.parts(0).stripes_size(), static_cast<int>((sizes[i] + kStripe - 1) / kStripe));
      for (const auto& stripe : m.parts(0).stripes()) {
        EXPECT_FALSE(stripe.degraded());
        ASSERT_EQ(stripe.slices_size(), 6);
      }
    }
    auto got = GetAll(s, "bkt", key);
    ASSERT_OK(got.status);
    EXPECT_TRUE(got.data == data);
  }
}

TEST(GatewayClusterTest, StripesRespectTheSiteCapAndUseEveryNodeOnce) {
  TestCluster cluster(SmallStripes());
  ASSERT_OK(cluster.status());
  ASSERT_OK(cluster.service().CreateBucket("bkt"));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m,
                       cluster.service().PutObject("bkt", "k", RandomBytes(5 * kStripe, 3)));
  for (const auto& stripe : m.parts(0).stripes()) {
    std::map<int, int> per_site;
    std::set<std::string> nodes;
    for (const auto& slice : stripe.slices()) {
      const int index = cluster.IndexOf(slice.node_id());
      ASSERT_GE(index, 0);
      ++per_site[index % 3];
      nodes.insert(slice.node_id());
    }
    EXPECT_EQ(nodes.size(), 6u);
    for (const auto& [site, count] : per_site) EXPECT_LE(count, 2) << "site " << site;
  }
}

TEST(GatewayClusterTest, RangesAtStripeBoundariesFetchOnlyTouchedStripes) {
  TestCluster cluster(SmallStripes());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const uint64_t size = 5 * kStripe + 100;
  const std::string data = RandomBytes(size, 7);
  ASSERT_OK(s.PutObject("bkt", "k", data).status());
  struct Case {
    uint64_t offset;
    uint64_t length;
    int stripes;
  };
  const std::vector<Case> cases = {
      {0, 1, 1},
      {kStripe - 1, 1, 1},
      {kStripe - 1, 2, 2},
      {kStripe, kStripe, 1},
      {kStripe, kStripe + 1, 2},
      {2 * kStripe - 1, kStripe + 2, 3},
      {5 * kStripe, 100, 1},
      {size - 1, 1, 1},
      {0, size, 6},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("offset ", c.offset, " length ", c.length));
    auto got = GetAll(s, "bkt", "k", ObjectRange{c.offset, c.length});
    ASSERT_OK(got.status);
    EXPECT_TRUE(got.data == data.substr(c.offset, c.length));
    EXPECT_EQ(got.stats.stripes, c.stripes);
    EXPECT_EQ(got.stats.slices_fetched, 4 * c.stripes);  // data slices only
    EXPECT_EQ(got.stats.reconstructed_stripes, 0);
  }
  // A length past the end is cut to the end; a start past the end is OUT_OF_RANGE.
  auto tail = GetAll(s, "bkt", "k", ObjectRange{size - 10, 1000});
  ASSERT_OK(tail.status);
  EXPECT_TRUE(tail.data == data.substr(size - 10));
  EXPECT_THAT(GetAll(s, "bkt", "k", ObjectRange{size + 1, 1}).status,
              StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(GatewayClusterTest, InlineObjectsNeverTouchNodes) {
  TestCluster cluster(SmallStripes(/*inline_threshold=*/64 << 10));
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{1000}, uint64_t{64 << 10}}) {
    const std::string data = RandomBytes(size, size + 1);
    const std::string key = absl::StrCat("small", size);
    ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, s.PutObject("bkt", key, data));
    EXPECT_EQ(m.parts(0).stripes_size(), 0);
    // Sealed, not plain: the inline bytes are longer by the AEAD overhead and hide the data.
    EXPECT_GT(m.inline_sealed().size(), data.size());
    if (size >= 16) {
      EXPECT_EQ(m.inline_sealed().find(data.substr(0, 16)), std::string::npos);
    }
    auto got = GetAll(s, "bkt", key);
    ASSERT_OK(got.status);
    EXPECT_TRUE(got.data == data);
  }
  EXPECT_EQ(cluster.TotalSlices(), 0u);
  // One byte more goes to the nodes.
  ASSERT_OK(s.PutObject("bkt", "big", RandomBytes((64 << 10) + 1, 9)).status());
  EXPECT_EQ(cluster.TotalSlices(), 12u);  // two stripes of 6 slices
}

TEST(GatewayClusterTest, LargeStreamedObjectKeepsWriterMemoryBounded) {
  TestClusterOptions options = SmallStripes();
  options.data.max_stripes_in_flight = 3;
  TestCluster cluster(options);
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  constexpr uint64_t kSize = 64ull << 20;
  const std::string data = RandomBytes(kSize, 64);
  ASSERT_OK_AND_ASSIGN(auto writer, s.PutObject("bkt", "large"));
  for (uint64_t pos = 0; pos < kSize; pos += 1 << 20) {
    ASSERT_OK(writer->Write(absl::string_view(data).substr(pos, 1 << 20)));
  }
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, writer->Finish());
  EXPECT_EQ(m.parts(0).stripes_size(), 1024);
  EXPECT_EQ(m.etag(), Md5Etag(data));
  // One plaintext stripe being filled plus 3 encoded stripes (1.5x plus padding) in flight.
  const uint64_t bound = kStripe + 3 * (kStripe * 3 / 2 + 4096);
  EXPECT_GT(writer->peak_buffered_bytes(), 0u);
  EXPECT_LE(writer->peak_buffered_bytes(), bound);
  // Read back streaming; the sink checks each piece in place instead of copying 64 MiB again.
  uint64_t pos = 0;
  bool equal = true;
  int pieces = 0;
  ASSERT_OK(s.GetObject("bkt", "large", {}, [&](absl::string_view piece) {
               equal = equal && piece == absl::string_view(data).substr(pos, piece.size());
               pos += piece.size();
               ++pieces;
               return absl::OkStatus();
             }).status());
  EXPECT_EQ(pos, kSize);
  EXPECT_TRUE(equal);
  EXPECT_EQ(pieces, 1024);
}

// Client-sealed objects: the code-and-place stage takes the client's sealed stripes as given
// (no key, no seal stage), and ReadSealed hands back exactly those bytes, reconstructed if need
// be; the plaintext Read refuses them.
TEST(GatewayClusterTest, SealedStripesAreCodedPlacedAndReturnedAsGiven) {
  TestCluster cluster(SmallStripes());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  v1::EncryptionParams sealing;
  sealing.set_key_source(v1::EncryptionParams::CLIENT_SEALED);
  sealing.set_key_id(99);
  sealing.set_wrapped_data_key("wrapped-by-the-client");
  sealing.set_client_seal_format(1);
  sealing.set_client_upload_nonce(std::string(16, 'n'));
  const std::vector<std::string> sealed = {RandomBytes(kStripe + 41, 1),
                                           RandomBytes(kStripe + 41, 2), RandomBytes(100, 3)};
  ASSERT_OK_AND_ASSIGN(auto writer, s.PutSealedObject("bkt", "sealed", {}, sealing));
  EXPECT_THAT(writer->Write("plaintext"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(writer->WriteSealedStripe("", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(writer->WriteSealedStripe("abc", 3), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(writer->WriteSealedStripe(std::string(kMaxSealedStripeBytes + 1, 'x'), 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  for (const std::string& stripe : sealed)
    ASSERT_OK(writer->WriteSealedStripe(stripe, stripe.size() - 41));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, writer->Finish());
  EXPECT_EQ(m.encryption().key_source(), v1::EncryptionParams::CLIENT_SEALED);
  EXPECT_EQ(m.encryption().wrapped_data_key(), "wrapped-by-the-client");
  EXPECT_EQ(m.size(), 2 * kStripe + 59);
  ASSERT_EQ(m.parts(0).stripes_size(), 3);
  EXPECT_TRUE(m.inline_sealed().empty());
  EXPECT_EQ(m.etag(), Md5Etag(sealed[0] + sealed[1] + sealed[2]));  // of what the gateway saw

  ObjectReader reader(cluster.deps(), nullptr);
  std::vector<SealedStripeData> got;
  auto collect = [&got](SealedStripeData d) {
    got.push_back(std::move(d));
    return absl::OkStatus();
  };
  ASSERT_OK(reader.ReadSealed(m, 0, m.size(), collect));
  ASSERT_EQ(got.size(), 3u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, i);
    EXPECT_EQ(got[i].plaintext_offset, i * kStripe);
    EXPECT_TRUE(got[i].sealed == sealed[i]) << i;
  }
  // A range touching stripe 1 only, with two of its nodes down: reconstructed, whole stripe.
  cluster.StopNode(cluster.IndexOf(m.parts(0).stripes(1).slices(0).node_id()));
  cluster.StopNode(cluster.IndexOf(m.parts(0).stripes(1).slices(2).node_id()));
  got.clear();
  ASSERT_OK(reader.ReadSealed(m, kStripe + 5, 10, collect));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].index, 1u);
  EXPECT_TRUE(got[0].sealed == sealed[1]);
  // Never as plaintext.
  int sunk = 0;
  EXPECT_THAT(reader.Read(m, 0, m.size(),
                          [&sunk](absl::string_view) {
                            ++sunk;
                            return absl::OkStatus();
                          }),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("sealed")));
  EXPECT_EQ(sunk, 0);
}

// Objects of the former in-process end-to-end client (key source CLIENT_KEY) are refused before
// any unwrap or slice fetch, as before the SDK moved to client sealing.
TEST(GatewayClusterTest, LegacyClientKeyObjectsAreRefusedUnopened) {
  TestCluster cluster(SmallStripes());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, s.PutObject("bkt", "k", RandomBytes(2 * kStripe, 5)));
  m.mutable_encryption()->set_key_source(v1::EncryptionParams::CLIENT_KEY);
  ObjectReader reader(cluster.deps(), nullptr);
  ReadStats stats;
  int sunk = 0;
  EXPECT_THAT(reader.Read(
                  m, 0, m.size(),
                  [&sunk](absl::string_view) {
                    ++sunk;
                    return absl::OkStatus();
                  },
                  &stats),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("encrypted with a client key")));
  EXPECT_EQ(sunk, 0);
  EXPECT_EQ(stats.slices_fetched, 0);
}

}  // namespace
}  // namespace tessera::services
