// The secured, replicated cluster as processes (6 tessera-node in 3 sites with a cluster secret,
// tessera-gateway(s) joined by --seeds, metadata replicated on the nodes):
//   - two gateway processes are one consistent store (read-after-write, list-after-write,
//     overwrite and delete seen by the other gateway);
//   - a gateway killed with -9 and restarted loses nothing (gateways keep no durable state);
//   - a node refuses slice writes, reads, deletes and metadata RPCs that carry no cluster token
//     or one minted from another secret (raw gRPC stubs), and serves them with the right one.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "api/metadata.grpc.pb.h"
#include "api/node.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kStripe = 256 << 10;

ProcessClusterOptions Options(int gateways) {
  ProcessClusterOptions o;
  o.stripe_size = kStripe;
  o.gateways = gateways;
  return o;
}

std::set<std::string> ListKeys(sdk::Client& c, const std::string& bucket) {
  std::set<std::string> keys;
  absl::Status s = c.ListAllObjects(bucket, {}, [&](const sdk::ObjectInfo& o) {
    keys.insert(o.key);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return keys;
}

TEST(SecureClusterTest, TwoGatewaysAreOneConsistentStore) {
  ProcessCluster cluster(Options(2));
  sdk::Client& a = cluster.client(0);
  sdk::Client& b = cluster.client(1);
  ASSERT_NE(cluster.endpoint(0), cluster.endpoint(1));

  ASSERT_TRUE(a.CreateBucket("shared").ok());
  // The bucket made through A exists for B: creating it again there is refused.
  EXPECT_EQ(b.CreateBucket("shared").status().code(), absl::StatusCode::kAlreadyExists);

  // Read-after-write and list-after-write across gateways, both directions, every size class.
  const uint64_t sizes[] = {7, 70 << 10, kStripe, 3 * kStripe + 17};
  std::set<std::string> expected;
  for (int i = 0; i < 8; ++i) {
    sdk::Client& writer = i % 2 == 0 ? a : b;
    sdk::Client& reader = i % 2 == 0 ? b : a;
    const std::string key = absl::StrCat("dir/obj", i);
    const std::string data = TestBytes(sizes[i % 4] + i, 500 + i);
    ASSERT_TRUE(writer.PutObject("shared", key, data).ok()) << key;
    expected.insert(key);
    auto got = reader.GetObject("shared", key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_TRUE(*got == data) << key << ": bytes differ";
    EXPECT_EQ(ListKeys(reader, "shared"), expected) << "after writing " << key;
  }

  // An overwrite through B is what A reads next.
  const std::string v2 = TestBytes(2 * kStripe + 3, 99);
  ASSERT_TRUE(b.PutObject("shared", "dir/obj0", v2).ok());
  auto got = a.GetObject("shared", "dir/obj0");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == v2) << "gateway A read a stale version";

  // A delete through B is seen by A at once: head, get and list.
  ASSERT_TRUE(b.DeleteObject("shared", "dir/obj3").ok());
  expected.erase("dir/obj3");
  EXPECT_EQ(a.HeadObject("shared", "dir/obj3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(a.GetObject("shared", "dir/obj3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ListKeys(a, "shared"), expected);
  EXPECT_EQ(ListKeys(b, "shared"), expected);
}

TEST(SecureClusterTest, GatewayKilledAndRestartedLosesNothing) {
  ProcessCluster cluster(Options(1));
  ASSERT_TRUE(cluster.client().CreateBucket("keep").ok());
  std::vector<std::pair<std::string, std::string>> objects;
  for (int i = 0; i < 6; ++i) {
    objects.emplace_back(absl::StrCat("k", i), TestBytes((i + 1) * 100000 + i, 40 + i));
    ASSERT_TRUE(
        cluster.client().PutObject("keep", objects.back().first, objects.back().second).ok());
  }
  const std::string old_endpoint = cluster.endpoint();

  cluster.RestartGateway(0, SIGKILL);  // no clean shutdown: nothing can be flushed on the way out
  sdk::Client& c = cluster.client();
  EXPECT_NE(cluster.endpoint(), old_endpoint) << "a new process on a new port";

  auto buckets = c.ListBuckets();
  ASSERT_TRUE(buckets.ok()) << buckets.status();
  ASSERT_EQ(buckets->size(), 1u);
  EXPECT_EQ((*buckets)[0].name, "keep");
  std::set<std::string> keys;
  for (const auto& [key, data] : objects) {
    keys.insert(key);
    auto got = c.GetObject("keep", key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_TRUE(*got == data) << key << ": bytes differ";
  }
  EXPECT_EQ(ListKeys(c, "keep"), keys);
  // And the restarted gateway writes as before.
  ASSERT_TRUE(c.PutObject("keep", "after", "written after the restart").ok());
  auto after = c.GetObject("keep", "after");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(*after, "written after the restart");
}

// How a raw call is authenticated.
enum class Cred { kNone, kWrong, kRight };

class NodeAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ProcessCluster>(Options(1));
    auto right = p2p::ClusterAuth::FromSecretFile(cluster_->secret_file(), "test-right");
    ASSERT_TRUE(right.ok()) << right.status();
    right_ = *std::move(right);
    const std::string wrong_file = cluster_->root() + "/wrong.secret";
    ASSERT_TRUE(p2p::ClusterSecret::Generate(wrong_file).ok());
    auto wrong = p2p::ClusterAuth::FromSecretFile(wrong_file, "intruder");
    ASSERT_TRUE(wrong.ok()) << wrong.status();
    wrong_ = *std::move(wrong);
    // The cluster's mutual TLS without the token interceptor: these tests exercise the token
    // check that sits behind it (TransportRefuses... covers the TLS layer itself).
    channel_ =
        grpc::CreateChannel(cluster_->node_addresses()[0], right_->tls()->ChannelCredentials(""));
    slices_ = v1::SliceService::NewStub(channel_);
    meta_ = v1::MetaService::NewStub(channel_);
  }

  void Prepare(grpc::ClientContext* ctx, Cred cred, const char* method) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (cred == Cred::kRight) right_->Attach(ctx, method);
    if (cred == Cred::kWrong) wrong_->Attach(ctx, method);
  }

  grpc::Status Put(Cred cred, const v1::SliceId& id, const std::string& data) {
    grpc::ClientContext ctx;
    Prepare(&ctx, cred, p2p::kPutSliceMethod);
    v1::PutSliceResponse resp;
    auto writer = slices_->PutSlice(&ctx, &resp);
    v1::PutSliceRequest req;
    *req.mutable_id() = id;
    req.set_length(data.size());
    req.set_crc32c(0);
    req.set_data(data);
    writer->Write(req);
    writer->WritesDone();
    return writer->Finish();
  }

  grpc::Status Get(Cred cred, const v1::SliceId& id) {
    grpc::ClientContext ctx;
    Prepare(&ctx, cred, p2p::kGetSliceMethod);
    v1::GetSliceRequest req;
    *req.mutable_id() = id;
    auto reader = slices_->GetSlice(&ctx, req);
    v1::GetSliceResponse resp;
    while (reader->Read(&resp)) {
    }
    return reader->Finish();
  }

  grpc::Status Delete(Cred cred, const v1::SliceId& id) {
    grpc::ClientContext ctx;
    Prepare(&ctx, cred, p2p::kDeleteSliceMethod);
    v1::DeleteSliceRequest req;
    *req.mutable_id() = id;
    v1::DeleteSliceResponse resp;
    return slices_->DeleteSlice(&ctx, req, &resp);
  }

  grpc::Status Stat(Cred cred, const v1::SliceId& id) {
    grpc::ClientContext ctx;
    Prepare(&ctx, cred, p2p::kStatSliceMethod);
    v1::StatSliceRequest req;
    *req.mutable_id() = id;
    v1::StatSliceResponse resp;
    return slices_->StatSlice(&ctx, req, &resp);
  }

  grpc::Status MetaRead(Cred cred) {
    grpc::ClientContext ctx;
    Prepare(&ctx, cred, "/tessera.v1.MetaService/Read");
    v1::ReadRequest req;
    req.mutable_key()->set_partition(0);
    req.mutable_key()->set_bucket("nope");
    v1::ReadResponse resp;
    return meta_->Read(&ctx, req, &resp);
  }

  grpc::Status MetaScan(Cred cred) {
    grpc::ClientContext ctx;
    Prepare(&ctx, cred, "/tessera.v1.MetaService/Scan");
    v1::ScanRequest req;
    v1::ScanResponse resp;
    return meta_->Scan(&ctx, req, &resp);
  }

  std::unique_ptr<ProcessCluster> cluster_;
  std::unique_ptr<p2p::ClusterAuth> right_, wrong_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::SliceService::Stub> slices_;
  std::unique_ptr<v1::MetaService::Stub> meta_;
};

TEST_F(NodeAuthTest, CallsWithoutAValidClusterTokenAreRefused) {
  // A real object, so node 0 holds real slices.
  sdk::Client& c = cluster_->client();
  auto created = c.CreateBucket("authb");
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string data = TestBytes(3 * kStripe + 5, 7);
  ASSERT_TRUE(c.PutObject("authb", "obj", data).ok());

  // Listing needs the right token too; with it, find one of node 0's slices.
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, Cred::kWrong, p2p::kListSlicesMethod);
    v1::ListSlicesResponse resp;
    EXPECT_EQ(slices_->ListSlices(&ctx, v1::ListSlicesRequest(), &resp).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  v1::ListSlicesResponse listed;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, Cred::kRight, p2p::kListSlicesMethod);
    grpc::Status s = slices_->ListSlices(&ctx, v1::ListSlicesRequest(), &listed);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  ASSERT_GT(listed.slices_size(), 0) << "node 0 holds no slice of a 4-stripe object";
  const v1::SliceId existing = listed.slices(0).id();

  for (Cred cred : {Cred::kNone, Cred::kWrong}) {
    SCOPED_TRACE(cred == Cred::kNone ? "no token" : "token of another secret");
    // Read and delete of a slice that exists.
    EXPECT_EQ(Get(cred, existing).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Delete(cred, existing).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(Stat(cred, existing).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    // Write of a new slice.
    v1::SliceId fresh;
    fresh.set_version_id(std::string(16, cred == Cred::kNone ? 'n' : 'w'));
    EXPECT_EQ(Put(cred, fresh, "intruder bytes").error_code(), grpc::StatusCode::UNAUTHENTICATED);
    // Nothing was stored.
    EXPECT_EQ(Stat(Cred::kRight, fresh).error_code(), grpc::StatusCode::NOT_FOUND);
    // Metadata RPCs (the replicated bucket and object index).
    EXPECT_EQ(MetaRead(cred).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(MetaScan(cred).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }

  // The refused delete did nothing: the slice is still there, and the right token is served.
  grpc::Status stat = Stat(Cred::kRight, existing);
  EXPECT_TRUE(stat.ok()) << stat.error_message();
  grpc::Status get = Get(Cred::kRight, existing);
  EXPECT_TRUE(get.ok()) << get.error_message();
  grpc::Status read = MetaRead(Cred::kRight);
  EXPECT_NE(read.error_code(), grpc::StatusCode::UNAUTHENTICATED) << read.error_message();
  auto got = c.GetObject("authb", "obj");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

// Mutual TLS (p2p/auth/cluster_tls.h): without the cluster's certificates, even a valid token
// gets nowhere, and a client refuses a node that is not the one it meant to call.
TEST_F(NodeAuthTest, TransportRefusesPlaintextOtherClustersAndTheWrongNode) {
  const std::string address = cluster_->node_addresses()[0];
  v1::SliceId fresh;
  fresh.set_version_id(std::string(16, 't'));
  auto put = [&](const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::SliceService::NewStub(channel);
    grpc::ClientContext ctx;
    Prepare(&ctx, Cred::kRight, p2p::kPutSliceMethod);  // a valid token every time
    v1::PutSliceResponse resp;
    auto writer = stub->PutSlice(&ctx, &resp);
    v1::PutSliceRequest req;
    *req.mutable_id() = fresh;
    req.set_length(5);
    req.set_crc32c(0);
    req.set_data("bytes");
    writer->Write(req);
    writer->WritesDone();
    return writer->Finish();
  };
  // Plaintext (what a captured token could be replayed over): the handshake fails.
  EXPECT_EQ(put(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // TLS with the certificates of another cluster secret.
  EXPECT_EQ(put(grpc::CreateChannel(address, wrong_->tls()->ChannelCredentials(""))).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // The right cluster, but the client expects another node at this address.
  EXPECT_EQ(
      put(grpc::CreateChannel(address, right_->tls()->ChannelCredentials(std::string(32, 'a'))))
          .error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // Nothing was stored.
  EXPECT_EQ(Stat(Cred::kRight, fresh).error_code(), grpc::StatusCode::NOT_FOUND);
  // The node's own id (learned from NodeInfo over TLS) is accepted when expected.
  v1::NodeInfoResponse info;
  {
    grpc::ClientContext ctx;
    Prepare(&ctx, Cred::kRight, p2p::kNodeInfoMethod);
    ASSERT_TRUE(slices_->NodeInfo(&ctx, v1::NodeInfoRequest(), &info).ok());
  }
  auto exact = v1::SliceService::NewStub(
      grpc::CreateChannel(address, right_->tls()->ChannelCredentials(info.node_id())));
  grpc::ClientContext ctx;
  Prepare(&ctx, Cred::kRight, p2p::kNodeInfoMethod);
  v1::NodeInfoResponse again;
  grpc::Status s = exact->NodeInfo(&ctx, v1::NodeInfoRequest(), &again);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.node_id(), info.node_id());
}

}  // namespace
}  // namespace tessera::testing
