// One set of S3 listing cases (ListObjectsV2: prefix, delimiter, max-keys, start-after,
// continuation tokens) run against every ManifestStore: the in-memory store, the replicated store
// over real in-process nodes with one index shard, and the same with the bucket split into two
// shards (the listing then crosses a shard boundary inside a common prefix). Each case states
// what S3 returns, page by page, and every store must return exactly that, tokens included (a
// token is valid on any store: gateways hand them to clients, who may come back to another).
//
// S3's rule for a common prefix (docs/design/metadata.md "Listing"): it is reported once across
// all pages, counts as one of max-keys, and the next page starts after EVERY key under it.
#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/in_memory_manifest_store.h"
#include "services/object/replicated_manifest_store.h"
#include "services/object/replicated_test_cluster.h"
#include "services/object/version_id.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::ReplicatedClusterOptions;
using ::tessera::services::testing::ReplicatedTestCluster;
using ::tessera::testing::StatusIs;

constexpr char kBucket[] = "listing";
constexpr char kSplitBucket[] = "listing-split";

// The bucket every case lists. "b/" holds 30 keys (many keys under one prefix, more than one
// page of any max-keys below); "f" and everything under "g/" end in delete markers (not listed,
// and "g/" is no common prefix); "d/" nests.
std::vector<std::string> LiveKeys() {
  std::vector<std::string> keys = {"a", "c", "d/x/1", "d/x/2", "d/y", "e", "h/1", "h/2"};
  for (int i = 0; i < 30; ++i) keys.push_back(absl::StrCat("b/", 10 + i));
  return keys;
}
std::vector<std::string> DeletedKeys() { return {"f", "g/1", "g/2"}; }

// One page as "K:key" / "P:prefix" items in key order, then "+" when truncated.
std::string Render(const ListResult& page) {
  std::vector<std::string> items;
  for (const auto& m : page.objects) items.push_back("K:" + m.key());
  for (const auto& p : page.common_prefixes) items.push_back("P:" + p);
  std::sort(items.begin(), items.end(),
            [](const std::string& a, const std::string& b) { return a.substr(2) < b.substr(2); });
  return absl::StrCat(absl::StrJoin(items, " "), page.truncated ? " +" : "");
}

struct Pages {
  std::vector<std::string> rendered;
  std::vector<std::string> tokens;  // next_continuation_token of each page
};

absl::StatusOr<Pages> AllPages(ManifestStore& store, const std::string& bucket,
                               ListRequest request) {
  Pages out;
  while (true) {
    absl::StatusOr<ListResult> page = store.List(bucket, request);
    if (!page.ok()) return page.status();
    out.rendered.push_back(Render(*page));
    out.tokens.push_back(page->next_continuation_token);
    if (!page->truncated) return out;
    if (page->next_continuation_token.empty()) return absl::InternalError("truncated, no token");
    if (out.rendered.size() > 1000) return absl::InternalError("listing does not end");
    request.continuation_token = page->next_continuation_token;
  }
}

ListRequest Request(std::string prefix, std::string delimiter, int max_keys,
                    std::string start_after = "") {
  ListRequest r;
  r.prefix = std::move(prefix);
  r.delimiter = std::move(delimiter);
  r.max_keys = max_keys;
  r.start_after = std::move(start_after);
  return r;
}

class ListingConformanceTest : public ::testing::Test {
 protected:
  struct Store {
    std::string name;
    ManifestStore* store;
    std::string bucket;
  };

  static void SetUpTestSuite() {
    ReplicatedClusterOptions o;
    o.nodes = 4;
    o.data.data_shards = 2;
    o.data.parity_shards = 1;  // metadata: 3 replicas, majority quorums
    o.layout.partitions = 16;
    cluster_ = new ReplicatedTestCluster(o);
    if (!cluster_->status().ok()) return;
    auto gw = cluster_->OpenGateway();
    if (!gw.ok()) {
      setup_ = gw.status();
      return;
    }
    gateway_ = gw->release();
    memory_ = new InMemoryManifestStore();
    ReplicatedManifestStoreOptions no_auto_split;
    no_auto_split.split_threshold = 1 << 20;
    replicated_ = new ReplicatedManifestStore(&gateway_->meta(), no_auto_split);
    stores_ = new std::vector<Store>{{"in-memory", memory_, kBucket},
                                     {"replicated", replicated_, kBucket},
                                     {"replicated, 2 shards", replicated_, kSplitBucket}};
    setup_ = Fill();
    // The split bucket's second shard starts at its median key, "b/29": inside the common
    // prefix "b/", so its listings cross a shard boundary there.
    if (setup_.ok()) setup_ = replicated_->SplitShard(kSplitBucket, 0, /*force=*/true);
  }

  static absl::Status Fill() {
    VersionIdGenerator versions;
    for (const Store& s : *stores_) {
      v1::BucketRecord record;
      record.set_name(s.bucket);
      if (absl::Status st = s.store->CreateBucket(record); !st.ok()) return st;
    }
    auto commit = [&](const std::string& key, bool deleted) -> absl::Status {
      const std::string version = versions.Next();
      for (const Store& s : *stores_) {
        v1::ObjectManifest m;
        m.set_bucket(s.bucket);
        m.set_key(key);
        m.set_version_id(version);
        m.set_size(key.size());
        m.set_delete_marker(deleted);
        if (absl::Status st = s.store->Commit(m, {}).status(); !st.ok()) return st;
      }
      return absl::OkStatus();
    };
    for (const std::string& key : LiveKeys()) {
      if (absl::Status s = commit(key, false); !s.ok()) return s;
    }
    for (const std::string& key : DeletedKeys()) {
      if (absl::Status s = commit(key, false); !s.ok()) return s;
      if (absl::Status s = commit(key, true); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  static void TearDownTestSuite() {
    delete stores_;
    delete replicated_;
    delete memory_;
    delete gateway_;
    delete cluster_;
  }

  void SetUp() override {
    ASSERT_OK(cluster_->status());
    ASSERT_OK(setup_);
  }

  static const std::vector<Store>& Stores() { return *stores_; }

  // Runs `request` on every store and expects `want` (one string per page; see Render).
  void ExpectPages(const ListRequest& request, const std::vector<std::string>& want) {
    SCOPED_TRACE(absl::StrCat("prefix=", request.prefix, " delimiter=", request.delimiter,
                              " max_keys=", request.max_keys,
                              " start_after=", request.start_after));
    std::vector<std::string> first_tokens;
    for (const Store& s : Stores()) {
      SCOPED_TRACE(s.name);
      absl::StatusOr<Pages> got = AllPages(*s.store, s.bucket, request);
      ASSERT_OK(got.status());
      EXPECT_EQ(got->rendered, want);
      // Identical tokens across stores: a token from one store resumes on any other.
      if (first_tokens.empty()) first_tokens = got->tokens;
      EXPECT_EQ(got->tokens, first_tokens);
    }
  }

  static ReplicatedTestCluster* cluster_;
  static ObjectBackend* gateway_;
  static InMemoryManifestStore* memory_;
  static ReplicatedManifestStore* replicated_;
  static std::vector<Store>* stores_;
  static absl::Status setup_;
};

ReplicatedTestCluster* ListingConformanceTest::cluster_ = nullptr;
ObjectBackend* ListingConformanceTest::gateway_ = nullptr;
InMemoryManifestStore* ListingConformanceTest::memory_ = nullptr;
ReplicatedManifestStore* ListingConformanceTest::replicated_ = nullptr;
std::vector<ListingConformanceTest::Store>* ListingConformanceTest::stores_ = nullptr;
absl::Status ListingConformanceTest::setup_;

std::string BKeys(int from, int to) {  // "K:b/from ... K:b/(to-1)"
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(absl::StrCat("K:b/", i));
  return absl::StrJoin(out, " ");
}

TEST_F(ListingConformanceTest, DelimiterAcrossPageBoundaries) {
  // "b/" and its 30 keys are one item; "g/" holds only deleted keys and is not reported.
  ExpectPages(Request("", "/", 2), {"K:a P:b/ +", "K:c P:d/ +", "K:e P:h/"});
  ExpectPages(Request("", "/", 3), {"K:a P:b/ K:c +", "P:d/ K:e P:h/"});
  ExpectPages(Request("", "/", 1000), {"K:a P:b/ K:c P:d/ K:e P:h/"});
}

TEST_F(ListingConformanceTest, MaxKeysOne) {
  ExpectPages(Request("", "/", 1), {"K:a +", "P:b/ +", "K:c +", "P:d/ +", "K:e +", "P:h/"});
  // A page ending on a common prefix is truncated only if something live follows it.
  ExpectPages(Request("h", "/", 1), {"P:h/"});
}

TEST_F(ListingConformanceTest, ManyKeysUnderOnePrefix) {
  ExpectPages(Request("b/", "", 7), {BKeys(10, 17) + " +", BKeys(17, 24) + " +",
                                     BKeys(24, 31) + " +", BKeys(31, 38) + " +", BKeys(38, 40)});
  // With the delimiter the keys directly under "b/" are keys, not prefixes.
  ExpectPages(Request("b/", "/", 15), {BKeys(10, 25) + " +", BKeys(25, 40)});
}

TEST_F(ListingConformanceTest, PrefixAndDelimiter) {
  ExpectPages(Request("d/", "/", 1000), {"P:d/x/ K:d/y"});
  ExpectPages(Request("d/", "/", 1), {"P:d/x/ +", "K:d/y"});
  ExpectPages(Request("d", "/", 1000), {"P:d/"});
  ExpectPages(Request("g/", "/", 1000), {""});  // only delete markers
  ExpectPages(Request("zzz", "/", 1000), {""});
}

TEST_F(ListingConformanceTest, StartAfter) {
  // Inside a common prefix: the prefix is still reported (later keys under it are live).
  ExpectPages(Request("", "/", 1000, "b/15"), {"P:b/ K:c P:d/ K:e P:h/"});
  // After every key of a prefix: it is not.
  ExpectPages(Request("", "/", 1000, "b/9"), {"K:c P:d/ K:e P:h/"});
  ExpectPages(Request("b/", "", 1000, "b/37"), {"K:b/38 K:b/39"});
  // A client sends its start-after with every page (AllPages does). A token that resumes after
  // a common prefix lies after a start-after inside that prefix, though "b/" < "b/20" as
  // strings: before the listing assembler compared them as strings, the start-after won and
  // "b/" came back on every page (the listing never ended).
  ExpectPages(Request("", "/", 1, "b/20"), {"P:b/ +", "K:c +", "P:d/ +", "K:e +", "P:h/"});
  ExpectPages(Request("", "/", 2, "b/20"), {"P:b/ K:c +", "P:d/ K:e +", "P:h/"});
}

TEST_F(ListingConformanceTest, ContinuationTokenRoundTrip) {
  for (const Store& s : Stores()) {
    SCOPED_TRACE(s.name);
    // A token handed out after a common prefix resumes after every key under it, also when the
    // request also carries a start-after before it (the later of the two wins).
    ListRequest r = Request("", "/", 2);
    ASSERT_OK_AND_ASSIGN(ListResult first, s.store->List(s.bucket, r));
    ASSERT_TRUE(first.truncated);
    r.continuation_token = first.next_continuation_token;
    r.start_after = "b/20";
    ASSERT_OK_AND_ASSIGN(ListResult second, s.store->List(s.bucket, r));
    EXPECT_EQ(Render(second), "K:c P:d/ +");
    // Tokens from every other store resume the same way.
    for (const Store& other : Stores()) {
      ListRequest o = Request("", "/", 2);
      ASSERT_OK_AND_ASSIGN(ListResult their_first, other.store->List(other.bucket, o));
      o.continuation_token = their_first.next_continuation_token;
      ASSERT_OK_AND_ASSIGN(ListResult resumed, s.store->List(s.bucket, o));
      EXPECT_EQ(Render(resumed), "K:c P:d/ +") << "token from " << other.name;
    }
    // A start-after later than the token wins.
    r.start_after = "d/x/1";
    ASSERT_OK_AND_ASSIGN(ListResult later, s.store->List(s.bucket, r));
    EXPECT_EQ(Render(later), "P:d/ K:e +");
  }
}

TEST_F(ListingConformanceTest, GarbageTokensAreInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(ListResult page, memory_->List(kBucket, Request("", "/", 1)));
  ASSERT_TRUE(page.truncated);
  const std::string good = page.next_continuation_token;
  std::string tampered_tag = good;  // the first byte names the token's kind ("K" / "P")
  tampered_tag[0] = tampered_tag[0] == '5' ? '6' : '5';
  for (const Store& s : Stores()) {
    SCOPED_TRACE(s.name);
    for (const std::string& token :
         {std::string("not a token"), std::string("4"), std::string("zz"), std::string("58"),
          good.substr(0, good.size() - 1), tampered_tag, good + "g"}) {
      SCOPED_TRACE(token);
      ListRequest r = Request("", "/", 1);
      r.continuation_token = token;
      EXPECT_THAT(s.store->List(s.bucket, r).status(),
                  StatusIs(absl::StatusCode::kInvalidArgument));
    }
  }
}

TEST_F(ListingConformanceTest, MaxKeysOutOfRangeIsInvalidArgument) {
  for (const Store& s : Stores()) {
    for (int max_keys : {0, -1, 1001}) {
      EXPECT_THAT(s.store->List(s.bucket, Request("", "", max_keys)).status(),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << s.name << " max_keys=" << max_keys;
    }
  }
}

}  // namespace
}  // namespace tessera::services
