// The data path under faults, over real storage nodes: nodes stopped (m, m+1, a whole site),
// a node dying in the middle of a write (re-placement and degraded stripes), too few nodes to
// write, a byte flipped in a slice file on disk, a node returning altered bytes, and garbage
// collection of superseded and deleted versions.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/fake_clock.h"
#include "base/random.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/object_test_util.h"
#include "services/object/slice_gc.h"
#include "services/object/test_cluster.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::GetAll;
using ::tessera::services::testing::TestCluster;
using ::tessera::services::testing::TestClusterOptions;
using ::tessera::testing::StatusIs;

constexpr uint64_t kStripe = 64 << 10;

TestClusterOptions Options(int nodes = 6) {
  TestClusterOptions options;
  options.nodes = nodes;
  options.data.stripe_size = kStripe;
  options.data.inline_threshold = 1024;
  return options;
}

// A few objects of assorted sizes, stored and kept for comparison.
std::map<std::string, std::string> PutSome(ObjectService& s) {
  std::map<std::string, std::string> objects;
  const std::vector<uint64_t> sizes = {10, kStripe - 1, kStripe + 1, 5 * kStripe + 3};
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string key = absl::StrCat("o", i);
    std::string data = RandomBytes(sizes[i], 1000 + i);
    EXPECT_OK(s.PutObject("bkt", key, data).status());
    objects[key] = std::move(data);
  }
  return objects;
}

void ExpectAllReadable(ObjectService& s, const std::map<std::string, std::string>& objects) {
  for (const auto& [key, data] : objects) {
    auto got = GetAll(s, "bkt", key);
    EXPECT_TRUE(got.status.ok()) << key << ": " << got.status;
    EXPECT_TRUE(got.data == data) << key;
  }
}

TEST(GatewayFaultTest, ReadsSurviveMNodesDownAndFailCleanlyBeyond) {
  TestCluster cluster(Options());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const auto objects = PutSome(s);
  cluster.StopNode(0);
  cluster.StopNode(1);
  ExpectAllReadable(s, objects);
  auto degraded = GetAll(s, "bkt", "o3");
  EXPECT_GT(degraded.stats.reconstructed_stripes, 0);

  cluster.StopNode(2);  // m + 1 down: every stripe lost 3 of its 6 slices
  auto got = GetAll(s, "bkt", "o3");
  EXPECT_THAT(got.status, StatusIs(absl::StatusCode::kUnavailable,
                                   ::testing::HasSubstr("fewer than 4 usable slices")));
  EXPECT_TRUE(got.data.empty());  // never wrong (or partial) bytes of the failing stripe
  // Inline objects need no node.
  EXPECT_OK(GetAll(s, "bkt", "o0").status);
}

TEST(GatewayFaultTest, ReadsSurviveAWholeSiteDown) {
  TestCluster cluster(Options());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const auto objects = PutSome(s);
  cluster.StopNode(1);  // site1 = nodes 1 and 4
  cluster.StopNode(4);
  ExpectAllReadable(s, objects);
}

TEST(GatewayFaultTest, NodeDyingMidWriteLeavesDegradedStripesWithKPlusOne) {
  TestCluster cluster(Options());  // 6 nodes: k+m = 6, no spare node to re-place on
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string data = RandomBytes(10 * kStripe + 5, 77);
  ASSERT_OK_AND_ASSIGN(auto writer, s.PutObject("bkt", "k"));
  ASSERT_OK(writer->Write(absl::string_view(data).substr(0, 4 * kStripe)));
  cluster.StopNode(3);
  ASSERT_OK(writer->Write(absl::string_view(data).substr(4 * kStripe)));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, writer->Finish());
  int degraded = 0;
  for (const auto& stripe : m.parts(0).stripes()) {
    int durable = 0;
    for (const auto& slice : stripe.slices()) durable += slice.node_id().empty() ? 0 : 1;
    EXPECT_GE(durable, 5);
    EXPECT_EQ(stripe.degraded(), durable < 6);
    if (stripe.index() >= 4) {  // placed after the node died
      for (const auto& slice : stripe.slices()) EXPECT_NE(slice.node_id(), cluster.node_id(3));
    }
    degraded += stripe.degraded() ? 1 : 0;
  }
  EXPECT_GE(degraded, 7);  // every stripe written after the node died
  auto got = GetAll(s, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
  // Degraded stripes still tolerate one more loss.
  cluster.StopNode(0);
  got = GetAll(s, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
}

TEST(GatewayFaultTest, NodeDyingMidWriteIsReplacedWhenASpareNodeExists) {
  // 7 nodes: site0 = {0, 3, 6} has a spare, so a slice on node 0 can move within its site.
  TestCluster cluster(Options(7));
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string data = RandomBytes(12 * kStripe, 78);
  ASSERT_OK_AND_ASSIGN(auto writer, s.PutObject("bkt", "k"));
  ASSERT_OK(writer->Write(absl::string_view(data).substr(0, 2 * kStripe)));
  cluster.StopNode(0);
  ASSERT_OK(writer->Write(absl::string_view(data).substr(2 * kStripe)));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, writer->Finish());
  for (const auto& stripe : m.parts(0).stripes()) {
    EXPECT_FALSE(stripe.degraded()) << "stripe " << stripe.index();
  }
  // The node is placed on (with probability 6/7 per stripe) until its first failure, which is
  // re-placed; 10 stripes after its death make missing that practically impossible.
  EXPECT_GE(writer->replaced_slices(), 1);
  auto got = GetAll(s, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
  EXPECT_EQ(got.stats.slice_failures, 0);  // no stripe lists the dead node
}

TEST(GatewayFaultTest, WriteFailsUnavailableBelowKPlusOneAndCleansUp) {
  TestCluster cluster(Options());
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  cluster.StopNode(2);
  cluster.StopNode(5);
  ASSERT_OK_AND_ASSIGN(auto writer, s.PutObject("bkt", "k"));
  absl::Status status = writer->Write(RandomBytes(6 * kStripe, 5));
  if (status.ok()) status = writer->Finish().status();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kUnavailable,
                               ::testing::HasSubstr("at least 5 are required")));
  EXPECT_EQ(cluster.TotalSlices(), 0u);  // written slices were deleted
  EXPECT_THAT(s.HeadObject("bkt", "k").status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST(GatewayFaultTest, FlippedByteInASliceFileIsDetectedAndReadSucceeds) {
  TestClusterOptions options = Options();
  options.data.stripe_size = 256 << 10;  // 64 KiB slices: stored as files, not in the index
  TestCluster cluster(options);
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string data = RandomBytes(3 * (256 << 10), 91);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, s.PutObject("bkt", "k", data));
  // The node holding data slice 0 of stripe 0: flip a byte in every slice file it has.
  const int victim = cluster.IndexOf(m.parts(0).stripes(0).slices(0).node_id());
  ASSERT_GE(victim, 0);
  const std::vector<std::string> files = cluster.SliceFiles(victim);
  ASSERT_FALSE(files.empty());
  for (const std::string& file : files) {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << file;
    f.seekg(64 + 1000);  // past the 64-byte header, inside the data
    char c = 0;
    f.get(c);
    f.seekp(64 + 1000);
    f.put(static_cast<char>(c ^ 0x20));
  }
  auto got = GetAll(s, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
  EXPECT_GE(got.stats.slice_failures, 1);  // the node's block checksum answered DATA_LOSS
  EXPECT_GE(got.stats.reconstructed_stripes, 1);
}

// Hands back altered bytes for one slice, as a faulty or hostile node could.
class CorruptingSliceClient final : public ForwardingSliceClient {
 public:
  using ForwardingSliceClient::ForwardingSliceClient;
  absl::StatusOr<std::string> Get(const std::string& address, const v1::SliceId& id,
                                  uint64_t offset, uint64_t length) override {
    absl::StatusOr<std::string> got = inner()->Get(address, id, offset, length);
    if (got.ok() && !got->empty() && corrupt_.load() && id.stripe() == 1 &&
        (id.index() == 1 || id.index() == corrupt_index_.load())) {
      (*got)[got->size() / 2] ^= 1;
    }
    return got;
  }
  std::atomic<bool> corrupt_{false};
  std::atomic<uint32_t> corrupt_index_{1};
};

TEST(GatewayFaultTest, AlteredSliceBytesFailTheHashAndParityIsUsed) {
  GrpcSliceClient real;
  CorruptingSliceClient corrupting(&real);
  TestCluster cluster(Options(), &corrupting);
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string data = RandomBytes(3 * kStripe, 12);
  ASSERT_OK(s.PutObject("bkt", "k", data).status());
  corrupting.corrupt_ = true;
  auto got = GetAll(s, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
  EXPECT_GE(got.stats.corrupt_slices, 1);
  EXPECT_EQ(got.stats.reconstructed_stripes, 1);
  // Three bad slices in stripe 1 (two altered, one node down): DATA_LOSS, and only stripe 0's
  // bytes were delivered.
  corrupting.corrupt_index_ = 4;
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, s.HeadObject("bkt", "k"));
  cluster.StopNode(cluster.IndexOf(m.parts(0).stripes(1).slices(0).node_id()));
  got = GetAll(s, "bkt", "k");
  EXPECT_THAT(got.status,
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("hash mismatch")));
  EXPECT_TRUE(got.data == data.substr(0, kStripe));
}

TEST(GatewayFaultTest, GarbageCollectorDeletesSupersededAndDeletedVersionsAfterGrace) {
  FakeClock clock(absl::Now());
  TestClusterOptions options = Options();
  options.clock = &clock;
  TestCluster cluster(options);
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  SliceGcOptions gc_options;
  gc_options.grace = absl::Minutes(10);
  SliceGarbageCollector gc(gc_options, cluster.deps(), &cluster.store());

  ASSERT_OK(s.PutObject("bkt", "k", RandomBytes(2 * kStripe, 1)).status());  // 2 stripes
  clock.Advance(absl::Seconds(1));
  const std::string v2 = RandomBytes(3 * kStripe, 2);
  ASSERT_OK(s.PutObject("bkt", "k", v2).status());                              // 3 stripes
  ASSERT_OK(s.PutObject("bkt", "gone", RandomBytes(kStripe + 1, 3)).status());  // 2 stripes
  clock.Advance(absl::Seconds(1));
  ASSERT_OK(s.DeleteObject("bkt", "gone"));
  EXPECT_EQ(cluster.TotalSlices(), 6u * 7);

  ASSERT_OK_AND_ASSIGN(SliceGcStats early, gc.RunOnce());
  EXPECT_EQ(early.versions_collected, 0);
  EXPECT_EQ(cluster.TotalSlices(), 6u * 7);

  clock.Advance(absl::Minutes(10));
  ASSERT_OK_AND_ASSIGN(SliceGcStats stats, gc.RunOnce());
  EXPECT_EQ(stats.slices_deleted, 6 * 4);
  EXPECT_EQ(stats.versions_collected, 3);  // old "k", "gone" and its delete marker
  EXPECT_EQ(cluster.TotalSlices(), 6u * 3);
  auto got = GetAll(s, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == v2);
  ASSERT_OK_AND_ASSIGN(auto versions, cluster.store().ScanVersions("bkt", "", 100));
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].key, "k");
  EXPECT_EQ(versions[0].versions.size(), 1u);
  // Now empty of everything but "k".
  ASSERT_OK(s.DeleteObject("bkt", "k"));
  EXPECT_OK(s.DeleteBucket("bkt"));
}

TEST(GatewayFaultTest, GarbageCollectorRetriesWhenANodeIsDown) {
  FakeClock clock(absl::Now());
  TestClusterOptions options = Options();
  options.clock = &clock;
  TestCluster cluster(options);
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  SliceGcOptions gc_options;
  gc_options.grace = absl::Minutes(1);
  SliceGarbageCollector gc(gc_options, cluster.deps(), &cluster.store());
  ASSERT_OK(s.PutObject("bkt", "k", RandomBytes(kStripe, 1)).status());
  ASSERT_OK(s.DeleteObject("bkt", "k"));
  cluster.StopNode(0);
  clock.Advance(absl::Minutes(2));
  ASSERT_OK_AND_ASSIGN(SliceGcStats stats, gc.RunOnce());
  EXPECT_EQ(stats.slice_failures, 1);
  EXPECT_EQ(stats.versions_collected, 0);  // the version stays until all its slices are gone
  ASSERT_OK_AND_ASSIGN(auto versions, cluster.store().ScanVersions("bkt", "", 100));
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].versions.size(), 2u);
}

}  // namespace
}  // namespace tessera::services
