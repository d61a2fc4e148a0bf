// Bandwidth measurement end to end (docs/design/bandwidth.md), over real sockets on 127.0.0.1:
// - three in-process tessera-nodes with membership; each node's slice client (the one repair and
//   hand-off use) moves slices to the others and reports to the node's estimator; every node
//   ends up seeing every node's published summary, in its view, its ClusterMembers answer and
//   its metrics text;
// - one node behind a throttled TCP proxy: the client's estimate of it reflects the throttle.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "base/metrics.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/bandwidth/estimator.h"
#include "services/node/bandwidth_reporter.h"
#include "services/node/cluster_members.h"
#include "services/node/node_server.h"
#include "services/object/membership_cluster_view.h"
#include "services/object/slice_client.h"
#include "services/object/throttled_proxy.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOk;

constexpr size_t kMiB = 1 << 20;

v1::SliceId Id(int n) {
  v1::SliceId id;
  id.set_version_id(absl::StrCat("bw-test-version-", n).substr(0, 16));
  id.set_stripe(static_cast<uint32_t>(n));
  return id;
}

class BandwidthClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tessera::testing::UniqueTestDir("bandwidth_cluster");
    secret_file_ = root_ + "/secret";
    ASSERT_THAT(p2p::ClusterSecret::Generate(secret_file_), IsOk());
  }

  absl::StatusOr<std::unique_ptr<NodeServer>> StartNode(int i, bool membership,
                                                        const std::string& seed) {
    NodeOptions o;
    o.data_dir = absl::StrCat(root_, "/node", i);
    o.listen = "127.0.0.1:0";
    o.admin_listen = "127.0.0.1:0";
    o.reserved_bytes = 0;
    o.enable_meta_service = false;
    o.cluster_secret_file = secret_file_;
    o.enable_membership = membership;
    o.gossip_listen = "127.0.0.1:0";
    o.gossip.probe_interval = absl::Milliseconds(100);
    o.gossip.probe_timeout = absl::Milliseconds(40);
    o.gossip.suspicion_timeout = absl::Seconds(3);
    o.gossip.join_retry_interval = absl::Milliseconds(100);
    o.gossip.sync_interval = absl::Milliseconds(500);
    o.leave_wait = absl::Milliseconds(200);
    o.bandwidth.interval = absl::Milliseconds(200);
    if (!seed.empty()) o.seeds = {seed};
    registries_.push_back(std::make_unique<Registry>());
    o.registry = registries_.back().get();
    return NodeServer::Start(o);
  }

  std::unique_ptr<GrpcSliceClient> ClientFor(std::shared_ptr<p2p::TransferObserver> observer) {
    auto auth = p2p::ClusterAuth::FromSecretFile(secret_file_, "bw-test");
    EXPECT_THAT(auth.status(), IsOk());
    GrpcSliceClientOptions options;
    options.auth = *std::move(auth);
    options.observer = std::move(observer);
    return std::make_unique<GrpcSliceClient>(options);
  }

  std::string root_;
  std::string secret_file_;
  std::vector<std::unique_ptr<Registry>> registries_;
};

TEST_F(BandwidthClusterTest, EveryNodeSeesEveryNodesSummaryAfterTransfers) {
  std::vector<std::unique_ptr<NodeServer>> nodes;
  for (int i = 0; i < 3; ++i) {
    auto node = StartNode(i, true, i == 0 ? "" : nodes[0]->gossip_address());
    ASSERT_THAT(node.status(), IsOk());
    nodes.push_back(*std::move(node));
  }
  const std::string payload(2 * kMiB, 'x');
  int n = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    // Node i's own slice client (as repair and hand-off run it) reports to node i's estimator.
    std::unique_ptr<GrpcSliceClient> client = ClientFor(nodes[i]->bandwidth());
    for (size_t j = 0; j < nodes.size(); ++j) {
      if (j == i) continue;
      const std::string address = absl::StrCat("127.0.0.1:", nodes[j]->port());
      for (int round = 0; round < 3; ++round) {
        const v1::SliceId id = Id(n++);
        ASSERT_THAT(client->Put(address, id, payload), IsOk());
        auto got = client->Get(address, id, 0, 0);
        ASSERT_THAT(got.status(), IsOk());
        ASSERT_EQ(got->size(), payload.size());
      }
    }
  }
  // Every node's view holds every node's summary with both rates and an RTT (RTTs come from the
  // cold-peer probes: the transfers above were all large).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool all = false;
  while (!all && absl::Now() < deadline) {
    all = true;
    for (const auto& observer : nodes) {
      std::shared_ptr<const p2p::MembershipView> view = observer->membership_view();
      for (const auto& subject : nodes) {
        const p2p::MemberInfo* m = view->Find(subject->node_id());
        if (m == nullptr || m->bandwidth.egress_bytes_per_second <= 0 ||
            m->bandwidth.ingress_bytes_per_second <= 0 ||
            m->bandwidth.median_rtt <= absl::ZeroDuration() || m->bandwidth.peers != 2) {
          all = false;
        }
      }
    }
    if (!all) absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(all) << "not every node saw every summary within 30 s";
  // The same figures reach gateways (ClusterMembers) and the metrics exposition.
  std::shared_ptr<const p2p::MembershipView> view = nodes[1]->membership_view();
  const v1::ClusterMembersResponse members = ToClusterMembersResponse(*view);
  for (const v1::ClusterMember& m : members.members()) {
    EXPECT_GT(m.bandwidth().egress_bytes_per_second(), 0u) << m.node_id();
    EXPECT_GT(m.bandwidth().median_rtt_micros(), 0u) << m.node_id();
  }
  const std::string text = BandwidthMetricsText(*view);
  for (const auto& node : nodes) {
    EXPECT_TRUE(absl::StrContains(
        text, absl::StrCat("tessera_member_bandwidth_egress_bytes_per_second{node=\"",
                           node->node_id(), "\"}")))
        << text;
  }
  // A gateway's cluster view (what `tessera cluster status` prints) carries them too.
  MembershipClusterViewOptions vo;
  vo.seeds = {absl::StrCat("127.0.0.1:", nodes[2]->port())};
  auto auth = p2p::ClusterAuth::FromSecretFile(secret_file_, "bw-test-gateway");
  ASSERT_THAT(auth.status(), IsOk());
  vo.auth = *std::move(auth);
  vo.refresh_interval = absl::Milliseconds(100);
  auto cluster = MembershipClusterView::Start(vo);
  ASSERT_THAT(cluster.status(), IsOk());
  const std::shared_ptr<const ClusterSnapshot> snapshot = (*cluster)->Snapshot();
  ASSERT_EQ(snapshot->nodes().size(), nodes.size());
  for (const StorageNode& n : snapshot->nodes()) {
    EXPECT_GT(n.egress_bytes_per_second, 0u) << n.id;
    EXPECT_GT(n.ingress_bytes_per_second, 0u) << n.id;
    EXPECT_GT(n.median_rtt_micros, 0u) << n.id;
  }
  cluster->reset();
  for (auto& node : nodes) node->Shutdown(absl::Seconds(1));
}

TEST_F(BandwidthClusterTest, AThrottledPeerIsEstimatedSlower) {
  auto fast = StartNode(0, false, "");
  ASSERT_THAT(fast.status(), IsOk());
  auto slow = StartNode(1, false, "");
  ASSERT_THAT(slow.status(), IsOk());
  constexpr double kThrottle = 2e6;  // bytes per second, each direction
  testing::ThrottledProxy proxy((*slow)->port(), kThrottle);
  ASSERT_TRUE(proxy.ok());
  auto estimator = std::make_shared<p2p::BandwidthEstimator>();
  std::unique_ptr<GrpcSliceClient> client = ClientFor(estimator);
  const std::string fast_address = absl::StrCat("127.0.0.1:", (*fast)->port());
  const std::string payload(1 * kMiB, 'y');
  int n = 0;
  for (const std::string& address : {fast_address, proxy.address()}) {
    for (int round = 0; round < 4; ++round) {
      const v1::SliceId id = Id(n++);
      ASSERT_THAT(client->Put(address, id, payload), IsOk());
      ASSERT_THAT(client->Get(address, id, 0, 0).status(), IsOk());
      ASSERT_THAT(client->Delete(address, id), IsOk());  // a small call: an RTT sample
    }
  }
  const p2p::PeerEstimate f = *estimator->Estimate(fast_address);
  const p2p::PeerEstimate s = *estimator->Estimate(proxy.address());
  // The throttled peer's rates are near the throttle (generous bounds: TLS framing, scheduling).
  EXPECT_LT(s.send_bytes_per_second.mean, kThrottle * 1.5);
  EXPECT_GT(s.send_bytes_per_second.mean, kThrottle / 3);
  EXPECT_LT(s.receive_bytes_per_second.mean, kThrottle * 1.5);
  EXPECT_GT(s.receive_bytes_per_second.mean, kThrottle / 3);
  // The direct peer is much faster, and predictions rank them accordingly.
  // (A Put's time includes the node's fsync, so the direct send rate is disk-bound: a smaller
  // margin there keeps the test robust on a busy machine.)
  EXPECT_GT(f.send_bytes_per_second.mean, 1.5 * s.send_bytes_per_second.mean);
  EXPECT_GT(f.receive_bytes_per_second.mean, 3 * s.receive_bytes_per_second.mean);
  EXPECT_GT(
      estimator->PredictTransferTime(proxy.address(), 8 * kMiB, p2p::TransferDirection::kReceive)
          .time,
      3 * estimator->PredictTransferTime(fast_address, 8 * kMiB, p2p::TransferDirection::kReceive)
              .time);
  std::cout << "fast peer: send " << f.send_bytes_per_second.mean / 1e6 << " MB/s, receive "
            << f.receive_bytes_per_second.mean / 1e6 << " MB/s, rtt " << f.rtt_seconds.mean * 1e3
            << " ms; throttled peer (2 MB/s): send " << s.send_bytes_per_second.mean / 1e6
            << " MB/s, receive " << s.receive_bytes_per_second.mean / 1e6 << " MB/s, rtt "
            << s.rtt_seconds.mean * 1e3 << " ms\n";
  client.reset();
  proxy.Stop();
}

}  // namespace
}  // namespace tessera::services
