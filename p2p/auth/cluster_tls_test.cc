#include "p2p/auth/cluster_tls.h"

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "api/node.grpc.pb.h"
#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_secret.h"
#include "p2p/identity/node_identity.h"

namespace tessera::p2p {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::StatusIs;

// Answers NodeInfo with the caller's verified node id (what a handler can rely on).
class EchoPeer final : public v1::SliceService::Service {
 public:
  grpc::Status NodeInfo(grpc::ServerContext* context, const v1::NodeInfoRequest*,
                        v1::NodeInfoResponse* response) override {
    response->set_node_id(ClusterTls::PeerNodeId(*context));
    return grpc::Status::OK;
  }
};

class TlsServer {
 public:
  explicit TlsServer(std::shared_ptr<grpc::ServerCredentials> credentials) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
  }
  ~TlsServer() { server_->Shutdown(); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  EchoPeer service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::unique_ptr<NodeIdentity> NewIdentity() {
  auto identity = NodeIdentity::Generate();
  EXPECT_THAT(identity.status(), IsOk());
  return *std::move(identity);
}

std::unique_ptr<ClusterTls> NewTls(const ClusterSecret& secret, const NodeIdentity* identity) {
  auto tls = ClusterTls::Create(secret, identity);
  EXPECT_THAT(tls.status(), IsOk());
  return *std::move(tls);
}

// One NodeInfo call; on success *peer_seen is the id the server saw for the client.
grpc::Status Call(const std::string& address, std::shared_ptr<grpc::ChannelCredentials> creds,
                  std::string* peer_seen = nullptr) {
  auto stub = v1::SliceService::NewStub(grpc::CreateChannel(address, creds));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::NodeInfoResponse response;
  grpc::Status s = stub->NodeInfo(&ctx, v1::NodeInfoRequest(), &response);
  if (peer_seen != nullptr) *peer_seen = response.node_id();
  return s;
}

class ClusterTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto secret = ClusterSecret::Random();
    ASSERT_THAT(secret.status(), IsOk());
    secret_ = std::make_unique<ClusterSecret>(*secret);
    node_ = NewIdentity();
    client_ = NewIdentity();
    node_tls_ = NewTls(*secret_, node_.get());
    client_tls_ = NewTls(*secret_, client_.get());
  }

  std::unique_ptr<ClusterSecret> secret_;
  std::unique_ptr<NodeIdentity> node_;
  std::unique_ptr<NodeIdentity> client_;
  std::unique_ptr<ClusterTls> node_tls_;
  std::unique_ptr<ClusterTls> client_tls_;
};

TEST_F(ClusterTlsTest, EveryHolderOfTheSecretDerivesTheSameCaAndNoOneElseDoes) {
  EXPECT_EQ(node_tls_->ca_cert_pem(), client_tls_->ca_cert_pem());
  EXPECT_NE(node_tls_->cert_pem(), client_tls_->cert_pem());
  auto other = ClusterSecret::Random();
  ASSERT_THAT(other.status(), IsOk());
  EXPECT_NE(NewTls(*other, node_.get())->ca_cert_pem(), node_tls_->ca_cert_pem());
  // Without an identity, an ephemeral key is certified.
  std::unique_ptr<ClusterTls> ephemeral = NewTls(*secret_, nullptr);
  EXPECT_EQ(ephemeral->node_id().size(), 2 * NodeIdentity::kNodeIdBytes);
  EXPECT_NE(ephemeral->node_id(), node_->node_id());
}

TEST_F(ClusterTlsTest, MemberCertificatesAreSelfCertifying) {
  std::string id;
  EXPECT_THAT(ClusterTls::CheckMemberCertificate(node_tls_->cert_pem(), "", &id), IsOk());
  EXPECT_EQ(id, node_->node_id());
  EXPECT_THAT(ClusterTls::CheckMemberCertificate(node_tls_->cert_pem(), node_->node_id()), IsOk());
  EXPECT_THAT(ClusterTls::CheckMemberCertificate(node_tls_->cert_pem(), client_->node_id()),
              StatusIs(absl::StatusCode::kUnauthenticated));
  // A CA-issued certificate for the client's key that claims the node's id.
  std::string seed = client_->SecretSeed();
  auto forged = node_tls_->IssueForTest(seed, node_->node_id());
  ASSERT_THAT(forged.status(), IsOk());
  EXPECT_THAT(ClusterTls::CheckMemberCertificate(forged->second, ""),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(ClusterTls::CheckMemberCertificate("not a certificate", ""),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(ClusterTlsTest, MembersTalkAndTheServerLearnsTheCallersId) {
  TlsServer server(node_tls_->ServerCredentials());
  std::string seen;
  grpc::Status s = Call(server.address(), client_tls_->ChannelCredentials(node_->node_id()), &seen);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen, client_->node_id());
  // "Any member" (a seed address) works too.
  s = Call(server.address(), client_tls_->ChannelCredentials(""), &seen);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen, client_->node_id());
}

TEST_F(ClusterTlsTest, PlaintextClientIsRefused) {
  TlsServer server(node_tls_->ServerCredentials());
  EXPECT_FALSE(Call(server.address(), grpc::InsecureChannelCredentials()).ok());
}

TEST_F(ClusterTlsTest, ClientWithoutACertificateIsRefused) {
  TlsServer server(node_tls_->ServerCredentials());
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = node_tls_->ca_cert_pem();
  EXPECT_FALSE(Call(server.address(), grpc::SslCredentials(ssl)).ok());
}

TEST_F(ClusterTlsTest, ClientOfAnotherClusterIsRefused) {
  TlsServer server(node_tls_->ServerCredentials());
  auto other = ClusterSecret::Random();
  ASSERT_THAT(other.status(), IsOk());
  std::unique_ptr<ClusterTls> stranger = NewTls(*other, client_.get());
  EXPECT_FALSE(Call(server.address(), stranger->ChannelCredentials(node_->node_id())).ok());
  EXPECT_FALSE(Call(server.address(), stranger->ChannelCredentials("")).ok());
}

TEST_F(ClusterTlsTest, ServerOfAnotherClusterIsRefused) {
  auto other = ClusterSecret::Random();
  ASSERT_THAT(other.status(), IsOk());
  std::unique_ptr<ClusterTls> impostor = NewTls(*other, node_.get());
  TlsServer server(impostor->ServerCredentials());
  EXPECT_FALSE(Call(server.address(), client_tls_->ChannelCredentials(node_->node_id())).ok());
}

TEST_F(ClusterTlsTest, ClientRefusesAServerThatIsNotTheNodeItMeantToCall) {
  TlsServer server(node_tls_->ServerCredentials());
  std::unique_ptr<NodeIdentity> someone_else = NewIdentity();
  grpc::Status s = Call(server.address(), client_tls_->ChannelCredentials(someone_else->node_id()));
  EXPECT_FALSE(s.ok());
}

TEST_F(ClusterTlsTest, AMemberCannotPoseAsAnotherNodeWithoutItsKey) {
  // `client_` holds the cluster secret, so it can have the CA sign a certificate naming the
  // node's id for its own key; the handshake still refuses it in both directions.
  std::string seed = client_->SecretSeed();
  auto forged = client_tls_->IssueForTest(seed, node_->node_id());
  ASSERT_THAT(forged.status(), IsOk());
  {
    TlsServer impostor(client_tls_->ServerCredentialsForTest(forged->first, forged->second));
    EXPECT_FALSE(Call(impostor.address(), client_tls_->ChannelCredentials(node_->node_id())).ok());
    EXPECT_FALSE(Call(impostor.address(), client_tls_->ChannelCredentials("")).ok());
  }
  TlsServer server(node_tls_->ServerCredentials());
  EXPECT_FALSE(Call(server.address(),
                    client_tls_->ChannelCredentialsForTest(forged->first, forged->second, ""))
                   .ok());
  // The same key with an honest certificate is accepted (the refusals above are the forgery).
  auto honest = client_tls_->IssueForTest(seed, client_->node_id());
  ASSERT_THAT(honest.status(), IsOk());
  std::string seen;
  grpc::Status s =
      Call(server.address(),
           client_tls_->ChannelCredentialsForTest(honest->first, honest->second, ""), &seen);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen, client_->node_id());
}

}  // namespace
}  // namespace tessera::p2p
