#include "services/object/orphan_reclaimer.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/object_backend.h"
#include "services/object/object_test_util.h"
#include "services/object/replicated_test_cluster.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

constexpr uint64_t kStripe = 64 << 10;

// Forwards to the real client; while `drop_deletes` is set, deletes fail as if the writer's
// process had died before cleaning up.
class CrashableSlices final : public ForwardingSliceClient {
 public:
  using ForwardingSliceClient::ForwardingSliceClient;
  absl::Status Delete(const std::string& a, const v1::SliceId& id) override {
    if (drop_deletes) return absl::UnavailableError("process killed");
    return inner()->Delete(a, id);
  }
  absl::Status DeleteIfCreatedAt(const std::string& a, const v1::SliceId& id,
                                 absl::Time created) override {
    if (drop_deletes) return absl::UnavailableError("process killed");
    return inner()->DeleteIfCreatedAt(a, id, created);
  }
  std::atomic<bool> drop_deletes{false};
};

// Forwards to the real client; just before the conditional delete of `racing` at `address`, puts
// `bytes` there again, as repair choosing that node as a target between the reclaimer's listing
// and its delete would.
class RacingRepairSlices final : public ForwardingSliceClient {
 public:
  using ForwardingSliceClient::ForwardingSliceClient;
  absl::Status DeleteIfCreatedAt(const std::string& a, const v1::SliceId& id,
                                 absl::Time created) override {
    if (a == address && id.SerializeAsString() == racing.SerializeAsString()) {
      if (absl::Status s = inner()->Put(a, id, bytes); !s.ok()) return s;
    }
    return inner()->DeleteIfCreatedAt(a, id, created);
  }
  std::string address;
  v1::SliceId racing;
  std::string bytes;
};

// A view that hands out a fresh copy of `inner`'s snapshot on every call and scribbles over it
// when the last holder lets go, as a membership view replacing its snapshot would leave a caller
// that kept no reference: node ids and addresses read after that are "dropped".
class DroppingView final : public ClusterView {
 public:
  explicit DroppingView(const ClusterView* inner) : inner_(inner) {}
  std::shared_ptr<const ClusterSnapshot> Snapshot() const override {
    return std::shared_ptr<const ClusterSnapshot>(
        new ClusterSnapshot(inner_->Snapshot()->nodes()), [](const ClusterSnapshot* s) {
          for (StorageNode& n : const_cast<std::vector<StorageNode>&>(s->nodes())) {
            n.id = "dropped";
            n.address = "127.0.0.1:1";
          }
          dropped.fetch_add(1);
          delete s;
        });
  }
  static inline std::atomic<int> dropped{0};

 private:
  const ClusterView* const inner_;
};

// A store whose ScanVersions fails (metadata quorum lost).
class FailingScanStore final : public ManifestStore {
 public:
  explicit FailingScanStore(ManifestStore* s) : s_(s) {}
  absl::Status CreateBucket(const v1::BucketRecord& r) override { return s_->CreateBucket(r); }
  absl::StatusOr<v1::BucketRecord> GetBucket(const std::string& n) override {
    return s_->GetBucket(n);
  }
  absl::Status DeleteBucketIfEmpty(const std::string& n) override {
    return s_->DeleteBucketIfEmpty(n);
  }
  absl::StatusOr<std::vector<v1::BucketRecord>> ListBuckets() override { return s_->ListBuckets(); }
  absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& b,
                                               const std::string& k) override {
    return s_->GetLatest(b, k);
  }
  absl::StatusOr<v1::ObjectManifest> Get(const std::string& b, const std::string& k,
                                         const std::string& v) override {
    return s_->Get(b, k, v);
  }
  absl::StatusOr<v1::ObjectManifest> Commit(const v1::ObjectManifest& m,
                                            const CommitCondition& c) override {
    return s_->Commit(m, c);
  }
  absl::Status PutIfAbsent(const v1::ObjectManifest& m) override { return s_->PutIfAbsent(m); }
  absl::Status CompareAndSet(const std::string& b, const std::string& k, const std::string& v,
                             const ManifestUpdate& u) override {
    return s_->CompareAndSet(b, k, v, u);
  }
  absl::StatusOr<ListResult> List(const std::string& b, const ListRequest& r) override {
    return s_->List(b, r);
  }
  absl::StatusOr<std::vector<KeyVersions>> ScanVersions(const std::string&, const std::string&,
                                                        int) override {
    return absl::UnavailableError("no quorum");
  }

 private:
  ManifestStore* const s_;
};

std::string Data(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i * 31 + (i >> 9));
  return s;
}

class OrphanReclaimerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ReplicatedClusterOptions o;
    o.nodes = 6;
    o.data.stripe_size = kStripe;
    o.data.inline_threshold = 1 << 10;
    cluster_ = std::make_unique<testing::ReplicatedTestCluster>(o);
    ASSERT_OK(cluster_->status());
    ASSERT_OK_AND_ASSIGN(real_, cluster_->OpenGateway());
    slices_ = std::make_unique<CrashableSlices>(&real_->grpc_slices());
    ObjectBackendOptions go = cluster_->GatewayOptions();
    go.slices = slices_.get();
    ASSERT_OK_AND_ASSIGN(backend_, OpenObjectBackend(go));
    lister_ = NewGrpcSliceLister(cluster_->auth());
    ASSERT_OK(backend_->objects().CreateBucket("orphans"));
  }

  // Slices per version id on all nodes.
  std::map<std::string, int> SlicesByVersion() {
    std::map<std::string, int> out;
    for (int i = 0; i < cluster_->size(); ++i) {
      std::string token;
      do {
        v1::ListSlicesRequest request;
        request.set_page_token(token);
        auto page = lister_->List("", cluster_->address(i), request);
        EXPECT_OK(page.status());
        if (!page.ok()) return out;
        for (const v1::SliceInfo& s : page->slices()) ++out[s.id().version_id()];
        token = page->next_page_token();
      } while (!token.empty());
    }
    return out;
  }

  OrphanReclaimer Reclaimer(Clock* clock, ManifestStore* store = nullptr) {
    deps_ = backend_->deps();
    deps_.clock = clock;
    OrphanReclaimerOptions o;
    o.grace = absl::Hours(1);
    o.scan_batch = 2;  // exercise paging
    return OrphanReclaimer(o, deps_, store != nullptr ? store : &backend_->store(), lister_.get());
  }

  std::unique_ptr<testing::ReplicatedTestCluster> cluster_;
  std::unique_ptr<ObjectBackend> real_;
  std::unique_ptr<CrashableSlices> slices_;
  std::unique_ptr<ObjectBackend> backend_;
  std::unique_ptr<SliceLister> lister_;
  DataPathDeps deps_;
};

TEST_F(OrphanReclaimerTest, KilledWriterReclaimedAfterGraceLiveAndInFlightUntouched) {
  ObjectService& objects = backend_->objects();
  const std::string live_data = Data(3 * kStripe + 100, 'a');
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest live, objects.PutObject("orphans", "live", live_data));
  // A superseded (but not yet collected) version also stays: it has a manifest entry.
  ASSERT_OK(objects.PutObject("orphans", "live2", Data(2 * kStripe, 'c')).status());
  ASSERT_OK(objects.DeleteObject("orphans", "live2"));

  // A writer "killed" mid-write: stripes stored, no manifest, its cleanup never ran.
  std::string killed_version;
  {
    ASSERT_OK_AND_ASSIGN(auto writer, objects.PutObject("orphans", "killed"));
    ASSERT_OK(writer->Write(Data(3 * kStripe, 'k')));
    ASSERT_OK(writer->Write(Data(10, 'k')));  // flushes nothing more; stripes 0..2 dispatched
    killed_version = writer->version_id();
    slices_->drop_deletes = true;
  }  // destroyed without Finish: its deletes fail
  slices_->drop_deletes = false;

  // A write in flight during the pass.
  const std::string flight_data = Data(2 * kStripe + 5, 'f');
  ASSERT_OK_AND_ASSIGN(auto inflight, objects.PutObject("orphans", "inflight"));
  ASSERT_OK(inflight->Write(flight_data.substr(0, 2 * kStripe)));

  // Write() returns once a stripe is dispatched, not stored: wait (generously: the machine may be
  // busy) until a full stripe of the writer in flight has landed.
  std::map<std::string, int> before = SlicesByVersion();
  for (absl::Time deadline = absl::Now() + absl::Seconds(60);
       before[inflight->version_id()] < 6 && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(50));
    before = SlicesByVersion();
  }
  ASSERT_GE(before[killed_version], 6);  // at least one full stripe landed (k+m = 6)
  ASSERT_GE(before[inflight->version_id()], 6);
  ASSERT_GE(before[live.version_id()], 4 * 6);

  // Inside the grace period: nothing is touched.
  FakeClock now(absl::Now());
  OrphanReclaimer inside = Reclaimer(&now);
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats s1, inside.RunOnce());
  EXPECT_EQ(s1.nodes_listed, 6);
  EXPECT_EQ(s1.candidate_versions, 0);
  EXPECT_EQ(s1.slices_deleted, 0);
  // (The in-flight writer's puts may still be landing: its count can only grow.)
  std::map<std::string, int> during = SlicesByVersion();
  EXPECT_GE(during[inflight->version_id()], before[inflight->version_id()]);
  during.erase(inflight->version_id());
  std::map<std::string, int> settled = before;
  settled.erase(inflight->version_id());
  EXPECT_EQ(during, settled);

  // The in-flight write completes and is readable.
  ASSERT_OK(inflight->Write(flight_data.substr(2 * kStripe)));
  ASSERT_OK(inflight->Finish().status());
  const std::map<std::string, int> before_pass2 = SlicesByVersion();
  EXPECT_GT(before_pass2.at(inflight->version_id()), before[inflight->version_id()]);

  // After the grace period: only the killed writer's slices go.
  FakeClock later(absl::Now() + absl::Hours(2));
  OrphanReclaimer after = Reclaimer(&later);
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats s2, after.RunOnce());
  EXPECT_EQ(s2.orphan_versions, 1);
  EXPECT_EQ(s2.slices_deleted, before[killed_version]);
  EXPECT_EQ(s2.slice_failures, 0);
  std::map<std::string, int> remaining = SlicesByVersion();
  EXPECT_EQ(remaining.count(killed_version), 0u);
  std::map<std::string, int> expected = before_pass2;
  expected.erase(killed_version);
  for (const auto& [v, n] : expected) EXPECT_EQ(remaining[v], n);

  for (const auto& [key, data] :
       std::map<std::string, std::string>{{"live", live_data}, {"inflight", flight_data}}) {
    std::string got;
    ASSERT_OK(objects
                  .GetObject("orphans", key, {},
                             [&](absl::string_view d) {
                               got.append(d.data(), d.size());
                               return absl::OkStatus();
                             })
                  .status());
    EXPECT_TRUE(got == data) << key;
  }

  // Idempotent: a second pass finds nothing more.
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats s3, after.RunOnce());
  EXPECT_EQ(s3.orphan_versions, 0);
  EXPECT_EQ(s3.slices_deleted, 0);
}

// Issue 10: a node that comes back after repair rebuilt its slices elsewhere still holds old
// copies the manifests no longer name there. They are reclaimed once older than the grace, and
// never one that repair has put on that node again since the listing.
TEST_F(OrphanReclaimerTest, StaleCopiesAreReclaimedButNotOneRepairPutBackMeanwhile) {
  ObjectService& objects = backend_->objects();
  const std::string data = Data(2 * kStripe + 100, 's');
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, objects.PutObject("orphans", "kept", data));
  const v1::StripeRecord& stripe = m.parts(0).stripes(0);
  ASSERT_GE(stripe.slices_size(), 3);
  std::map<std::string, std::string> address_of;
  for (int i = 0; i < cluster_->size(); ++i) {
    address_of[cluster_->node_id(i)] = cluster_->address(i);
  }
  // Stale copies: slice 0 also on slice 1's node, slice 2 also on slice 0's node (what nodes that
  // held them before a repair moved them would still have).
  auto id_of = [&](int index) {
    return MakeSliceId(DataVersionId(m), m.parts(0).number(), stripe.index(), index);
  };
  const std::string a = address_of[stripe.slices(0).node_id()];
  const std::string b = address_of[stripe.slices(1).node_id()];
  ASSERT_OK_AND_ASSIGN(std::string slice0, real_->grpc_slices().Get(a, id_of(0), 0, 0));
  ASSERT_OK_AND_ASSIGN(
      std::string slice2,
      real_->grpc_slices().Get(address_of[stripe.slices(2).node_id()], id_of(2), 0, 0));
  ASSERT_OK(real_->grpc_slices().Put(b, id_of(0), slice0));
  ASSERT_OK(real_->grpc_slices().Put(a, id_of(2), slice2));

  // The pass: the copy of slice 2 on a is put there again (repair) just before its delete.
  RacingRepairSlices racing(&real_->grpc_slices());
  racing.address = a;
  racing.racing = id_of(2);
  racing.bytes = slice2;
  // Ages are judged on the nodes' own clocks: let every copy grow older than a 1 s grace.
  absl::SleepFor(absl::Seconds(2));
  deps_ = backend_->deps();
  deps_.slices = &racing;
  OrphanReclaimerOptions o;
  o.grace = absl::Seconds(1);
  OrphanReclaimer reclaimer(o, deps_, &backend_->store(), lister_.get());
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats stats, reclaimer.RunOnce());
  EXPECT_EQ(stats.orphan_versions, 0);
  EXPECT_EQ(stats.stale_slices_deleted, 1);
  EXPECT_EQ(stats.stale_slices_rewritten, 1);
  EXPECT_EQ(stats.slice_failures, 0);

  // The stale copy is gone, the one put back stays, every slice the manifest names is there.
  EXPECT_THAT(real_->grpc_slices().Get(b, id_of(0), 0, 0).status(),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(real_->grpc_slices().Get(a, id_of(2), 0, 0).status());
  for (const v1::PartRecord& part : m.parts()) {
    for (const v1::StripeRecord& st : part.stripes()) {
      for (int i = 0; i < st.slices_size(); ++i) {
        EXPECT_THAT(real_->grpc_slices()
                        .Get(address_of[st.slices(i).node_id()],
                             MakeSliceId(DataVersionId(m), part.number(), st.index(), i), 0, 0)
                        .status(),
                    ::tessera::testing::IsOk())
            << "stripe " << st.index() << " slice " << i;
      }
    }
  }
  std::string got;
  ASSERT_OK(objects
                .GetObject("orphans", "kept", {},
                           [&](absl::string_view d) {
                             got.append(d.data(), d.size());
                             return absl::OkStatus();
                           })
                .status());
  EXPECT_TRUE(got == data);

  // Inside the grace nothing is judged: a pass with a 1 h grace deletes nothing (the gateway's
  // clock two hours ahead changes nothing: the nodes' clocks decide a copy's age).
  ASSERT_OK(real_->grpc_slices().Put(b, id_of(0), slice0));  // stale again, but young
  FakeClock skewed(absl::Now() + absl::Hours(2));
  deps_.clock = &skewed;
  deps_.slices = &real_->grpc_slices();
  o.grace = absl::Hours(1);
  OrphanReclaimer inside(o, deps_, &backend_->store(), lister_.get());
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats fresh, inside.RunOnce());
  EXPECT_EQ(fresh.stale_slices_deleted, 0);
  EXPECT_OK(real_->grpc_slices().Get(b, id_of(0), 0, 0).status());
}

// The pass keeps the snapshot it lists nodes from: before, it iterated the nodes of a temporary
// snapshot pointer (dangling once the view replaced it), and under load listed nodes by garbage
// ids, judging live slices stale (replicated_paging_test lost two slices of a stripe that way).
TEST_F(OrphanReclaimerTest, ListsNodesFromASnapshotItHolds) {
  ObjectService& objects = backend_->objects();
  const std::string data = Data(2 * kStripe + 7, 'h');
  ASSERT_OK(objects.PutObject("orphans", "held", data).status());
  DroppingView view(&backend_->cluster());
  FakeClock later(absl::Now() + absl::Hours(2));
  deps_ = backend_->deps();
  deps_.cluster = &view;
  deps_.clock = &later;
  OrphanReclaimerOptions o;
  o.grace = absl::Hours(1);
  OrphanReclaimer reclaimer(o, deps_, &backend_->store(), lister_.get());
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats stats, reclaimer.RunOnce());
  EXPECT_EQ(stats.node_failures, 0);
  EXPECT_EQ(stats.nodes_listed, cluster_->size());
  EXPECT_EQ(stats.stale_slices_deleted, 0);
  EXPECT_EQ(stats.slices_deleted, 0);
  EXPECT_GT(DroppingView::dropped.load(), 0);
  testing::GetOutcome got = testing::GetAll(objects, "orphans", "held");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
}

TEST_F(OrphanReclaimerTest, ManifestScanFailureDeletesNothing) {
  {
    ASSERT_OK_AND_ASSIGN(auto writer, backend_->objects().PutObject("orphans", "killed"));
    ASSERT_OK(writer->Write(Data(2 * kStripe, 'z')));
    slices_->drop_deletes = true;
  }
  slices_->drop_deletes = false;
  const std::map<std::string, int> before = SlicesByVersion();
  ASSERT_FALSE(before.empty());
  FailingScanStore failing(&backend_->store());
  FakeClock later(absl::Now() + absl::Hours(2));
  OrphanReclaimer reclaimer = Reclaimer(&later, &failing);
  EXPECT_THAT(reclaimer.RunOnce(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(SlicesByVersion(), before);
}

// One node cannot be listed: its slices are unknown, so no version can be shown to be idle.
// Before, the pass deleted the slices it saw on the other nodes: a live upload whose recent
// stripes sat on the unlisted node lost its early ones.
class OneNodeFailsLister : public SliceLister {
 public:
  OneNodeFailsLister(SliceLister* real, std::string failing) : real_(real), failing_(failing) {}
  absl::StatusOr<v1::ListSlicesResponse> List(const std::string& node_id,
                                              const std::string& address,
                                              const v1::ListSlicesRequest& request) override {
    if (address == failing_) return absl::UnavailableError("node unreachable");
    return real_->List(node_id, address, request);
  }

 private:
  SliceLister* const real_;
  const std::string failing_;
};

TEST_F(OrphanReclaimerTest, PassWithAnUnlistedNodeDeletesNothing) {
  {
    ASSERT_OK_AND_ASSIGN(auto writer, backend_->objects().PutObject("orphans", "idle-looking"));
    ASSERT_OK(writer->Write(Data(2 * kStripe, 'w')));
    ASSERT_OK(writer->Write(Data(10, 'w')));
    slices_->drop_deletes = true;
  }
  slices_->drop_deletes = false;
  std::map<std::string, int> before = SlicesByVersion();
  ASSERT_FALSE(before.empty());
  OneNodeFailsLister partial(lister_.get(), cluster_->address(0));
  deps_ = backend_->deps();
  FakeClock later(absl::Now() + absl::Hours(2));
  deps_.clock = &later;
  OrphanReclaimerOptions o;
  o.grace = absl::Hours(1);
  OrphanReclaimer reclaimer(o, deps_, &backend_->store(), &partial);
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats s, reclaimer.RunOnce());
  EXPECT_EQ(s.node_failures, 1);
  EXPECT_EQ(s.slices_deleted, 0);
  EXPECT_EQ(SlicesByVersion(), before);
  // With every node listed, the same orphan goes.
  OrphanReclaimer full(o, deps_, &backend_->store(), lister_.get());
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats s2, full.RunOnce());
  EXPECT_EQ(s2.orphan_versions, 1);
  EXPECT_GT(s2.slices_deleted, 0);
}

// The backend's own reclamation thread (ObjectBackendOptions::gc_interval, as the daemons run
// it): an overwritten version's slices leave the nodes after the grace period, with no caller
// driving a pass, and the live version keeps all of its slices. The grace period runs on a fake
// data-path clock, moved past it only after the count: with a real 1.5 s grace a busy machine
// could let the GC thread collect before the count was taken.
TEST_F(OrphanReclaimerTest, BackendThreadCollectsSupersededSlices) {
  FakeClock data_clock(absl::Now());
  ObjectBackendOptions go = cluster_->GatewayOptions();
  go.clock = &data_clock;
  go.gc_interval = absl::Milliseconds(100);
  go.gc.grace = absl::Hours(1);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ObjectBackend> collecting, OpenObjectBackend(go));
  ObjectService& objects = collecting->objects();
  const std::string old_data = Data(3 * kStripe, 'o'), new_data = Data(2 * kStripe + 7, 'n');
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest old_version,
                       objects.PutObject("orphans", "rewritten", old_data));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest new_version,
                       objects.PutObject("orphans", "rewritten", new_data));
  EXPECT_EQ(SlicesByVersion()[DataVersionId(old_version)], 3 * 6);

  data_clock.Advance(absl::Hours(2));  // past the grace period
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (SlicesByVersion().count(DataVersionId(old_version)) > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  std::map<std::string, int> slices = SlicesByVersion();
  EXPECT_EQ(slices.count(DataVersionId(old_version)), 0u) << "superseded slices never collected";
  EXPECT_EQ(slices[DataVersionId(new_version)], 3 * 6);  // 3 stripes (2 full + 7 bytes), k+m = 6
  std::string got;
  ASSERT_OK(objects
                .GetObject("orphans", "rewritten", {},
                           [&](absl::string_view d) {
                             got.append(d.data(), d.size());
                             return absl::OkStatus();
                           })
                .status());
  EXPECT_TRUE(got == new_data);
}

TEST(OrphanReclaimerOptionsTest, Validate) {
  OrphanReclaimerOptions o;
  EXPECT_OK(o.Validate());
  o.grace = -absl::Seconds(1);
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
  o.grace = absl::Hours(1);
  o.scan_batch = 0;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::services
