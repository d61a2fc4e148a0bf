// Unit tests of the SliceService rules with no gRPC: the core over an in-memory store.
#include "services/node/slice_service_core.h"

#include <map>
#include <string>
#include <vector>

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/node/fake_slice_store.h"
#include "storage/slice/crc32c.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;

std::string Bytes(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

v1::SliceId WireId(uint32_t index, char fill = 'v') {
  v1::SliceId id;
  id.set_version_id(std::string(16, fill));
  id.set_stripe(2);
  id.set_index(index);
  return id;
}

class SliceServiceCoreTest : public ::testing::Test {
 protected:
  SliceServiceCoreTest() : store_(1 << 20), core_(&store_, Options(), Description()) {}

  static SliceServiceOptions Options() {
    SliceServiceOptions o;
    o.max_slice_bytes = 1 << 20;
    o.chunk_bytes = 4096;
    o.max_buffered_put_bytes = 2 << 20;
    o.default_page_size = 3;
    o.max_page_size = 5;
    return o;
  }
  static NodeDescription Description() {
    NodeDescription d;
    d.node_id = "00112233445566778899aabbccddeeff";
    d.public_key = std::string(32, 'k');
    d.location.set_site("s1");
    d.location.set_zone("z1");
    d.version = "test";
    return d;
  }

  // Streams `data` as PutSlice messages of `chunk` bytes, declaring `length` and `crc`.
  absl::StatusOr<v1::PutSliceResponse> Put(const v1::SliceId& id, const std::string& data,
                                           uint64_t length, uint32_t crc, size_t chunk = 4096) {
    auto stream = core_.NewPutStream();
    v1::PutSliceRequest first;
    *first.mutable_id() = id;
    first.set_length(length);
    first.set_crc32c(crc);
    size_t pos = 0;
    first.set_data(data.substr(0, chunk));
    pos = first.data().size();
    if (absl::Status s = stream->Add(first); !s.ok()) return s;
    while (pos < data.size()) {
      v1::PutSliceRequest next;
      next.set_data(data.substr(pos, chunk));
      pos += next.data().size();
      if (absl::Status s = stream->Add(next); !s.ok()) return s;
    }
    return stream->Finish();
  }
  absl::StatusOr<v1::PutSliceResponse> Put(const v1::SliceId& id, const std::string& data) {
    return Put(id, data, data.size(), storage::crc32c::Value(data));
  }

  absl::StatusOr<std::string> Get(const v1::SliceId& id, uint64_t offset = 0, uint64_t length = 0,
                                  int* messages = nullptr) {
    v1::GetSliceRequest req;
    *req.mutable_id() = id;
    req.set_offset(offset);
    req.set_length(length);
    absl::StatusOr<std::unique_ptr<SliceServiceCore::GetStream>> stream = core_.OpenGet(req);
    if (!stream.ok()) return stream.status();
    std::string out;
    int count = 0;
    for (;;) {
      absl::StatusOr<std::optional<v1::GetSliceResponse>> msg = (*stream)->Next();
      if (!msg.ok()) return msg.status();
      if (!msg->has_value()) break;
      // total_length comes on the first message only.
      EXPECT_EQ((*msg)->total_length(),
                count == 0 ? store_.Stat(*SliceIdFromProto(id))->length : 0u);
      EXPECT_LE((*msg)->data().size(), 4096u);
      out += (*msg)->data();
      ++count;
    }
    if (messages != nullptr) *messages = count;
    return out;
  }

  testing::FakeSliceStore store_;
  SliceServiceCore core_;
};

TEST_F(SliceServiceCoreTest, PutThenGetWholeAndRanges) {
  const std::string data = Bytes(10000, 1);
  auto put = Put(WireId(0), data);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(put->length(), data.size());
  int messages = 0;
  auto got = Get(WireId(0), 0, 0, &messages);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
  EXPECT_EQ(messages, 3);  // 4096 + 4096 + 1808
  EXPECT_EQ(*Get(WireId(0), 5000, 0), data.substr(5000));
  EXPECT_EQ(*Get(WireId(0), 4095, 2), data.substr(4095, 2));
  EXPECT_EQ(*Get(WireId(0), 10000, 0), "");  // empty tail is allowed
  EXPECT_THAT(Get(WireId(0), 10001, 0), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(Get(WireId(0), 9000, 1001), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_EQ(store_.puts(), 1);
}

TEST_F(SliceServiceCoreTest, EmptySliceRoundTrips) {
  ASSERT_TRUE(Put(WireId(1), "").ok());
  int messages = 0;
  auto got = Get(WireId(1), 0, 0, &messages);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "");
  EXPECT_EQ(messages, 1);  // the first message always comes, carrying total_length
}

TEST_F(SliceServiceCoreTest, WrongChecksumIsDataLossAndStoresNothing) {
  const std::string data = Bytes(5000, 2);
  EXPECT_THAT(Put(WireId(0), data, data.size(), storage::crc32c::Value(data) ^ 1),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(Get(WireId(0)), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store_.Stats().slice_count, 0u);
}

TEST_F(SliceServiceCoreTest, OversizedIsInvalidArgumentBeforeAnyData) {
  EXPECT_THAT(Put(WireId(0), "abc", (1 << 20) + 1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_slice_bytes")));
  EXPECT_EQ(core_.buffered_put_bytes(), 0u);
  EXPECT_EQ(store_.Stats().slice_count, 0u);
}

TEST_F(SliceServiceCoreTest, TruncatedStreamStoresNothing) {
  const std::string data = Bytes(9000, 3);
  EXPECT_THAT(Put(WireId(0), data.substr(0, 8000), data.size(), storage::crc32c::Value(data)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("8000 of the declared 9000")));
  EXPECT_EQ(store_.Stats().slice_count, 0u);
  EXPECT_EQ(core_.buffered_put_bytes(), 0u);
}

TEST_F(SliceServiceCoreTest, MoreDataThanDeclaredStoresNothing) {
  const std::string data = Bytes(9000, 4);
  EXPECT_THAT(Put(WireId(0), data, 8999, storage::crc32c::Value(data)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than the declared")));
  EXPECT_EQ(store_.Stats().slice_count, 0u);
}

TEST_F(SliceServiceCoreTest, MalformedPutStreams) {
  {  // no id
    auto stream = core_.NewPutStream();
    v1::PutSliceRequest r;
    r.set_length(1);
    EXPECT_THAT(stream->Add(r), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  {  // short version id
    v1::SliceId id = WireId(0);
    id.set_version_id("short");
    EXPECT_THAT(Put(id, "x"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("16")));
  }
  {  // chunk over the per-message limit
    const std::string data = Bytes(5000, 5);
    EXPECT_THAT(Put(WireId(0), data, data.size(), storage::crc32c::Value(data), 5000),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("per message")));
  }
  {  // header repeated in a later message
    auto stream = core_.NewPutStream();
    v1::PutSliceRequest r;
    *r.mutable_id() = WireId(0);
    r.set_length(2);
    r.set_data("a");
    ASSERT_TRUE(stream->Add(r).ok());
    EXPECT_THAT(stream->Add(r), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_FALSE(stream->Finish().ok());
  }
  {  // empty stream
    auto stream = core_.NewPutStream();
    EXPECT_THAT(stream->Finish(), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_EQ(store_.Stats().slice_count, 0u);
  EXPECT_EQ(core_.buffered_put_bytes(), 0u);
}

TEST_F(SliceServiceCoreTest, BufferBudgetRefusesExcessConcurrentPuts) {
  auto a = core_.NewPutStream();
  auto b = core_.NewPutStream();
  auto c = core_.NewPutStream();
  v1::PutSliceRequest r;
  *r.mutable_id() = WireId(0);
  r.set_length(1 << 20);
  ASSERT_TRUE(a->Add(r).ok());
  *r.mutable_id() = WireId(1);
  ASSERT_TRUE(b->Add(r).ok());
  EXPECT_EQ(core_.buffered_put_bytes(), 2u << 20);
  *r.mutable_id() = WireId(2);
  EXPECT_THAT(c->Add(r), StatusIs(absl::StatusCode::kResourceExhausted));
  a.reset();  // an abandoned stream returns its reservation
  auto d = core_.NewPutStream();
  EXPECT_TRUE(d->Add(r).ok());
}

TEST_F(SliceServiceCoreTest, StoreErrorsPassThrough) {
  const std::string data = Bytes(100, 6);
  ASSERT_TRUE(Put(WireId(0), data).ok());
  EXPECT_TRUE(Put(WireId(0), data).ok());  // idempotent retry
  const std::string other = Bytes(100, 7);
  EXPECT_THAT(Put(WireId(0), other), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(*Get(WireId(0)), data);
  store_.set_full(true);
  EXPECT_THAT(Put(WireId(1), data), StatusIs(absl::StatusCode::kResourceExhausted));
  store_.set_full(false);
  store_.set_corrupt(true);
  EXPECT_THAT(Get(WireId(0)), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(SliceServiceCoreTest, StatDeleteAndUnknownIds) {
  const std::string data = Bytes(777, 8);
  ASSERT_TRUE(Put(WireId(3), data).ok());
  v1::StatSliceRequest stat;
  *stat.mutable_id() = WireId(3);
  auto info = core_.Stat(stat);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->info().length(), 777u);
  EXPECT_EQ(info->info().crc32c(), storage::crc32c::Value(data));
  EXPECT_EQ(info->info().id().index(), 3u);
  EXPECT_GT(info->info().created_unix_micros(), 0);

  v1::DeleteSliceRequest del;
  *del.mutable_id() = WireId(3);
  EXPECT_TRUE(core_.Delete(del).ok());
  EXPECT_THAT(core_.Delete(del), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(core_.Stat(stat), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Get(WireId(3)), StatusIs(absl::StatusCode::kNotFound));
  del.mutable_id()->set_version_id("x");
  EXPECT_THAT(core_.Delete(del), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SliceServiceCoreTest, ListPagesThroughEverySliceOnce) {
  std::vector<uint32_t> want;
  for (uint32_t i = 0; i < 11; ++i) {
    ASSERT_TRUE(Put(WireId(i, static_cast<char>('a' + i % 3)), Bytes(10, i)).ok());
  }
  std::vector<std::string> seen;
  v1::ListSlicesRequest req;
  int pages = 0;
  for (; pages < 20; ++pages) {
    auto page = core_.List(req);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->slices_size(), 3);
    for (const auto& s : page->slices()) {
      seen.push_back(s.id().version_id() + std::to_string(s.id().index()));
    }
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(pages, 3);  // 3 + 3 + 3 + 2
  ASSERT_EQ(seen.size(), 11u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(), [](const auto& a, const auto& b) {
    return a.substr(0, 16) < b.substr(0, 16);
  }));
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::unique(seen.begin(), seen.end()), seen.end());

  req.clear_page_token();
  req.set_page_size(100);  // capped at max_page_size
  EXPECT_EQ(core_.List(req)->slices_size(), 5);
  req.set_page_token("garbage");
  EXPECT_THAT(core_.List(req), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SliceServiceCoreTest, ListOnlyDamagedReturnsFlaggedSlicesWithTheirState) {
  for (uint32_t i = 0; i < 12; ++i) ASSERT_TRUE(Put(WireId(i), Bytes(10, i)).ok());
  auto id_of = [](uint32_t index) {
    absl::StatusOr<storage::SliceId> id = SliceIdFromProto(WireId(index));
    return *id;
  };
  store_.set_state(id_of(3), storage::SliceState::kCorrupt);
  store_.set_state(id_of(10), storage::SliceState::kMissing);

  v1::ListSlicesRequest all;
  all.set_page_size(5);
  auto first = core_.List(all);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->slices(0).state(), v1::SLICE_LIVE);

  v1::ListSlicesRequest req;
  req.set_only_damaged(true);
  std::map<uint32_t, v1::SliceState> damaged;
  for (int calls = 0; calls < 10; ++calls) {
    auto page = core_.List(req);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const auto& s : page->slices()) damaged[s.id().index()] = s.state();
    if (page->next_page_token().empty()) break;
    req.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(damaged,
            (std::map<uint32_t, v1::SliceState>{{3, v1::SLICE_CORRUPT}, {10, v1::SLICE_MISSING}}));
}

TEST_F(SliceServiceCoreTest, NodeInfoReportsIdentityLocationAndStore) {
  ASSERT_TRUE(Put(WireId(0), Bytes(123, 9)).ok());
  auto info = core_.NodeInfo(v1::NodeInfoRequest());
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->node_id(), "00112233445566778899aabbccddeeff");
  EXPECT_EQ(info->public_key(), std::string(32, 'k'));
  EXPECT_EQ(info->location().site(), "s1");
  EXPECT_EQ(info->location().zone(), "z1");
  EXPECT_EQ(info->slice_count(), 1u);
  EXPECT_EQ(info->used_bytes(), 123u);
  EXPECT_EQ(info->capacity_bytes(), info->free_bytes() + 123u);
  EXPECT_EQ(info->version(), "test");
}

TEST(SliceServiceOptionsTest, Validate) {
  SliceServiceOptions o;
  EXPECT_TRUE(o.Validate().ok());
  o.chunk_bytes = (1 << 20) + 1;
  EXPECT_THAT(o.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chunk")));
  o = SliceServiceOptions();
  o.max_buffered_put_bytes = 1;
  EXPECT_FALSE(o.Validate().ok());
  o = SliceServiceOptions();
  o.max_page_size = 1;
  EXPECT_FALSE(o.Validate().ok());
}

}  // namespace
}  // namespace tessera::services
