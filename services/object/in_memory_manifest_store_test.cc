#include "services/object/in_memory_manifest_store.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_reasons.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/version_id.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

v1::BucketRecord Bucket(const std::string& name) {
  v1::BucketRecord r;
  r.set_name(name);
  return r;
}

v1::ObjectManifest Object(const std::string& bucket, const std::string& key,
                          const std::string& version, bool marker = false) {
  v1::ObjectManifest m;
  m.set_bucket(bucket);
  m.set_key(key);
  m.set_version_id(version);
  m.set_delete_marker(marker);
  return m;
}

TEST(InMemoryManifestStoreTest, ConcurrentBucketCreationHasExactlyOneWinner) {
  InMemoryManifestStore store;
  std::atomic<int> winners{0};
  std::atomic<int> exists{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      v1::BucketRecord r = Bucket("race");
      r.set_owner(absl::StrCat("owner", i));
      absl::Status s = store.CreateBucket(r);
      if (s.ok()) ++winners;
      if (absl::IsAlreadyExists(s)) ++exists;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(winners.load(), 1);
  EXPECT_EQ(exists.load(), 7);
  ASSERT_OK_AND_ASSIGN(v1::BucketRecord r, store.GetBucket("race"));
  EXPECT_EQ(r.name(), "race");
}

TEST(InMemoryManifestStoreTest, BucketLifecycle) {
  InMemoryManifestStore store;
  EXPECT_THAT(store.GetBucket("b"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(store.CreateBucket(Bucket("b")));
  ASSERT_OK(store.CreateBucket(Bucket("a")));
  ASSERT_OK_AND_ASSIGN(auto buckets, store.ListBuckets());
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(buckets[0].name(), "a");
  ASSERT_OK(store.PutIfAbsent(Object("b", "k", "v2")));
  EXPECT_THAT(store.DeleteBucketIfEmpty("b"),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("not empty")));
  EXPECT_TRUE(IsBucketNotEmpty(store.DeleteBucketIfEmpty("b")));  // typed, for S3 and gRPC
  // A delete marker on top ("v1" sorts before "v2": newer) leaves it empty.
  ASSERT_OK(store.PutIfAbsent(Object("b", "k", "v1", /*marker=*/true)));
  EXPECT_OK(store.DeleteBucketIfEmpty("b"));
  EXPECT_THAT(store.DeleteBucketIfEmpty("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_TRUE(IsNoSuchBucket(store.DeleteBucketIfEmpty("b")));
  EXPECT_TRUE(IsNoSuchBucket(store.GetBucket("b").status()));
  EXPECT_TRUE(IsNoSuchBucket(store.GetLatest("b", "k").status()));
  EXPECT_THAT(store.PutIfAbsent(Object("b", "k", "v3")), StatusIs(absl::StatusCode::kNotFound));
}

// Commit: one decision per write on the key's head register (manifest_store.h).
TEST(InMemoryManifestStoreTest, CommitsOrderVersionsAndDecideConditions) {
  InMemoryManifestStore store;
  ASSERT_OK(store.CreateBucket(Bucket("b")));
  VersionIdGenerator ids;
  const std::string old_id = ids.Next(), new_id = ids.Next(), third_id = ids.Next();
  // Committed in the opposite order of their ids: the commit order decides.
  v1::ObjectManifest striped = Object("b", "k", new_id);
  striped.add_parts()->add_stripes()->set_index(0);
  striped.set_created_unix_micros(100);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest first, store.Commit(striped, {}));
  EXPECT_EQ(first.commit_sequence(), 1u);
  v1::ObjectManifest later = Object("b", "k", old_id);
  later.set_etag("\"e2\"");
  later.set_created_unix_micros(200);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest second, store.Commit(later, {}));
  EXPECT_EQ(second.commit_sequence(), 2u);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest latest, store.GetLatest("b", "k"));
  EXPECT_EQ(latest.version_id(), old_id);
  // The striped version it replaced is kept, superseded at the replacing commit's time.
  ASSERT_OK_AND_ASSIGN(std::vector<KeyVersions> versions, store.ScanVersions("b", "", 10));
  ASSERT_EQ(versions.size(), 1u);
  ASSERT_EQ(versions[0].versions.size(), 2u);
  EXPECT_EQ(versions[0].versions[0].version_id(), old_id);
  EXPECT_EQ(versions[0].versions[1].version_id(), new_id);
  EXPECT_EQ(versions[0].versions[1].superseded_unix_micros(), 200);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest got, store.Get("b", "k", new_id));
  EXPECT_EQ(got.commit_sequence(), 1u);
  ASSERT_OK_AND_ASSIGN(got, store.Get("b", "k", old_id));  // the head holds it
  EXPECT_EQ(got.commit_sequence(), 2u);
  // Idempotent: the head's own version commits again without a new position.
  ASSERT_OK_AND_ASSIGN(got, store.Commit(later, {}));
  EXPECT_EQ(got.commit_sequence(), 2u);

  // Conditions, decided against the head.
  CommitCondition none_match;
  none_match.if_none_match = true;
  EXPECT_TRUE(IsConditionNotMet(store.Commit(Object("b", "k", third_id), none_match).status()));
  CommitCondition match;
  match.if_match = "\"stale\"";
  EXPECT_TRUE(IsConditionNotMet(store.Commit(Object("b", "k", third_id), match).status()));
  EXPECT_THAT(store.Commit(Object("b", "absent", third_id), match).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("no such key")));
  match.if_match = "e2";  // unquoted matches too
  ASSERT_OK(store.Commit(Object("b", "k", third_id, /*marker=*/true), match).status());
  // The inline version replaced by the marker held nothing to collect: not kept.
  ASSERT_OK_AND_ASSIGN(versions, store.ScanVersions("b", "", 10));
  ASSERT_EQ(versions[0].versions.size(), 2u);
  EXPECT_TRUE(versions[0].versions[0].delete_marker());
  EXPECT_THAT(store.Get("b", "k", old_id), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(store.Commit(Object("b", "k", ids.Next()), none_match).status());  // over a marker
  CommitCondition live;
  live.if_live = true;
  EXPECT_THAT(store.Commit(Object("b", "gone", ids.Next(), true), live).status(),
              StatusIs(absl::StatusCode::kNotFound));

  // A key written before head registers: its newest entry counts until the first commit.
  ASSERT_OK(store.PutIfAbsent(Object("b", "legacy", ids.Next())));
  EXPECT_TRUE(
      IsConditionNotMet(store.Commit(Object("b", "legacy", ids.Next()), none_match).status()));
  const std::string head_id = ids.Next();
  ASSERT_OK(store.Commit(Object("b", "legacy", head_id), {}).status());
  ASSERT_OK_AND_ASSIGN(latest, store.GetLatest("b", "legacy"));
  EXPECT_EQ(latest.version_id(), head_id);
  // CompareAndSet reaches the head's version; removing it leaves the older entry.
  ASSERT_OK(store.CompareAndSet("b", "legacy", head_id,
                                [](const std::optional<v1::ObjectManifest>& cur)
                                    -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                  EXPECT_TRUE(cur.has_value());
                                  return std::optional<v1::ObjectManifest>();
                                }));
  ASSERT_OK_AND_ASSIGN(latest, store.GetLatest("b", "legacy"));
  EXPECT_NE(latest.version_id(), head_id);
}

TEST(InMemoryManifestStoreTest, VersionsNewestFirstAndCompareAndSet) {
  InMemoryManifestStore store;
  ASSERT_OK(store.CreateBucket(Bucket("b")));
  VersionIdGenerator gen;
  const std::string older = gen.Next();
  const std::string newer = gen.Next();
  ASSERT_OK(store.PutIfAbsent(Object("b", "k", older)));
  ASSERT_OK(store.PutIfAbsent(Object("b", "k", newer)));
  EXPECT_THAT(store.PutIfAbsent(Object("b", "k", newer)),
              StatusIs(absl::StatusCode::kAlreadyExists));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest latest, store.GetLatest("b", "k"));
  EXPECT_EQ(latest.version_id(), newer);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest got, store.Get("b", "k", older));
  EXPECT_EQ(got.version_id(), older);

  // CAS: set a field on the existing entry, then remove it; an error aborts unchanged.
  ASSERT_OK(store.CompareAndSet("b", "k", older,
                                [](const std::optional<v1::ObjectManifest>& cur)
                                    -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                  EXPECT_TRUE(cur.has_value());
                                  v1::ObjectManifest next = *cur;
                                  next.set_etag("\"x\"");
                                  return next;
                                }));
  ASSERT_OK_AND_ASSIGN(got, store.Get("b", "k", older));
  EXPECT_EQ(got.etag(), "\"x\"");
  EXPECT_THAT(store.CompareAndSet("b", "k", older,
                                  [](const std::optional<v1::ObjectManifest>&)
                                      -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                    return absl::FailedPreconditionError("etag differs");
                                  }),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK(store.CompareAndSet(
      "b", "k", newer,
      [](const std::optional<v1::ObjectManifest>&)
          -> absl::StatusOr<std::optional<v1::ObjectManifest>> { return std::nullopt; }));
  ASSERT_OK_AND_ASSIGN(latest, store.GetLatest("b", "k"));
  EXPECT_EQ(latest.version_id(), older);
  EXPECT_THAT(store.CompareAndSet("b", "k", older,
                                  [](const std::optional<v1::ObjectManifest>& cur)
                                      -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                    v1::ObjectManifest next = *cur;
                                    next.set_key("other");
                                    return next;
                                  }),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

class ListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(store_.CreateBucket(Bucket("b")));
    for (const char* key : {"a", "b/1", "b/2", "b/3", "c", "d/x/1", "d/y", "e"}) {
      ASSERT_OK(store_.PutIfAbsent(Object("b", key, "v9")));
    }
    ASSERT_OK(store_.PutIfAbsent(Object("b", "c", "v1", /*marker=*/true)));  // "c" is deleted
  }

  // Every key and prefix over all pages of `request`.
  std::vector<std::string> All(ListRequest request, int* pages) {
    std::vector<std::string> out;
    *pages = 0;
    while (true) {
      auto page = store_.List("b", request);
      EXPECT_OK(page.status());
      if (!page.ok()) return out;
      ++*pages;
      for (const auto& m : page->objects) out.push_back(m.key());
      for (const auto& p : page->common_prefixes) out.push_back(absl::StrCat("P:", p));
      if (!page->truncated) return out;
      request.continuation_token = page->next_continuation_token;
    }
  }

  InMemoryManifestStore store_;
};

TEST_F(ListTest, FlatListingPagesAndSkipsDeletedKeys) {
  ListRequest r;
  r.max_keys = 3;
  int pages = 0;
  EXPECT_EQ(All(r, &pages),
            (std::vector<std::string>{"a", "b/1", "b/2", "b/3", "d/x/1", "d/y", "e"}));
  EXPECT_EQ(pages, 3);
}

TEST_F(ListTest, DelimiterGroupsCommonPrefixesAcrossPages) {
  ListRequest r;
  r.delimiter = "/";
  r.max_keys = 1;
  int pages = 0;
  std::vector<std::string> all = All(r, &pages);
  // Objects and prefixes interleave in key order, one per page.
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<std::string>{"P:b/", "P:d/", "a", "e"}));
  EXPECT_EQ(pages, 4);
}

TEST_F(ListTest, PrefixDelimiterAndStartAfter) {
  ListRequest r;
  r.prefix = "d/";
  r.delimiter = "/";
  ASSERT_OK_AND_ASSIGN(ListResult page, store_.List("b", r));
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key(), "d/y");
  EXPECT_EQ(page.common_prefixes, (std::vector<std::string>{"d/x/"}));
  EXPECT_FALSE(page.truncated);

  ListRequest after;
  after.start_after = "b/2";
  int pages = 0;
  EXPECT_EQ(All(after, &pages), (std::vector<std::string>{"b/3", "d/x/1", "d/y", "e"}));
}

TEST_F(ListTest, RejectsBadRequests) {
  ListRequest r;
  r.continuation_token = "zz";
  EXPECT_THAT(store_.List("b", r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.continuation_token.clear();
  r.max_keys = 0;
  EXPECT_THAT(store_.List("b", r), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(store_.List("nope", ListRequest()), StatusIs(absl::StatusCode::kNotFound));
}

TEST(VersionIdTest, NewerIdsSortFirstAndCarryTheirTime) {
  VersionIdGenerator gen;
  std::string prev = gen.Next();
  ASSERT_EQ(prev.size(), kVersionIdSize);
  for (int i = 0; i < 1000; ++i) {
    std::string next = gen.Next();
    EXPECT_LT(next, prev);
    EXPECT_GT(VersionIdMicros(next), VersionIdMicros(prev));
    prev = next;
  }
  const int64_t now = absl::ToUnixMicros(absl::Now());
  EXPECT_LT(std::abs(VersionIdMicros(prev) - now), 60 * 1000 * 1000);
  EXPECT_EQ(VersionIdMicros("short"), 0);
}

}  // namespace
}  // namespace tessera::services
