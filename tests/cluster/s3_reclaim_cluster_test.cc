// Space reclamation through tessera-s3 alone (no tessera-gateway process): 6 tessera-node in 3
// sites and one tessera-s3 started with short reclamation periods (--gc_interval=1s
// --gc_grace=2s). An object overwritten over S3 leaves its old version's slices on the nodes
// only until the GC's grace has passed: tessera-s3's own backend thread deletes them, and the new
// version reads back byte-exact. Before, tessera-s3 ran no collector and the old slices stayed.
// With --reclaim=false nothing is collected.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/node.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kStripe = 256 << 10;

// Slices held by every node (NodeInfo over the cluster's mutual TLS, with a token).
uint64_t TotalSlices(const ProcessCluster& cluster) {
  auto auth = p2p::ClusterAuth::FromSecretFile(cluster.secret_file(), "test");
  EXPECT_TRUE(auth.ok()) << auth.status();
  if (!auth.ok()) return 0;
  std::shared_ptr<const p2p::ClusterAuth> shared = *std::move(auth);
  uint64_t total = 0;
  for (size_t i = 0; i < cluster.node_addresses().size(); ++i) {
    const std::string& address = cluster.node_addresses()[i];
    auto stub = v1::SliceService::NewStub(
        p2p::CreateNodeChannel(address, grpc::ChannelArguments(), shared, cluster.node_ids()[i]));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::NodeInfoResponse info;
    grpc::Status s = stub->NodeInfo(&ctx, v1::NodeInfoRequest(), &info);
    EXPECT_TRUE(s.ok()) << address << ": " << s.error_message();
    total += info.slice_count();
  }
  return total;
}

// Overwrites a 3-stripe object with a 2-stripe one through tessera-s3 and returns the data.
std::string PutAndOverwrite(const ProcessCluster& cluster) {
  S3TestClient s3(cluster.s3_port(), ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto r = s3.Request("PUT", "/bkt");
  EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  r = s3.Put("bkt", "k", TestBytes(3 * kStripe, 1));
  EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  std::string v2 = TestBytes(2 * kStripe, 2);
  r = s3.Put("bkt", "k", v2);
  EXPECT_TRUE(r.ok() && r->status == 200) << (r.ok() ? r->body : r.status().ToString());
  return v2;
}

ProcessClusterOptions Options(std::vector<std::string> s3_flags) {
  ProcessClusterOptions o;
  o.stripe_size = kStripe;
  o.gateways = 0;  // tessera-s3 is the only front end, so only it can reclaim
  o.s3_gateways = 1;
  o.s3_flags = std::move(s3_flags);
  return o;
}

TEST(S3ReclaimClusterTest, OverwrittenSlicesAreDeletedByTesseraS3) {
  ProcessCluster cluster(Options({"--gc_interval=1s", "--gc_grace=2s"}));
  const std::string v2 = PutAndOverwrite(cluster);
  // 6 slices per stripe: 3 old stripes + 2 new ones until the GC runs, then only the new ones.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  uint64_t slices = TotalSlices(cluster);
  while (slices != 6u * 2 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(250));
    slices = TotalSlices(cluster);
  }
  EXPECT_EQ(slices, 6u * 2) << "the overwritten version's slices were not reclaimed";
  S3TestClient s3(cluster.s3_port(), ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto got = s3.Get("bkt", "k");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_TRUE(got->body == v2);
}

TEST(S3ReclaimClusterTest, ReclaimOffSwitchKeepsEverything) {
  ProcessCluster cluster(Options({"--reclaim=false", "--gc_interval=1s", "--gc_grace=0s"}));
  PutAndOverwrite(cluster);
  absl::SleepFor(absl::Seconds(4));  // several would-be GC periods
  EXPECT_EQ(TotalSlices(cluster), 6u * 5);
}

}  // namespace
}  // namespace tessera::testing
