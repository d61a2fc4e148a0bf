// Real gRPC: in-process MetaService servers on 127.0.0.1:0, MetaClients as gateways, servers
// killed (Shutdown without drain) and restarted on the same RocksDB directory and a new port.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/random.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_service.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

std::string TestDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/", name);
}

class Node {
 public:
  Node(std::string id, std::string dir) : id_(std::move(id)), dir_(std::move(dir)) {}
  ~Node() { Kill(); }

  absl::Status Start() {
    auto store = AcceptorStore::Open(dir_);
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

 private:
  const std::string id_;
  const std::string dir_;
  std::string address_;
  std::unique_ptr<AcceptorStore> store_;
  std::unique_ptr<MetaServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
};

class MetaGrpcTest : public ::testing::Test {
 protected:
  void StartCluster(absl::string_view name, int n) {
    for (int i = 0; i < n; ++i) {
      nodes_.push_back(
          std::make_unique<Node>(absl::StrCat("n", i), TestDir(absl::StrCat(name, "/n", i))));
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

}  // namespace
}  // namespace tessera::services
