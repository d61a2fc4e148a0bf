// Repair against real storage nodes (in process, real gRPC over 127.0.0.1): lost nodes, writes
// acknowledged with fewer than k+m slices, damaged slices, and manifests changing under repair.
#include "services/repair/repairer.h"

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "base/metrics.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/multipart.h"
#include "services/object/object_test_util.h"
#include "services/object/orphan_reclaimer.h"
#include "services/object/test_cluster.h"
#include "services/object/throttled_proxy.h"
#include "services/repair/repair_metrics.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::GetAll;
using ::tessera::services::testing::PatternData;
using ::tessera::services::testing::TestCluster;
using ::tessera::services::testing::TestClusterOptions;

constexpr char kBucket[] = "photos";

// 7 nodes in 3 sites, k = 2, m = 2, 64 KiB stripes (32 KiB slices: slice files on disk).
TestClusterOptions SevenNodes() {
  TestClusterOptions o;
  o.nodes = 7;
  o.sites = 3;
  o.data.data_shards = 2;
  o.data.parity_shards = 2;
  o.data.stripe_size = 64 << 10;
  o.data.inline_threshold = 1024;
  return o;
}

// Fails puts to the nodes in `refused` (a full or unreachable node).
class RefusingSliceClient final : public ForwardingSliceClient {
 public:
  using ForwardingSliceClient::ForwardingSliceClient;
  absl::Status Put(const std::string& address, const v1::SliceId& id,
                   absl::string_view data) override {
    {
      absl::MutexLock lock(&mu_);
      if (refused_.contains(address)) return absl::UnavailableError(address + ": refused");
    }
    return inner()->Put(address, id, data);
  }
  void Refuse(std::set<std::string> addresses) {
    absl::MutexLock lock(&mu_);
    refused_ = std::move(addresses);
  }

 private:
  absl::Mutex mu_;
  std::set<std::string> refused_ ABSL_GUARDED_BY(mu_);
};

// Counts slice calls per node address: the repair work each node gets.
class CountingSliceClient final : public ForwardingSliceClient {
 public:
  using ForwardingSliceClient::ForwardingSliceClient;
  absl::Status Put(const std::string& address, const v1::SliceId& id,
                   absl::string_view data) override {
    Count(/*put=*/true, address);
    return inner()->Put(address, id, data);
  }
  absl::StatusOr<std::string> Get(const std::string& address, const v1::SliceId& id,
                                  uint64_t offset, uint64_t length) override {
    Count(/*put=*/false, address);
    return inner()->Get(address, id, offset, length);
  }
  int puts(const std::string& address) const { return Of(/*put=*/true, address); }
  int gets(const std::string& address) const { return Of(/*put=*/false, address); }

 private:
  void Count(bool put, const std::string& address) {
    absl::MutexLock lock(&mu_);
    ++(put ? puts_ : gets_)[address];
  }
  int Of(bool put, const std::string& address) const {
    absl::MutexLock lock(&mu_);
    const std::map<std::string, int>& counts = put ? puts_ : gets_;
    auto it = counts.find(address);
    return it == counts.end() ? 0 : it->second;
  }

  mutable absl::Mutex mu_;
  std::map<std::string, int> puts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> gets_ ABSL_GUARDED_BY(mu_);
};

class RepairerTest : public ::testing::Test {
 protected:
  RepairerTest() : client_(&grpc_), cluster_(SevenNodes(), &client_) {}

  void SetUp() override {
    ASSERT_OK(cluster_.status());
    ASSERT_OK(cluster_.service().CreateBucket(kBucket));
    lister_ = NewGrpcSliceLister(nullptr);
    auto metrics = RepairMetrics::Create(&registry_);
    ASSERT_OK(metrics.status());
    metrics_ = *std::move(metrics);
  }

  std::unique_ptr<Repairer> NewRepairer(absl::Duration dead_grace = absl::ZeroDuration()) {
    RepairerOptions o;
    o.dead_grace = dead_grace;
    o.scan_batch = 7;  // several ScanVersions pages
    return std::make_unique<Repairer>(o, &cluster_.view(), &cluster_.store(), &grpc_, lister_.get(),
                                      &pool_, nullptr, metrics_.get());
  }

  // Writes `count` objects of 1..5 stripes; returns key -> bytes.
  std::map<std::string, std::string> WriteObjects(int count) {
    std::map<std::string, std::string> objects;
    for (int i = 0; i < count; ++i) {
      const std::string key = absl::StrCat("obj-", i);
      std::string data = PatternData((i % 5 + 1) * (40 << 10), static_cast<char>(i));
      EXPECT_OK(cluster_.service().PutObject(kBucket, key, data).status());
      objects[key] = std::move(data);
    }
    return objects;
  }

  // Marks nodes down (shut down and not alive in the view), as membership would.
  void KillNodes(const std::vector<int>& nodes) {
    std::vector<StorageNode> view = cluster_.view().Snapshot()->nodes();
    for (int i : nodes) {
      cluster_.StopNode(i);
      for (StorageNode& n : view) {
        if (n.id == cluster_.node_id(i)) n.alive = false;
      }
    }
    cluster_.view().Update(view);
  }

  // Every stripe of every version in the store: k+m slices, each on a distinct node that is alive
  // and holds a slice with exactly the manifest's hash, at most m per site.
  void ExpectFullRedundancy() {
    auto snapshot = cluster_.view().Snapshot();
    auto scanned = cluster_.store().ScanVersions(kBucket, "", 10000);
    ASSERT_OK(scanned.status());
    int stripes = 0;
    for (const KeyVersions& kv : *scanned) {
      for (const v1::ObjectManifest& m : kv.versions) {
        for (const v1::PartRecord& part : m.parts()) {
          for (const v1::StripeRecord& s : part.stripes()) {
            ++stripes;
            EXPECT_FALSE(s.degraded()) << kv.key;
            ASSERT_EQ(s.slices_size(), 4);
            std::set<std::string> holders;
            std::map<std::string, int> per_site;
            for (int i = 0; i < s.slices_size(); ++i) {
              const StorageNode* node = snapshot->Find(s.slices(i).node_id());
              ASSERT_NE(node, nullptr) << kv.key << " slice " << i << " is not stored";
              EXPECT_TRUE(node->alive) << kv.key << " slice " << i << " is on a dead node";
              holders.insert(node->id);
              ++per_site[node->site];
              absl::StatusOr<std::string> got = grpc_.Get(
                  node->address, MakeSliceId(DataVersionId(m), part.number(), s.index(), i), 0, 0);
              ASSERT_THAT(got.status(), ::tessera::testing::IsOk()) << kv.key << " slice " << i;
              const storage::SliceHash h = storage::HashSlice(*got);
              EXPECT_EQ(std::string(h.begin(), h.end()), s.slices(i).hash());
            }
            EXPECT_EQ(holders.size(), 4u) << kv.key << ": two slices share a node";
            for (const auto& [site, n] : per_site) EXPECT_LE(n, 2) << kv.key << " site " << site;
          }
        }
      }
    }
    EXPECT_GT(stripes, 0);
  }

  void ExpectAllReadable(const std::map<std::string, std::string>& objects) {
    for (const auto& [key, data] : objects) {
      testing::GetOutcome got = GetAll(cluster_.service(), kBucket, key);
      ASSERT_THAT(got.status, ::tessera::testing::IsOk()) << key;
      EXPECT_TRUE(got.data == data) << key << " read back different bytes";
    }
  }

  GrpcSliceClient grpc_;
  RefusingSliceClient client_;
  TestCluster cluster_;
  WorkPool pool_{8};
  std::unique_ptr<SliceLister> lister_;
  Registry registry_;
  std::unique_ptr<RepairMetrics> metrics_;
};

TEST_F(RepairerTest, LostNodeIsRebuiltElsewhereAndSurvivesMFurtherLosses) {
  const std::map<std::string, std::string> objects = WriteObjects(24);
  KillNodes({3});
  std::unique_ptr<Repairer> repairer = NewRepairer();
  absl::StatusOr<RepairPassStats> pass = repairer->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_GT(pass->stripes_queued, 0u);
  EXPECT_EQ(pass->stripes_repaired, pass->stripes_queued);
  EXPECT_EQ(pass->stripes_failed, 0u);
  // One slice per stripe was lost: every queued stripe had exactly one spare left.
  EXPECT_EQ(pass->degraded_by_redundancy, (std::map<int, uint64_t>{{1, pass->stripes_queued}}));
  EXPECT_EQ(pass->slices_rebuilt, pass->stripes_queued);
  EXPECT_EQ(metrics_->repaired->Value(), static_cast<double>(pass->stripes_queued));
  EXPECT_EQ(metrics_->queue_stripes->Value(), 0);
  ExpectFullRedundancy();

  // A second pass finds nothing to do.
  pass = repairer->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_EQ(pass->stripes_queued, 0u);

  // m = 2 more nodes gone: every object still reads byte-exact.
  KillNodes({0, 5});
  ExpectAllReadable(objects);
}

TEST_F(RepairerTest, DownNodeWaitsForTheGraceUnlessNoSpareIsLeft) {
  const std::map<std::string, std::string> objects = WriteObjects(10);
  KillNodes({1});
  std::unique_ptr<Repairer> repairer = NewRepairer(absl::Hours(1));
  absl::StatusOr<RepairPassStats> pass = repairer->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_EQ(pass->stripes_queued, 0u) << "a node down for less than the grace was rebuilt";

  // Two more down: stripes that had slices on two of the three are at exactly k and are
  // rebuilt at once, grace or not; the others wait.
  KillNodes({2, 4});
  pass = repairer->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_GT(pass->stripes_repaired, 0u);
  EXPECT_EQ(pass->stripes_failed, 0u);
  for (const auto& [redundancy, count] : pass->degraded_by_redundancy) {
    EXPECT_LE(redundancy, 0) << count << " stripes with spare slices did not wait for the grace";
  }
}

TEST_F(RepairerTest, WriteAcknowledgedWithKPlusOneSlicesIsCompletedWithoutAnyFailure) {
  // Only 3 nodes take slices: the stripes are stored with k+1 = 3 of 4 and marked degraded.
  std::set<std::string> refused;
  for (int i = 3; i < 7; ++i) refused.insert(cluster_.view().Snapshot()->nodes()[i].address);
  client_.Refuse(refused);
  const std::map<std::string, std::string> objects = WriteObjects(6);
  client_.Refuse({});
  auto head = cluster_.store().GetLatest(kBucket, "obj-0");
  ASSERT_OK(head.status());
  ASSERT_TRUE(head->parts(0).stripes(0).degraded()) << "the write was not degraded";

  absl::StatusOr<RepairPassStats> pass = NewRepairer(absl::Hours(1))->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_GT(pass->stripes_repaired, 0u);
  EXPECT_EQ(pass->stripes_failed, 0u);
  ExpectFullRedundancy();
  ExpectAllReadable(objects);
}

TEST_F(RepairerTest, PartsOfUploadsInProgressAreRepaired) {
  auto codec = storage::StripeCodec::Create({.data_shards = 2, .parity_shards = 2});
  ASSERT_OK(codec.status());
  MultipartUploads uploads(SevenNodes().data, cluster_.deps(), &cluster_.store(), codec->get());
  ASSERT_OK(uploads.Init());
  auto up = uploads.Create(kBucket, "big", {});
  ASSERT_OK(up.status());
  const std::string data = PatternData(300 << 10, 'u');
  auto writer = uploads.PartWriter(*up, 1);
  ASSERT_OK(writer.status());
  ASSERT_OK((*writer)->Write(data));
  auto part = (*writer)->FinishPart();
  ASSERT_OK(part.status());
  ASSERT_OK(uploads.CommitPart(*up, *part, {}));

  KillNodes({part->stripes(0).slices_size() > 0
                 ? cluster_.IndexOf(part->stripes(0).slices(0).node_id())
                 : 0});
  absl::StatusOr<RepairPassStats> pass = NewRepairer()->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_GT(pass->stripes_repaired, 0u);
  EXPECT_EQ(pass->stripes_failed, 0u);
  auto record = uploads.Get(kBucket, "big", up->upload_id);
  ASSERT_OK(record.status());
  auto snapshot = cluster_.view().Snapshot();
  for (const v1::PartRecord& p : record->record.parts()) {
    for (const v1::StripeRecord& s : p.stripes()) {
      for (const v1::SliceRef& ref : s.slices()) {
        ASSERT_NE(snapshot->Find(ref.node_id()), nullptr);
        EXPECT_TRUE(snapshot->Find(ref.node_id())->alive) << "part slice left on the dead node";
      }
    }
  }
}

TEST_F(RepairerTest, DrainingNodeIsEmptiedAndEverythingStaysReadable) {
  const std::map<std::string, std::string> objects = WriteObjects(16);
  const int drained = 4;
  ASSERT_GT(cluster_.SliceCount(drained), 0u);
  std::vector<StorageNode> view = cluster_.view().Snapshot()->nodes();
  view[drained].draining = true;
  cluster_.view().Update(view);

  absl::StatusOr<RepairPassStats> pass = NewRepairer(absl::Hours(1))->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_GT(pass->stripes_repaired, 0u);
  EXPECT_EQ(pass->stripes_failed, 0u);
  EXPECT_EQ(pass->slices_released, pass->slices_rebuilt) << "every moved copy is released";
  // Copies, not rebuilds: one read per moved slice.
  EXPECT_EQ(pass->bytes_read, pass->bytes_written);
  EXPECT_EQ(cluster_.SliceCount(drained), 0u) << "the drained node still holds slices";

  // Nothing names the drained node any more; stop it and everything reads back.
  view[drained].draining = false;
  cluster_.view().Update(view);
  KillNodes({drained});
  ExpectFullRedundancy();
  ExpectAllReadable(objects);
}

// Flips one byte in the middle of every slice file of node `i`.
void CorruptSliceFiles(TestCluster& cluster, int i) {
  for (const std::string& path : cluster.SliceFiles(i)) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    f.seekg(size / 2);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(size / 2);
    f.write(&c, 1);
  }
}

TEST_F(RepairerTest, DamagedSlicesAreRewrittenInPlace) {
  const std::map<std::string, std::string> objects = WriteObjects(8);
  CorruptSliceFiles(cluster_, 2);
  // Reads still return the right bytes (the reader rebuilds around the bad slices) and make the
  // node flag every data slice it failed to serve.
  ExpectAllReadable(objects);

  absl::StatusOr<RepairPassStats> pass = NewRepairer(absl::Hours(1))->RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_GT(pass->damaged_slices, 0);
  EXPECT_EQ(pass->stripes_repaired, static_cast<uint64_t>(pass->damaged_slices));
  EXPECT_EQ(metrics_->damaged_slices->Value(), pass->damaged_slices);

  // The node holds good copies again, where they were: nothing is reported damaged any more.
  v1::ListSlicesRequest request;
  request.set_only_damaged(true);
  auto damaged = lister_->List("", cluster_.view().Snapshot()->nodes()[2].address, request);
  ASSERT_OK(damaged.status());
  EXPECT_EQ(damaged->slices_size(), 0);
  ExpectAllReadable(objects);
}

// Deletes the object just before the repair's compare-and-set (once).
// Issue 10: a node whose transfers are throttled (a slow link, here a 1 MiB/s relay in front of
// it) is measured slower by the repairer's own traffic and gets proportionally less repair work:
// it is read from only when no faster source is left, and chosen as a target in proportion to
// its measured speed.
TEST_F(RepairerTest, ThrottledNodeGetsProportionallyLessRepairWork) {
  const std::map<std::string, std::string> objects = WriteObjects(80);
  constexpr int kSlow = 2, kLost = 4;
  std::vector<StorageNode> view = cluster_.view().Snapshot()->nodes();
  StorageNode* slow = nullptr;
  for (StorageNode& n : view) {
    if (n.id == cluster_.node_id(kSlow)) slow = &n;
  }
  ASSERT_NE(slow, nullptr);
  int slow_port = 0;
  ASSERT_TRUE(absl::SimpleAtoi(slow->address.substr(slow->address.rfind(':') + 1), &slow_port));
  testing::ThrottledProxy proxy(static_cast<uint16_t>(slow_port), 1 << 20);
  ASSERT_TRUE(proxy.ok());
  slow->address = proxy.address();
  cluster_.view().Update(view);

  // The repairing node's estimates come from its own calls: a few slice reads from every node
  // before the failure (as repair sources, hand-offs and probes give it).
  auto estimator = std::make_shared<p2p::BandwidthEstimator>();
  GrpcSliceClientOptions client_options;
  client_options.observer = estimator;
  GrpcSliceClient measured(client_options);
  {
    auto snapshot = cluster_.view().Snapshot();
    auto scanned = cluster_.store().ScanVersions(kBucket, "", 10000);
    ASSERT_OK(scanned.status());
    std::map<std::string, int> reads;
    for (const KeyVersions& kv : *scanned) {
      const v1::ObjectManifest& m = kv.versions.front();
      for (const v1::PartRecord& part : m.parts()) {
        for (const v1::StripeRecord& st : part.stripes()) {
          for (int i = 0; i < st.slices_size(); ++i) {
            const StorageNode* node = snapshot->Find(st.slices(i).node_id());
            if (node == nullptr || reads[node->id] >= 6) continue;
            ++reads[node->id];
            ASSERT_OK(measured
                          .Get(node->address,
                               MakeSliceId(DataVersionId(m), part.number(), st.index(), i), 0, 0)
                          .status());
          }
        }
      }
    }
    ASSERT_EQ(reads.size(), 7u);
  }

  KillNodes({kLost});
  CountingSliceClient counting(&measured);
  RepairerOptions o;
  o.dead_grace = absl::ZeroDuration();
  Repairer repairer(o, &cluster_.view(), &cluster_.store(), &counting, lister_.get(), &pool_,
                    estimator, metrics_.get());
  absl::StatusOr<RepairPassStats> pass = repairer.RunOnce();
  ASSERT_OK(pass.status());
  EXPECT_EQ(pass->stripes_repaired, pass->stripes_queued);
  ASSERT_GT(pass->stripes_queued, 40u);

  double others_gets = 0, others_puts = 0;
  int others = 0;
  const std::shared_ptr<const ClusterSnapshot> snapshot = cluster_.view().Snapshot();
  for (const StorageNode& n : snapshot->nodes()) {
    if (!n.alive || n.id == slow->id) continue;
    others_gets += counting.gets(n.address);
    others_puts += counting.puts(n.address);
    ++others;
  }
  others_gets /= others;
  others_puts /= others;
  const double speed =
      absl::ToDoubleSeconds(
          estimator
              ->PredictTransferTime(cluster_.view().Snapshot()->nodes()[0].address, 32 << 10,
                                    p2p::TransferDirection::kReceive)
              .time) /
      absl::ToDoubleSeconds(
          estimator
              ->PredictTransferTime(proxy.address(), 32 << 10, p2p::TransferDirection::kReceive)
              .time);
  std::printf(
      "throttled node (measured %.3fx the speed of node 0): %d reads and %d writes of repair "
      "work; the other %d alive nodes: %.1f reads and %.1f writes each (%" PRIu64
      " stripes repaired)\n",
      speed, counting.gets(proxy.address()), counting.puts(proxy.address()), others, others_gets,
      others_puts, pass->stripes_repaired);
  EXPECT_LT(speed, 0.5) << "the relay did not make the node measurably slower";
  EXPECT_GT(others_puts, 5);
  EXPECT_LE(counting.gets(proxy.address()), 0.25 * others_gets);
  EXPECT_LE(counting.puts(proxy.address()), 0.5 * others_puts);

  ExpectFullRedundancy();
  ExpectAllReadable(objects);
}

// Issue 10 "rebalance": a node joins an in-use cluster; repair moves slices onto it (copy,
// compare-and-set, delete the old copy) until the used fractions even out, within site caps, and
// stops once the published figures are within the threshold.
TEST_F(RepairerTest, JoinedNodeReceivesSlicesUntilUseEvensOut) {
  constexpr int kJoiner = 6;
  std::vector<StorageNode> view = cluster_.view().Snapshot()->nodes();
  for (StorageNode& n : view) n.alive = n.id != cluster_.node_id(kJoiner);
  cluster_.view().Update(view);
  const std::map<std::string, std::string> objects = WriteObjects(30);
  // Slices per node, and their bytes (the last stripe of an object has smaller slices).
  std::map<std::string, uint64_t> bytes_on;
  auto slices_per_node = [&] {
    std::map<std::string, int> count;
    bytes_on.clear();
    auto scanned = cluster_.store().ScanVersions(kBucket, "", 10000);
    EXPECT_OK(scanned.status());
    for (const KeyVersions& kv : *scanned) {
      for (const v1::ObjectManifest& m : kv.versions) {
        for (const v1::PartRecord& part : m.parts()) {
          for (const v1::StripeRecord& st : part.stripes()) {
            for (const v1::SliceRef& ref : st.slices()) {
              ++count[ref.node_id()];
              bytes_on[ref.node_id()] += st.slice_size();
            }
          }
        }
      }
    }
    return count;
  };
  const std::map<std::string, int> before = slices_per_node();
  const std::map<std::string, uint64_t> bytes_before = bytes_on;
  ASSERT_EQ(before.count(cluster_.node_id(kJoiner)), 0u);

  // The node joins. Every node publishes an 8 MiB capacity and what its slices (up to 32 KiB each)
  // use of it, as membership would: the new one nothing.
  constexpr uint64_t kCapacity = 8 << 20;
  for (StorageNode& n : view) {
    n.alive = true;
    n.capacity_bytes = kCapacity;
    auto it = bytes_before.find(n.id);
    n.free_bytes = kCapacity - (it == bytes_before.end() ? 0 : it->second);
  }
  cluster_.view().Update(view);
  std::unique_ptr<Repairer> repairer = NewRepairer();
  ASSERT_OK_AND_ASSIGN(RepairPassStats pass, repairer->RunOnce());
  EXPECT_GT(pass.rebalance_moves, 0u);
  EXPECT_EQ(pass.stripes_failed, 0u);
  EXPECT_EQ(pass.stripes_repaired, pass.stripes_queued);
  EXPECT_EQ(pass.slices_released, pass.rebalance_moves);  // every old copy deleted
  EXPECT_TRUE(pass.degraded_by_redundancy.empty());       // moves are not repairs
  const std::map<std::string, int> after = slices_per_node();
  // Each move takes one slice off a node over the mean and puts it on one under (the joiner,
  // or an old node well under the mean).
  int gained = 0, lost = 0;
  for (int i = 0; i < cluster_.size(); ++i) {
    auto b = before.find(cluster_.node_id(i));
    const int delta = after.at(cluster_.node_id(i)) - (b == before.end() ? 0 : b->second);
    (delta > 0 ? gained : lost) += std::abs(delta);
  }
  EXPECT_EQ(gained, static_cast<int>(pass.rebalance_moves));
  EXPECT_EQ(lost, static_cast<int>(pass.rebalance_moves));
  std::printf("rebalance: %llu slices moved in one pass; slices per node (the joiner last):",
              static_cast<unsigned long long>(pass.rebalance_moves));
  for (int i = 0; i < cluster_.size(); ++i) {
    auto b = before.find(cluster_.node_id(i));
    std::printf(" %d->%d", b == before.end() ? 0 : b->second, after.at(cluster_.node_id(i)));
  }
  std::printf("\n");
  // The joiner ends near an even share of the bytes (not past it: the plan claims only the
  // excesses).
  uint64_t total = 0;
  for (const auto& [node, b] : bytes_on) total += b;
  const double even = static_cast<double>(total) / cluster_.size();
  const double joined = static_cast<double>(bytes_on.at(cluster_.node_id(kJoiner)));
  EXPECT_GT(joined, 0.6 * even);
  EXPECT_LE(joined, 1.05 * even);
  ExpectFullRedundancy();  // k+m on distinct live nodes, hashes, site caps
  ExpectAllReadable(objects);
  // Every old copy left its node: the stores hold exactly what the manifests name.
  int stored = 0, named = 0;
  for (const auto& [node, n] : after) named += n;
  for (int i = 0; i < cluster_.size(); ++i) {
    v1::ListSlicesRequest request;
    ASSERT_OK_AND_ASSIGN(
        v1::ListSlicesResponse page,
        lister_->List("", cluster_.view().Snapshot()->nodes()[i].address, request));
    stored += page.slices_size();
  }
  EXPECT_EQ(stored, named);

  // The figures published now (within the threshold): nothing more moves.
  for (StorageNode& n : view) n.free_bytes = kCapacity - bytes_on.at(n.id);
  cluster_.view().Update(view);
  ASSERT_OK_AND_ASSIGN(RepairPassStats calm, repairer->RunOnce());
  EXPECT_EQ(calm.rebalance_moves, 0u);
  EXPECT_EQ(calm.stripes_queued, 0u);
}

class DeleteBeforeCasStore final : public ManifestStore {
 public:
  DeleteBeforeCasStore(ManifestStore* inner, ObjectService* service)
      : inner_(inner), service_(service) {}
  absl::Status CreateBucket(const v1::BucketRecord& r) override { return inner_->CreateBucket(r); }
  absl::StatusOr<v1::BucketRecord> GetBucket(const std::string& n) override {
    return inner_->GetBucket(n);
  }
  absl::Status DeleteBucketIfEmpty(const std::string& n) override {
    return inner_->DeleteBucketIfEmpty(n);
  }
  absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets() override {
    return inner_->ListBuckets();
  }
  absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& b,
                                               const std::string& k) override {
    return inner_->GetLatest(b, k);
  }
  absl::StatusOr<v1::ObjectManifest> Get(const std::string& b, const std::string& k,
                                         const std::string& v) override {
    return inner_->Get(b, k, v);
  }
  absl::StatusOr<v1::ObjectManifest> Commit(const v1::ObjectManifest& m,
                                            const CommitCondition& c) override {
    return inner_->Commit(m, c);
  }
  absl::Status PutIfAbsent(const v1::ObjectManifest& m) override { return inner_->PutIfAbsent(m); }
  absl::Status CompareAndSet(const std::string& b, const std::string& k, const std::string& v,
                             const ManifestUpdate& update) override {
    if (!done_.exchange(true)) {
      EXPECT_OK(service_->DeleteObject(b, k));
      // And a new version of the key, so the repaired one is a noncurrent version now.
      EXPECT_OK(service_->PutObject(b, k, PatternData(50 << 10, 'n')).status());
      deleted_key_ = k;
    }
    return inner_->CompareAndSet(b, k, v, update);
  }
  absl::StatusOr<ListResult> List(const std::string& b, const ListRequest& r) override {
    return inner_->List(b, r);
  }
  absl::StatusOr<std::vector<KeyVersions>> ScanVersions(const std::string& b,
                                                        const std::string& after,
                                                        int max) override {
    return inner_->ScanVersions(b, after, max);
  }
  std::string deleted_key_;

 private:
  ManifestStore* const inner_;
  ObjectService* const service_;
  std::atomic<bool> done_{false};
};

TEST_F(RepairerTest, ConcurrentDeleteAndOverwriteAreNeverUndone) {
  WriteObjects(1);
  auto written = cluster_.store().GetLatest(kBucket, "obj-0");
  ASSERT_OK(written.status());
  KillNodes({cluster_.IndexOf(written->parts(0).stripes(0).slices(0).node_id())});
  DeleteBeforeCasStore store(&cluster_.store(), &cluster_.service());
  RepairerOptions o;
  o.dead_grace = absl::ZeroDuration();
  o.parallel_stripes = 1;
  Repairer repairer(o, &cluster_.view(), &store, &grpc_, lister_.get(), &pool_, nullptr, nullptr);
  absl::StatusOr<RepairPassStats> pass = repairer.RunOnce();
  ASSERT_OK(pass.status());
  ASSERT_EQ(store.deleted_key_, "obj-0");
  // The newest version is the one written during the repair, untouched; the repaired version is
  // noncurrent (kept for the GC) and not resurrected.
  testing::GetOutcome got = GetAll(cluster_.service(), kBucket, "obj-0");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == PatternData(50 << 10, 'n'));
  auto versions = cluster_.store().ScanVersions(kBucket, "", 10);
  ASSERT_OK(versions.status());
  ASSERT_EQ(versions->size(), 1u);
  // The new object, then the repaired version (the delete marker between them holds nothing and
  // was dropped when the new object replaced it).
  const std::vector<v1::ObjectManifest>& v = (*versions)[0].versions;
  ASSERT_EQ(v.size(), 2u);
  EXPECT_NE(v[1].superseded_unix_micros(), 0);
  EXPECT_EQ(v[1].version_id(), written->version_id());
  // The repair still landed on the noncurrent version: its lost slice has a live home.
  const std::string& home = v[1].parts(0).stripes(0).slices(0).node_id();
  ASSERT_NE(cluster_.view().Snapshot()->Find(home), nullptr);
  EXPECT_TRUE(cluster_.view().Snapshot()->Find(home)->alive);
}

}  // namespace
}  // namespace tessera::services
