// Real gRPC: in-process MetaService servers on 127.0.0.1:0, MetaClients as gateways, servers
// killed (Shutdown without drain) and restarted on the same RocksDB directory and a new port.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "base/clock.h"
#include "base/random.h"
#include "base/status_reasons.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_compactor.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_service.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

// A fresh directory per call: unique per test and per --gtest_repeat repetition.
std::string TestDir(absl::string_view name) { return ::tessera::testing::UniqueTestDir(name); }

class Node {
 public:
  Node(std::string id, std::string dir, AcceptorStoreOptions options = {})
      : id_(std::move(id)), dir_(std::move(dir)), options_(options) {}
  ~Node() { Kill(); }

  absl::Status Start() {
    auto store = AcceptorStore::Open(dir_, options_);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    service_ = RegisterMetaService(builder, store_.get());
    server_ = builder.BuildAndStart();
    if (!server_ || port == 0) return absl::InternalError("server did not start");
    address_ = absl::StrCat("127.0.0.1:", port);
    return absl::OkStatus();
  }
  // No drain: in-flight calls are cancelled at once.
  void Kill() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
    server_.reset();
    service_.reset();
    store_.reset();
  }
  MetaMember member() const { return MetaMember{id_, "site-" + id_, address_}; }
  AcceptorStore* store() { return store_.get(); }

 private:
  const std::string id_;
  const std::string dir_;
  const AcceptorStoreOptions options_;
  std::string address_;
  std::unique_ptr<AcceptorStore> store_;
  std::unique_ptr<MetaServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

class MetaGrpcTest : public ::testing::Test {
 protected:
  void StartCluster(absl::string_view name, int n, AcceptorStoreOptions options = {}) {
    for (int i = 0; i < n; ++i) {
      nodes_.push_back(std::make_unique<Node>(absl::StrCat("n", i),
                                              TestDir(absl::StrCat(name, "/n", i)), options));
      ASSERT_OK(nodes_.back()->Start());
    }
  }
  LayoutView View() {
    std::vector<MetaMember> members;
    for (auto& n : nodes_) members.push_back(n->member());
    return LayoutView(*Layout::Compute(1, members, LayoutOptions{}));
  }
  std::unique_ptr<MetaClient> NewClient() {
    MetaClientOptions options;
    options.rpc_deadline = absl::Seconds(2);
    options.paxos.max_rounds = 30;
    options.paxos.backoff_base = absl::Microseconds(500);
    options.paxos.backoff_max = absl::Milliseconds(20);
    auto client = MetaClient::Create(View(), options);
    EXPECT_OK(client.status());
    return std::move(*client);
  }
  std::vector<std::unique_ptr<Node>> nodes_;
};

UpdateFn CreateBucket(std::string owner) {
  return [owner](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
    if (cur) return absl::FailedPreconditionError("BucketAlreadyExists");
    return MetaValue(owner);
  };
}

TEST_F(MetaGrpcTest, BucketCreationRacesHaveExactlyOneWinnerAndReadsAfterWrites) {
  StartCluster("race", 3);
  auto gw1 = NewClient();
  auto gw2 = NewClient();
  constexpr int kBuckets = 8;
  constexpr int kThreads = 4;
  std::vector<std::vector<std::string>> winners(kBuckets);
  absl::Mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      MetaClient* gw = t % 2 ? gw1.get() : gw2.get();
      for (int b = 0; b < kBuckets; ++b) {
        const auto key = BucketRecordKey(absl::StrCat("bucket-", b), gw->partitions());
        const std::string owner = absl::StrCat("owner-", t);
        absl::StatusOr<MetaValue> r = gw->CompareAndSet(key, CreateBucket(owner));
        if (r.ok()) {
          absl::MutexLock lock(&mu);
          winners[b].push_back(owner);
        } else {
          EXPECT_THAT(
              r, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("BucketAlreadyExists")));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int b = 0; b < kBuckets; ++b) {
    ASSERT_EQ(winners[b].size(), 1u) << "bucket-" << b;
    // Read-after-write through the other gateway.
    const auto key = BucketRecordKey(absl::StrCat("bucket-", b), gw1->partitions());
    EXPECT_THAT(gw1->Get(key), IsOkAndHolds(MetaValue(winners[b][0])));
    EXPECT_THAT(gw2->Get(key), IsOkAndHolds(MetaValue(winners[b][0])));
  }
  // A write through one gateway is seen by a read through a brand-new one.
  const auto key = BucketRecordKey("fresh", gw1->partitions());
  ASSERT_OK(gw1->CompareAndSet(key, CreateBucket("x")));
  EXPECT_THAT(NewClient()->Get(key), IsOkAndHolds(MetaValue("x")));
}

TEST_F(MetaGrpcTest, IncrementsSurviveServerKillsAndRestarts) {
  StartCluster("kills", 3);
  auto gw1 = NewClient();
  auto gw2 = NewClient();
  const auto key = ObjectEntryKey("b", 0, "counter", "", gw1->partitions());
  std::atomic<int> completed{0};
  std::atomic<bool> done{false};
  absl::Mutex mu;
  std::set<std::string> ok, unknown;
  std::thread chaos([&] {
    Random rnd(11);
    for (int round = 0; round < 6 && !done.load(); ++round) {
      // Wait for progress (bounded), then kill and restart one server.
      const int target = completed.load() + 3;
      for (int i = 0; i < 2000 && completed.load() < target && !done.load(); ++i) {
        absl::SleepFor(absl::Milliseconds(1));
      }
      const size_t victim = rnd.Uniform(nodes_.size());
      nodes_[victim]->Kill();
      absl::SleepFor(absl::Milliseconds(20));
      ASSERT_OK(nodes_[victim]->Start());
      LayoutView view = View();
      gw1->SetLayout(view);
      gw2->SetLayout(view);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      MetaClient* gw = t % 2 ? gw1.get() : gw2.get();
      for (int i = 0; i < 10; ++i) {
        const std::string tag = absl::StrCat("t", t, "i", i);
        absl::Status s =
            gw->CompareAndSet(key, [&](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
                std::string v = cur.value_or("");
                return MetaValue(v.empty() ? tag : absl::StrCat(v, ",", tag));
              }).status();
        absl::MutexLock lock(&mu);
        if (s.ok()) {
          ok.insert(tag);
        } else if (IsOutcomeUnknown(s)) {
          unknown.insert(tag);
        } else {
          EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable));
        }
        ++completed;
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  chaos.join();
  ASSERT_OK_AND_ASSIGN(MetaValue v, NewClient()->Get(key));
  ASSERT_TRUE(v.has_value());
  std::vector<std::string> tags = absl::StrSplit(*v, ',');
  std::set<std::string> applied(tags.begin(), tags.end());
  EXPECT_EQ(applied.size(), tags.size()) << "duplicated update";
  for (const auto& t : ok) EXPECT_TRUE(applied.count(t)) << "lost update " << t;
  for (const auto& t : applied) EXPECT_TRUE(ok.count(t) || unknown.count(t)) << t;
  EXPECT_GE(ok.size(), 10u);
}

TEST_F(MetaGrpcTest, TwoOfThreeDownFailsUnavailableNamingTheCount) {
  StartCluster("down", 3);
  MetaClientOptions options;
  options.rpc_deadline = absl::Milliseconds(500);
  options.paxos.max_rounds = 2;
  ASSERT_OK_AND_ASSIGN(auto gw, MetaClient::Create(View(), options));
  const auto key = BucketRecordKey("b", gw->partitions());
  ASSERT_OK(gw->CompareAndSet(key, CreateBucket("a")));
  nodes_[0]->Kill();
  nodes_[1]->Kill();
  EXPECT_THAT(gw->CompareAndSet(key, CreateBucket("b")),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("2 of 3 replicas unreachable")));
  EXPECT_THAT(gw->Get(key), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(gw->Scan("b", "", "", 10), StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_OK(nodes_[0]->Start());
  gw->SetLayout(View());
  EXPECT_THAT(gw->Get(key), IsOkAndHolds(MetaValue("a")));
}

TEST_F(MetaGrpcTest, ScanListsMergedOrderedEntriesAcrossReplicas) {
  StartCluster("scan", 4);
  auto gw = NewClient();
  for (int i = 0; i < 30; ++i) {
    const auto key =
        ObjectEntryKey("photos", 0, absl::StrCat("img/", 1000 + i), "", gw->partitions());
    ASSERT_OK(gw->CompareAndSet(key, [i](const MetaValue&) -> absl::StatusOr<MetaValue> {
      return MetaValue(absl::StrCat("manifest-", i));
    }));
  }
  // Delete one; it must disappear from the listing.
  ASSERT_OK(
      gw->CompareAndSet(ObjectEntryKey("photos", 0, "img/1005", "", gw->partitions()),
                        [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); }));
  auto other = NewClient();
  std::vector<std::string> keys;
  std::string token;
  for (int page = 0; page < 20; ++page) {
    ASSERT_OK_AND_ASSIGN(ScanResult r, other->Scan("photos", "img/", "img0", 7, token));
    EXPECT_LE(r.items.size(), 7u);
    for (const auto& item : r.items) keys.push_back(item.key.object_key());
    token = r.next_page_token;
    if (token.empty()) break;
  }
  ASSERT_EQ(keys.size(), 29u);
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 29u);
  EXPECT_EQ(std::count(keys.begin(), keys.end(), "img/1005"), 0);
}

// ---- Consensus layouts and hand-off ----

std::vector<MetaMember> MembersOf(const std::vector<std::unique_ptr<Node>>& nodes,
                                  std::vector<int> which) {
  std::vector<MetaMember> out;
  for (int i : which) out.push_back(nodes[i]->member());
  return out;
}

absl::StatusOr<MetaValue> Increment(MetaClient* c, const tessera::v1::MetaKey& key) {
  return c->CompareAndSet(key, [](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
    int v = 0;
    if (cur && !absl::SimpleAtoi(*cur, &v)) return absl::DataLossError("not a number");
    return MetaValue(absl::StrCat(v + 1));
  });
}

TEST_F(MetaGrpcTest, LayoutEpochsAreDecidedByCasAndHandOffMovesPartitionsUnderLoad) {
  StartCluster("layout", 4);
  LayoutOptions lo;
  lo.partitions = 16;
  auto admin = NewClient();
  auto writer = NewClient();
  ASSERT_OK_AND_ASSIGN(auto r1, admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2}), lo));
  EXPECT_EQ(r1.epoch(), 1u);
  ASSERT_OK_AND_ASSIGN(auto loaded, writer->LoadLayout(MembersOf(nodes_, {0, 1, 2, 3})));
  EXPECT_EQ(loaded.epoch(), 1u);
  EXPECT_TRUE(writer->layout().epoch_decided());

  constexpr int kKeys = 24;
  auto key = [&](int k) { return BucketRecordKey(absl::StrCat("k", k), lo.partitions); };
  std::vector<int> acked(kKeys, 0);
  std::atomic<int> passes{0};
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::thread load([&] {
    while (!stop.load()) {
      for (int k = 0; k < kKeys; ++k) {
        absl::StatusOr<MetaValue> r = Increment(writer.get(), key(k));
        if (r.ok()) {
          ++acked[k];
        } else {
          ++failures;
          ADD_FAILURE() << "increment of k" << k << ": " << r.status();
        }
      }
      ++passes;
    }
  });
  auto wait_passes = [&](int n) {
    while (passes.load() < n && failures.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  };
  wait_passes(1);

  ASSERT_OK_AND_ASSIGN(auto r2, admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2, 3})));
  EXPECT_EQ(r2.epoch(), 2u);
  EXPECT_TRUE(r2.in_transition());
  EXPECT_TRUE(admin->layout().in_transition());
  // A second change while the transition is active is refused.
  EXPECT_THAT(admin->ProposeLayout(MembersOf(nodes_, {0, 1, 3})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in transition")));
  const int before = passes.load();
  wait_passes(before + 1);  // the writer works during the transition
  ASSERT_OK(admin->CompleteHandOff());
  ASSERT_TRUE(admin->layout_record().has_value());
  EXPECT_EQ(admin->layout_record()->epoch(), 3u);
  EXPECT_FALSE(admin->layout().in_transition());
  const int after = passes.load();
  wait_passes(after + 2);  // and after the old sets were retired
  stop = true;
  load.join();
  ASSERT_EQ(failures.load(), 0);
  // The writer was refused with a stale epoch and followed the record.
  EXPECT_EQ(writer->layout_record()->epoch(), 3u);
  EXPECT_EQ(nodes_[0]->store()->known_layout_epoch(), 3u);
  tessera::v1::ReadRequest stale;
  *stale.mutable_key() = key(0);
  stale.set_layout_epoch(1);
  EXPECT_THAT(nodes_[0]->store()->Read(stale),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stale layout epoch 1")));
  // The refusal's typed reason crosses gRPC (status details), so callers act on it, not on text.
  {
    GrpcAcceptorClient rpc(absl::Seconds(5));
    rpc.SetMembers({nodes_[0]->member()});
    absl::Notification done;
    absl::Status got;
    rpc.Read(nodes_[0]->member().node_id, stale, [&](absl::StatusOr<tessera::v1::ReadResponse> r) {
      got = r.status();
      done.Notify();
    });
    done.WaitForNotification();
    EXPECT_THAT(got, StatusIs(absl::StatusCode::kFailedPrecondition));
    EXPECT_TRUE(IsStaleLayoutEpoch(got)) << got;
  }

  // Every partition n3 joined holds a copy on n3; a fresh gateway reads every counter from the
  // new replica sets only (R = 2 of 3).
  ASSERT_OK_AND_ASSIGN(Layout old_layout, Layout::Compute(1, MembersOf(nodes_, {0, 1, 2}), lo));
  ASSERT_OK_AND_ASSIGN(Layout new_layout, Layout::Compute(3, MembersOf(nodes_, {0, 1, 2, 3}), lo));
  int moved_keys = 0;
  auto fresh = NewClient();
  ASSERT_OK(fresh->LoadLayout(MembersOf(nodes_, {0, 1, 2, 3})).status());
  EXPECT_FALSE(fresh->layout().in_transition());
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_THAT(fresh->Get(key(k)), IsOkAndHolds(MetaValue(absl::StrCat(acked[k])))) << "k" << k;
    const auto& now = new_layout.Replicas(key(k).partition());
    const auto& was = old_layout.Replicas(key(k).partition());
    if (std::find(now.begin(), now.end(), "n3") == now.end()) continue;
    ++moved_keys;
    tessera::v1::ReadRequest read;
    *read.mutable_key() = key(k);
    ASSERT_OK_AND_ASSIGN(auto state, nodes_[3]->store()->Read(read));
    EXPECT_EQ(state.state().committed_value().data(), absl::StrCat(acked[k])) << "k" << k;
    // The replica n3 replaced is out of the key's set: with it down, reads still work.
    for (const std::string& n : was) {
      if (std::find(now.begin(), now.end(), n) == now.end()) {
        EXPECT_NE(n, "n3");
      }
    }
  }
  EXPECT_GT(moved_keys, 0);
}

// A layout record written by a newer binary (format_version 2) is not followed: loading it fails
// with a typed, clear error instead of the gateway acting on a layout it may misread.
TEST_F(MetaGrpcTest, LayoutRecordOfANewerFormatIsRefused) {
  StartCluster("newer_layout", 3);
  auto admin = NewClient();
  ASSERT_OK_AND_ASSIGN(auto r1, admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2})));
  tessera::v1::LayoutRecord newer = r1;
  newer.set_format_version(2);
  tessera::v1::CommitRequest commit;
  *commit.mutable_key() = LayoutRecordKey();
  commit.mutable_ballot()->set_wall_micros(int64_t{4} << 50);  // above any real ballot
  commit.mutable_ballot()->set_proposer("future-binary");
  commit.mutable_value()->set_format_version(1);
  commit.mutable_value()->set_exists(true);
  commit.mutable_value()->set_data(newer.SerializeAsString());
  for (auto& node : nodes_) ASSERT_OK(node->store()->Commit(commit).status());
  auto fresh = NewClient();
  absl::StatusOr<tessera::v1::LayoutRecord> loaded =
      fresh->LoadLayout(MembersOf(nodes_, {0, 1, 2}));
  EXPECT_TRUE(IsNewerFormat(loaded.status())) << loaded.status();
  EXPECT_THAT(loaded, StatusIs(absl::StatusCode::kFailedPrecondition,
                               HasSubstr("metadata layout record has format version 2")));
}

// Node RPCs carry the protocol version: a caller of a newer protocol is refused clearly (typed),
// an older or unversioned one is served; channels from CreateNodeChannel are served.
TEST_F(MetaGrpcTest, CallersOfANewerNodeProtocolAreRefused) {
  StartCluster("protocol", 1);
  const std::string address = nodes_[0]->member().address;
  tessera::v1::ReadRequest request;
  *request.mutable_key() = BucketRecordKey("photos", 16);
  auto call = [&](std::shared_ptr<grpc::Channel> channel, const char* version) {
    auto stub = tessera::v1::MetaService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (version != nullptr) ctx.AddMetadata(p2p::kProtocolMetadataKey, version);
    tessera::v1::ReadResponse response;
    return stub->Read(&ctx, request, &response);
  };
  auto plain = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  EXPECT_TRUE(call(plain, nullptr).ok());
  EXPECT_TRUE(call(plain, "1").ok());
  grpc::Status newer = call(plain, "2");
  EXPECT_EQ(newer.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(newer.error_message(), HasSubstr("node protocol 2; this node knows up to 1"));
  EXPECT_EQ(call(plain, "x").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A channel from CreateNodeChannel (it adds this binary's version to every call) is served.
  EXPECT_TRUE(
      call(p2p::CreateNodeChannel(address, grpc::ChannelArguments(), nullptr), nullptr).ok());
  // The check itself carries the typed reason.
  grpc::ServerContext server_context;
  EXPECT_OK(p2p::CheckProtocolVersion(server_context));
}

TEST_F(MetaGrpcTest, RacingLayoutProposalsDecideOneEpoch) {
  StartCluster("layout_race", 5);
  LayoutOptions lo;
  lo.partitions = 8;
  auto a = NewClient();
  auto b = NewClient();
  ASSERT_OK(a->ProposeLayout(MembersOf(nodes_, {0, 1, 2}), lo).status());
  ASSERT_OK(b->LoadLayout(MembersOf(nodes_, {0, 1, 2})).status());
  absl::StatusOr<tessera::v1::LayoutRecord> ra, rb;
  std::thread ta([&] { ra = a->ProposeLayout(MembersOf(nodes_, {0, 1, 2, 3})); });
  std::thread tb([&] { rb = b->ProposeLayout(MembersOf(nodes_, {0, 1, 2, 4})); });
  ta.join();
  tb.join();
  ASSERT_NE(ra.ok(), rb.ok()) << ra.status() << " / " << rb.status();
  const auto& winner = ra.ok() ? *ra : *rb;
  const absl::Status& loser = ra.ok() ? rb.status() : ra.status();
  EXPECT_THAT(loser, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("layout changed")));
  EXPECT_EQ(winner.epoch(), 2u);
  auto c = NewClient();
  ASSERT_OK_AND_ASSIGN(auto seen, c->LoadLayout(MembersOf(nodes_, {0, 1, 2, 3, 4})));
  EXPECT_EQ(seen.epoch(), 2u);
  EXPECT_TRUE(SameMembers(RecordMembers(seen), RecordMembers(winner)));
  // The loser followed the winner's record.
  EXPECT_EQ((ra.ok() ? b : a)->layout_record()->epoch(), 2u);
}

// Issue 8 blocker (a) and (b): a replica removed from a partition while it held a live value,
// re-added after the value's deletion was purged on the replicas of the time, must not serve the
// value again (its records of partitions it joins are wiped before the proposal that adds it),
// and must learn the old replicas' purge floor from the hand-off.
TEST_F(MetaGrpcTest, ReAddedReplicaDoesNotServeAValuePurgedWhileItWasOut) {
  AcceptorStoreOptions store_options;
  store_options.tombstone_grace = absl::ZeroDuration();  // purge as soon as confirmed
  StartCluster("readd", 4, store_options);
  LayoutOptions lo;
  lo.partitions = 4;
  auto admin = NewClient();
  ASSERT_OK_AND_ASSIGN(auto r1, admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2, 3}), lo));
  ASSERT_EQ(r1.epoch(), 1u);
  // A key replicated on n3 at epoch 1.
  ASSERT_OK_AND_ASSIGN(Layout l1, Layout::Compute(1, MembersOf(nodes_, {0, 1, 2, 3}), lo));
  tessera::v1::MetaKey key;
  for (int i = 0;; ++i) {
    ASSERT_LT(i, 1000);
    key = BucketRecordKey(absl::StrCat("k", i), lo.partitions);
    const auto& replicas = l1.Replicas(key.partition());
    if (std::find(replicas.begin(), replicas.end(), "n3") != replicas.end()) break;
  }
  ASSERT_OK(
      admin
          ->CompareAndSet(
              key, [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue("old"); })
          .status());
  tessera::v1::ReadRequest read;
  *read.mutable_key() = key;
  auto n3_value = [&]() -> std::string {
    absl::StatusOr<tessera::v1::ReadResponse> r = nodes_[3]->store()->Read(read);
    EXPECT_OK(r.status());
    if (!r.ok() || !r->state().committed_value().exists()) return "<none>";
    return r->state().committed_value().data();
  };
  // Commits go to every replica; wait until n3's arrived.
  for (int i = 0; i < 500 && n3_value() != "old"; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(n3_value(), "old");

  // n3 leaves (epoch 2 transition, hand-off, epoch 3); the key is deleted and its tombstones
  // purged on n0..n2 while n3, out of the layout, still holds "old".
  ASSERT_OK(admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2})).status());
  ASSERT_OK(admin->CompleteHandOff());
  ASSERT_EQ(admin->layout_record()->epoch(), 3u);
  ASSERT_OK(admin
                ->CompareAndSet(
                    key, [](const MetaValue&) -> absl::StatusOr<MetaValue> { return MetaValue(); })
                .status());
  GrpcAcceptorClient confirm_client(absl::Seconds(2));
  confirm_client.SetMembers(MembersOf(nodes_, {0, 1, 2, 3}));
  // Each replica purges once its tombstone is settled (the deletion's commit reaches the third
  // replica asynchronously) and confirmed on all three.
  for (int n = 0; n < 3; ++n) {
    MetaCompactor compactor(absl::StrCat("n", n), nodes_[n]->store(), &confirm_client,
                            [&]() -> absl::StatusOr<LayoutView> { return admin->layout(); });
    bool gone = false;
    for (int pass = 0; pass < 200 && !gone; ++pass) {
      ASSERT_OK(compactor.RunOnce().status());
      ASSERT_OK_AND_ASSIGN(auto state, nodes_[n]->store()->Read(read));
      gone = !state.state().has_committed_ballot();
      if (!gone) absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_TRUE(gone) << "n" << n << " still holds the tombstone";
  }
  ASSERT_EQ(n3_value(), "old");
  tessera::v1::Ballot old_floor;
  for (int n = 0; n < 3; ++n) {
    const tessera::v1::Ballot f = nodes_[n]->store()->purge_floor();
    if (BallotLess(old_floor, f)) old_floor = f;
  }
  ASSERT_FALSE(old_floor.proposer().empty());

  // n3 is re-added: epoch 4 (transition), hand-off, epoch 5.
  ASSERT_OK(admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2, 3})).status());
  ASSERT_OK(admin->CompleteHandOff());
  ASSERT_EQ(admin->layout_record()->epoch(), 5u);
  ASSERT_OK_AND_ASSIGN(Layout l5, Layout::Compute(5, MembersOf(nodes_, {0, 1, 2, 3}), lo));
  const auto& replicas = l5.Replicas(key.partition());
  ASSERT_NE(std::find(replicas.begin(), replicas.end(), "n3"), replicas.end());
  // (a) n3 no longer holds the value the purged deletion superseded; no read returns it.
  EXPECT_EQ(n3_value(), "<none>");
  auto fresh = NewClient();
  ASSERT_OK(fresh->LoadLayout(MembersOf(nodes_, {0, 1, 2, 3})).status());
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(fresh->Get(key), IsOkAndHolds(MetaValue())) << "read " << i;
  }
  // (b) n3 learned the old replicas' purge floor and reports it for the purged key.
  EXPECT_FALSE(BallotLess(nodes_[3]->store()->purge_floor(), old_floor));
  ASSERT_OK_AND_ASSIGN(auto n3_state, nodes_[3]->store()->Read(read));
  EXPECT_FALSE(BallotLess(n3_state.state().purged_floor(), old_floor));
}

// Issue 11, bootstrap race: two first gateways of a new cluster whose member views differ (gossip
// not converged) used to be able to decide two epoch-1 records on disjoint majorities. Epoch 1
// now needs every member the proposer sees, so views sharing a node cannot both win.
TEST_F(MetaGrpcTest, BootstrapNeedsEveryMemberItSeesSoOverlappingViewsCannotBothCreateEpochOne) {
  StartCluster("bootstrap_overlap", 5);
  LayoutOptions lo;
  lo.partitions = 8;
  auto g1 = NewClient();
  ASSERT_OK_AND_ASSIGN(auto first, g1->LoadOrCreateLayout(MembersOf(nodes_, {0, 1, 2}), lo));
  EXPECT_EQ(first.epoch(), 1u);
  // The only node both views share is down: the second gateway must not create its own epoch 1
  // on {n3, n4}.
  nodes_[2]->Kill();
  auto g2 = NewClient();
  EXPECT_THAT(g2->LoadOrCreateLayout(MembersOf(nodes_, {2, 3, 4}), lo),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_FALSE(g2->layout_record().has_value());
  // Once it is back, the second gateway adopts the first one's record.
  ASSERT_OK(nodes_[2]->Start());
  ASSERT_OK_AND_ASSIGN(auto adopted, g2->LoadOrCreateLayout(MembersOf(nodes_, {2, 3, 4}), lo));
  EXPECT_EQ(adopted.epoch(), 1u);
  EXPECT_TRUE(SameMembers(RecordMembers(adopted), RecordMembers(first)));
  // It writes where the first gateway reads.
  const auto key = BucketRecordKey("after-bootstrap", lo.partitions);
  ASSERT_OK(g2->CompareAndSet(key, CreateBucket("g2")).status());
  EXPECT_THAT(g1->Get(key), IsOkAndHolds(MetaValue("g2")));
}

TEST_F(MetaGrpcTest, ConcurrentBootstrappersWithOverlappingViewsAdoptOneRecord) {
  constexpr int kRounds = 8;
  LayoutOptions lo;
  lo.partitions = 8;
  int both_ok = 0;
  for (int round = 0; round < kRounds; ++round) {
    nodes_.clear();
    StartCluster(absl::StrCat("bootstrap_race_", round), 5);
    auto g1 = NewClient();
    auto g2 = NewClient();
    absl::StatusOr<tessera::v1::LayoutRecord> r1, r2;
    std::thread t1([&] { r1 = g1->LoadOrCreateLayout(MembersOf(nodes_, {0, 1, 2}), lo); });
    std::thread t2([&] { r2 = g2->LoadOrCreateLayout(MembersOf(nodes_, {2, 3, 4}), lo); });
    t1.join();
    t2.join();
    // Contention may exhaust a round (ABORTED) but never yields two records.
    if (!r1.ok() || !r2.ok()) {
      EXPECT_FALSE(absl::IsUnavailable(r1.status()) || absl::IsUnavailable(r2.status()))
          << r1.status() << " / " << r2.status();
      continue;
    }
    ++both_ok;
    EXPECT_EQ(r1->epoch(), 1u);
    EXPECT_EQ(r2->epoch(), 1u);
    EXPECT_TRUE(SameMembers(RecordMembers(*r1), RecordMembers(*r2)))
        << "round " << round << ": two epoch-1 records decided";
    auto reader = NewClient();
    ASSERT_OK_AND_ASSIGN(auto seen, reader->LoadLayout(MembersOf(nodes_, {0, 1, 2, 3, 4})));
    EXPECT_TRUE(SameMembers(RecordMembers(seen), RecordMembers(*r1)));
  }
  EXPECT_GE(both_ok, kRounds / 2);
}

// Issue 11, stuck hand-off: a transition whose new replica set cannot reach its write quorum
// (both joiners died) could neither complete nor be replaced by a new proposal ("still in
// transition"), and the partitions whose new sets lost W were unreadable meanwhile. It is now
// rolled back to the previous members; the old sets serve every key again, with every
// acknowledged value.
TEST_F(MetaGrpcTest, AStuckHandOffIsRolledBackAndTheOldSetsKeepServing) {
  StartCluster("stuck_handoff", 5);
  LayoutOptions lo;
  lo.partitions = 16;
  auto admin = NewClient();
  ASSERT_OK(admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2}), lo).status());
  // Keys in every partition, with acknowledged values, before the change.
  ASSERT_OK_AND_ASSIGN(Layout next, Layout::Compute(2, MembersOf(nodes_, {0, 1, 2, 3, 4}), lo));
  std::map<uint32_t, tessera::v1::MetaKey> keys;  // one per partition
  for (int i = 0; keys.size() < lo.partitions && i < 10000; ++i) {
    tessera::v1::MetaKey k = BucketRecordKey(absl::StrCat("k", i), lo.partitions);
    keys.emplace(k.partition(), k);
  }
  ASSERT_EQ(keys.size(), lo.partitions);
  std::map<uint32_t, int> acked;
  for (const auto& [p, k] : keys) {
    ASSERT_OK(Increment(admin.get(), k).status());
    acked[p] = 1;
  }
  // A partition whose new set holds both joiners: with them down it has 1 of 3 replicas.
  std::optional<uint32_t> stuck;
  for (uint32_t p = 0; p < lo.partitions; ++p) {
    const auto& r = next.Replicas(p);
    if (std::count(r.begin(), r.end(), "n3") + std::count(r.begin(), r.end(), "n4") == 2) stuck = p;
  }
  ASSERT_TRUE(stuck.has_value()) << "no partition has both joiners in its new set";

  ASSERT_OK_AND_ASSIGN(auto r2, admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2, 3, 4})));
  ASSERT_TRUE(r2.in_transition());
  nodes_[3]->Kill();
  nodes_[4]->Kill();
  // Stuck: the hand-off cannot reach W of the stuck partition's new set, no new layout can be
  // proposed, and that partition cannot be read.
  EXPECT_THAT(admin->CompleteHandOff(), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(admin->ProposeLayout(MembersOf(nodes_, {0, 1, 2})),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in transition")));
  EXPECT_FALSE(admin->Get(keys[*stuck]).ok());

  ASSERT_OK(admin->AbandonHandOff());
  ASSERT_TRUE(admin->layout_record().has_value());
  EXPECT_EQ(admin->layout_record()->epoch(), 3u);
  EXPECT_FALSE(admin->layout().in_transition());
  EXPECT_TRUE(SameMembers(RecordMembers(*admin->layout_record()), MembersOf(nodes_, {0, 1, 2})));
  // Every key reads its acknowledged value and takes writes again, also through a fresh client
  // that only knows the old members.
  auto fresh = NewClient();
  ASSERT_OK_AND_ASSIGN(auto seen, fresh->LoadLayout(MembersOf(nodes_, {0, 1, 2})));
  EXPECT_EQ(seen.epoch(), 3u);
  for (const auto& [p, k] : keys) {
    EXPECT_THAT(fresh->Get(k), IsOkAndHolds(MetaValue(absl::StrCat(acked[p]))))
        << "partition " << p;
    EXPECT_THAT(Increment(admin.get(), k), IsOkAndHolds(MetaValue(absl::StrCat(acked[p] + 1))))
        << "partition " << p;
  }
  // And the cluster can change again.
  ASSERT_OK(admin->ProposeLayout(MembersOf(nodes_, {0, 1})).status());
  ASSERT_OK(admin->CompleteHandOff());
  EXPECT_EQ(admin->layout_record()->epoch(), 5u);
  EXPECT_THAT(fresh->Get(keys[*stuck]), IsOkAndHolds(MetaValue("2")));
}

class SkewedClock final : public Clock {
 public:
  explicit SkewedClock(absl::Duration skew) : skew_(skew) {}
  absl::Time Now() override { return absl::Now() + skew_; }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }

 private:
  const absl::Duration skew_;
};

TEST_F(MetaGrpcTest, AcceptorsAndProposersRefuseSkewedClocks) {
  SkewedClock ahead(absl::Seconds(2));
  AcceptorStoreOptions skewed;
  skewed.clock = &ahead;
  for (int i = 0; i < 3; ++i) {
    nodes_.push_back(std::make_unique<Node>(absl::StrCat("n", i),
                                            TestDir(absl::StrCat("skew/n", i)),
                                            i == 2 ? skewed : AcceptorStoreOptions{}));
    ASSERT_OK(nodes_.back()->Start());
  }
  // A proposer with a good clock still reaches W = 2 of 3.
  auto good = NewClient();
  const auto k = BucketRecordKey("clocked", good->partitions());
  ASSERT_OK(Increment(good.get(), k).status());
  // An acceptor refuses a sender whose clock is ahead of its own by more than max_offset: no
  // transit time explains a message from the future.
  tessera::v1::PrepareRequest prep;
  *prep.mutable_key() = k;
  prep.mutable_ballot()->set_wall_micros(1);
  prep.mutable_ballot()->set_proposer("probe");
  prep.set_sender_wall_micros(absl::ToUnixMicros(absl::Now() + absl::Seconds(2)));
  const absl::StatusOr<tessera::v1::PrepareResponse> refused = nodes_[0]->store()->Prepare(prep);
  EXPECT_THAT(refused,
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("between the proposer and this acceptor exceeds max_offset")));
  EXPECT_TRUE(IsClockOffset(refused.status()));
  // A sender that looks 2 s behind may only have been slow to arrive: not refused there (the
  // proposer's own guard, which measures round trips, judges a lagging clock).
  prep.set_sender_wall_micros(absl::ToUnixMicros(absl::Now()));
  EXPECT_OK(nodes_[2]->store()->Prepare(prep).status());
  // A proposer whose clock is 2 s ahead is refused by the good acceptors, and says why.
  MetaClientOptions options;
  options.clock = &ahead;
  options.paxos.max_rounds = 3;
  ASSERT_OK_AND_ASSIGN(auto bad, MetaClient::Create(View(), options));
  const auto bad_write = Increment(bad.get(), k);
  EXPECT_THAT(bad_write,
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("clock offset")));
  EXPECT_TRUE(IsClockOffset(bad_write.status()));
  EXPECT_THAT(good->Get(k), IsOkAndHolds(MetaValue("1")));
}

}  // namespace
}  // namespace tessera::services
