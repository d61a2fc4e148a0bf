// The node in-process: real slice store under TEST_TMPDIR, real gRPC on 127.0.0.1:0, real admin
// server. Covers every RPC, ranges, paging, each error code, and that bad requests leave the
// store unchanged.
#include "services/node/node_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "base/env.h"
#include "base/fake_clock.h"
#include "base/metrics.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
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
    secret_file_ = dir_ + ".secret";
    ASSERT_TRUE(p2p::ClusterSecret::Generate(secret_file_).ok());
    auto auth = p2p::ClusterAuth::FromSecretFile(secret_file_, "test-gateway");
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);
    StartNode();
  }

  static void FastGossip(NodeOptions* options) {
    options->gossip_listen = "127.0.0.1:0";
    options->gossip.probe_interval = absl::Milliseconds(100);
    options->gossip.probe_timeout = absl::Milliseconds(40);
    options->gossip.suspicion_timeout = absl::Milliseconds(600);
    options->gossip.join_retry_interval = absl::Milliseconds(100);
    options->gossip.sync_interval = absl::Milliseconds(500);
    options->leave_wait = absl::Milliseconds(500);
  }

  void StartNode(const std::function<void(NodeOptions*)>& customize = nullptr) {
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
    options.cluster_secret_file = secret_file_;
    FastGossip(&options);
    if (customize) customize(&options);
    auto node = NodeServer::Start(options);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
    stub_ = testing::NewStub(node_->port(), auth_);
    raw_stub_ = v1::SliceService::NewStub(testing::NewChannelWithoutTokens(node_->port(), auth_));
  }

  void Restart() {
    stub_.reset();
    raw_stub_.reset();
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
  std::string secret_file_;
  std::shared_ptr<p2p::ClusterAuth> auth_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<NodeServer> node_;
  std::unique_ptr<v1::SliceService::Stub> stub_;      // authenticated
  std::unique_ptr<v1::SliceService::Stub> raw_stub_;  // no token unless a test adds one
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

// A caller of a newer node protocol (x-tessera-protocol, p2p/auth/cluster_auth.h) is refused
// before anything is done, with a message naming both versions; the current version is served.
TEST_F(NodeServerTest, CallerOfANewerProtocolIsRefused) {
  for (const char* version : {"1", "2"}) {
    grpc::ClientContext ctx;
    auth_->Attach(&ctx, p2p::kNodeInfoMethod);
    ctx.AddMetadata(p2p::kProtocolMetadataKey, version);
    v1::NodeInfoResponse info;
    grpc::Status s = raw_stub_->NodeInfo(&ctx, v1::NodeInfoRequest(), &info);
    if (std::string(version) == "1") {
      EXPECT_TRUE(s.ok()) << s.error_message();
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      EXPECT_NE(s.error_message().find("node protocol 2; this node knows up to 1"),
                std::string::npos)
          << s.error_message();
    }
  }
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

TEST_F(NodeServerTest, ScrubberFlagsABitFlipOnDiskWithoutAnyRead) {
  const std::string data = TestBytes(1 << 20, 40);
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(40), data).ok());
  stub_.reset();
  raw_stub_.reset();
  node_->Shutdown(absl::Seconds(5));
  node_.reset();

  // Damage the slice file while the node is down: one byte in the middle of the data.
  bool flipped = false;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_ + "/slices")) {
    if (!entry.is_regular_file() || entry.file_size() < data.size()) continue;
    std::fstream f(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(entry.file_size() / 2));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(entry.file_size() / 2));
    f.write(&c, 1);
    flipped = f.good();
  }
  ASSERT_TRUE(flipped);

  StartNode([](NodeOptions* options) {
    options->scrub_bytes_per_second = 1ull << 40;  // effectively unthrottled
    options->scrub_interval = absl::Milliseconds(50);
  });
  // Nobody reads the slice: only the scrubber can find the damage.
  const std::string flagged = "tessera_slice_store_slices_flagged_total{state=\"corrupt\"} 1";
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!absl::StrContains(registry_->Serialize(), flagged) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(absl::StrContains(registry_->Serialize(), flagged)) << registry_->Serialize();
  // Flagged in the index: reads fail fast with DATA_LOSS, never bytes.
  testing::GetResult got = GetSlice(stub_.get(), TestId(40), 0, 100);
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_TRUE(got.data.empty());
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

// One way a caller can get the token wrong.
struct BadCaller {
  const char* name;
  // Adds (or not) a token to a context for the call of `method`.
  std::function<void(grpc::ClientContext*, const char* method)> prepare;
};

TEST_F(NodeServerTest, StrangersCannotWriteDeleteOrReadAndTheStoreIsUnchanged) {
  const std::string data = TestBytes(70000, 40);
  ASSERT_TRUE(PutSlice(stub_.get(), TestId(40), data).ok());  // a valid token works

  absl::StatusOr<p2p::ClusterSecret> other = p2p::ClusterSecret::Random();
  ASSERT_TRUE(other.ok());
  p2p::ClusterAuthOptions other_options;
  other_options.caller_id = "stranger";
  auto stranger = p2p::ClusterAuth::Create(*other, other_options);
  ASSERT_TRUE(stranger.ok());
  FakeClock past(absl::Now() - absl::Minutes(6));
  absl::StatusOr<p2p::ClusterSecret> right = p2p::ClusterSecret::Load(secret_file_);
  ASSERT_TRUE(right.ok());
  p2p::ClusterAuthOptions old_options;
  old_options.caller_id = "test-gateway";
  old_options.clock = &past;
  auto old_auth = p2p::ClusterAuth::Create(*right, old_options);
  ASSERT_TRUE(old_auth.ok());
  const p2p::ClusterAuth* good = auth_.get();
  const p2p::ClusterAuth* wrong_secret = stranger->get();
  const p2p::ClusterAuth* expired = old_auth->get();

  const std::vector<BadCaller> callers = {
      {"no token", [](grpc::ClientContext*, const char*) {}},
      {"garbage token",
       [](grpc::ClientContext* c, const char*) { c->AddMetadata(p2p::kAuthMetadataKey, "t1.x"); }},
      {"wrong secret",
       [wrong_secret](grpc::ClientContext* c, const char* m) { wrong_secret->Attach(c, m); }},
      {"expired", [expired](grpc::ClientContext* c, const char* m) { expired->Attach(c, m); }},
      {"other method",
       [good](grpc::ClientContext* c, const char* m) {
         good->Attach(c, std::string(m) == p2p::kNodeInfoMethod ? p2p::kGetSliceMethod
                                                                : p2p::kNodeInfoMethod);
       }},
  };
  for (const BadCaller& bad : callers) {
    SCOPED_TRACE(bad.name);
    PutParams put;
    put.prepare = [&](grpc::ClientContext* c) { bad.prepare(c, p2p::kPutSliceMethod); };
    EXPECT_EQ(PutSlice(raw_stub_.get(), TestId(41), TestBytes(1000, 41), put).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    // Overwriting attempt with different bytes under an existing id: refused before the store.
    EXPECT_EQ(PutSlice(raw_stub_.get(), TestId(40), TestBytes(70000, 99), put).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    testing::GetResult got =
        GetSlice(raw_stub_.get(), TestId(40), 0, 0,
                 [&](grpc::ClientContext* c) { bad.prepare(c, p2p::kGetSliceMethod); });
    EXPECT_EQ(got.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_TRUE(got.data.empty());
    EXPECT_EQ(got.messages, 0);
    {
      grpc::ClientContext c;
      bad.prepare(&c, p2p::kDeleteSliceMethod);
      v1::DeleteSliceRequest req;
      *req.mutable_id() = TestId(40);
      v1::DeleteSliceResponse resp;
      EXPECT_EQ(raw_stub_->DeleteSlice(&c, req, &resp).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
    }
    {
      grpc::ClientContext c;
      bad.prepare(&c, p2p::kStatSliceMethod);
      v1::StatSliceRequest req;
      *req.mutable_id() = TestId(40);
      v1::StatSliceResponse resp;
      EXPECT_EQ(raw_stub_->StatSlice(&c, req, &resp).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_FALSE(resp.has_info());
    }
    {
      grpc::ClientContext c;
      bad.prepare(&c, p2p::kListSlicesMethod);
      v1::ListSlicesResponse resp;
      EXPECT_EQ(raw_stub_->ListSlices(&c, v1::ListSlicesRequest(), &resp).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_EQ(resp.slices_size(), 0);
    }
    {
      grpc::ClientContext c;
      bad.prepare(&c, p2p::kNodeInfoMethod);
      v1::NodeInfoResponse resp;
      EXPECT_EQ(raw_stub_->NodeInfo(&c, v1::NodeInfoRequest(), &resp).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_TRUE(resp.node_id().empty());
    }
    {
      grpc::ClientContext c;
      bad.prepare(&c, p2p::kClusterMembersMethod);
      v1::ClusterMembersResponse resp;
      EXPECT_EQ(raw_stub_->ClusterMembers(&c, v1::ClusterMembersRequest(), &resp).error_code(),
                grpc::StatusCode::UNAUTHENTICATED);
      EXPECT_EQ(resp.members_size(), 0);
    }
  }
  // Nothing changed: the one slice is there, byte-exact; the refused puts stored nothing.
  EXPECT_EQ(GetSlice(stub_.get(), TestId(40)).data, data);
  EXPECT_EQ(Stat(TestId(41)).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(ListAll(100).size(), 1u);
  EXPECT_EQ(Info().slice_count(), 1u);
  // Per-call attach works as well as the interceptor channel.
  {
    grpc::ClientContext c;
    good->Attach(&c, p2p::kStatSliceMethod);
    v1::StatSliceRequest req;
    *req.mutable_id() = TestId(40);
    v1::StatSliceResponse resp;
    EXPECT_TRUE(raw_stub_->StatSlice(&c, req, &resp).ok());
    EXPECT_EQ(resp.info().length(), data.size());
  }
  const std::string text = registry_->Serialize();
  EXPECT_TRUE(absl::StrContains(
      text, "tessera_node_auth_failures_total{method=\"PutSlice\",reason=\"missing\"} 2"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "tessera_node_auth_failures_total{method=\"DeleteSlice\",reason=\"bad_mac\"} 2"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "tessera_node_auth_failures_total{method=\"GetSlice\",reason=\"expired\"} 1"))
      << text;
  EXPECT_TRUE(absl::StrContains(
      text, "tessera_node_rpcs_total{method=\"PutSlice\",code=\"UNAUTHENTICATED\"} 10"))
      << text;
}

TEST_F(NodeServerTest, StartFailsOnAMissingOrOpenSecretFile) {
  NodeOptions options;
  options.data_dir = dir_ + "_other";
  options.listen = "127.0.0.1:0";
  options.admin_listen = "127.0.0.1:0";
  options.reserved_bytes = 0;
  options.cluster_secret_file = dir_ + ".no-such-secret";
  Registry registry;
  options.registry = &registry;
  EXPECT_EQ(NodeServer::Start(options).status().code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(::chmod(secret_file_.c_str(), 0644), 0);
  options.cluster_secret_file = secret_file_;
  EXPECT_EQ(NodeServer::Start(options).status().code(), absl::StatusCode::kPermissionDenied);
  options.insecure_no_auth = true;
  EXPECT_EQ(NodeServer::Start(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// Waits (up to 20 s, polling) until `node` reports `alive` alive members out of `known`.
bool WaitForMembers(v1::SliceService::Stub* stub, int known, int alive,
                    v1::ClusterMembersResponse* last) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (absl::Now() < deadline) {
    grpc::ClientContext ctx;
    v1::ClusterMembersResponse resp;
    if (stub->ClusterMembers(&ctx, v1::ClusterMembersRequest(), &resp).ok()) {
      int n = 0;
      for (const auto& m : resp.members()) {
        if (m.liveness() == v1::ClusterMember::LIVENESS_ALIVE) ++n;
      }
      *last = resp;
      if (resp.members_size() == known && n == alive) return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return false;
}

TEST_F(NodeServerTest, NodesJoinThroughSeedsAndReportTheClusterAndALeave) {
  std::vector<std::unique_ptr<NodeServer>> peers;
  std::vector<std::unique_ptr<Registry>> registries;
  for (int i = 0; i < 2; ++i) {
    NodeOptions options;
    options.data_dir = absl::StrCat(dir_, "_peer", i);
    options.listen = "127.0.0.1:0";
    options.admin_listen = "127.0.0.1:0";
    options.reserved_bytes = 0;
    options.location.set_site(absl::StrCat("site-", i));
    options.cluster_secret_file = secret_file_;
    FastGossip(&options);
    // Peer 0 knows the first node; peer 1 knows only peer 0.
    options.seeds = {i == 0 ? node_->gossip_address() : peers[0]->gossip_address()};
    registries.push_back(std::make_unique<Registry>());
    options.registry = registries.back().get();
    auto peer = NodeServer::Start(options);
    ASSERT_TRUE(peer.ok()) << peer.status();
    peers.push_back(*std::move(peer));
  }
  v1::ClusterMembersResponse view;
  ASSERT_TRUE(WaitForMembers(stub_.get(), 3, 3, &view)) << view.DebugString();
  EXPECT_EQ(view.self_node_id(), node_->node_id());
  for (const auto& m : view.members()) {
    const NodeServer* owner = m.node_id() == node_->node_id() ? node_.get() : nullptr;
    for (const auto& p : peers) {
      if (p->node_id() == m.node_id()) owner = p.get();
    }
    ASSERT_NE(owner, nullptr) << m.node_id();
    EXPECT_EQ(m.grpc_address(), absl::StrCat("127.0.0.1:", owner->port()));
    EXPECT_EQ(m.gossip_address(), owner->gossip_address());
    EXPECT_EQ(m.is_self(), owner == node_.get());
    EXPECT_EQ(m.state(), v1::ClusterMember::STATE_ALIVE);
    EXPECT_GT(m.capacity_bytes(), 0u);
    EXPECT_GT(m.free_bytes(), 0u);
    EXPECT_GT(m.incarnation(), 0u);
    EXPECT_EQ(m.public_key().size(), 32u);
  }
  EXPECT_EQ(Info().members_alive(), 3u);
  EXPECT_EQ(Info().members_known(), 3u);
  // The last peer learns everything too (it only knew peer 0).
  auto last_stub = testing::NewStub(peers[1]->port(), auth_);
  ASSERT_TRUE(WaitForMembers(last_stub.get(), 3, 3, &view)) << view.DebugString();

  // A graceful shutdown announces the leave: the others stop counting it as alive.
  const std::string leaving = peers[1]->node_id();
  last_stub.reset();
  peers[1]->Shutdown(absl::Seconds(2));
  ASSERT_TRUE(WaitForMembers(stub_.get(), 3, 2, &view)) << view.DebugString();
  for (const auto& m : view.members()) {
    if (m.node_id() == leaving) {
      EXPECT_NE(m.liveness(), v1::ClusterMember::LIVENESS_ALIVE);
    }
  }
}

// GET `path` from 127.0.0.1:`port` (HTTP/1.0): the status code and the body; code 0 if the
// connection failed.
std::pair<int, std::string> AdminGet(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    return {0, ""};
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  (void)!write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) response.append(buf, n);
  close(fd);
  int code = 0;
  if (response.size() > 12) code = std::atoi(response.substr(9, 3).c_str());
  const size_t body = response.find("\r\n\r\n");
  return {code, body == std::string::npos ? "" : response.substr(body + 4)};
}

// /readyz (issue 15): a node given seeds is not ready until it has joined the overlay, while its
// /healthz says it is alive; a first node started without seeds is ready on its own.
TEST_F(NodeServerTest, ReadyOnlyOnceJoinedTheOverlay) {
  EXPECT_EQ(AdminGet(node_->admin_port(), "/readyz").first, 200);
  std::vector<std::unique_ptr<Registry>> registries;
  auto start = [&](const std::string& name, const std::string& seed) {
    NodeOptions options;
    options.data_dir = absl::StrCat(dir_, "_", name);
    options.listen = "127.0.0.1:0";
    options.admin_listen = "127.0.0.1:0";
    options.reserved_bytes = 0;
    options.cluster_secret_file = secret_file_;
    registries.push_back(std::make_unique<Registry>());
    options.registry = registries.back().get();
    FastGossip(&options);
    options.seeds = {seed};
    return NodeServer::Start(options);
  };
  // Nothing answers gossip at this address.
  auto lonely = start("lonely", "127.0.0.1:9");
  ASSERT_TRUE(lonely.ok()) << lonely.status();
  absl::SleepFor(absl::Seconds(1));
  const auto [code, body] = AdminGet((*lonely)->admin_port(), "/readyz");
  EXPECT_EQ(code, 503);
  EXPECT_TRUE(absl::StrContains(body, "not joined the overlay")) << body;
  EXPECT_EQ(AdminGet((*lonely)->admin_port(), "/healthz").first, 200);

  auto joined = start("joined", node_->gossip_address());
  ASSERT_TRUE(joined.ok()) << joined.status();
  int ready = 0;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;) {
    ready = AdminGet((*joined)->admin_port(), "/readyz").first;
    if (ready == 200) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(ready, 200);
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
  o.capacity_bytes = 0;
  o.insecure_no_auth = true;
  o.cluster_secret_file = "/s";
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "insecure_no_auth"));
  o.insecure_no_auth = false;
  o.gossip_listen = "0.0.0.0:7946";
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "gossip_advertise"));
  o.gossip_advertise = "10.0.0.1:7946";
  EXPECT_TRUE(o.Validate().ok());
  o.seeds = {"nohostport"};
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "seeds"));
  o.seeds = {};
  o.gossip.probe_timeout = absl::Seconds(5);
  EXPECT_TRUE(absl::StrContains(o.Validate().message(), "gossip"));
}

}  // namespace
}  // namespace tessera::services
