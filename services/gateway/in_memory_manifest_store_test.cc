#include "services/gateway/in_memory_manifest_store.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/gateway/version_id.h"

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
  // A delete marker on top ("v1" sorts before "v2": newer) leaves it empty.
  ASSERT_OK(store.PutIfAbsent(Object("b", "k", "v1", /*marker=*/true)));
  EXPECT_OK(store.DeleteBucketIfEmpty("b"));
  EXPECT_THAT(store.DeleteBucketIfEmpty("b"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store.PutIfAbsent(Object("b", "k", "v3")), StatusIs(absl::StatusCode::kNotFound));
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
