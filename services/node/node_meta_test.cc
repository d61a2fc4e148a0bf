// tessera-node hosts the replicated-metadata MetaService: same port, same cluster-auth check,
// state in <data_dir>/meta that survives a restart.
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "api/metadata.grpc.pb.h"
#include "base/metrics.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "p2p/auth/cluster_secret.h"
#include "services/meta/layout.h"
#include "services/meta/meta_client.h"
#include "services/meta/meta_key.h"
#include "services/meta/meta_service.h"
#include "services/node/node_server.h"

namespace tessera::services {
namespace {

using ::tessera::testing::IsOk;
using ::testing::Optional;

std::string TestDir(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
}

class NodeMetaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_file_ = TestDir(absl::StrCat("secret_", counter_++));
    ASSERT_THAT(p2p::ClusterSecret::Generate(secret_file_), IsOk());
    auto auth = p2p::ClusterAuth::FromSecretFile(secret_file_, "test-gateway");
    ASSERT_THAT(auth.status(), IsOk());
    auth_ = *std::move(auth);
    data_dir_ = TestDir(absl::StrCat("node_meta_", counter_++));
  }

  absl::StatusOr<std::unique_ptr<NodeServer>> StartNode(bool with_meta = true) {
    NodeOptions o;
    o.data_dir = data_dir_;
    o.listen = "127.0.0.1:0";
    o.admin_listen = "127.0.0.1:0";
    o.reserved_bytes = 0;
    o.enable_membership = false;
    o.enable_meta_service = with_meta;
    o.cluster_secret_file = secret_file_;
    o.registry = &registry_;
    return NodeServer::Start(o);
  }

  absl::StatusOr<std::unique_ptr<MetaClient>> ClientFor(const NodeServer& node,
                                                        std::shared_ptr<const p2p::ClusterAuth> a) {
    LayoutOptions lo;
    lo.partitions = 8;
    lo.replicas = 1;
    lo.write_quorum = 1;
    lo.read_quorum = 1;
    auto layout = Layout::Compute(
        1, {{node.node_id(), "site0", absl::StrCat("127.0.0.1:", node.port())}}, lo);
    if (!layout.ok()) return layout.status();
    MetaClientOptions mo;
    mo.auth = std::move(a);
    mo.paxos.max_rounds = 2;
    return MetaClient::Create(LayoutView(*std::move(layout)), mo);
  }

  static int counter_;
  Registry registry_;
  std::string secret_file_;
  std::string data_dir_;
  std::shared_ptr<const p2p::ClusterAuth> auth_;
};
int NodeMetaTest::counter_ = 0;

TEST_F(NodeMetaTest, RefusesCallsWithoutValidTokenBeforeTouchingTheStore) {
  auto node = StartNode();
  ASSERT_THAT(node.status(), IsOk());
  // The cluster's TLS, so that what is tested is the token check behind it.
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*node)->port()),
                                     auth_->tls()->ChannelCredentials(""));
  auto stub = v1::MetaService::NewStub(channel);
  v1::ReadRequest request;
  *request.mutable_key() = BucketRecordKey("b", 8);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::ReadResponse response;
    EXPECT_EQ(stub->Read(&ctx, request, &response).error_code(), grpc::UNAUTHENTICATED);
  }
  {  // A token minted for another method is refused too.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auth_->Attach(&ctx, kMetaScanMethod);
    v1::ReadResponse response;
    EXPECT_EQ(stub->Read(&ctx, request, &response).error_code(), grpc::UNAUTHENTICATED);
  }
  {  // The right token for Read is accepted.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auth_->Attach(&ctx, kMetaReadMethod);
    v1::ReadResponse response;
    EXPECT_TRUE(stub->Read(&ctx, request, &response).ok());
  }
  // A MetaClient with another cluster's secret cannot write.
  auto other = p2p::ClusterSecret::Random();
  ASSERT_THAT(other.status(), IsOk());
  p2p::ClusterAuthOptions other_options;
  other_options.caller_id = "stranger";
  auto stranger = p2p::ClusterAuth::Create(*other, other_options);
  ASSERT_THAT(stranger.status(), IsOk());
  auto bad_client =
      ClientFor(**node, std::shared_ptr<const p2p::ClusterAuth>(*std::move(stranger)));
  ASSERT_THAT(bad_client.status(), IsOk());
  auto written =
      (*bad_client)
          ->CompareAndSet(BucketRecordKey("b", 8),
                          [](const MetaValue&) -> absl::StatusOr<MetaValue> { return "x"; });
  EXPECT_FALSE(written.ok());
  auto unauth_client = ClientFor(**node, nullptr);
  ASSERT_THAT(unauth_client.status(), IsOk());
  EXPECT_FALSE((*unauth_client)->Get(BucketRecordKey("b", 8)).ok());
  // Nothing was written by either.
  auto client = ClientFor(**node, auth_);
  ASSERT_THAT(client.status(), IsOk());
  auto read = (*client)->Get(BucketRecordKey("b", 8));
  ASSERT_THAT(read.status(), IsOk());
  EXPECT_FALSE(read->has_value());
}

TEST_F(NodeMetaTest, MetadataIsDurableAcrossRestart) {
  {
    auto node = StartNode();
    ASSERT_THAT(node.status(), IsOk());
    auto client = ClientFor(**node, auth_);
    ASSERT_THAT(client.status(), IsOk());
    auto written = (*client)->CompareAndSet(BucketRecordKey("photos", 8),
                                            [](const MetaValue& cur) -> absl::StatusOr<MetaValue> {
                                              if (cur.has_value())
                                                return absl::AlreadyExistsError("exists");
                                              return std::string("record-1");
                                            });
    ASSERT_THAT(written.status(), IsOk());
    (*node)->Shutdown(absl::Seconds(1));
  }
  auto node = StartNode();  // same data_dir, new port
  ASSERT_THAT(node.status(), IsOk());
  auto client = ClientFor(**node, auth_);
  ASSERT_THAT(client.status(), IsOk());
  auto read = (*client)->Get(BucketRecordKey("photos", 8));
  ASSERT_THAT(read.status(), IsOk());
  EXPECT_THAT(*read, Optional(std::string("record-1")));
}

// Clients check over TLS that they reached the node id they meant to call (cluster_tls.h), so
// a channel is only good for one (node id, address) pair: when a different node takes over an
// address (a machine rebuilt with a new data dir), the client must dial it afresh, not keep
// a channel that expects the old id and is refused forever.
TEST_F(NodeMetaTest, AcceptorClientFollowsANewNodeAtAnOldAddress) {
  auto first = StartNode();
  ASSERT_THAT(first.status(), IsOk());
  const std::string id1 = (*first)->node_id();
  const uint16_t port = (*first)->port();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  GrpcAcceptorClient acceptors(absl::Seconds(20), auth_);
  auto read = [&](const std::string& node_id) {
    absl::Notification done;
    absl::Status status;
    v1::ReadRequest request;
    *request.mutable_key() = BucketRecordKey("b", 8);
    acceptors.Read(node_id, request, [&](absl::StatusOr<v1::ReadResponse> r) {
      status = r.status();
      done.Notify();
    });
    done.WaitForNotification();
    return status;
  };
  acceptors.SetMembers({{id1, "site0", address}});
  ASSERT_THAT(read(id1), IsOk());
  (*first)->Shutdown(absl::Seconds(5));
  first->reset();

  // Another node (own data dir, so another identity) on the same port.
  Registry registry2;
  NodeOptions o;
  o.data_dir = data_dir_ + "-second";
  o.listen = address;
  o.admin_listen = "127.0.0.1:0";
  o.reserved_bytes = 0;
  o.enable_membership = false;
  o.cluster_secret_file = secret_file_;
  o.registry = &registry2;
  auto second = NodeServer::Start(o);
  ASSERT_THAT(second.status(), IsOk());
  const std::string id2 = (*second)->node_id();
  ASSERT_NE(id1, id2);
  acceptors.SetMembers({{id2, "site0", address}});
  EXPECT_THAT(read(id2), IsOk());
  (*second)->Shutdown(absl::Seconds(5));
}

TEST_F(NodeMetaTest, CanBeDisabled) {
  auto node = StartNode(/*with_meta=*/false);
  ASSERT_THAT(node.status(), IsOk());
  auto stub = v1::MetaService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", (*node)->port()), auth_->tls()->ChannelCredentials("")));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auth_->Attach(&ctx, kMetaReadMethod);
  v1::ReadRequest request;
  v1::ReadResponse response;
  EXPECT_EQ(stub->Read(&ctx, request, &response).error_code(), grpc::UNIMPLEMENTED);
}

}  // namespace
}  // namespace tessera::services
