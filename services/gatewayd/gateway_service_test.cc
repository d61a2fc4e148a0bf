// The gRPC Gateway service never answers an outcome-unknown failure with its code. A commit
// whose outcome is unknown (base/status_reasons.h) may carry a definite-looking code: Paxos
// retries a round and the CAS function sees its own first round's write ("bucket exists",
// "condition not met"). A GatewayService over a FaultyManifestStore (in-memory metadata, 6 real
// nodes over 127.0.0.1) must answer UNAVAILABLE (retry), not ALREADY_EXISTS / FAILED_PRECONDITION.
#include "services/gatewayd/gateway_service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/gateway.grpc.pb.h"
#include "api/sdk/call_signature.h"
#include "base/clock.h"
#include "base/metrics.h"
#include "base/status_reasons.h"
#include "gtest/gtest.h"
#include "services/gatewayd/call_verifier.h"
#include "services/object/faulty_manifest_store.h"
#include "services/object/test_cluster.h"
#include "services/object/work_pool.h"
#include "services/s3/auth/credential_store.h"

namespace tessera::services {
namespace {

constexpr char kKey[] = "ALICEACCESSKEY000001";
constexpr char kSecret[] = "alice-secret-key-000000000001";

class GatewayServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.status().ok()) << cluster_.status();
    ASSERT_TRUE(credentials_.Add({kKey, kSecret, "alice"}).ok());
    auto objects = ObjectService::Create(options_.data, cluster_.deps(), &store_);
    ASSERT_TRUE(objects.ok()) << objects.status();
    objects_ = *std::move(objects);
    GatewayServiceDeps deps;
    deps.objects = objects_.get();
    deps.store = &store_;
    deps.data_path = cluster_.deps();
    deps.handler_pool = &handlers_;
    deps.cluster_status = [] { return v1::ClusterStatusResponse(); };
    deps.verifier = &verifier_;
    deps.registry = &registry_;
    auto service = GatewayService::Create(std::move(deps));
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = v1::Gateway::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // A context signed for `method` as Alice, with a generous deadline.
  std::unique_ptr<grpc::ClientContext> Signed(const char* method) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    absl::StatusOr<sdk::CallSignature> s =
        sdk::SignCall(kKey, kSecret, absl::StrCat(sdk::kGatewayServicePath, method), absl::Now());
    EXPECT_TRUE(s.ok()) << s.status();
    if (s.ok()) {
      ctx->AddMetadata(sdk::kCallAccessKeyHeader, s->access_key);
      ctx->AddMetadata(sdk::kCallDateHeader, s->date);
      ctx->AddMetadata(sdk::kCallNonceHeader, s->nonce);
      ctx->AddMetadata(sdk::kCallSignatureHeader, s->signature);
    }
    return ctx;
  }

  grpc::Status CreateBucket(const std::string& name) {
    auto ctx = Signed("CreateBucket");
    v1::CreateBucketRequest req;
    req.set_bucket(name);
    v1::CreateBucketResponse resp;
    return stub_->CreateBucket(ctx.get(), req, &resp);
  }

  grpc::Status Put(const std::string& bucket, const std::string& key, const std::string& data,
                   bool if_none_match) {
    auto ctx = Signed("PutObject");
    v1::PutObjectResponse resp;
    auto writer = stub_->PutObject(ctx.get(), &resp);
    v1::PutObjectRequest msg;
    msg.mutable_header()->set_bucket(bucket);
    msg.mutable_header()->set_key(key);
    msg.mutable_header()->set_size(static_cast<int64_t>(data.size()));
    msg.mutable_header()->set_if_none_match(if_none_match);
    msg.set_data(data);
    writer->Write(msg);
    writer->WritesDone();
    return writer->Finish();
  }

  // A client-sealed PUT of one stripe (the gateway never opens it, so any bytes do).
  grpc::Status PutSealed(const std::string& bucket, const std::string& key, bool if_none_match) {
    auto ctx = Signed("PutSealedObject");
    v1::PutSealedObjectResponse resp;
    auto writer = stub_->PutSealedObject(ctx.get(), &resp);
    v1::PutSealedObjectRequest msg;
    auto* header = msg.mutable_header();
    header->set_bucket(bucket);
    header->set_key(key);
    header->set_if_none_match(if_none_match);
    header->mutable_sealing()->set_format(1);
    header->mutable_sealing()->set_key_id(1);
    header->mutable_sealing()->set_wrapped_data_key(std::string(72, 'w'));
    header->mutable_sealing()->set_upload_nonce(std::string(16, 'n'));
    auto* stripe = msg.mutable_stripe();
    stripe->set_index(0);
    stripe->set_plaintext_offset(0);
    stripe->set_plaintext_size(100);
    stripe->set_sealed(std::string(140, 's'));
    stripe->set_last(true);
    writer->Write(msg);
    writer->WritesDone();
    return writer->Finish();
  }

  testing::TestClusterOptions options_;
  testing::TestCluster cluster_{options_};
  testing::FaultyManifestStore store_{&cluster_.store()};
  s3::CredentialStore credentials_;
  CallVerifier verifier_{&credentials_, Clock::Real()};
  WorkPool handlers_{4};
  Registry registry_;
  std::unique_ptr<ObjectService> objects_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::Gateway::Stub> stub_;
};

// A client of a newer Gateway API version is refused before anything is done (even before its
// signature is checked), with a message naming both versions; the current version is served.
TEST_F(GatewayServiceTest, ClientOfANewerApiVersionIsRefused) {
  for (const char* version : {"1", "2"}) {
    auto ctx = Signed("ListBuckets");
    ctx->AddMetadata(sdk::kApiVersionHeader, version);
    v1::ListBucketsResponse resp;
    grpc::Status s = stub_->ListBuckets(ctx.get(), v1::ListBucketsRequest(), &resp);
    if (std::string(version) == "1") {
      EXPECT_TRUE(s.ok()) << s.error_message();
    } else {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
      EXPECT_NE(s.error_message().find("gateway API 2; this gateway knows up to 1"),
                std::string::npos)
          << s.error_message();
    }
  }
  EXPECT_TRUE(IsNewerFormat(sdk::CheckApiVersion("2")));
  EXPECT_TRUE(sdk::CheckApiVersion("").ok());
  EXPECT_EQ(sdk::CheckApiVersion("v1").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GatewayServiceTest, OutcomeUnknownCreateBucketIsUnavailable) {
  store_.FailCreateBucketsWith(1, absl::AlreadyExistsError("bucket exists: ou-b"));
  grpc::Status s = CreateBucket("ou-b");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // The retry sees what really happened: the bucket was made.
  EXPECT_EQ(CreateBucket("ou-b").error_code(), grpc::StatusCode::ALREADY_EXISTS);
}

TEST_F(GatewayServiceTest, OutcomeUnknownConditionalPutIsUnavailable) {
  ASSERT_TRUE(CreateBucket("ou-p").ok());
  store_.FailPutsAfterApplyingWith("ou-p", 1, ConditionNotMet("injected: key exists"));
  grpc::Status s = Put("ou-p", "k", "landed", /*if_none_match=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // A not-found-looking unknown outcome is no NOT_FOUND either.
  store_.FailPutsAfterApplyingWith("ou-p", 1, absl::NotFoundError("no such key: ou-p/j"));
  s = Put("ou-p", "j", "landed", /*if_none_match=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(GatewayServiceTest, OutcomeUnknownSealedPutIsUnavailable) {
  ASSERT_TRUE(CreateBucket("ou-s").ok());
  store_.FailPutsAfterApplyingWith("ou-s", 1, ConditionNotMet("injected: key exists"));
  grpc::Status s = PutSealed("ou-s", "k", /*if_none_match=*/true);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  // The retry sees what really happened: the object landed.
  EXPECT_EQ(PutSealed("ou-s", "k", /*if_none_match=*/true).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace tessera::services
