// Range-partitioned bucket index shards of ReplicatedManifestStore on the real in-process
// secured cluster: splits under concurrent writers and listers, interrupted splits, and the cost
// of a LIST page (docs/design/metadata.md "Listing").
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/sync_point.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/meta/layout.h"
#include "services/object/in_memory_manifest_store.h"
#include "services/object/object_backend.h"
#include "services/object/replicated_manifest_store.h"
#include "services/object/replicated_test_cluster.h"
#include "services/object/version_id.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::ReplicatedClusterOptions;
using ::tessera::services::testing::ReplicatedTestCluster;

ReplicatedClusterOptions ClusterOptions(int nodes) {
  ReplicatedClusterOptions o;
  o.nodes = nodes;
  o.layout.partitions = 64;
  return o;
}

v1::BucketRecord NewBucket(const std::string& name) {
  v1::BucketRecord r;
  r.set_name(name);
  return r;
}

v1::ObjectManifest Entry(const std::string& bucket, const std::string& key,
                         const std::string& version) {
  v1::ObjectManifest m;
  m.set_bucket(bucket);
  m.set_key(key);
  m.set_version_id(version);
  m.set_size(key.size());
  return m;
}

// Every page of a listing (following continuation tokens).
absl::StatusOr<std::vector<ListResult>> AllPages(ManifestStore& store, const std::string& bucket,
                                                 ListRequest request) {
  std::vector<ListResult> pages;
  while (true) {
    auto page = store.List(bucket, request);
    if (!page.ok()) return page.status();
    pages.push_back(*page);
    if (!page->truncated) return pages;
    if (pages.size() > 100000) return absl::InternalError("listing does not end");
    request.continuation_token = page->next_continuation_token;
  }
}

// Keys and common prefixes of a listing, in returned order ("P:" marks a common prefix).
std::vector<std::string> Flatten(const std::vector<ListResult>& pages) {
  std::vector<std::string> out;
  for (const ListResult& page : pages) {
    // Within a page, objects and prefixes interleave in key order.
    std::vector<std::string> items;
    for (const auto& m : page.objects) items.push_back(m.key());
    for (const auto& p : page.common_prefixes) items.push_back(p);
    std::sort(items.begin(), items.end());
    for (const auto& k : items) {
      bool is_prefix = std::find(page.common_prefixes.begin(), page.common_prefixes.end(), k) !=
                       page.common_prefixes.end();
      out.push_back((is_prefix ? "P:" : "K:") + k);
    }
  }
  return out;
}

std::vector<ListRequest> Requests() {
  std::vector<ListRequest> out;
  for (int max_keys : {1, 7, 1000}) {
    ListRequest r;
    r.max_keys = max_keys;
    out.push_back(r);
    r.prefix = "photos/";
    out.push_back(r);
    r.delimiter = "/";
    out.push_back(r);
    r.prefix = "";
    out.push_back(r);
    r.start_after = "m";
    out.push_back(r);
    r.delimiter = "";
    r.start_after = "photos/2025/";
    out.push_back(r);
  }
  return out;
}

// Exactly the model's pages (keys, prefixes, truncation and tokens).
void ExpectSameListings(ManifestStore& store, const std::string& bucket, ManifestStore& model) {
  for (const ListRequest& r : Requests()) {
    SCOPED_TRACE(absl::StrCat("prefix=", r.prefix, " delimiter=", r.delimiter,
                              " start_after=", r.start_after, " max_keys=", r.max_keys));
    auto got = AllPages(store, bucket, r);
    auto want = AllPages(model, bucket, r);
    ASSERT_OK(got.status());
    ASSERT_OK(want.status());
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < got->size(); ++i) {
      std::vector<std::string> g, w;
      for (const auto& m : (*got)[i].objects) g.push_back(m.key());
      for (const auto& m : (*want)[i].objects) w.push_back(m.key());
      EXPECT_EQ(g, w) << "page " << i;
      EXPECT_EQ((*got)[i].common_prefixes, (*want)[i].common_prefixes) << "page " << i;
      EXPECT_EQ((*got)[i].truncated, (*want)[i].truncated);
      EXPECT_EQ((*got)[i].next_continuation_token, (*want)[i].next_continuation_token);
    }
  }
}

std::string KeyFor(int writer, int i) {
  static const char* const kDirs[] = {"photos/2024/", "photos/2025/", "docs/", "z/"};
  // Spread each writer's keys over the whole key space so every shard keeps growing.
  const int spread = (i * 37) % 97;
  return absl::StrFormat("%s%02d-%03d-w%d", kDirs[(i + writer) % 4], spread, i, writer);
}

int LiveShards(const v1::BucketRecord& r, bool* pending) {
  *pending = false;
  for (const auto& s : r.shards()) *pending |= (s.id() & ~kShardNumberMask) != 0;
  return r.shards_size();
}

TEST(ReplicatedShardTest, SplitsUnderConcurrentWritersAndListers) {
  ReplicatedTestCluster cluster(ClusterOptions(6));
  ASSERT_OK(cluster.status());
  auto gw = cluster.OpenGateway();
  ASSERT_OK(gw.status());
  ReplicatedManifestStoreOptions opts;
  opts.split_threshold = 50;
  opts.split_check_interval = 15;
  ASSERT_OK(opts.Validate());
  ReplicatedManifestStore store(&(*gw)->meta(), opts);
  InMemoryManifestStore model;
  ASSERT_OK(store.CreateBucket(NewBucket("big")));
  ASSERT_OK(model.CreateBucket(NewBucket("big")));

  constexpr int kWriters = 3;
  constexpr int kPerWriter = 90;
  std::mutex mu;
  std::set<std::string> acked;      // PUT returned OK
  std::set<std::string> attempted;  // PUT started
  std::atomic<int> writers_left{kWriters};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      VersionIdGenerator versions;
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string key = KeyFor(w, i);
        v1::ObjectManifest m = Entry("big", key, versions.Next());
        {
          std::lock_guard<std::mutex> lock(mu);
          attempted.insert(key);
        }
        EXPECT_OK(store.PutIfAbsent(m));
        EXPECT_OK(model.PutIfAbsent(m));
        std::lock_guard<std::mutex> lock(mu);
        acked.insert(key);
      }
      --writers_left;
    });
  }
  // The lister pages through while the writers add keys and shards split.
  int listings = 0;
  const std::vector<ListRequest> requests = Requests();
  while (writers_left > 0 || listings < 3) {
    ListRequest r = requests[listings % requests.size()];
    if (r.max_keys == 1000) r.max_keys = 13;
    std::set<std::string> before;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = acked;
    }
    auto pages = AllPages(store, "big", r);
    ASSERT_OK(pages.status());
    std::set<std::string> after;
    {
      std::lock_guard<std::mutex> lock(mu);
      after = attempted;
    }
    ++listings;
    std::vector<std::string> items = Flatten(*pages);
    std::set<std::string> names;
    std::string last;
    for (const std::string& item : items) {
      const std::string name = item.substr(2);
      EXPECT_GT(name, last) << "out of order or duplicate: " << name;
      last = name;
      names.insert(item);
    }
    const std::string lower = r.start_after;
    for (const std::string& key : before) {  // no gaps: every key acknowledged before is there
      if (!absl::StartsWith(key, r.prefix) || key <= lower) continue;
      const size_t pos =
          r.delimiter.empty() ? std::string::npos : key.find(r.delimiter, r.prefix.size());
      const std::string want =
          pos == std::string::npos ? "K:" + key : "P:" + key.substr(0, pos + r.delimiter.size());
      EXPECT_TRUE(names.count(want)) << "missing " << want;
    }
    for (const std::string& item : items) {  // nothing invented
      if (item[0] != 'K') continue;
      EXPECT_TRUE(after.count(item.substr(2))) << "unknown key " << item;
    }
  }
  for (auto& t : threads) t.join();
  ASSERT_OK(store.FinishSplits("big"));
  auto record = store.GetBucket("big");
  ASSERT_OK(record.status());
  bool pending = false;
  const int shards = LiveShards(*record, &pending);
  std::cout << "shards after " << kWriters * kPerWriter << " keys: " << shards << ", " << listings
            << " concurrent listings\n";
  EXPECT_GE(shards, 4);
  EXPECT_FALSE(pending);
  ExpectSameListings(store, "big", model);
  // Point reads find keys in whatever shard they moved to.
  for (int i = 0; i < kPerWriter; i += 17) {
    auto latest = store.GetLatest("big", KeyFor(1, i));
    ASSERT_OK(latest.status());
    EXPECT_EQ(latest->key(), KeyFor(1, i));
    auto exact = store.Get("big", latest->key(), latest->version_id());
    ASSERT_OK(exact.status());
  }
}

TEST(ReplicatedShardTest, InterruptedSplitLeavesEverythingListable) {
  ReplicatedTestCluster cluster(ClusterOptions(6));
  ASSERT_OK(cluster.status());
  auto gw = cluster.OpenGateway();
  ASSERT_OK(gw.status());
  ReplicatedManifestStoreOptions plain_opts;
  plain_opts.split_threshold = 1 << 20;  // no automatic splits here
  ReplicatedManifestStore plain(&(*gw)->meta(), plain_opts);
  VersionIdGenerator versions;
  for (int step = 1; step <= 4; ++step) {
    SCOPED_TRACE(absl::StrCat("stopped after step ", step));
    const std::string bucket = absl::StrCat("cut", step);
    InMemoryManifestStore model;
    ASSERT_OK(plain.CreateBucket(NewBucket(bucket)));
    ASSERT_OK(model.CreateBucket(NewBucket(bucket)));
    auto put = [&](const std::string& key) {
      v1::ObjectManifest m = Entry(bucket, key, versions.Next());
      ASSERT_OK(plain.PutIfAbsent(m));
      ASSERT_OK(model.PutIfAbsent(m));
    };
    for (int i = 0; i < 40; ++i) put(KeyFor(0, i));
    // The split of `crashing` stops after `step`, as if its gateway had crashed there.
    ReplicatedManifestStore crashing(&(*gw)->meta(), plain_opts);
    absl::Status split;
    {
      ScopedSyncPoint crash(kSplitStepSyncPoint, [&](void* arg) {
        auto* point = static_cast<SplitStepPoint*>(arg);
        if (point->store == &crashing && point->step == step) {
          point->stop = absl::AbortedError(absl::StrCat("split stopped after step ", step));
        }
      });
      split = crashing.SplitShard(bucket, 0, /*force=*/true);
    }
    EXPECT_TRUE(absl::IsAborted(split)) << split;
    auto record = plain.GetBucket(bucket);
    ASSERT_OK(record.status());
    bool pending = false;
    EXPECT_EQ(LiveShards(*record, &pending), 2);
    EXPECT_TRUE(pending);
    ExpectSameListings(plain, bucket, model);
    // Writes, a new version and a version deletion while the split is stuck.
    for (int i = 40; i < 55; ++i) put(KeyFor(0, i));
    put(KeyFor(0, 3));
    auto doomed = plain.GetLatest(bucket, KeyFor(0, 30));
    ASSERT_OK(doomed.status());
    auto erase = [](const std::optional<v1::ObjectManifest>&)
        -> absl::StatusOr<std::optional<v1::ObjectManifest>> { return std::nullopt; };
    ASSERT_OK(plain.CompareAndSet(bucket, doomed->key(), doomed->version_id(), erase));
    ASSERT_OK(model.CompareAndSet(bucket, doomed->key(), doomed->version_id(), erase));
    ExpectSameListings(plain, bucket, model);
    // The next splitter finishes the split.
    ASSERT_OK(plain.FinishSplits(bucket));
    record = plain.GetBucket(bucket);
    ASSERT_OK(record.status());
    EXPECT_EQ(LiveShards(*record, &pending), 2);
    EXPECT_FALSE(pending);
    ExpectSameListings(plain, bucket, model);
    // The source kept nothing of the moved range.
    std::string split_key;
    for (const auto& s : record->shards()) {
      if (s.id() != 0) split_key = s.start_key();
    }
    auto residue = (*gw)->meta().Scan(ShardField(record->bucket_id(), 0), split_key, "", 1000);
    ASSERT_OK(residue.status());
    EXPECT_TRUE(residue->items.empty());
  }
}

struct PageCost {
  int one_shard = 0;
  int two_shards = 0;
  bool only_needed_nodes = true;
};

PageCost MeasurePages(int nodes) {
  PageCost cost;
  ReplicatedTestCluster cluster(ClusterOptions(nodes));
  EXPECT_OK(cluster.status());
  if (!cluster.status().ok()) return cost;
  auto mu = std::make_shared<std::mutex>();
  auto contacted = std::make_shared<std::map<std::string, int>>();
  ObjectBackendOptions o = cluster.GatewayOptions();
  o.layout_maintainer.run_thread = false;  // count the data path's RPCs only
  o.meta_rpc_observer = [mu, contacted](const std::string& node, const char*) {
    std::lock_guard<std::mutex> lock(*mu);
    ++(*contacted)[node];
  };
  auto gw = OpenObjectBackend(o);
  EXPECT_OK(gw.status());
  if (!gw.ok()) return cost;
  ReplicatedManifestStoreOptions opts;
  opts.split_threshold = 1 << 20;
  ReplicatedManifestStore store(&(*gw)->meta(), opts);
  EXPECT_OK(store.CreateBucket(NewBucket("pages")));
  VersionIdGenerator versions;
  for (int i = 0; i < 60; ++i) {
    EXPECT_OK(store.PutIfAbsent(Entry("pages", absl::StrFormat("key%03d", i), versions.Next())));
  }
  EXPECT_OK(store.SplitShard("pages", 0, true));  // at key030
  EXPECT_OK(store.SplitShard("pages", 0, true));  // at key015
  auto record = store.GetBucket("pages");
  EXPECT_OK(record.status());
  if (!record.ok()) return cost;
  EXPECT_EQ(record->shards_size(), 3);
  const LayoutView view = (*gw)->meta().layout();
  auto measure = [&](const std::string& start_after, std::set<std::string> shard_fields) {
    ListRequest r;
    r.max_keys = 10;
    r.start_after = start_after;
    EXPECT_OK(store.List("pages", r).status());  // warm-up
    {
      std::lock_guard<std::mutex> lock(*mu);
      contacted->clear();
    }
    auto page = store.List("pages", r);
    EXPECT_OK(page.status());
    if (page.ok()) {
      EXPECT_EQ(page->objects.size(), 10u);
    }
    std::set<std::string> allowed;
    shard_fields.insert(kBucketDirectory);
    for (const std::string& f : shard_fields) {
      for (const ReplicaSet& set : view.ReplicaSets(PartitionForShard(f, 0, view.partitions()))) {
        allowed.insert(set.nodes.begin(), set.nodes.end());
      }
    }
    std::lock_guard<std::mutex> lock(*mu);
    int total = 0;
    for (const auto& [node, n] : *contacted) {
      total += n;
      if (!allowed.count(node)) cost.only_needed_nodes = false;
    }
    return total;
  };
  const std::string id = record->bucket_id();
  std::string third;  // the shard holding key030..
  for (const auto& s : record->shards()) {
    if (s.start_key() == "key030") third = ShardField(id, s.id());
  }
  std::string second;
  for (const auto& s : record->shards()) {
    if (s.start_key() == "key015") second = ShardField(id, s.id());
  }
  cost.one_shard = measure("key031", {third});
  cost.two_shards = measure("key024", {second, third});
  return cost;
}

TEST(ReplicatedShardTest, ListPageCostDependsOnShardsNotNodes) {
  const PageCost six = MeasurePages(6);
  const PageCost twelve = MeasurePages(12);
  std::cout << "LIST page of 10 keys: one shard " << six.one_shard << " / " << twelve.one_shard
            << " RPCs (6 / 12 nodes), two shards " << six.two_shards << " / " << twelve.two_shards
            << "\n";
  EXPECT_GT(six.one_shard, 0);
  EXPECT_EQ(six.one_shard, twelve.one_shard);
  EXPECT_EQ(six.two_shards, twelve.two_shards);
  EXPECT_LE(six.one_shard, 6);  // the bucket record (3 replicas) + one shard scan (3)
  EXPECT_GT(six.two_shards, six.one_shard);
  EXPECT_LE(six.two_shards, 9);
  EXPECT_TRUE(six.only_needed_nodes);
  EXPECT_TRUE(twelve.only_needed_nodes);
}

}  // namespace
}  // namespace tessera::services
