// The node in-process: real slice store under TEST_TMPDIR, real gRPC on 127.0.0.1:0, real admin
// server. Covers every RPC, ranges, paging, each error code, and that bad requests leave the
// store unchanged.
#include "services/node/node_server.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/env.h"
#include "base/metrics.h"
#include "gtest/gtest.h"
#include "services/node/node_test_util.h"
#include "storage/slice/crc32c.h"

namespace tessera::services {
namespace {

using testing::GetSlice;
using testing::PutParams;
using testing::PutSlice;
using testing::TestBytes;
using testing::TestId;

constexpr uint64_t kMaxSlice = 4 << 20;

std::string FreshDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  static int counter = 0;
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/node_server_", name, "_", ++counter);
}

class NodeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    StartNode();
  }

  void StartNode() {
    NodeOptions options;
    options.data_dir = dir_;
    options.listen = "127.0.0.1:0";
    options.admin_listen = "127.0.0.1:0";
    options.max_slice_bytes = kMaxSlice;
    options.max_buffered_put_bytes = 64 << 20;
    options.reserved_bytes = 0;
    options.disk_threads = 2;
    options.location.set_site("site-a");
    options.location.set_isp("isp-b");
    options.location.set_zone("zone-c");
    options.location.set_host("host-d");
    registry_ = std::make_unique<Registry>();
    options.registry = registry_.get();
    auto node = NodeServer::Start(options);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
    stub_ = testing::NewStub(node_->port());
  }

  void Restart() {
    stub_.reset();
    node_->Shutdown(absl::Seconds(5));
    node_.reset();
    StartNode();
  }

  v1::NodeInfoResponse Info() {
    grpc::ClientContext ctx;
    v1::NodeInfoResponse info;
    grpc::Status s = stub_->NodeInfo(&ctx, v1::NodeInfoRequest(), &info);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return info;
  }

  // Every slice id (as serialized bytes) and length, through ListSlices paging.
  std::vector<std::string> ListAll(uint32_t page_size, int* pages = nullptr) {
    std::vector<std::string> out;
    v1::ListSlicesRequest req;
    req.set_page_size(page_size);
    for (int i = 0; i < 1000; ++i) {
      grpc::ClientContext ctx;
      v1::ListSlicesResponse resp;
      grpc::Status s = stub_->ListSlices(&ctx, req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) break;
      EXPECT_LE(resp.slices_size(), static_cast<int>(page_size));
      for (const auto& info : resp.slices()) {
        out.push_back(absl::StrCat(info.id().SerializeAsString(), "#", info.length()));
      }
      if (pages != nullptr) *pages = i + 1;
      if (resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    return out;
  }

  grpc::Status Stat(const v1::SliceId& id, v1::StatSliceResponse* out = nullptr) {
    grpc::ClientContext ctx;
    v1::StatSliceRequest req;
    *req.mutable_id() = id;
    v1::StatSliceResponse resp;
    grpc::Status s = stub_->StatSlice(&ctx, req, &resp);
    if (out != nullptr) *out = resp;
    return s;
  }

  grpc::Status Delete(const v1::SliceId& id) {
    grpc::ClientContext ctx;
    v1::DeleteSliceRequest req;
    *req.mutable_id() = id;
    v1::DeleteSliceResponse resp;
    return stub_->DeleteSlice(&ctx, req, &resp);
  }

  std::string dir_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<NodeServer> node_;
  std::unique_ptr<v1::SliceService::Stub> stub_;
};

TEST_F(NodeServerTest, NodeInfoReportsIdentityAndLocation) {
  v1::NodeInfoResponse info = Info();
  EXPECT_EQ(info.node_id(), node_->node_id());
  EXPECT_EQ(info.node_id().size(), 32u);
  EXPECT_EQ(info.public_key().size(), 32u);
  EXPECT_EQ(info.location().site(), "site-a");
  EXPECT_EQ(info.location().isp(), "isp-b");
  EXPECT_EQ(info.location().zone(), "zone-c");
  EXPECT_EQ(info.location().host(), "host-d");
  EXPECT_EQ(info.version(), kNodeVersion);
  EXPECT_EQ(info.slice_count(), 0u);
  EXPECT_GT(info.capacity_bytes(), 0u);
  EXPECT_TRUE(Env::Default()->FileExists(dir_ + "/node.key"));
}

TEST_F(NodeServerTest, PutGetStatDeleteRoundTrip) {
  const std::string data = TestBytes(2500000, 1);  // 3 chunks of <= 1 MiB each way
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(1), data, {.chunk = 1 << 20}).ok());
  testing::GetResult got = GetSlice(stub_.get(), TestId(1));
  ASSERT_TRUE(got.status.ok()) << got.status.error_message();
  EXPECT_EQ(got.data, data);
  EXPECT_EQ(got.total_length, data.size());
  EXPECT_EQ(got.messages, 3);
  EXPECT_LE(got.largest_message, size_t{1} << 20);

  v1::StatSliceResponse stat;
  ASSERT_TRUE(Stat(TestId(1), &stat).ok());
  EXPECT_EQ(stat.info().length(), data.size());
  EXPECT_EQ(stat.info().crc32c(), storage::crc32c::Value(data));
  EXPECT_EQ(stat.info().id().SerializeAsString(), TestId(1).SerializeAsString());

  v1::NodeInfoResponse info = Info();
  EXPECT_EQ(info.slice_count(), 1u);
  EXPECT_GE(info.used_bytes(), data.size());

  // Idempotent retry of identical bytes is OK; different bytes are ALREADY_EXISTS.
  EXPECT_TRUE(PutSlice(stub_.get(), TestId(1), data).ok());
  EXPECT_EQ(PutSlice(stub_.get(), TestId(1), TestBytes(100, 2)).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  ASSERT_TRUE(Delete(TestId(1)).ok());
  EXPECT_EQ(Delete(TestId(1)).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stat(TestId(1)).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetSlice(stub_.get(), TestId(1)).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Info().slice_count(), 0u);
}

TEST_F(NodeServerTest, SmallAndEmptySlices) {
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(2), "x").ok());
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(3), "").ok());
  EXPECT_EQ(GetSlice(stub_.get(), TestId(2)).data, "x");
  testing::GetResult empty = GetSlice(stub_.get(), TestId(3));
  ASSERT_TRUE(empty.status.ok()) << empty.status.error_message();
  EXPECT_EQ(empty.data, "");
  EXPECT_EQ(empty.messages, 1);
}

TEST_F(NodeServerTest, ByteRanges) {
  const std::string data = TestBytes(3 << 20, 4);
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(4), data, {.chunk = 300000}).ok());
  struct Case {
    uint64_t offset, length;
  } cases[] = {{0, 1},       {1, 65536},           {65535, 2},       {(1 << 20) - 1, (1 << 20) + 2},
               {1234567, 0}, {data.size() - 1, 1}, {data.size(), 0}, {0, data.size()}};
  for (const Case& c : cases) {
    testing::GetResult got = GetSlice(stub_.get(), TestId(4), c.offset, c.length);
    ASSERT_TRUE(got.status.ok()) << c.offset << "+" << c.length << " "
                                 << got.status.error_message();
    EXPECT_EQ(got.data, data.substr(c.offset, c.length == 0 ? std::string::npos : c.length))
        << c.offset << "+" << c.length;
    EXPECT_EQ(got.total_length, data.size());
  }
  EXPECT_EQ(GetSlice(stub_.get(), TestId(4), data.size() + 1, 0).status.error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(GetSlice(stub_.get(), TestId(4), data.size() - 10, 11).status.error_code(),
            grpc::StatusCode::OUT_OF_RANGE);
}

TEST_F(NodeServerTest, ListSlicesPagesThroughEverything) {
  for (uint64_t i = 0; i < 25; ++i) {
    ASSERT_TRUE(PutSlice(stub_.get(), TestId(100 + i), TestBytes(10 + i, i)).ok());
  }
  int pages = 0;
  std::vector<std::string> all = ListAll(7, &pages);
  EXPECT_EQ(all.size(), 25u);
  EXPECT_EQ(pages, 4);  // 7 + 7 + 7 + 4
  std::vector<std::string> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end());
  EXPECT_EQ(ListAll(1000).size(), 25u);

  grpc::ClientContext ctx;
  v1::ListSlicesRequest bad;
  bad.set_page_token("not a token");
  v1::ListSlicesResponse resp;
  EXPECT_EQ(stub_->ListSlices(&ctx, bad, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(NodeServerTest, BadRequestsGetPreciseCodesAndLeaveStoreUnchanged) {
  const std::string keep = TestBytes(200000, 5);
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(5), keep).ok());
  const std::vector<std::string> before = ListAll(100);
  const std::string data = TestBytes(300000, 6);

  // Wrong checksum.
  EXPECT_EQ(PutSlice(stub_.get(), TestId(6), data, {.crc32c = storage::crc32c::Value(data) ^ 0x10})
                .error_code(),
            grpc::StatusCode::DATA_LOSS);
  // Oversized (declared), and oversized with the data actually sent.
  grpc::Status oversized =
      PutSlice(stub_.get(), TestId(7), data, {.declared_length = kMaxSlice + 1});
  EXPECT_EQ(oversized.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(oversized.error_message(), "max_slice_bytes"))
      << oversized.error_message();
  EXPECT_EQ(PutSlice(stub_.get(), TestId(7), TestBytes(kMaxSlice + 1, 7)).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Truncated stream: fewer bytes than declared.
  grpc::Status truncated = PutSlice(stub_.get(), TestId(8), data, {.send_bytes = 100000});
  EXPECT_EQ(truncated.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(truncated.error_message(), "100000 of the declared 300000"))
      << truncated.error_message();
  // Length mismatch: more bytes than declared.
  EXPECT_EQ(PutSlice(stub_.get(), TestId(9), data, {.declared_length = 299999}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A chunk over 1 MiB.
  const std::string big = TestBytes((1 << 20) + 1, 8);
  EXPECT_EQ(PutSlice(stub_.get(), TestId(10), big, {.chunk = big.size()}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Malformed id.
  v1::SliceId bad_id = TestId(11);
  bad_id.set_version_id("short");
  EXPECT_EQ(PutSlice(stub_.get(), bad_id, data).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Stat(bad_id).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // Overwrite with different bytes.
  EXPECT_EQ(PutSlice(stub_.get(), TestId(5), data).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Unknown ids.
  EXPECT_EQ(GetSlice(stub_.get(), TestId(12)).status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Stat(TestId(12)).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Delete(TestId(12)).error_code(), grpc::StatusCode::NOT_FOUND);
  // A client that gives up mid-stream.
  {
    grpc::ClientContext ctx;
    v1::PutSliceResponse response;
    auto writer = stub_->PutSlice(&ctx, &response);
    v1::PutSliceRequest first;
    *first.mutable_id() = TestId(13);
    first.set_length(data.size());
    first.set_crc32c(storage::crc32c::Value(data));
    first.set_data(data.substr(0, 1000));
    ASSERT_TRUE(writer->Write(first));
    ctx.TryCancel();
    EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }

  EXPECT_EQ(ListAll(100), before);
  EXPECT_EQ(Info().slice_count(), 1u);
  EXPECT_EQ(GetSlice(stub_.get(), TestId(5)).data, keep);
}

TEST_F(NodeServerTest, ConcurrentClients) {
  constexpr int kThreads = 4, kPerThread = 6;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const uint64_t n = 1000 + t * 100 + i;
        const std::string data = TestBytes(50000 + 7919 * i, n);
        if (!PutSlice(stub_.get(), TestId(n), data, {.chunk = 16384}).ok()) ++failures;
        if (GetSlice(stub_.get(), TestId(n)).data != data) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Info().slice_count(), static_cast<uint64_t>(kThreads * kPerThread));
}

TEST_F(NodeServerTest, RestartKeepsIdentityAndSlices) {
  const std::string id_before = node_->node_id();
  const std::string data = TestBytes(1 << 20, 9);
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(20), data).ok());
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(21), "tiny").ok());
  Restart();
  EXPECT_EQ(node_->node_id(), id_before);
  EXPECT_EQ(Info().node_id(), id_before);
  EXPECT_EQ(GetSlice(stub_.get(), TestId(20)).data, data);
  EXPECT_EQ(GetSlice(stub_.get(), TestId(21)).data, "tiny");
}

TEST_F(NodeServerTest, MetricsCountRpcsByMethodAndCode) {
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(30), TestBytes(5000, 30)).ok());
  EXPECT_EQ(Stat(TestId(31)).error_code(), grpc::StatusCode::NOT_FOUND);
  ASSERT_TRUE(GetSlice(stub_.get(), TestId(30)).status.ok());
  // The observer runs just before the reactor finishes the call, so it has seen all three.
  const std::string text = registry_->Serialize();
  EXPECT_TRUE(absl::StrContains(text, "tessera_node_rpcs_total{method=\"PutSlice\",code=\"OK\"} 1"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "tessera_node_rpcs_total{method=\"StatSlice\",code=\"NOT_FOUND\"} 1"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "tessera_node_rpc_received_bytes_total{method=\"PutSlice\"} 5000"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "tessera_node_rpc_sent_bytes_total{method=\"GetSlice\"} 5000"))
      << text;
  EXPECT_TRUE(
      absl::StrContains(text, "tessera_node_rpc_duration_seconds_bucket{method=\"PutSlice\""))
      << text;
}

TEST_F(NodeServerTest, ShutdownStopsServingAndIsIdempotent) {
  EXPECT_EQ(Info().slice_count(), 0u);
  node_->Shutdown(absl::Seconds(5));
  node_->Shutdown(absl::Seconds(5));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::NodeInfoResponse info;
  EXPECT_EQ(stub_->NodeInfo(&ctx, v1::NodeInfoRequest(), &info).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(NodeOptionsTest, ValidateNamesTheField) {
  NodeOptions o;
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "data_dir"));
  o.data_dir = "/x";
  EXPECT_TRUE(o.Validate().ok());
  o.listen = "nope";
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "listen"));
  o.listen = "127.0.0.1:0";
  o.max_slice_bytes = 0;
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "max_slice_bytes"));
  o.max_slice_bytes = 1 << 20;
  o.capacity_bytes = 10;
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "capacity_bytes"));
}

}  // namespace
}  // namespace tessera::services
