// Unit tests of ListingAssembler over a plain sorted map (the walk every store does). The same
// S3 cases against the real stores: listing_conformance_test.
#include "services/object/listing_assembler.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

using Keys = std::map<std::string, v1::ObjectManifest>;

Keys Make(const std::vector<std::string>& live, const std::vector<std::string>& deleted = {}) {
  Keys keys;
  for (const auto& k : live) keys[k].set_key(k);
  for (const auto& k : deleted) {
    keys[k].set_key(k);
    keys[k].set_delete_marker(true);
  }
  return keys;
}

ListRequest Request(std::string prefix, std::string delimiter, int max_keys,
                    std::string start_after = "", std::string token = "") {
  ListRequest r;
  r.prefix = std::move(prefix);
  r.delimiter = std::move(delimiter);
  r.max_keys = max_keys;
  r.start_after = std::move(start_after);
  r.continuation_token = std::move(token);
  return r;
}

// One page, walked as the stores do; *offered counts the keys handed to Add.
absl::StatusOr<ListResult> Page(const Keys& keys, const ListRequest& request,
                                int* offered = nullptr) {
  absl::StatusOr<ListingAssembler> a = ListingAssembler::Start(request);
  if (!a.ok()) return a.status();
  int n = 0;
  for (auto it = keys.lower_bound(a->lower()); it != keys.end() && !a->done();) {
    ++n;
    switch (a->Add(it->first, it->second)) {
      case ListingAssembler::Step::kNext:
        ++it;
        break;
      case ListingAssembler::Step::kSeek:
        it = keys.lower_bound(a->seek_to());
        break;
      case ListingAssembler::Step::kDone:
        it = keys.end();
        break;
    }
  }
  if (offered != nullptr) *offered = n;
  return std::move(*a).Finish();
}

std::string Render(const ListResult& page) {
  std::vector<std::string> items;
  for (const auto& m : page.objects) items.push_back("K:" + m.key());
  for (const auto& p : page.common_prefixes) items.push_back("P:" + p);
  std::sort(items.begin(), items.end(),
            [](const std::string& a, const std::string& b) { return a.substr(2) < b.substr(2); });
  return absl::StrCat(absl::StrJoin(items, " "), page.truncated ? " +" : "");
}

TEST(ContinuationTokenTest, RoundTripsKeysAndPrefixes) {
  for (bool is_prefix : {false, true}) {
    for (const std::string& key :
         {std::string(""), std::string("a/b"), std::string("\0\xff\x80 ", 4)}) {
      bool got_prefix = !is_prefix;
      std::string got_key = "x";
      ASSERT_OK(
          DecodeContinuationToken(EncodeContinuationToken(is_prefix, key), &got_prefix, &got_key));
      EXPECT_EQ(got_prefix, is_prefix);
      EXPECT_EQ(got_key, key);
    }
  }
  // The format is fixed (tokens outlive gateway versions): hex of "K"/"P" + key.
  EXPECT_EQ(EncodeContinuationToken(false, "a"), "4b61");
  EXPECT_EQ(EncodeContinuationToken(true, "a/"), "50612f");
}

TEST(ContinuationTokenTest, GarbageIsInvalidArgument) {
  bool is_prefix = false;
  std::string key;
  for (const char* token : {"", "4", "zz", "4g", "58", "6061", "4b6", " 4b61"}) {
    EXPECT_THAT(DecodeContinuationToken(token, &is_prefix, &key),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << token;
  }
}

TEST(PrefixSuccessorTest, SmallestStringAfterEveryExtension) {
  EXPECT_EQ(PrefixSuccessor("a/"), "a0");
  EXPECT_EQ(PrefixSuccessor("a\xff"), "b");
  EXPECT_EQ(PrefixSuccessor("\xff\xff"), "");
  EXPECT_EQ(PrefixSuccessor(""), "");
}

TEST(ListingAssemblerTest, StartValidates) {
  for (int max_keys : {0, -1, 1001}) {
    EXPECT_THAT(ListingAssembler::Start(Request("", "", max_keys)).status(),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(ListingAssembler::Start(Request("", "", 5, "", "nope")).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_OK(ListingAssembler::Start(Request("", "", 1)).status());
  EXPECT_OK(ListingAssembler::Start(Request("", "", 1000)).status());
}

TEST(ListingAssemblerTest, BoundsTheLaterOfStartAfterAndToken) {
  auto bounds = [](const ListRequest& r) {
    absl::StatusOr<ListingAssembler> a = ListingAssembler::Start(r);
    EXPECT_OK(a.status());
    return std::make_pair(a->lower(), a->end());
  };
  EXPECT_EQ(bounds(Request("p/", "", 5)), std::make_pair(std::string("p/"), std::string("p0")));
  EXPECT_EQ(bounds(Request("", "", 5, "k")).first, std::string("k\0", 2));
  EXPECT_EQ(bounds(Request("", "", 5)).second, "");
  // After common prefix "b/" is later than start-after "b/20" (the string "b/" is not).
  EXPECT_EQ(bounds(Request("", "/", 5, "b/20", EncodeContinuationToken(true, "b/"))).first, "b0");
  // A start-after later than the token wins.
  EXPECT_EQ(bounds(Request("", "", 5, "m", EncodeContinuationToken(false, "c"))).first,
            std::string("m\0", 2));
  // Nothing sorts after a prefix of 0xff bytes: the page is complete before it starts.
  absl::StatusOr<ListingAssembler> a =
      ListingAssembler::Start(Request("", "\xff", 5, "", EncodeContinuationToken(true, "\xff")));
  ASSERT_OK(a.status());
  EXPECT_TRUE(a->done());
  EXPECT_EQ(Render(std::move(*a).Finish()), "");
}

TEST(ListingAssemblerTest, CommonPrefixReportedOnceAndSkippedWhole) {
  std::vector<std::string> live = {"a", "c"};
  for (int i = 0; i < 100; ++i) live.push_back(absl::StrCat("b/", 100 + i));
  const Keys keys = Make(live);
  int offered = 0;
  ASSERT_OK_AND_ASSIGN(ListResult page, Page(keys, Request("", "/", 1000), &offered));
  EXPECT_EQ(Render(page), "K:a P:b/ K:c");
  EXPECT_EQ(offered, 3);  // the walk seeks over the 99 other keys under "b/"
  // A page ending on the prefix resumes after every key under it.
  ASSERT_OK_AND_ASSIGN(page, Page(keys, Request("", "/", 2)));
  EXPECT_EQ(Render(page), "K:a P:b/ +");
  EXPECT_EQ(page.next_continuation_token, EncodeContinuationToken(true, "b/"));
  ASSERT_OK_AND_ASSIGN(page,
                       Page(keys, Request("", "/", 2, "", page.next_continuation_token), &offered));
  EXPECT_EQ(Render(page), "K:c");
  EXPECT_EQ(offered, 1);
}

TEST(ListingAssemblerTest, TruncatedOnlyWhenSomethingListableFollows) {
  const Keys keys = Make({"a", "b"}, {"c", "d/1"});
  ASSERT_OK_AND_ASSIGN(ListResult page, Page(keys, Request("", "/", 2)));
  EXPECT_EQ(Render(page), "K:a K:b");  // only delete markers after "b"
  ASSERT_OK_AND_ASSIGN(page, Page(keys, Request("", "/", 1)));
  EXPECT_EQ(Render(page), "K:a +");
  EXPECT_EQ(page.next_continuation_token, EncodeContinuationToken(false, "a"));
}

TEST(ListingAssemblerTest, DeleteMarkersFormNoCommonPrefix) {
  const Keys keys = Make({"x/2"}, {"g/1", "x/1"});
  ASSERT_OK_AND_ASSIGN(ListResult page, Page(keys, Request("", "/", 10)));
  EXPECT_EQ(Render(page), "P:x/");
}

TEST(ListingAssemblerTest, PrefixAndDelimiter) {
  const Keys keys = Make({"d/x/1", "d/x/2", "d/y", "dz", "e"});
  ASSERT_OK_AND_ASSIGN(ListResult page, Page(keys, Request("d/", "/", 10)));
  EXPECT_EQ(Render(page), "P:d/x/ K:d/y");
  ASSERT_OK_AND_ASSIGN(page, Page(keys, Request("d", "/", 10)));
  EXPECT_EQ(Render(page), "P:d/ K:dz");
  // A multi-byte delimiter.
  const Keys words = Make({"a--b", "a--c", "a-d"});
  ASSERT_OK_AND_ASSIGN(page, Page(words, Request("", "--", 10)));
  EXPECT_EQ(Render(page), "P:a-- K:a-d");
}

TEST(ListingAssemblerTest, KeysOutsideTheRange) {
  ASSERT_OK_AND_ASSIGN(ListingAssembler a, ListingAssembler::Start(Request("p/", "", 10, "p/m")));
  v1::ObjectManifest m;
  // Below the lower bound: the walk is asked to seek.
  EXPECT_EQ(a.Add("p/a", m), ListingAssembler::Step::kSeek);
  EXPECT_EQ(a.seek_to(), std::string("p/m\0", 4));
  m.set_key("p/n");
  EXPECT_EQ(a.Add("p/n", m), ListingAssembler::Step::kNext);
  // Past the prefix: the page is complete, and stays complete.
  EXPECT_EQ(a.Add("q", m), ListingAssembler::Step::kDone);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(a.Add("p/z", m), ListingAssembler::Step::kDone);
  EXPECT_EQ(Render(std::move(a).Finish()), "K:p/n");
}

}  // namespace
}  // namespace tessera::services
