// The SDK against real processes: 6 tessera-node (3 sites) + tessera-gateway. Byte-exact
// round trips at every size boundary, ranges across stripe boundaries, a 1 GiB streamed
// object, bucket and listing semantics, and actionable errors.
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kStripe = 1 << 20;  // k = 4: slices of 256 KiB
constexpr uint64_t kSlice = kStripe / 4;
constexpr uint64_t kInline = 64 << 10;  // the gateway's default inline threshold

class SdkClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ProcessClusterOptions o;
    o.stripe_size = kStripe;
    cluster_ = new ProcessCluster(o);
    ASSERT_TRUE(cluster_->client().CreateBucket("data").ok());
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }
  sdk::Client& client() { return cluster_->client(); }
  static ProcessCluster* cluster_;
};
ProcessCluster* SdkClusterTest::cluster_ = nullptr;

TEST_F(SdkClusterTest, RoundTripsEverySizeBoundary) {
  const uint64_t sizes[] = {0,           1,          kInline - 1, kInline,
                            kInline + 1, kSlice - 1, kSlice,      kSlice + 1,
                            kStripe - 1, kStripe,    kStripe + 1, 3 * kStripe + kSlice + 7};
  for (uint64_t size : sizes) {
    SCOPED_TRACE(size);
    const std::string key = absl::StrCat("size/", size);
    const std::string data = TestBytes(size, size + 1);
    auto put = client().PutObject("data", key, data);
    ASSERT_TRUE(put.ok()) << put.status();
    EXPECT_EQ(put->size, size);
    auto got = client().GetObject("data", key);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_TRUE(*got == data) << "bytes differ";
    auto head = client().HeadObject("data", key);
    ASSERT_TRUE(head.ok()) << head.status();
    EXPECT_EQ(head->size, size);
    EXPECT_EQ(head->etag, put->etag);
    EXPECT_FALSE(head->degraded);
  }
}

TEST_F(SdkClusterTest, RangesAtStripeBoundaries) {
  const uint64_t size = 4 * kStripe + 123;
  const std::string data = TestBytes(size, 77);
  ASSERT_TRUE(client().PutObject("data", "ranges", data).ok());
  struct Case {
    uint64_t offset, length;
  };
  const Case cases[] = {{0, 1},
                        {kStripe - 1, 2},
                        {kStripe, kStripe},
                        {kStripe - 10, kStripe + 20},
                        {2 * kStripe + kSlice - 1, 3},
                        {4 * kStripe, 0},
                        {size - 1, 0},
                        {size - 5, 100},  // cut to the end
                        {size, 0}};       // empty
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.offset, "+", c.length));
    sdk::GetOptions o;
    o.offset = c.offset;
    o.length = c.length;
    auto got = client().GetObject("data", "ranges", o);
    ASSERT_TRUE(got.ok()) << got.status();
    const uint64_t want = c.length == 0 ? size - c.offset : std::min(c.length, size - c.offset);
    EXPECT_TRUE(*got == data.substr(c.offset, want));
  }
  sdk::GetOptions past;
  past.offset = size + 1;
  auto bad = client().GetObject("data", "ranges", past);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kOutOfRange) << bad.status();
}

TEST_F(SdkClusterTest, StreamsA1GiBObjectWithProgress) {
  // 1 GiB streamed both ways (about 10 s here); TESSERA_BIG_OBJECT_MIB overrides the size.
  uint64_t mib = 1024;
  if (const char* env = std::getenv("TESSERA_BIG_OBJECT_MIB"))
    mib = std::strtoull(env, nullptr, 10);
  const uint64_t size = mib << 20;
  // Streamed from a generator (never all in memory on this side) of unknown size.
  uint64_t produced = 0;
  uint64_t x = 12345;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  sdk::ReaderFn reader = [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    size_t n = std::min<uint64_t>(cap, size - produced) & ~size_t{7};
    for (size_t i = 0; i < n; i += 8) {
      const uint64_t v = next();
      std::memcpy(buf + i, &v, 8);
    }
    produced += n;
    return n;
  };
  uint64_t last_progress = 0;
  sdk::PutOptions po;
  po.progress = [&](uint64_t done, int64_t total) {
    EXPECT_EQ(total, -1);
    EXPECT_GE(done, last_progress);
    last_progress = done;
  };
  auto put = client().PutObjectFromReader("data", "big", reader, -1, po);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->size, size);
  EXPECT_EQ(last_progress, size);

  // Read back through a sink and compare against the regenerated stream.
  x = 12345;
  uint64_t checked = 0;
  std::string carry;
  bool same = true;
  auto info = client().GetObjectToSink("data", "big", [&](absl::string_view d) {
    carry.append(d.data(), d.size());
    size_t i = 0;
    for (; i + 8 <= carry.size(); i += 8) {
      uint64_t v;
      std::memcpy(&v, carry.data() + i, 8);
      same &= v == next();
    }
    carry.erase(0, i);
    checked += i;
    return absl::OkStatus();
  });
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_TRUE(same);
  EXPECT_EQ(checked, size);
  EXPECT_TRUE(carry.empty());
  ASSERT_TRUE(client().DeleteObject("data", "big").ok());
}

TEST_F(SdkClusterTest, BucketsListingAndErrors) {
  ASSERT_TRUE(client().CreateBucket("listing").ok());
  EXPECT_EQ(client().CreateBucket("listing").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(client().CreateBucket("Bad_Name").status().code(), absl::StatusCode::kInvalidArgument);
  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(client().PutObject("listing", absl::StrCat("k/", 100 + i), "x").ok());
  }
  ASSERT_TRUE(client().PutObject("listing", "top", "y").ok());
  // Paging helper over pages of 7.
  sdk::ListOptions lo;
  lo.max_keys = 7;
  std::vector<std::string> keys;
  ASSERT_TRUE(client()
                  .ListAllObjects("listing", lo,
                                  [&](const sdk::ObjectInfo& o) {
                                    keys.push_back(o.key);
                                    return absl::OkStatus();
                                  })
                  .ok());
  ASSERT_EQ(keys.size(), 26u);
  EXPECT_EQ(keys.front(), "k/100");
  EXPECT_EQ(keys.back(), "top");
  // Delimiter groups.
  lo = {};
  lo.delimiter = "/";
  auto page = client().ListObjects("listing", lo);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->common_prefixes.size(), 1u);
  EXPECT_EQ(page->common_prefixes[0], "k/");
  ASSERT_EQ(page->objects.size(), 1u);

  auto missing = client().GetObject("listing", "nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos) << missing.status();
  EXPECT_EQ(client().DeleteBucket("listing").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client().HeadBucket("nobucket").status().code(), absl::StatusCode::kNotFound);
  // if_none_match
  sdk::PutOptions once;
  once.if_none_match = true;
  EXPECT_EQ(client().PutObject("listing", "top", "z", once).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto top = client().GetObject("listing", "top");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(*top, "y");
  // A reader that fails part way: nothing becomes visible.
  int calls = 0;
  sdk::ReaderFn failing = [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    if (++calls > 3) return absl::DataLossError("disk went away");
    std::memset(buf, 'a', cap);
    return cap;
  };
  auto partial = client().PutObjectFromReader("listing", "partial", failing, -1);
  EXPECT_EQ(partial.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(client().HeadObject("listing", "partial").status().code(), absl::StatusCode::kNotFound);
  // Declared size larger than what is sent: refused, not stored.
  std::string three = "abc";
  size_t pos = 0;
  sdk::ReaderFn short_reader = [&](char* buf, size_t cap) -> absl::StatusOr<size_t> {
    const size_t n = std::min(cap, three.size() - pos);
    std::memcpy(buf, three.data() + pos, n);
    pos += n;
    return n;
  };
  auto short_put = client().PutObjectFromReader("listing", "short", short_reader, 10);
  EXPECT_EQ(short_put.status().code(), absl::StatusCode::kInvalidArgument) << short_put.status();
  EXPECT_EQ(client().HeadObject("listing", "short").status().code(), absl::StatusCode::kNotFound);

  auto status = client().GetClusterStatus();
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->nodes.size(), 6u);
  EXPECT_EQ(status->data_shards, 4u);
  EXPECT_EQ(status->parity_shards, 2u);
}

TEST(SdkConnectTest, NothingListeningIsAClearError) {
  sdk::ClientOptions o;
  o.connect_timeout = absl::Milliseconds(300);
  auto c = sdk::Client::Connect("127.0.0.1:1", o);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace tessera::testing
