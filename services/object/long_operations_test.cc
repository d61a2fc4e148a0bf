// Operations that outlive the space reclaimers' grace periods, over real storage nodes with a
// fake data-path clock (no real waiting):
//   * a PUT that stalls longer than its max_write_stall between stripes (the orphan reclaimer
//     meanwhile takes its early slices as abandoned) fails UNAVAILABLE instead of committing a
//     manifest that points at missing slices; a PUT pausing less still commits;
//   * a GET streaming slowly while its object is overwritten and the slice GC runs past its grace
//     never fetches the collected slices: it fails UNAVAILABLE (retry), never DATA_LOSS or wrong
//     bytes; a long read of an object nobody replaces completes.
#include <memory>
#include <string>

#include "base/fake_clock.h"
#include "base/random.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/object_test_util.h"
#include "services/object/orphan_reclaimer.h"
#include "services/object/slice_gc.h"
#include "services/object/test_cluster.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::GetAll;
using ::tessera::services::testing::TestCluster;
using ::tessera::services::testing::TestClusterOptions;
using ::tessera::testing::StatusIs;

constexpr uint64_t kStripe = 64 << 10;

TestClusterOptions Options(FakeClock* clock) {
  TestClusterOptions options;
  options.data.stripe_size = kStripe;
  options.data.inline_threshold = 1024;
  options.clock = clock;
  return options;
}

// Waits (generously) until the cluster holds `n` slices: slice puts run on the pool.
void AwaitSlices(TestCluster& cluster, uint64_t n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (cluster.TotalSlices() != n && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(20));
  ASSERT_EQ(cluster.TotalSlices(), n);
}

TEST(LongOperationsTest, WriterStalledPastOrphanGraceFailsInsteadOfCommitting) {
  FakeClock clock(absl::Now());
  TestClusterOptions options = Options(&clock);
  options.data.max_write_stall = absl::Hours(3);  // the default: half the orphan grace (6 h)
  TestCluster cluster(options);
  ASSERT_OK(cluster.status());
  ObjectService& s = cluster.service();
  ASSERT_OK(s.CreateBucket("bkt"));
  auto lister = NewGrpcSliceLister(nullptr);
  OrphanReclaimer reclaimer(OrphanReclaimerOptions{}, cluster.deps(), &cluster.store(),
                            lister.get());
  const std::string data = RandomBytes(3 * kStripe + 5, 1);

  // Pausing 2 h between stripes (under the guard) commits, and the reclaimer keeps its slices.
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<ObjectWriter> w, s.PutObject("bkt", "slow"));
    ASSERT_OK(w->Write(data.substr(0, 2 * kStripe)));
    AwaitSlices(cluster, 6u * 2);
    clock.Advance(absl::Hours(2));
    ASSERT_OK(w->Write(data.substr(2 * kStripe)));
    clock.Advance(absl::Hours(2));
    ASSERT_OK(w->Finish().status());
  }
  // The stalled writer: two stripes stored, then nothing for 6 h 1 min (longer than the
  // reclaimer's grace), during which a reclaimer pass takes its slices as abandoned.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ObjectWriter> w, s.PutObject("bkt", "stalled"));
  ASSERT_OK(w->Write(data.substr(0, 2 * kStripe)));
  AwaitSlices(cluster, 6u * 6);
  clock.Advance(absl::Hours(6) + absl::Minutes(1));
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats pass, reclaimer.RunOnce());
  EXPECT_EQ(pass.orphan_versions, 1);
  EXPECT_EQ(pass.slices_deleted, 6 * 2);
  // The writer wakes up: it must not make a manifest over the reclaimed slices visible.
  absl::Status wrote = w->Write(data.substr(2 * kStripe));
  absl::Status finished = wrote.ok() ? w->Finish().status() : wrote;
  EXPECT_THAT(finished,
              StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("retry the upload")));
  w.reset();
  EXPECT_THAT(s.HeadObject("bkt", "stalled").status(), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(cluster.TotalSlices(), 6u * 4);  // only "slow"'s; the stalled writer left nothing
  auto got = GetAll(s, "bkt", "slow");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == data);
}

// An ObjectService whose readers re-check their version (as a ObjectBackend's do), with the GC's
// grace `grace`.
std::unique_ptr<ObjectService> CheckingService(TestCluster& cluster, absl::Duration grace,
                                               DataPathDeps* deps) {
  *deps = cluster.deps();
  deps->versions = &cluster.store();
  deps->gc_grace = grace;
  auto service = ObjectService::Create(cluster.service().options(), *deps, &cluster.store());
  EXPECT_OK(service.status());
  return service.ok() ? *std::move(service) : nullptr;
}

// A client reading 6 stripes slowly (4 minutes per stripe, fake clock); after the first stripe
// the object is overwritten, and the slice GC (grace 10 min) runs after every stripe, so it
// collects the old version while the read is still going.
TEST(LongOperationsTest, SlowReadOfReplacedObjectStopsRetryablyBeforeGcDeletesItsSlices) {
  FakeClock clock(absl::Now());
  TestCluster cluster(Options(&clock));
  ASSERT_OK(cluster.status());
  DataPathDeps deps;
  std::unique_ptr<ObjectService> service = CheckingService(cluster, absl::Minutes(10), &deps);
  ASSERT_NE(service, nullptr);
  ObjectService& s = *service;
  SliceGcOptions gc_options;
  gc_options.grace = absl::Minutes(10);
  SliceGarbageCollector gc(gc_options, deps, &cluster.store());
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string v1 = RandomBytes(6 * kStripe, 1);
  const std::string v2 = RandomBytes(2 * kStripe + 9, 2);
  ASSERT_OK(s.PutObject("bkt", "k", v1).status());

  std::string got;
  int pieces = 0;
  int collected = 0;
  absl::StatusOr<v1::ObjectManifest> read =
      s.GetObject("bkt", "k", {}, [&](absl::string_view piece) -> absl::Status {
        got.append(piece.data(), piece.size());
        if (++pieces == 1) {
          if (auto put = s.PutObject("bkt", "k", v2); !put.ok()) return put.status();
        }
        clock.Advance(absl::Minutes(4));
        absl::StatusOr<SliceGcStats> pass = gc.RunOnce();
        if (!pass.ok()) return pass.status();
        collected += pass->versions_collected;
        return absl::OkStatus();
      });
  // Before the re-check the reader went on fetching the collected slices: DATA_LOSS.
  EXPECT_THAT(read.status(), StatusIs(absl::StatusCode::kUnavailable,
                                      ::testing::HasSubstr("retry to read the newest version")));
  EXPECT_EQ(collected, 1);  // the GC did take the old version during the read
  EXPECT_GT(got.size(), 0u);
  EXPECT_LT(got.size(), v1.size());
  EXPECT_TRUE(got == v1.substr(0, got.size()));  // what was delivered is the old version's
  auto retry = GetAll(s, "bkt", "k");
  ASSERT_OK(retry.status);
  EXPECT_TRUE(retry.data == v2);
}

// The same slow client on an object nobody replaces reads it whole, however long it takes: the
// re-checks find the version still current.
TEST(LongOperationsTest, SlowReadOfUnreplacedObjectCompletes) {
  FakeClock clock(absl::Now());
  TestCluster cluster(Options(&clock));
  ASSERT_OK(cluster.status());
  DataPathDeps deps;
  std::unique_ptr<ObjectService> service = CheckingService(cluster, absl::Minutes(10), &deps);
  ASSERT_NE(service, nullptr);
  ObjectService& s = *service;
  SliceGcOptions gc_options;
  gc_options.grace = absl::Minutes(10);
  SliceGarbageCollector gc(gc_options, deps, &cluster.store());
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string v1 = RandomBytes(6 * kStripe, 3);
  ASSERT_OK(s.PutObject("bkt", "k", v1).status());
  std::string got;
  absl::StatusOr<v1::ObjectManifest> read =
      s.GetObject("bkt", "k", {}, [&](absl::string_view piece) -> absl::Status {
        got.append(piece.data(), piece.size());
        clock.Advance(absl::Minutes(30));
        return gc.RunOnce().status();
      });
  ASSERT_OK(read.status());
  EXPECT_TRUE(got == v1);
}

// With a zero grace (the slice GC collects a replaced version at once) a current object still
// reads: nothing may collect it. Before, every read of a current version failed UNAVAILABLE
// ("a newer version replaced it") before its first byte.
TEST(LongOperationsTest, CurrentObjectReadsWithAZeroGrace) {
  FakeClock clock(absl::Now());
  TestCluster cluster(Options(&clock));
  ASSERT_OK(cluster.status());
  DataPathDeps deps;
  std::unique_ptr<ObjectService> service = CheckingService(cluster, absl::ZeroDuration(), &deps);
  ASSERT_NE(service, nullptr);
  ObjectService& s = *service;
  ASSERT_OK(s.CreateBucket("bkt"));
  const std::string v1 = RandomBytes(3 * kStripe, 4);
  ASSERT_OK(s.PutObject("bkt", "k", v1).status());
  std::string got;
  absl::StatusOr<v1::ObjectManifest> read =
      s.GetObject("bkt", "k", {}, [&](absl::string_view piece) -> absl::Status {
        got.append(piece.data(), piece.size());
        clock.Advance(absl::Seconds(1));
        return absl::OkStatus();
      });
  ASSERT_OK(read.status());
  EXPECT_TRUE(got == v1);
}

}  // namespace
}  // namespace tessera::services
