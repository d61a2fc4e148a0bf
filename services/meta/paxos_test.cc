#include "services/meta/paxos.h"

#include <atomic>
#include <cstdlib>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/meta/meta_key.h"
#include "services/meta/testing_acceptor_clients.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

// A fresh directory per call: unique per test and per --gtest_repeat repetition.
std::string TestDir(absl::string_view name) { return ::tessera::testing::UniqueTestDir(name); }

std::vector<MetaMember> Members(int n, int sites) {
  std::vector<MetaMember> m;
  for (int i = 0; i < n; ++i) {
    m.push_back(MetaMember{absl::StrCat("n", i), absl::StrCat("s", i % sites), ""});
  }
  return m;
}

LayoutView View(int n, int sites = 3) {
  return LayoutView(*Layout::Compute(1, Members(n, sites), LayoutOptions{}));
}

PaxosOptions FastOptions() {
  PaxosOptions o;
  o.max_rounds = 40;
  o.backoff_base = absl::Microseconds(200);
  o.backoff_max = absl::Milliseconds(15);
  return o;
}

struct Cluster {
  explicit Cluster(absl::string_view name, int n, uint64_t seed = 1)
      : net(TestDir(name), seed), view(View(n)) {
    for (const auto& m : view.current().members()) EXPECT_OK(net.AddNode(m.node_id));
  }
  SimNetwork net;
  LayoutView view;
};

// Counter value "count;tag,tag,..." so the test can see exactly which updates were applied.
struct Counter {
  int64_t count = 0;
  std::vector<std::string> tags;
};
Counter Parse(const MetaValue& v) {
  Counter c;
  if (!v) return c;
  std::vector<std::string> parts = absl::StrSplit(*v, ';');
  EXPECT_EQ(parts.size(), 2u);
  EXPECT_TRUE(absl::SimpleAtoi(parts[0], &c.count));
  if (parts.size() == 2 && !parts[1].empty()) c.tags = absl::StrSplit(parts[1], ',');
  return c;
}
std::string Format(const Counter& c) {
  return absl::StrCat(c.count, ";", absl::StrJoin(c.tags, ","));
}

TEST(PaxosTest, CompareAndSetCreatesOnceReadsAndDeletes) {
  Cluster cluster("paxos_basic", 3);
  HybridClock hlc(Clock::Real());
  PaxosProposer a("gw-a", &hlc, &cluster.net, FastOptions());
  PaxosProposer b("gw-b", &hlc, &cluster.net, FastOptions());
  const auto key = BucketRecordKey("photos", 256);
  auto create = [](absl::string_view owner) {
    return [owner](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
      if (cur) return absl::FailedPreconditionError("bucket already exists");
      return MetaValue(std::string(owner));
    };
  };
  EXPECT_THAT(a.Read(cluster.view, key), IsOkAndHolds(MetaValue()));
  EXPECT_THAT(a.CompareAndSet(cluster.view, key, create("alice")),
              IsOkAndHolds(MetaValue("alice")));
  EXPECT_THAT(b.CompareAndSet(cluster.view, key, create("bob")),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already exists")));
  EXPECT_THAT(b.Read(cluster.view, key), IsOkAndHolds(MetaValue("alice")));
  ASSERT_OK(b.CompareAndSet(cluster.view, key, [](const MetaValue&) -> absl::StatusOr<MetaValue> {
    return MetaValue();
  }));
  EXPECT_THAT(a.Read(cluster.view, key), IsOkAndHolds(MetaValue()));
  EXPECT_THAT(b.CompareAndSet(cluster.view, key, create("bob")), IsOkAndHolds(MetaValue("bob")));
}

TEST(PaxosTest, ReaderFinishesAnInProgressUpdateAndRepairsStaleReplicas) {
  Cluster cluster("paxos_in_progress", 3);
  HybridClock hlc(Clock::Real());
  PaxosProposer p("gw", &hlc, &cluster.net, FastOptions());
  const auto key = BucketRecordKey("b", 256);
  ASSERT_OK(p.CompareAndSet(cluster.view, key, [](const MetaValue&) -> absl::StatusOr<MetaValue> {
    return MetaValue("v1");
  }));
  // A proposer reached one acceptor with v2 and died.
  const std::string lone = cluster.view.current().Replicas(key.partition())[0];
  tessera::v1::AcceptRequest acc;
  *acc.mutable_key() = key;
  HlcTimestamp ts = hlc.Now();
  acc.mutable_ballot()->set_wall_micros(ts.wall_micros);
  acc.mutable_ballot()->set_logical(ts.logical);
  acc.mutable_ballot()->set_proposer("dead-proposer");
  acc.mutable_value()->set_exists(true);
  acc.mutable_value()->set_data("v2");
  acc.mutable_value()->set_op_id(77);
  ASSERT_OK_AND_ASSIGN(auto r, cluster.net.store(lone)->Accept(acc));
  ASSERT_TRUE(r.accepted());
  // Every replica answers in the simulation, so the reader sees v2 in progress and must settle it
  // before answering; afterwards every reader agrees.
  EXPECT_THAT(p.Read(cluster.view, key), IsOkAndHolds(MetaValue("v2")));
  PaxosProposer other("gw2", &hlc, &cluster.net, FastOptions());
  EXPECT_THAT(other.Read(cluster.view, key), IsOkAndHolds(MetaValue("v2")));
  for (const auto& node : cluster.view.current().Replicas(key.partition())) {
    tessera::v1::ReadRequest rr;
    *rr.mutable_key() = key;
    ASSERT_OK_AND_ASSIGN(auto state, cluster.net.store(node)->Read(rr));
    EXPECT_EQ(state.state().committed_value().data(), "v2") << node;
  }
}

TEST(PaxosTest, TwoOfThreeReplicasDownFailsUnavailableWithCounts) {
  Cluster cluster("paxos_unavailable", 3);
  HybridClock hlc(Clock::Real());
  PaxosOptions o = FastOptions();
  o.max_rounds = 3;
  PaxosProposer p("gw", &hlc, &cluster.net, o);
  const auto key = BucketRecordKey("b", 256);
  const auto replicas = cluster.view.current().Replicas(key.partition());
  cluster.net.Crash(replicas[0]);
  cluster.net.Crash(replicas[1]);
  auto set = [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue("x"); };
  absl::Status s = p.CompareAndSet(cluster.view, key, set).status();
  EXPECT_THAT(s,
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("2 of 3 replicas unreachable")));
  EXPECT_FALSE(IsOutcomeUnknown(s));
  EXPECT_THAT(p.Read(cluster.view, key), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK(cluster.net.Restart(replicas[1]));
  EXPECT_THAT(p.CompareAndSet(cluster.view, key, set), IsOkAndHolds(MetaValue("x")));
  // Nothing was written while unavailable: the first successful write saw an empty key.
  tessera::v1::ReadRequest rr;
  *rr.mutable_key() = key;
  ASSERT_OK_AND_ASSIGN(auto state, cluster.net.store(replicas[2])->Read(rr));
  EXPECT_EQ(state.state().committed_value().history_size(), 0);
}

TEST(PaxosTest, ClockOffsetGuardRefusesWritesButNotReads) {
  Cluster cluster("paxos_clock", 3);
  FakeClock clock(absl::Now());
  HybridClock hlc(&clock);
  PaxosProposer p("gw", &hlc, &cluster.net, FastOptions());
  const auto key = BucketRecordKey("b", 256);
  hlc.RecordPeerOffset("n0", absl::Seconds(2));
  hlc.RecordPeerOffset("n1", absl::Seconds(2));
  EXPECT_THAT(
      p.CompareAndSet(cluster.view, key,
                      [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue("x"); }),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("clock offset")));
  EXPECT_THAT(p.Read(cluster.view, key), IsOkAndHolds(MetaValue()));
}

TEST(PaxosTest, TransitionNeedsQuorumsInOldAndNewSets) {
  std::vector<MetaMember> members = Members(6, 3);
  ASSERT_OK_AND_ASSIGN(Layout old_layout, Layout::Compute(1, members, LayoutOptions{}));
  members.push_back(MetaMember{"n-new", "s0", ""});
  ASSERT_OK_AND_ASSIGN(Layout new_layout, Layout::Compute(2, members, LayoutOptions{}));
  ASSERT_OK_AND_ASSIGN(LayoutView view, LayoutView::Transition(old_layout, new_layout));
  SimNetwork net(TestDir("paxos_transition"), 3);
  for (const auto& m : members) ASSERT_OK(net.AddNode(m.node_id));
  HybridClock hlc(Clock::Real());
  PaxosOptions o = FastOptions();
  o.max_rounds = 2;
  PaxosProposer p("gw", &hlc, &net, o);
  // A bucket whose partition moved to n-new.
  std::string bucket;
  for (int i = 0; i < 1000 && bucket.empty(); ++i) {
    auto sets = view.ReplicaSets(PartitionForBucket(absl::StrCat("b", i), 256));
    if (sets.size() == 2) bucket = absl::StrCat("b", i);
  }
  ASSERT_FALSE(bucket.empty());
  const auto key = BucketRecordKey(bucket, 256);
  auto sets = view.ReplicaSets(key.partition());
  auto set = [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue("x"); };
  ASSERT_OK(p.CompareAndSet(view, key, set));
  // The node that left the set, plus one shared node, down: the OLD set loses its quorum even
  // though the new set alone would still have one.
  std::string leaving, shared;
  for (const auto& n : sets[1].nodes) {
    bool in_new = std::find(sets[0].nodes.begin(), sets[0].nodes.end(), n) != sets[0].nodes.end();
    if (!in_new)
      leaving = n;
    else
      shared = n;
  }
  ASSERT_FALSE(leaving.empty());
  net.Crash(leaving);
  net.Crash(shared);
  EXPECT_THAT(p.CompareAndSet(view, key, set), StatusIs(absl::StatusCode::kUnavailable));
  // With the new layout alone (transition finished) the same outage is tolerated.
  EXPECT_OK(p.CompareAndSet(LayoutView(new_layout), key, set));
}

// Many proposers increment one counter by CAS while messages are lost, duplicated and delayed and
// acceptors crash and restart. Every OK update is in the final value exactly once, nothing that
// failed definitely is, and readers never see the value go back.
TEST(PaxosTest, ConcurrentIncrementsUnderFaultsLoseAndDuplicateNothing) {
  Cluster cluster("paxos_chaos", 3, /*seed=*/20261125);
  SimFaults faults;
  faults.drop_request_percent = 5;
  faults.drop_response_percent = 5;
  faults.duplicate_percent = 5;
  faults.delay_percent = 5;
  cluster.net.SetFaults(faults);
  const auto key = ObjectEntryKey("bkt", 0, "counter", "", 256);
  const auto replicas = cluster.view.current().Replicas(key.partition());
  constexpr int kThreads = 5;
  constexpr int kOpsPerThread = 12;
  HybridClock hlc(Clock::Real());
  std::atomic<bool> done{false};
  absl::Mutex mu;
  std::set<std::string> ok_tags, unknown_tags, failed_tags;

  std::thread chaos([&] {
    Random rnd(7);
    for (int i = 0; i < 200 && !done.load(); ++i) {
      const std::string& victim = replicas[rnd.Uniform(replicas.size())];
      cluster.net.Crash(victim);
      absl::SleepFor(absl::Milliseconds(3));
      EXPECT_OK(cluster.net.Restart(victim));
      absl::SleepFor(absl::Milliseconds(3));
    }
  });
  std::thread reader([&] {
    PaxosProposer r("reader", &hlc, &cluster.net, FastOptions());
    std::vector<std::string> last;
    while (!done.load()) {
      auto v = r.Read(cluster.view, key);
      if (!v.ok()) continue;
      Counter c = Parse(*v);
      EXPECT_EQ(c.count, static_cast<int64_t>(c.tags.size()));
      ASSERT_GE(c.tags.size(), last.size());
      EXPECT_TRUE(std::equal(last.begin(), last.end(), c.tags.begin()))
          << "a committed value changed other than by appending";
      last = c.tags;
    }
  });
  // Writers retry far longer than FastOptions: "more than half succeed" (checked below) is a
  // liveness claim, and on a busy machine five contending proposers plus the crash loop can burn
  // through 40 rounds; the safety checks do not depend on how many rounds are allowed.
  PaxosOptions writer_options = FastOptions();
  writer_options.max_rounds = 400;
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      PaxosProposer p(absl::StrCat("gw", t), &hlc, &cluster.net, writer_options);
      for (int i = 0; i < kOpsPerThread; ++i) {
        const std::string tag = absl::StrCat("t", t, "-", i);
        auto s = p.CompareAndSet(cluster.view, key,
                                 [&](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
                                   Counter c = Parse(cur);
                                   ++c.count;
                                   c.tags.push_back(tag);
                                   return MetaValue(Format(c));
                                 })
                     .status();
        absl::MutexLock lock(&mu);
        if (s.ok()) {
          ok_tags.insert(tag);
        } else if (IsOutcomeUnknown(s)) {
          unknown_tags.insert(tag);
        } else {
          failed_tags.insert(tag);
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  chaos.join();
  reader.join();

  cluster.net.SetFaults(SimFaults{});
  cluster.net.FlushDelayed();
  for (const auto& n : replicas) ASSERT_OK(cluster.net.Restart(n));
  HybridClock hlc2(Clock::Real());
  PaxosProposer final_reader("final", &hlc2, &cluster.net, FastOptions());
  ASSERT_OK_AND_ASSIGN(MetaValue v, final_reader.Read(cluster.view, key));
  Counter c = Parse(v);
  std::set<std::string> applied(c.tags.begin(), c.tags.end());
  EXPECT_EQ(applied.size(), c.tags.size()) << "an update was applied twice";
  EXPECT_EQ(c.count, static_cast<int64_t>(c.tags.size()));
  for (const auto& t : ok_tags) EXPECT_TRUE(applied.count(t)) << "lost update " << t;
  for (const auto& t : failed_tags) EXPECT_FALSE(applied.count(t)) << "failed update applied " << t;
  int64_t unknown_applied = 0;
  for (const auto& t : applied) {
    EXPECT_TRUE(ok_tags.count(t) || unknown_tags.count(t)) << t;
    unknown_applied += unknown_tags.count(t);
  }
  EXPECT_EQ(c.count, static_cast<int64_t>(ok_tags.size()) + unknown_applied);
  EXPECT_GT(ok_tags.size(), static_cast<size_t>(kThreads * kOpsPerThread / 2));
  std::cout << "ok=" << ok_tags.size() << " unknown=" << unknown_tags.size()
            << " failed=" << failed_tags.size() << " final=" << c.count << "\n";
}

// Between a proposer and the network: `fault(method, node)` decides per request whether it is
// delivered, lost on the way (never applied), or applied with its answer lost.
enum class Fate { kDeliver, kLoseRequest, kLoseResponse };
class Scripted final : public AcceptorClient {
 public:
  using FaultFn = std::function<Fate(absl::string_view method, const std::string& node)>;
  Scripted(AcceptorClient* inner, FaultFn fault) : inner_(inner), fault_(std::move(fault)) {}

  void Prepare(const std::string& node, const tessera::v1::PrepareRequest& request,
               Callback<tessera::v1::PrepareResponse> done) override {
    Route("prepare", node, done, [&](auto cb) { inner_->Prepare(node, request, std::move(cb)); });
  }
  void Accept(const std::string& node, const tessera::v1::AcceptRequest& request,
              Callback<tessera::v1::AcceptResponse> done) override {
    Route("accept", node, done, [&](auto cb) { inner_->Accept(node, request, std::move(cb)); });
  }
  void Commit(const std::string& node, const tessera::v1::CommitRequest& request,
              Callback<tessera::v1::CommitResponse> done) override {
    Route("commit", node, done, [&](auto cb) { inner_->Commit(node, request, std::move(cb)); });
  }
  void Read(const std::string& node, const tessera::v1::ReadRequest& request,
            Callback<tessera::v1::ReadResponse> done) override {
    Route("read", node, done, [&](auto cb) { inner_->Read(node, request, std::move(cb)); });
  }
  void Scan(const std::string& node, const tessera::v1::ScanRequest& request,
            Callback<tessera::v1::ScanResponse> done) override {
    Route("scan", node, done, [&](auto cb) { inner_->Scan(node, request, std::move(cb)); });
  }

 private:
  template <typename Resp, typename Send>
  void Route(absl::string_view method, const std::string& node, Callback<Resp>& done, Send send) {
    switch (fault_(method, node)) {
      case Fate::kDeliver:
        return send(std::move(done));
      case Fate::kLoseRequest:
        return done(absl::DeadlineExceededError("test: request lost"));
      case Fate::kLoseResponse:
        return send([done = std::move(done)](absl::StatusOr<Resp>) {
          done(absl::DeadlineExceededError("test: response lost"));
        });
    }
  }
  AcceptorClient* const inner_;
  const FaultFn fault_;
};

// A retried update whose function refuses on the second round (it is free to: it may look at
// more than the current value) must not report "not applied" while its first proposal, accepted
// by one replica outside the second round's quorum, can still be finished by another proposer.
TEST(PaxosTest, ARefusalAfterAnUnsettledProposalIsOutcomeUnknown) {
  Cluster cluster("paxos_refusal_after_proposal", 3);
  HybridClock hlc(Clock::Real());
  const auto key = BucketRecordKey("b", 256);
  const auto replicas = cluster.view.current().Replicas(key.partition());
  ASSERT_EQ(replicas.size(), 3u);
  const std::string& lone = replicas[0];
  int prepares = 0;
  // Round 1: prepared everywhere; the Accept reaches `lone` only, and its answer is lost.
  // Round 2: `lone` does not answer the Prepare; the other two promise and show no update.
  Scripted scripted(&cluster.net, [&](absl::string_view method, const std::string& node) {
    if (method == "prepare" && ++prepares > 3 && node == lone) return Fate::kLoseRequest;
    if (method == "accept") return node == lone ? Fate::kLoseResponse : Fate::kLoseRequest;
    return Fate::kDeliver;
  });
  PaxosOptions options = FastOptions();
  options.max_rounds = 2;
  PaxosProposer p("gw", &hlc, &scripted, options);
  int calls = 0;
  absl::StatusOr<MetaValue> r =
      p.CompareAndSet(cluster.view, key, [&](const MetaValue&) -> absl::StatusOr<MetaValue> {
        if (++calls == 1) return MetaValue("x");
        return absl::FailedPreconditionError("changed its mind");
      });
  ASSERT_EQ(calls, 2);
  EXPECT_TRUE(IsOutcomeUnknown(r.status())) << r.status();
  // Indeed: the next reader finishes the first proposal.
  PaxosProposer reader("reader", &hlc, &cluster.net, FastOptions());
  EXPECT_THAT(reader.Read(cluster.view, key), IsOkAndHolds(MetaValue("x")));
}

// An update chosen under epoch 1 (accepted by 2 of 3 replicas) whose commits never arrived
// before the replicas learned epoch 2: scans (committed values only) do not see it until
// FinishChosen, which a stale view cannot run and an epoch-2 view does.
TEST(PaxosTest, FinishChosenCommitsAChosenValueOnANewerEpoch) {
  Cluster cluster("paxos_finish_chosen", 3);
  HybridClock hlc(Clock::Real());
  PaxosProposer p("gw", &hlc, &cluster.net, FastOptions());
  LayoutView epoch1 = cluster.view;
  epoch1.set_epoch_decided(true);
  ASSERT_OK_AND_ASSIGN(Layout l2, Layout::Compute(2, Members(3, 3), LayoutOptions{}));
  LayoutView epoch2(l2);
  epoch2.set_epoch_decided(true);
  const auto key = ObjectEntryKey("bkt", 0, "obj", "v1", 256);
  const auto replicas = epoch1.current().Replicas(key.partition());
  ASSERT_EQ(replicas, epoch2.current().Replicas(key.partition()));
  tessera::v1::AcceptRequest acc;
  *acc.mutable_key() = key;
  const HlcTimestamp ts = hlc.Now();
  acc.mutable_ballot()->set_wall_micros(ts.wall_micros);
  acc.mutable_ballot()->set_logical(ts.logical);
  acc.mutable_ballot()->set_proposer("gw-old");
  acc.mutable_value()->set_exists(true);
  acc.mutable_value()->set_data("manifest");
  acc.mutable_value()->set_op_id(5);
  acc.set_layout_epoch(1);
  for (int i = 0; i < 2; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, cluster.net.store(replicas[i])->Accept(acc));
    ASSERT_TRUE(r.accepted());
  }
  // Every replica learns epoch 2 (a hand-off or a newer proposer reached it).
  for (const auto& node : replicas) {
    tessera::v1::ReadRequest rr;
    *rr.mutable_key() = key;
    rr.set_layout_epoch(2);
    ASSERT_OK(cluster.net.store(node)->Read(rr).status());
  }
  auto scan = [&] {
    return p.Scan(epoch2, key.partition(), tessera::v1::META_TABLE_OBJECT, "bkt", "", "", 10, "");
  };
  ASSERT_OK_AND_ASSIGN(ScanResult before, scan());
  EXPECT_TRUE(before.items.empty()) << "an uncommitted value was scanned";
  EXPECT_THAT(p.FinishChosen(epoch1, key, acc.ballot()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stale layout epoch")));
  ASSERT_OK(p.FinishChosen(epoch2, key, acc.ballot()));
  ASSERT_OK_AND_ASSIGN(ScanResult after, scan());
  ASSERT_EQ(after.items.size(), 1u);
  EXPECT_EQ(after.items[0].value, "manifest");
  int committed = 0;
  for (const auto& node : replicas) {
    tessera::v1::ReadRequest rr;
    *rr.mutable_key() = key;
    ASSERT_OK_AND_ASSIGN(auto state, cluster.net.store(node)->Read(rr));
    committed += state.state().committed_value().data() == "manifest";
  }
  EXPECT_GE(committed, 2);
  // Finishing it again is harmless; a ballot no replica has seen cannot be finished.
  ASSERT_OK(p.FinishChosen(epoch2, key, acc.ballot()));
  tessera::v1::Ballot unknown = acc.ballot();
  unknown.set_wall_micros(ts.wall_micros + int64_t{3600} * 1000000);
  EXPECT_THAT(p.FinishChosen(epoch2, key, unknown), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(PaxosTest, ScanOfOneBucketContactsOnlyItsPartitionReplicas) {
  for (int nodes : {6, 12}) {
    Cluster cluster(absl::StrCat("paxos_scan_", nodes), nodes);
    HybridClock hlc(Clock::Real());
    PaxosProposer writer("w", &hlc, &cluster.net, FastOptions());
    for (int i = 0; i < 25; ++i) {
      for (absl::string_view bucket : {"photos", "docs"}) {
        ASSERT_OK(writer.CompareAndSet(
            cluster.view, ObjectEntryKey(bucket, 0, absl::StrCat("k", 100 + i), "v", 256),
            [i](const MetaValue&) -> absl::StatusOr<MetaValue> {
              return MetaValue(absl::StrCat("m", i));
            }));
      }
    }
    // One replica missed a write and holds a stale copy of another key: the merge must fix both.
    const uint32_t part = PartitionForShard("photos", 0, 256);
    CountingAcceptorClient counting(&cluster.net);
    PaxosProposer reader("r", &hlc, &counting, FastOptions());
    std::vector<std::string> keys;
    std::string token;
    for (int page = 0; page < 10; ++page) {
      ASSERT_OK_AND_ASSIGN(ScanResult r,
                           reader.Scan(cluster.view, part, tessera::v1::META_TABLE_OBJECT, "photos",
                                       "k105", "k120", 4, token));
      for (const auto& item : r.items) keys.push_back(item.key.object_key());
      token = r.next_page_token;
      if (token.empty()) break;
    }
    ASSERT_EQ(keys.size(), 15u);
    for (int i = 0; i < 15; ++i) EXPECT_EQ(keys[i], absl::StrCat("k", 105 + i));
    const auto replicas = cluster.view.current().Replicas(part);
    for (const auto& [node, count] : counting.per_node()) {
      EXPECT_NE(std::find(replicas.begin(), replicas.end(), node), replicas.end())
          << node << " is not a replica of the bucket's partition";
    }
    // 4 pages of 4 (the last short), 3 replicas each: the same with 6 or 12 nodes.
    EXPECT_EQ(counting.total(), 12) << nodes << " nodes";
  }
}

}  // namespace
}  // namespace tessera::services
