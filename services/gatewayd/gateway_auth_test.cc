// The Gateway gRPC API authenticates every call and authorises it as S3 does. A real
// GatewayServer (in process, gRPC over a loopback socket) over a ReplicatedTestCluster, and an
// S3RequestHandler over the same nodes and master key, so both front ends see one store:
//   * every RPC refuses calls with no credentials, a wrong secret, an unknown access key, an
//     expired signing time, another method's signature, and a replayed signature
//     (UNAUTHENTICATED), and changes nothing;
//   * a second user cannot read, write or delete the first user's private bucket
//     (PERMISSION_DENIED) but can read a public-read one, and S3 answers the same;
//   * TLS: a TLS gateway serves a client that trusts its certificate, and refuses plaintext.
#include <openssl/sha.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/gateway.grpc.pb.h"
#include "api/sdk/call_signature.h"
#include "api/sdk/client.h"
#include "base/clock.h"
#include "base/testing/status_matchers.h"
#include "base/testing/temp_dir.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "services/gatewayd/gateway_server.h"
#include "services/object/multipart.h"
#include "services/object/replicated_test_cluster.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/auth/sigv4.h"
#include "services/s3/handlers/s3_front_end.h"
#include "storage/crypto/key_file.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;

struct User {
  std::string key, secret, id;
};
const User kAlice{"ALICEACCESSKEY000001", "alice-secret-key-000000000001", "alice"};
const User kBob{"BOBACCESSKEY00000001", "bob-secret-key-00000000000001", "bob"};

std::string TmpDir() {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

// --- S3 requests handed straight to S3RequestHandler::Handle (signed with SigV4)
// ------------------------

class StringBody : public s3::HttpBodyReader {
 public:
  explicit StringBody(std::string data) : data_(std::move(data)) {}
  absl::Status Read(size_t max, std::string* out) override {
    *out = data_.substr(pos_, max);
    pos_ += out->size();
    return absl::OkStatus();
  }
  std::optional<uint64_t> content_length() const override { return data_.size(); }
  bool done() const override { return pos_ == data_.size(); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

struct S3Response {
  int status = 0;
  std::string body;
};

class CapturingWriter : public s3::HttpResponseWriter {
 public:
  explicit CapturingWriter(S3Response* r) : r_(r) {}
  absl::Status Send(s3::HttpServerResponse response) override {
    started_ = true;
    r_->status = response.status;
    r_->body = std::move(response.body);
    return absl::OkStatus();
  }
  absl::Status StartBody(int status, std::vector<std::pair<std::string, std::string>>,
                         uint64_t) override {
    started_ = true;
    r_->status = status;
    return absl::OkStatus();
  }
  absl::Status WriteBody(absl::string_view data) override {
    r_->body.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status EndBody() override { return absl::OkStatus(); }
  bool started() const override { return started_; }

 private:
  S3Response* r_;
  bool started_ = false;
};

// --- The Gateway RPCs, called with raw stubs so a test controls the metadata
// -----------------------

enum Rpc {
  kCreateBucket,
  kDeleteBucket,
  kHeadBucket,
  kListBuckets,
  kPutObject,
  kGetObject,
  kHeadObject,
  kDeleteObject,
  kListObjects,
  kClusterStatus,
  kPutSealedObject,
  kGetSealedObject,
  kRpcCount
};
constexpr const char* kRpcNames[] = {"CreateBucket",  "DeleteBucket",    "HeadBucket",
                                     "ListBuckets",   "PutObject",       "GetObject",
                                     "HeadObject",    "DeleteObject",    "ListObjects",
                                     "ClusterStatus", "PutSealedObject", "GetSealedObject"};
static_assert(sizeof(kRpcNames) / sizeof(kRpcNames[0]) == kRpcCount);

std::string FullMethod(int rpc) { return absl::StrCat(sdk::kGatewayServicePath, kRpcNames[rpc]); }

using Metadata = std::vector<std::pair<std::string, std::string>>;

Metadata ToMetadata(const sdk::CallSignature& s) {
  return {{sdk::kCallAccessKeyHeader, s.access_key},
          {sdk::kCallDateHeader, s.date},
          {sdk::kCallNonceHeader, s.nonce},
          {sdk::kCallSignatureHeader, s.signature}};
}

Metadata Signed(const std::string& method, const std::string& key, const std::string& secret,
                absl::Time at) {
  absl::StatusOr<sdk::CallSignature> s = sdk::SignCall(key, secret, method, at);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? ToMetadata(*s) : Metadata();
}

// What each RPC targets in the authentication tests: all of it exists (or, for CreateBucket,
// does not) and belongs to Alice, so that an accepted call would succeed and change something.
constexpr char kAuthBucket[] = "auth-alice";
constexpr char kAuthEmptyBucket[] = "auth-alice-empty";
constexpr char kAuthNewBucket[] = "auth-made-by-call";
constexpr char kAuthNewKey[] = "put-by-call";
constexpr char kAuthDoomedKey[] = "doomed";
constexpr char kAuthSealedKey[] = "sealed";
constexpr char kAuthNewSealedKey[] = "sealed-by-call";

// Sealing parameters and a "sealed" stripe: the gateway neither can nor does check what the
// client sealed, so any bytes of the right shape are stored.
sdk::ClientSealing FakeSealing() {
  sdk::ClientSealing s;
  s.format = 1;
  s.key_id = 7;
  s.wrapped_data_key = std::string(77, 'w');
  s.upload_nonce = std::string(16, 'n');
  return s;
}

class GatewayAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    testing::ReplicatedClusterOptions co;
    co.data.stripe_size = 64 << 10;
    co.data.inline_threshold = 1 << 10;
    cluster_ = new testing::ReplicatedTestCluster(co);
    ASSERT_OK(cluster_->status());
    // A fresh directory per suite run: the key file is never overwritten, so a fixed path would
    // fail the second --gtest_repeat repetition.
    const std::string dir = ::tessera::testing::UniqueTestDir("gateway_auth");
    key_file_ = new std::string(dir + "/master.key");
    ASSERT_OK(storage::GenerateMasterKeyFile(*key_file_, 1));
    credentials_file_ = new std::string(dir + "/users.ini");
    {
      std::ofstream out(*credentials_file_);
      for (const User& u : {kAlice, kBob}) {
        out << "[" << u.id << "]\naccess_key = " << u.key << "\nsecret_key = " << u.secret << "\n";
      }
    }
    ASSERT_EQ(::chmod(credentials_file_->c_str(), 0600), 0);

    registry_ = new Registry();
    ASSERT_OK_AND_ASSIGN(auto server, GatewayServer::Start(ServerOptions(registry_)));
    server_ = server.release();
    endpoint_ = new std::string(absl::StrCat("127.0.0.1:", server_->port()));
    channel_ = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel(*endpoint_, grpc::InsecureChannelCredentials()));

    // S3 over the same nodes, master key and users.
    ObjectBackendOptions bo = cluster_->GatewayOptions();
    bo.keyring = nullptr;
    bo.master_key_file = *key_file_;
    ASSERT_OK_AND_ASSIGN(auto backend, OpenObjectBackend(std::move(bo)));
    s3_backend_ = backend.release();
    ASSERT_OK_AND_ASSIGN(auto creds, s3::CredentialStore::LoadFromFile(*credentials_file_));
    s3_credentials_ = creds.release();
    ASSERT_OK_AND_ASSIGN(
        auto front, s3::S3FrontEnd::Create({s3::S3RequestHandlerOptions{}, co.data},
                                           &s3_backend_->objects(), &s3_backend_->store(),
                                           s3_backend_->deps(), s3_credentials_, Clock::Real()));
    s3_ = front.release();
  }

  static void TearDownTestSuite() {
    delete s3_;
    delete s3_credentials_;
    delete s3_backend_;
    delete channel_;
    delete server_;
    delete registry_;
    delete endpoint_;
    delete credentials_file_;
    delete key_file_;
    delete cluster_;
  }

  static GatewayServerOptions ServerOptions(Registry* registry) {
    GatewayServerOptions o;
    for (int i = 0; i < cluster_->size(); ++i) o.seeds.push_back(cluster_->address(i));
    o.cluster_secret_file = cluster_->secret_file();
    o.master_key_file = *key_file_;
    o.credentials_file = *credentials_file_;
    o.data.stripe_size = 64 << 10;
    o.data.inline_threshold = 1 << 10;
    o.gc_interval = absl::ZeroDuration();
    o.orphan_interval = absl::ZeroDuration();
    o.registry = registry;
    return o;
  }

  // An SDK client signing as `user`.
  static std::unique_ptr<sdk::Client> ClientFor(const User& user) {
    sdk::ClientOptions o;
    o.access_key_id = user.key;
    o.secret_access_key = user.secret;
    auto c = sdk::Client::Connect(*endpoint_, o);
    EXPECT_OK(c.status());
    return c.ok() ? *std::move(c) : nullptr;
  }

  // A client-sealed object of two fake stripes, uploaded through the SDK's raw call.
  static absl::StatusOr<sdk::ObjectInfo> PutFakeSealed(sdk::Client& client,
                                                       const std::string& bucket,
                                                       const std::string& key) {
    int sent = 0;
    return client.PutSealedObject(bucket, key, FakeSealing(),
                                  [&sent]() -> absl::StatusOr<sdk::SealedStripe> {
                                    sdk::SealedStripe s;
                                    s.index = sent;
                                    s.plaintext_offset = 10 * sent;
                                    s.plaintext_size = 10;
                                    s.sealed = std::string(51, static_cast<char>('a' + sent));
                                    s.last = ++sent == 2;
                                    return s;
                                  });
  }

  // Calls `rpc` on the auth-test targets with exactly `md` as metadata.
  static grpc::Status Invoke(int rpc, const Metadata& md) {
    auto stub = v1::Gateway::NewStub(*channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    for (const auto& [k, v] : md) ctx.AddMetadata(k, v);
    switch (rpc) {
      case kCreateBucket: {
        v1::CreateBucketRequest req;
        req.set_bucket(kAuthNewBucket);
        v1::CreateBucketResponse resp;
        return stub->CreateBucket(&ctx, req, &resp);
      }
      case kDeleteBucket: {
        v1::DeleteBucketRequest req;
        req.set_bucket(kAuthEmptyBucket);
        v1::DeleteBucketResponse resp;
        return stub->DeleteBucket(&ctx, req, &resp);
      }
      case kHeadBucket: {
        v1::HeadBucketRequest req;
        req.set_bucket(kAuthBucket);
        v1::HeadBucketResponse resp;
        return stub->HeadBucket(&ctx, req, &resp);
      }
      case kListBuckets: {
        v1::ListBucketsResponse resp;
        grpc::Status s = stub->ListBuckets(&ctx, v1::ListBucketsRequest(), &resp);
        if (!s.ok()) {
          EXPECT_EQ(resp.buckets_size(), 0);
        }
        return s;
      }
      case kPutObject: {
        v1::PutObjectResponse resp;
        auto writer = stub->PutObject(&ctx, &resp);
        v1::PutObjectRequest msg;
        msg.mutable_header()->set_bucket(kAuthBucket);
        msg.mutable_header()->set_key(kAuthNewKey);
        msg.mutable_header()->set_size(3);
        msg.set_data("abc");
        writer->Write(msg);
        writer->WritesDone();
        return writer->Finish();
      }
      case kGetObject: {
        v1::GetObjectRequest req;
        req.set_bucket(kAuthBucket);
        req.set_key("k");
        auto reader = stub->GetObject(&ctx, req);
        v1::GetObjectResponse resp;
        std::string data;
        while (reader->Read(&resp)) data += resp.data();
        grpc::Status s = reader->Finish();
        if (!s.ok()) {
          EXPECT_EQ(data, "");  // not one byte to a refused caller
        }
        return s;
      }
      case kHeadObject: {
        v1::HeadObjectRequest req;
        req.set_bucket(kAuthBucket);
        req.set_key("k");
        v1::HeadObjectResponse resp;
        return stub->HeadObject(&ctx, req, &resp);
      }
      case kDeleteObject: {
        v1::DeleteObjectRequest req;
        req.set_bucket(kAuthBucket);
        req.set_key(kAuthDoomedKey);
        v1::DeleteObjectResponse resp;
        return stub->DeleteObject(&ctx, req, &resp);
      }
      case kListObjects: {
        v1::ListObjectsRequest req;
        req.set_bucket(kAuthBucket);
        v1::ListObjectsResponse resp;
        return stub->ListObjects(&ctx, req, &resp);
      }
      case kClusterStatus: {
        v1::ClusterStatusResponse resp;
        return stub->ClusterStatus(&ctx, v1::ClusterStatusRequest(), &resp);
      }
      case kPutSealedObject: {
        v1::PutSealedObjectResponse resp;
        auto writer = stub->PutSealedObject(&ctx, &resp);
        v1::PutSealedObjectRequest msg;
        msg.mutable_header()->set_bucket(kAuthBucket);
        msg.mutable_header()->set_key(kAuthNewSealedKey);
        const sdk::ClientSealing fake = FakeSealing();
        v1::ClientSealing* sealing = msg.mutable_header()->mutable_sealing();
        sealing->set_format(fake.format);
        sealing->set_key_id(fake.key_id);
        sealing->set_wrapped_data_key(fake.wrapped_data_key);
        sealing->set_upload_nonce(fake.upload_nonce);
        msg.mutable_stripe()->set_plaintext_size(3);
        msg.mutable_stripe()->set_sealed(std::string(44, 's'));
        msg.mutable_stripe()->set_last(true);
        writer->Write(msg);
        writer->WritesDone();
        return writer->Finish();
      }
      case kGetSealedObject: {
        v1::GetSealedObjectRequest req;
        req.set_bucket(kAuthBucket);
        req.set_key(kAuthSealedKey);
        auto reader = stub->GetSealedObject(&ctx, req);
        v1::GetSealedObjectResponse resp;
        std::string data;
        while (reader->Read(&resp)) data += resp.stripe().sealed();
        grpc::Status s = reader->Finish();
        if (!s.ok()) {
          EXPECT_EQ(data, "");  // not one byte to a refused caller
        }
        return s;
      }
    }
    return grpc::Status(grpc::StatusCode::INTERNAL, "no such rpc");
  }

  // Sends an S3 request as `user` (nullptr: anonymous).
  static S3Response S3(const User* user, const std::string& method, const std::string& target,
                       std::string body = "",
                       std::vector<std::pair<std::string, std::string>> extra = {}) {
    s3::HttpServerRequest req;
    req.method = method;
    req.target = target;
    req.request_id = "REQ";
    req.headers.emplace_back("host", "127.0.0.1:9000");
    if (method == "PUT") req.headers.emplace_back("content-length", absl::StrCat(body.size()));
    for (auto& h : extra) req.headers.push_back(h);
    if (user != nullptr) {
      const std::string date = absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now(), absl::UTCTimeZone());
      unsigned char digest[SHA256_DIGEST_LENGTH];
      SHA256(reinterpret_cast<const unsigned char*>(body.data()), body.size(), digest);
      const std::string payload = absl::BytesToHexString(
          absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
      req.headers.emplace_back("x-amz-date", date);
      req.headers.emplace_back("x-amz-content-sha256", payload);
      s3::HttpRequest h{req.method, req.target, req.headers};
      // Every x-amz-* header is signed (the verifier refuses unsigned ones).
      std::vector<std::string> names = {"host", "x-amz-content-sha256", "x-amz-date"};
      for (const auto& [name, value] : req.headers) {
        const std::string lower = absl::AsciiStrToLower(name);
        if (absl::StartsWith(lower, "x-amz-") &&
            std::find(names.begin(), names.end(), lower) == names.end()) {
          names.push_back(lower);
        }
      }
      std::sort(names.begin(), names.end());
      auto auth = s3::SignAuthorizationHeader(h, user->key, user->secret, "us-east-1", date, names,
                                              payload);
      EXPECT_OK(auth.status());
      if (auth.ok()) req.headers.emplace_back("authorization", *auth);
    }
    S3Response r;
    StringBody b(std::move(body));
    CapturingWriter w(&r);
    s3_->gateway().Handle(req, &b, &w);
    return r;
  }

  static testing::ReplicatedTestCluster* cluster_;
  static std::string* key_file_;
  static std::string* credentials_file_;
  static Registry* registry_;
  static GatewayServer* server_;
  static std::string* endpoint_;
  static std::shared_ptr<grpc::Channel>* channel_;
  static ObjectBackend* s3_backend_;
  static s3::CredentialStore* s3_credentials_;
  static s3::S3FrontEnd* s3_;
};
testing::ReplicatedTestCluster* GatewayAuthTest::cluster_ = nullptr;
std::string* GatewayAuthTest::key_file_ = nullptr;
std::string* GatewayAuthTest::credentials_file_ = nullptr;
Registry* GatewayAuthTest::registry_ = nullptr;
GatewayServer* GatewayAuthTest::server_ = nullptr;
std::string* GatewayAuthTest::endpoint_ = nullptr;
std::shared_ptr<grpc::Channel>* GatewayAuthTest::channel_ = nullptr;
ObjectBackend* GatewayAuthTest::s3_backend_ = nullptr;
s3::CredentialStore* GatewayAuthTest::s3_credentials_ = nullptr;
s3::S3FrontEnd* GatewayAuthTest::s3_ = nullptr;

TEST_F(GatewayAuthTest, EveryRpcRefusesCallsThatAreNotValidlySigned) {
  std::unique_ptr<sdk::Client> alice = ClientFor(kAlice);
  ASSERT_NE(alice, nullptr);
  ASSERT_OK(alice->CreateBucket(kAuthBucket).status());
  ASSERT_OK(alice->CreateBucket(kAuthEmptyBucket).status());
  ASSERT_OK(alice->PutObject(kAuthBucket, "k", "alice's data").status());
  ASSERT_OK(alice->PutObject(kAuthBucket, kAuthDoomedKey, "still here").status());
  ASSERT_OK(PutFakeSealed(*alice, kAuthBucket, kAuthSealedKey).status());

  const absl::Time now = absl::Now();
  for (int rpc = 0; rpc < kRpcCount; ++rpc) {
    const std::string method = FullMethod(rpc);
    const std::string other = FullMethod((rpc + 1) % kRpcCount);
    const std::vector<std::pair<const char*, Metadata>> cases = {
        {"no credentials", {}},
        {"wrong secret", Signed(method, kAlice.key, "not-alices-secret-0000000001", now)},
        {"another user's secret", Signed(method, kAlice.key, kBob.secret, now)},
        {"unknown access key", Signed(method, "UNKNOWNACCESSKEY0001", kAlice.secret, now)},
        {"expired", Signed(method, kAlice.key, kAlice.secret, now - absl::Minutes(20))},
        {"from the future", Signed(method, kAlice.key, kAlice.secret, now + absl::Minutes(20))},
        {"signed for another method", Signed(other, kAlice.key, kAlice.secret, now)},
        {"key id only", {{sdk::kCallAccessKeyHeader, kAlice.key}}},
    };
    for (const auto& [what, md] : cases) {
      grpc::Status s = Invoke(rpc, md);
      EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
          << kRpcNames[rpc] << " with " << what << ": " << s.error_code() << " "
          << s.error_message();
    }
  }
  // Nothing any of those calls asked for happened.
  EXPECT_THAT(alice->HeadBucket(kAuthNewBucket), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(alice->HeadBucket(kAuthEmptyBucket).status());
  EXPECT_THAT(alice->HeadObject(kAuthBucket, kAuthNewKey), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(alice->HeadObject(kAuthBucket, kAuthNewSealedKey),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(std::string doomed, alice->GetObject(kAuthBucket, kAuthDoomedKey));
  EXPECT_EQ(doomed, "still here");

  // A valid signature works once; the same metadata again is a replay.
  for (int rpc = 0; rpc < kRpcCount; ++rpc) {
    const Metadata md = Signed(FullMethod(rpc), kAlice.key, kAlice.secret, absl::Now());
    grpc::Status first = Invoke(rpc, md);
    EXPECT_TRUE(first.ok()) << kRpcNames[rpc] << ": " << first.error_code() << " "
                            << first.error_message();
    grpc::Status again = Invoke(rpc, md);
    EXPECT_EQ(again.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << kRpcNames[rpc] << " replayed: " << again.error_code() << " " << again.error_message();
  }
}

TEST_F(GatewayAuthTest, UsersReachOnlyTheirOwnAndPublicReadBucketsAndS3Agrees) {
  std::unique_ptr<sdk::Client> alice = ClientFor(kAlice);
  std::unique_ptr<sdk::Client> bob = ClientFor(kBob);
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob, nullptr);

  // Alice: a private bucket through gRPC, a public-read one through S3.
  ASSERT_OK_AND_ASSIGN(sdk::Bucket made, alice->CreateBucket("perm-private"));
  EXPECT_EQ(made.owner, "alice");
  ASSERT_OK(alice->PutObject("perm-private", "secret.txt", "alice only").status());
  ASSERT_EQ(S3(&kAlice, "PUT", "/perm-public", "", {{"x-amz-acl", "public-read"}}).status, 200);
  ASSERT_EQ(S3(&kAlice, "PUT", "/perm-public/hello.txt", "hello world").status, 200);

  // Bob, through gRPC, cannot read, write or delete in Alice's private bucket...
  const auto denied = StatusIs(absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(bob->HeadBucket("perm-private"), denied);
  EXPECT_THAT(bob->GetObject("perm-private", "secret.txt"), denied);
  EXPECT_THAT(bob->HeadObject("perm-private", "secret.txt"), denied);
  EXPECT_THAT(bob->ListObjects("perm-private"), denied);
  EXPECT_THAT(bob->PutObject("perm-private", "bobs.txt", "x"), denied);
  EXPECT_THAT(bob->DeleteObject("perm-private", "secret.txt"), denied);
  EXPECT_THAT(bob->DeleteBucket("perm-private"), denied);
  ASSERT_OK(PutFakeSealed(*alice, "perm-private", "sealed").status());
  EXPECT_THAT(PutFakeSealed(*bob, "perm-private", "bobs-sealed"), denied);
  int stripes_to_bob = 0;
  EXPECT_THAT(bob->GetSealedObject(
                  "perm-private", "sealed", {},
                  [](const sdk::ObjectInfo&, const sdk::ClientSealing&, uint32_t) {
                    return absl::OkStatus();
                  },
                  [&](sdk::SealedStripe) {
                    ++stripes_to_bob;
                    return absl::OkStatus();
                  }),
              denied);
  EXPECT_EQ(stripes_to_bob, 0);
  EXPECT_THAT(alice->HeadObject("perm-private", "bobs-sealed"),
              StatusIs(absl::StatusCode::kNotFound));
  // ... and S3 says the same.
  EXPECT_EQ(S3(&kBob, "GET", "/perm-private/secret.txt").status, 403);
  EXPECT_EQ(S3(&kBob, "DELETE", "/perm-private/secret.txt").status, 403);
  EXPECT_EQ(S3(nullptr, "GET", "/perm-private/secret.txt").status, 403);

  // A client-sealed object through the plain API and S3: refused, never the ciphertext as data.
  EXPECT_THAT(alice->GetObject("perm-private", "sealed"),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("sealed")));
  const S3Response sealed_s3 = S3(&kAlice, "GET", "/perm-private/sealed");
  EXPECT_GE(sealed_s3.status, 400);
  EXPECT_FALSE(absl::StrContains(sealed_s3.body, std::string(10, 'a'))) << sealed_s3.body;
  // And GetSealedObject of a plain object is refused too.
  EXPECT_THAT(alice->GetSealedObject(
                  "perm-private", "secret.txt", {},
                  [](const sdk::ObjectInfo&, const sdk::ClientSealing&, uint32_t) {
                    return absl::OkStatus();
                  },
                  [](sdk::SealedStripe) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // Bob may read the public-read bucket (through both) but not write it.
  ASSERT_OK_AND_ASSIGN(std::string pub, bob->GetObject("perm-public", "hello.txt"));
  EXPECT_EQ(pub, "hello world");
  EXPECT_OK(bob->ListObjects("perm-public").status());
  EXPECT_THAT(bob->PutObject("perm-public", "bobs.txt", "x"), denied);
  EXPECT_THAT(bob->DeleteObject("perm-public", "hello.txt"), denied);
  EXPECT_EQ(S3(&kBob, "GET", "/perm-public/hello.txt").body, "hello world");
  EXPECT_EQ(S3(&kBob, "PUT", "/perm-public/bobs.txt", "x").status, 403);

  // Nothing Bob tried changed Alice's data; she sees it through both front ends.
  ASSERT_OK_AND_ASSIGN(std::string mine, alice->GetObject("perm-private", "secret.txt"));
  EXPECT_EQ(mine, "alice only");
  EXPECT_EQ(S3(&kAlice, "GET", "/perm-private/secret.txt").body, "alice only");
  EXPECT_THAT(alice->HeadObject("perm-private", "bobs.txt"), StatusIs(absl::StatusCode::kNotFound));

  // Each lists only their own buckets, through gRPC as through S3.
  ASSERT_OK_AND_ASSIGN(auto bobs_buckets, bob->ListBuckets());
  for (const sdk::Bucket& b : bobs_buckets) EXPECT_EQ(b.owner, "bob") << b.name;
  ASSERT_OK(bob->CreateBucket("perm-bob").status());
  ASSERT_OK_AND_ASSIGN(auto alices_buckets, alice->ListBuckets());
  std::set<std::string> grpc_names;
  for (const sdk::Bucket& b : alices_buckets) grpc_names.insert(b.name);
  EXPECT_TRUE(grpc_names.count("perm-private") == 1 && grpc_names.count("perm-public") == 1);
  EXPECT_EQ(grpc_names.count("perm-bob"), 0u);
  const S3Response listed = S3(&kAlice, "GET", "/");
  ASSERT_EQ(listed.status, 200);
  for (const std::string& name : grpc_names) {
    EXPECT_TRUE(absl::StrContains(listed.body, absl::StrCat("<Name>", name, "</Name>"))) << name;
  }
  EXPECT_FALSE(absl::StrContains(listed.body, "perm-bob")) << listed.body;
  // Bob's gRPC-made bucket is his in S3 too.
  EXPECT_EQ(S3(&kBob, "PUT", "/perm-bob/b.txt", "bob's").status, 200);
  EXPECT_EQ(S3(&kAlice, "GET", "/perm-bob/b.txt").status, 403);
}

// CreateBucketRequest.acl: the canned ACLs S3's x-amz-acl takes, enforced by the same policy.
TEST_F(GatewayAuthTest, CreateBucketTakesCannedAcl) {
  std::unique_ptr<sdk::Client> alice = ClientFor(kAlice);
  std::unique_ptr<sdk::Client> bob = ClientFor(kBob);
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob, nullptr);
  ASSERT_OK_AND_ASSIGN(sdk::Bucket pub, alice->CreateBucket("acl-public", {.acl = "public-read"}));
  EXPECT_EQ(pub.acl, "public-read");
  ASSERT_OK_AND_ASSIGN(sdk::Bucket priv, alice->CreateBucket("acl-private"));
  EXPECT_EQ(priv.acl, "private");
  ASSERT_OK(alice->PutObject("acl-public", "k", "for everyone").status());
  ASSERT_OK(alice->PutObject("acl-private", "k", "for alice").status());

  // Bob (gRPC and S3) and anonymous S3 callers may read the public-read bucket, not write it.
  ASSERT_OK_AND_ASSIGN(std::string got, bob->GetObject("acl-public", "k"));
  EXPECT_EQ(got, "for everyone");
  ASSERT_OK_AND_ASSIGN(sdk::Bucket seen, bob->HeadBucket("acl-public"));
  EXPECT_EQ(seen.acl, "public-read");
  EXPECT_EQ(S3(&kBob, "GET", "/acl-public/k").body, "for everyone");
  EXPECT_EQ(S3(nullptr, "GET", "/acl-public/k").body, "for everyone");
  const auto denied = StatusIs(absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(bob->PutObject("acl-public", "bobs", "x"), denied);
  EXPECT_THAT(bob->DeleteObject("acl-public", "k"), denied);
  EXPECT_THAT(bob->DeleteBucket("acl-public"), denied);
  // The default stays private.
  EXPECT_THAT(bob->GetObject("acl-private", "k"), denied);
  EXPECT_EQ(S3(nullptr, "GET", "/acl-private/k").status, 403);

  // Unsupported or unknown ACLs are refused, not narrowed to private, and create nothing.
  EXPECT_THAT(alice->CreateBucket("acl-rw", {.acl = "public-read-write"}),
              StatusIs(absl::StatusCode::kUnimplemented));
  EXPECT_THAT(alice->CreateBucket("acl-bogus", {.acl = "everyone"}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(alice->HeadBucket("acl-rw"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(alice->HeadBucket("acl-bogus"), StatusIs(absl::StatusCode::kNotFound));
}

// gRPC if_none_match is decided by the commit itself: a stream that passed the check when its
// header arrived still fails FAILED_PRECONDITION if the key was created before it committed.
TEST_F(GatewayAuthTest, ConditionalPutIsDecidedWhenItCommits) {
  std::unique_ptr<sdk::Client> alice = ClientFor(kAlice);
  ASSERT_NE(alice, nullptr);
  ASSERT_OK(alice->CreateBucket("cond-grpc").status());
  auto stub = v1::Gateway::NewStub(*channel_);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  for (const auto& [k, v] :
       Signed(FullMethod(kPutObject), kAlice.key, kAlice.secret, absl::Now())) {
    ctx.AddMetadata(k, v);
  }
  v1::PutObjectResponse resp;
  auto writer = stub->PutObject(&ctx, &resp);
  v1::PutObjectRequest msg;
  msg.mutable_header()->set_bucket("cond-grpc");
  msg.mutable_header()->set_key("k");
  msg.mutable_header()->set_size(-1);
  msg.mutable_header()->set_if_none_match(true);
  msg.set_data("from the conditional stream");
  ASSERT_TRUE(writer->Write(msg));
  // Give the gateway time to look at the header first (its only check before); the expectation
  // below holds in either order.
  absl::SleepFor(absl::Seconds(1));
  ASSERT_OK(alice->PutObject("cond-grpc", "k", "created meanwhile").status());
  v1::PutObjectRequest last;
  last.set_last(true);
  ASSERT_TRUE(writer->Write(last));
  writer->WritesDone();
  grpc::Status s = writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  ASSERT_OK_AND_ASSIGN(std::string got, alice->GetObject("cond-grpc", "k"));
  EXPECT_EQ(got, "created meanwhile");
}

int RunShell(const std::string& command) { return std::system(command.c_str()); }

TEST_F(GatewayAuthTest, TlsGatewayServesTrustingClientsOnly) {
  const std::string cert = TmpDir() + "/gw_cert.pem", key = TmpDir() + "/gw_key.pem";
  ASSERT_EQ(RunShell(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                                  "/CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
                                  " -keyout ",
                                  key, " -out ", cert, " 2>/dev/null")),
            0);
  Registry registry;
  GatewayServerOptions o = ServerOptions(&registry);
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  ASSERT_OK_AND_ASSIGN(auto server, GatewayServer::Start(o));
  const std::string endpoint = absl::StrCat("127.0.0.1:", server->port());

  sdk::ClientOptions co;
  co.access_key_id = kAlice.key;
  co.secret_access_key = kAlice.secret;
  co.tls_root_certs_file = cert;
  ASSERT_OK_AND_ASSIGN(auto client, sdk::Client::Connect(endpoint, co));
  ASSERT_OK(client->CreateBucket("tls-bucket").status());
  ASSERT_OK(client->PutObject("tls-bucket", "k", "over tls").status());
  ASSERT_OK_AND_ASSIGN(std::string got, client->GetObject("tls-bucket", "k"));
  EXPECT_EQ(got, "over tls");

  // TLS does not replace signatures: without credentials the call is still refused.
  sdk::ClientOptions anonymous;
  anonymous.tls_root_certs_file = cert;
  ASSERT_OK_AND_ASSIGN(auto stranger, sdk::Client::Connect(endpoint, anonymous));
  EXPECT_THAT(stranger->ListBuckets(), StatusIs(absl::StatusCode::kUnauthenticated));

  // A plaintext client never gets through to the service.
  sdk::ClientOptions plain;
  plain.access_key_id = kAlice.key;
  plain.secret_access_key = kAlice.secret;
  plain.connect_timeout = absl::Seconds(2);
  auto p = sdk::Client::Connect(endpoint, plain);
  if (p.ok()) {
    EXPECT_FALSE((*p)->ListBuckets().ok());
  }
  server->Shutdown(absl::ZeroDuration());
}

// Issue 15: credentials (SIGHUP: ReloadCredentials) and TLS certificates (re-read every
// tls_refresh_interval) change without a restart; open the new channels, the old key and the old
// certificate stop working.
TEST_F(GatewayAuthTest, CredentialsAndCertificatesAreReloadedWithoutARestart) {
  const std::string dir = TmpDir() + "/reload";
  std::filesystem::create_directories(dir);
  auto make_cert = [&](const std::string& name) {
    const std::string cert = dir + "/" + name + "_cert.pem", key = dir + "/" + name + "_key.pem";
    EXPECT_EQ(RunShell(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
                                    "/CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout ",
                                    key, " -out ", cert, " 2>/dev/null")),
              0);
    return std::make_pair(cert, key);
  };
  const auto [cert_a, key_a] = make_cert("a");
  const auto [cert_b, key_b] = make_cert("b");
  const std::string cert = dir + "/tls.crt", key = dir + "/tls.key";
  std::filesystem::copy_file(cert_a, cert);
  std::filesystem::copy_file(key_a, key);
  const std::string users = dir + "/users.ini";
  auto write_users = [&](const User& u) {
    const std::string tmp = users + ".new";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "[" << u.id << "]\naccess_key = " << u.key << "\nsecret_key = " << u.secret << "\n";
    }
    ASSERT_EQ(::chmod(tmp.c_str(), 0600), 0);
    std::filesystem::rename(tmp, users);
  };
  write_users(kAlice);

  Registry registry;
  GatewayServerOptions o = ServerOptions(&registry);
  o.credentials_file = users;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  o.tls_refresh_interval = absl::Seconds(1);
  ASSERT_OK_AND_ASSIGN(auto server, GatewayServer::Start(o));
  const std::string endpoint = absl::StrCat("127.0.0.1:", server->port());
  auto list_as = [&](const User& u, const std::string& root) {
    sdk::ClientOptions co;
    co.access_key_id = u.key;
    co.secret_access_key = u.secret;
    co.tls_root_certs_file = root;
    co.connect_timeout = absl::Seconds(5);
    auto c = sdk::Client::Connect(endpoint, co);
    if (!c.ok()) return c.status();
    return (*c)->ListBuckets().status();
  };
  ASSERT_OK(list_as(kAlice, cert_a));
  EXPECT_THAT(list_as(kBob, cert_a), StatusIs(absl::StatusCode::kUnauthenticated));

  // Bob replaces Alice in the file: nothing changes until the reload.
  write_users(kBob);
  EXPECT_THAT(list_as(kBob, cert_a), StatusIs(absl::StatusCode::kUnauthenticated));
  ASSERT_OK(server->ReloadCredentials());
  ASSERT_OK(list_as(kBob, cert_a));
  EXPECT_THAT(list_as(kAlice, cert_a), StatusIs(absl::StatusCode::kUnauthenticated));
  // A file that does not load (readable by others) changes nothing.
  ASSERT_EQ(::chmod(users.c_str(), 0644), 0);
  EXPECT_FALSE(server->ReloadCredentials().ok());
  ASSERT_OK(list_as(kBob, cert_a));

  // The renewed certificate (key first, each file replaced whole) is served within the refresh.
  std::filesystem::copy_file(key_b, key + ".new");
  std::filesystem::rename(key + ".new", key);
  std::filesystem::copy_file(cert_b, cert + ".new");
  std::filesystem::rename(cert + ".new", cert);
  absl::Status with_b;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(60); absl::Now() < deadline;) {
    with_b = list_as(kBob, cert_b);
    if (with_b.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_OK(with_b);
  EXPECT_FALSE(list_as(kBob, cert_a).ok()) << "the old certificate is still served";
  server->Shutdown(absl::ZeroDuration());
}

TEST_F(GatewayAuthTest, ServerRefusesToStartWithoutUsers) {
  Registry registry;
  GatewayServerOptions o = ServerOptions(&registry);
  o.credentials_file = "";
  EXPECT_THAT(GatewayServer::Start(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                                ::testing::HasSubstr("--credentials_file")));
  o.credentials_file = TmpDir() + "/no-such-users.ini";
  EXPECT_FALSE(GatewayServer::Start(o).ok());
  o.credentials_file = *credentials_file_;
  o.tls_cert_file = "cert.pem";  // without a key
  EXPECT_THAT(GatewayServer::Start(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

// ClusterStatus reports every node's capacity and free space as its slice store measures them
// (statvfs of its data dir; the test nodes have no --capacity_bytes cap and no reserve). Before,
// the gateway dropped capacity on the way (StorageNode had no field for it): 0 for every node.
TEST_F(GatewayAuthTest, ClusterStatusReportsNodeCapacityFromTheirDisks) {
  struct statvfs vfs {};
  ASSERT_EQ(::statvfs(TmpDir().c_str(), &vfs), 0);
  const uint64_t disk = static_cast<uint64_t>(vfs.f_blocks) * vfs.f_frsize;
  ASSERT_GT(disk, 0u);
  auto client = ClientFor(kAlice);
  ASSERT_NE(client, nullptr);
  ASSERT_OK_AND_ASSIGN(sdk::ClusterStatus st, client->GetClusterStatus());
  ASSERT_EQ(st.nodes.size(), static_cast<size_t>(cluster_->size()));
  for (const sdk::NodeStatus& node : st.nodes) {
    EXPECT_EQ(node.capacity_bytes, disk) << node.node_id;
    EXPECT_GT(node.free_bytes, 0u) << node.node_id;
    EXPECT_LE(node.free_bytes, node.capacity_bytes) << node.node_id;
  }
}

}  // namespace
}  // namespace tessera::services
