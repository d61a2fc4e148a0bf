// S3RequestHandler without an HTTP server: requests are signed here (SigV4, real clock), handed to
// Handle() with an in-memory body, and the response is captured. The data path is a TestCluster
// (6 in-process nodes, in-memory manifest store).
#include "services/s3/handlers/s3_request_handler.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/object/faulty_manifest_store.h"
#include "services/object/multipart.h"
#include "services/object/test_cluster.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/handlers/s3_front_end.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services::s3 {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using ::testing::HasSubstr;

class StringBody : public HttpBodyReader {
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

struct Response {
  int status = 0;
  Headers headers;
  std::string body;
  const std::string* Header(absl::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, name)) return &v;
    }
    return nullptr;
  }
  bool HasCode(absl::string_view code) const {
    return absl::StrContains(body, absl::StrCat("<Code>", code, "</Code>"));
  }
};

class CapturingWriter : public HttpResponseWriter {
 public:
  explicit CapturingWriter(Response* r) : r_(r) {}
  absl::Status Send(HttpServerResponse response) override {
    started_ = true;
    r_->status = response.status;
    r_->headers = std::move(response.headers);
    r_->body = std::move(response.body);
    return absl::OkStatus();
  }
  absl::Status StartBody(int status, Headers headers, uint64_t) override {
    started_ = true;
    r_->status = status;
    r_->headers = std::move(headers);
    return absl::OkStatus();
  }
  absl::Status WriteBody(absl::string_view data) override {
    r_->body.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status EndBody() override { return absl::OkStatus(); }
  bool started() const override { return started_; }

 private:
  Response* r_;
  bool started_ = false;
};

// Makes two requests meet: every GetLatest of `key` reads, then waits (up to 30 s) until `parties`
// callers have read in its round, so two conditional PUTs both see the key as it was before either
// committed, at every point where they look at it.
class RendezvousStore : public services::testing::FaultyManifestStore {
 public:
  RendezvousStore(ManifestStore* base, std::string key, int parties)
      : FaultyManifestStore(base), key_(std::move(key)), parties_(parties) {}
  absl::StatusOr<v1::ObjectManifest> GetLatest(const std::string& bucket,
                                               const std::string& key) override {
    absl::StatusOr<v1::ObjectManifest> latest = FaultyManifestStore::GetLatest(bucket, key);
    if (key == key_) {  // answer only once the other request has read too
      absl::MutexLock lock(&mu_);
      Round round{&arrived_, (arrived_ / parties_ + 1) * parties_};
      ++arrived_;
      mu_.AwaitWithTimeout(absl::Condition(&Met, &round), absl::Seconds(30));
    }
    return latest;
  }

 private:
  struct Round {
    const int* arrived;
    int target;
  };
  static bool Met(Round* r) { return *r->arrived >= r->target; }

  const std::string key_;
  const int parties_;
  absl::Mutex mu_;
  int arrived_ = 0;
};

constexpr char kAliceKey[] = "AKIAALICE00000000001";
constexpr char kAliceSecret[] = "alicesecretalicesecret0123456789";
constexpr char kBobKey[] = "AKIABOB0000000000001";
constexpr char kBobSecret[] = "bobsecretbobsecretbob0123456789x";

struct User {
  const char* key;
  const char* secret;
};
const User kAlice{kAliceKey, kAliceSecret};
const User kBob{kBobKey, kBobSecret};
const User kAnonymous{nullptr, nullptr};

class S3RequestHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.status().ok()) << cluster_.status();
    ASSERT_TRUE(credentials_.Add({kAliceKey, kAliceSecret, "alice"}).ok());
    ASSERT_TRUE(credentials_.Add({kBobKey, kBobSecret, "bob"}).ok());
    UseRegion("us-east-1");
  }

  // (Re)creates the gateway serving `region`; requests are then signed for it.
  void UseRegion(const std::string& region) {
    region_ = region;
    S3FrontEndOptions o;
    o.gateway.region = region;
    o.data = options_.data;
    front_.reset();
    auto front = S3FrontEnd::Create(o, &cluster_.service(), &cluster_.store(), cluster_.deps(),
                                    &credentials_, Clock::Real());
    ASSERT_TRUE(front.ok()) << front.status();
    front_ = *std::move(front);
  }

  // Sends `method target` as `user` (signed, payload hash signed) with `body`.
  Response Do(const User& user, const std::string& method, const std::string& target,
              std::string body = "", Headers extra = {}) {
    HttpServerRequest req;
    req.method = method;
    req.target = target;
    const int request_number = ++request_counter_;
    req.request_id = absl::StrCat("REQ", request_number);
    req.headers.emplace_back("host", "127.0.0.1:9000");
    if (method == "PUT" || method == "POST") {
      req.headers.emplace_back("content-length", absl::StrCat(body.size()));
    }
    for (auto& h : extra) req.headers.push_back(h);
    if (user.key != nullptr) {
      const std::string date =
          absl::FormatTime("%Y%m%dT%H%M%SZ", absl::Now() + sign_offset_, absl::UTCTimeZone());
      std::unique_ptr<Hasher> sha = NewHasher(ChecksumAlgorithm::kSha256);
      sha->Update(body);
      const std::string payload = sha->FinishHex();
      req.headers.emplace_back("x-amz-date", date);
      req.headers.emplace_back("x-amz-content-sha256", payload);
      HttpRequest h{req.method, req.target, req.headers};
      std::vector<std::string> signed_headers = {"host", "x-amz-content-sha256", "x-amz-date"};
      for (const auto& [name, value] : extra) {
        const std::string lower = absl::AsciiStrToLower(name);
        if (absl::StartsWith(lower, "x-amz-") && !unsigned_extras_) {
          signed_headers.push_back(lower);
        }
      }
      std::sort(signed_headers.begin(), signed_headers.end());
      signed_headers.erase(std::unique(signed_headers.begin(), signed_headers.end()),
                           signed_headers.end());
      auto auth =
          SignAuthorizationHeader(h, user.key, user.secret, region_, date, signed_headers, payload);
      EXPECT_TRUE(auth.ok()) << auth.status();
      req.headers.emplace_back("authorization", *auth);
    }
    if (!method_after_signing_.empty()) req.method = method_after_signing_;
    Response r;
    StringBody b(std::move(body));
    CapturingWriter w(&r);
    (through_ != nullptr ? through_ : &front_->gateway())->Handle(req, &b, &w);
    EXPECT_TRUE(w.started()) << method << " " << target << " sent nothing";
    if (r.status >= 400 && method != "HEAD") {
      // Every error body names its request id and the resource.
      EXPECT_TRUE(absl::StrContains(r.body, absl::StrCat("<RequestId>REQ", request_number)))
          << r.body;
    }
    return r;
  }

  testing::TestClusterOptions options_;
  testing::TestCluster cluster_{options_};
  CredentialStore credentials_;
  std::unique_ptr<S3FrontEnd> front_;  // the front end as the servers build it
  std::atomic<int> request_counter_{0};
  S3RequestHandler* through_ = nullptr;  // set: requests go to this gateway instead of front_'s
  absl::Duration sign_offset_;           // added to the signing time
  bool unsigned_extras_ = false;         // true: `extra` x-amz-* headers are sent but not signed
  // Replaces the method after signing (a request altered on the way).
  std::string method_after_signing_;
  std::string region_;
};

TEST_F(S3RequestHandlerTest, MetricsCountRequestsByOperationStatusAndBytes) {
  Registry registry;
  auto metrics = S3Metrics::Create(&registry);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  S3FrontEndOptions o;
  o.gateway.metrics = metrics->get();
  o.data = options_.data;
  auto front = S3FrontEnd::Create(o, &cluster_.service(), &cluster_.store(), cluster_.deps(),
                                  &credentials_, Clock::Real());
  ASSERT_TRUE(front.ok()) << front.status();
  through_ = &(*front)->gateway();
  EXPECT_EQ(Do(kAlice, "PUT", "/metered").status, 200);
  EXPECT_EQ(Do(kAlice, "PUT", "/metered/a", std::string(3000, 'x')).status, 200);
  EXPECT_EQ(Do(kAlice, "PUT", "/metered/b", std::string(1000, 'y')).status, 200);
  Response got = Do(kAlice, "GET", "/metered/a");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(Do(kAlice, "GET", "/metered/missing").status, 404);
  EXPECT_EQ(Do(kAnonymous, "GET", "/metered/a").status, 403);
  Do(kAlice, "BREW", "/metered");  // not routable: counted as Unknown
  through_ = nullptr;

  const std::string text = registry.Serialize();
  EXPECT_THAT(text,
              HasSubstr("tessera_s3_requests_total{operation=\"CreateBucket\",code=\"200\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("tessera_s3_requests_total{operation=\"PutObject\",code=\"200\"} 2\n"));
  EXPECT_THAT(text,
              HasSubstr("tessera_s3_requests_total{operation=\"GetObject\",code=\"200\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("tessera_s3_requests_total{operation=\"GetObject\",code=\"404\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("tessera_s3_requests_total{operation=\"GetObject\",code=\"403\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("tessera_s3_requests_total{operation=\"Unknown\","));
  EXPECT_THAT(text, HasSubstr("tessera_s3_received_bytes_total{operation=\"PutObject\"} 4000\n"));
  // The 200's body and the error bodies (XML) of the failed GETs.
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("tessera_s3_sent_bytes_total{operation=\"GetObject\"} ")));
  EXPECT_THAT(text,
              HasSubstr("tessera_s3_request_duration_seconds_count{operation=\"PutObject\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("tessera_s3_inflight_requests 0\n"));
  EXPECT_EQ(got.body.size(), 3000u);
}

TEST_F(S3RequestHandlerTest, BucketLifecycleAndErrors) {
  EXPECT_EQ(Do(kAlice, "PUT", "/photos").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/photos/kept", "still here").status, 200);
  // us-east-1: re-creating your own bucket is 200 OK and changes nothing (AWS legacy rule).
  Response r = Do(kAlice, "PUT", "/photos");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Do(kAlice, "GET", "/photos/kept").body, "still here");
  ASSERT_EQ(Do(kAlice, "DELETE", "/photos/kept").status, 204);
  UseRegion("eu-west-1");  // every other region: BucketAlreadyOwnedByYou
  r = Do(kAlice, "PUT", "/photos");
  EXPECT_EQ(r.status, 409);
  EXPECT_TRUE(r.HasCode("BucketAlreadyOwnedByYou")) << r.body;
  UseRegion("us-east-1");
  r = Do(kBob, "PUT", "/photos");
  EXPECT_EQ(r.status, 409);
  EXPECT_TRUE(r.HasCode("BucketAlreadyExists")) << r.body;
  r = Do(kAlice, "PUT", "/Bad_Name");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("InvalidBucketName")) << r.body;
  EXPECT_EQ(Do(kAlice, "HEAD", "/photos").status, 200);
  EXPECT_EQ(Do(kAlice, "HEAD", "/nothere").status, 404);
  r = Do(kAlice, "GET", "/nothere?list-type=2");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchBucket")) << r.body;
  EXPECT_EQ(Do(kAlice, "PUT", "/photos/cat", "meow").status, 200);
  r = Do(kAlice, "DELETE", "/photos");
  EXPECT_EQ(r.status, 409);
  EXPECT_TRUE(r.HasCode("BucketNotEmpty")) << r.body;
  EXPECT_EQ(Do(kAlice, "DELETE", "/photos/cat").status, 204);
  EXPECT_EQ(Do(kAlice, "DELETE", "/photos/cat").status, 204);  // idempotent
  EXPECT_EQ(Do(kAlice, "DELETE", "/photos").status, 204);
  r = Do(kAlice, "DELETE", "/photos");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchBucket")) << r.body;
}

TEST_F(S3RequestHandlerTest, ObjectErrors) {
  ASSERT_EQ(Do(kAlice, "PUT", "/bk1").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/bk1/k", "0123456789").status, 200);
  Response r = Do(kAlice, "GET", "/bk1/missing");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchKey")) << r.body;
  EXPECT_EQ(Do(kAlice, "HEAD", "/bk1/missing").status, 404);  // (the server sends no body)
  r = Do(kAlice, "GET", "/bk1/k", "", {{"range", "bytes=20-30"}});
  EXPECT_EQ(r.status, 416);
  EXPECT_TRUE(r.HasCode("InvalidRange")) << r.body;
  r = Do(kAlice, "GET", "/bk1/k", "", {{"range", "bytes=-3"}});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, "789");
  r = Do(kAlice, "GET", "/bk1/k", "", {{"if-match", "\"nope\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_TRUE(r.HasCode("PreconditionFailed")) << r.body;
  r = Do(kAlice, "PUT", "/bk1/md5", "payload", {{"content-md5", "AAAAAAAAAAAAAAAAAAAAAA=="}});
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("BadDigest")) << r.body;
  EXPECT_EQ(Do(kAlice, "HEAD", "/bk1/md5").status, 404);
  r = Do(kAlice, "POST", "/bk1?delete", "<Delete><Object><Key>k</Key></Object");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("MalformedXML")) << r.body;
  r = Do(kAlice, "DELETE", "/bk1/k?uploadId=00000000000000000000000000000000");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchUpload")) << r.body;
  r = Do(kAlice, "PUT", "/bk1/copy", "",
         {{"x-amz-copy-source", "/bk1/k"}, {"x-amz-copy-source-if-match", "\"nope\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Do(kAlice, "HEAD", "/bk1/copy").status, 404);
  r = Do(kAlice, "PUT", "/bk1/copy", "", {{"x-amz-copy-source", "/bk1/none"}});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchKey")) << r.body;
}

TEST_F(S3RequestHandlerTest, PutWithoutContentLengthIs411) {
  ASSERT_EQ(Do(kAlice, "PUT", "/len-b").status, 200);
  HttpServerRequest req;
  req.method = "PUT";
  req.target = "/len-b/k";
  req.request_id = "R411";
  req.headers = {{"host", "127.0.0.1:9000"}};
  Response r;
  StringBody b("");
  CapturingWriter w(&r);
  front_->gateway().Handle(req, &b, &w);
  EXPECT_EQ(r.status, 411);
  EXPECT_TRUE(r.HasCode("MissingContentLength")) << r.body;
  EXPECT_EQ(Do(kAlice, "HEAD", "/len-b/k").status, 404);
}

TEST_F(S3RequestHandlerTest, ConditionalWrites) {
  ASSERT_EQ(Do(kAlice, "PUT", "/cw-b").status, 200);
  EXPECT_EQ(Do(kAlice, "PUT", "/cw-b/k", "first", {{"if-none-match", "*"}}).status, 200);
  Response r = Do(kAlice, "PUT", "/cw-b/k", "second", {{"if-none-match", "*"}});
  EXPECT_EQ(r.status, 412);
  EXPECT_TRUE(r.HasCode("PreconditionFailed")) << r.body;
  r = Do(kAlice, "GET", "/cw-b/k");
  EXPECT_EQ(r.body, "first");
  const std::string etag = *r.Header("ETag");
  r = Do(kAlice, "PUT", "/cw-b/k", "third", {{"if-match", "\"0123\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(Do(kAlice, "PUT", "/cw-b/k", "fourth", {{"if-match", etag}}).status, 200);
  EXPECT_EQ(Do(kAlice, "GET", "/cw-b/k").body, "fourth");
  r = Do(kAlice, "PUT", "/cw-b/none", "x", {{"if-match", etag}});
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchKey")) << r.body;
}

// Two conditional PUTs that both look at the key before either commits: exactly one may win,
// because the condition is decided in the commit itself.
TEST_F(S3RequestHandlerTest, ConcurrentConditionalWritesHaveOneWinner) {
  ASSERT_EQ(Do(kAlice, "PUT", "/race-b").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/race-b/matched", "base").status, 200);
  const std::string base_etag = *Do(kAlice, "HEAD", "/race-b/matched").Header("ETag");
  struct Case {
    std::string key;
    Headers condition;
  };
  for (const Case& c :
       {Case{"fresh", {{"if-none-match", "*"}}}, Case{"matched", {{"if-match", base_etag}}}}) {
    SCOPED_TRACE(c.key);
    RendezvousStore store(&cluster_.store(), c.key, 2);
    auto objects = ObjectService::Create(options_.data, cluster_.deps(), &store);
    ASSERT_TRUE(objects.ok()) << objects.status();
    S3RequestHandler racing(S3RequestHandlerOptions{}, objects->get(), &front_->uploads(),
                            cluster_.deps(), &credentials_, Clock::Real());
    Response r1, r2;
    through_ = &racing;
    std::thread t([&] { r1 = Do(kAlice, "PUT", "/race-b/" + c.key, "one", c.condition); });
    r2 = Do(kAlice, "PUT", "/race-b/" + c.key, "two", c.condition);
    t.join();
    through_ = nullptr;
    const int wins = (r1.status == 200) + (r2.status == 200);
    EXPECT_EQ(wins, 1) << r1.status << " " << r2.status;
    const Response& loser = r1.status == 200 ? r2 : r1;
    EXPECT_EQ(loser.status, 412);
    EXPECT_TRUE(loser.HasCode("PreconditionFailed")) << loser.body;
    const std::string winner = r1.status == 200 ? "one" : "two";
    EXPECT_EQ(Do(kAlice, "GET", "/race-b/" + c.key).body, winner);
  }
}

// A commit whose outcome is unknown (base/status_reasons.h) may carry a definite-looking code:
// Paxos retries a round, the CAS function sees the write of its own first round and answers
// "bucket exists" or "condition not met". S3 must answer 500 InternalError (clients retry), never
// BucketAlreadyOwnedByYou / 412; the retry then sees what really happened.
TEST_F(S3RequestHandlerTest, OutcomeUnknownIsNeverADefiniteAnswer) {
  services::testing::FaultyManifestStore store(&cluster_.store());
  auto objects = ObjectService::Create(options_.data, cluster_.deps(), &store);
  ASSERT_TRUE(objects.ok()) << objects.status();
  S3RequestHandlerOptions o;
  o.region = "eu-west-1";
  UseRegion("eu-west-1");  // sign for it
  S3RequestHandler faulty(o, objects->get(), &front_->uploads(), cluster_.deps(), &credentials_,
                          Clock::Real());
  through_ = &faulty;

  store.FailCreateBucketsWith(1, absl::AlreadyExistsError("bucket exists: ou-b"));
  Response r = Do(kAlice, "PUT", "/ou-b");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(r.HasCode("InternalError")) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "Please try again")) << r.body;
  r = Do(kAlice, "PUT", "/ou-b");  // the retry learns the truth: it was created
  EXPECT_EQ(r.status, 409);
  EXPECT_TRUE(r.HasCode("BucketAlreadyOwnedByYou")) << r.body;

  store.FailPutsAfterApplyingWith("ou-b", 1, ConditionNotMet("injected: key exists"));
  r = Do(kAlice, "PUT", "/ou-b/k", "landed", {{"if-none-match", "*"}});
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(r.HasCode("InternalError")) << r.body;
  EXPECT_EQ(Do(kAlice, "GET", "/ou-b/k").body, "landed");

  store.FailPutsAfterApplyingWith("ou-b", 1, absl::NotFoundError("no such key: ou-b/k"));
  r = Do(kAlice, "PUT", "/ou-b/k", "again",
         {{"if-match", *Do(kAlice, "HEAD", "/ou-b/k").Header("ETag")}});
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(r.HasCode("InternalError")) << r.body;
  through_ = nullptr;
}

TEST_F(S3RequestHandlerTest, UnknownSubresourcesAreNotImplemented) {
  ASSERT_EQ(Do(kAlice, "PUT", "/bk2").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/bk2/k", "x").status, 200);
  for (const char* target : {"/bk2?lifecycle", "/bk2?policy", "/bk2?website", "/bk2/k?torrent",
                             "/bk2?replication", "/bk2?inventory"}) {
    Response r = Do(kAlice, "GET", target);
    EXPECT_EQ(r.status, 501) << target << " " << r.body;
    EXPECT_TRUE(r.HasCode("NotImplemented")) << target << " " << r.body;
  }
  Response r = Do(kAlice, "PUT", "/bk2?policy", "{}");
  EXPECT_EQ(r.status, 501);
  // The object is untouched by the refused calls.
  EXPECT_EQ(Do(kAlice, "GET", "/bk2/k").body, "x");
}

TEST_F(S3RequestHandlerTest, OtherUsersAreDenied) {
  ASSERT_EQ(Do(kAlice, "PUT", "/alices").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/alices/k", "secret data").status, 200);
  for (auto [method, target] :
       std::vector<std::pair<const char*, const char*>>{{"GET", "/alices/k"},
                                                        {"PUT", "/alices/k2"},
                                                        {"DELETE", "/alices/k"},
                                                        {"GET", "/alices?list-type=2"},
                                                        {"GET", "/alices"},
                                                        {"POST", "/alices/mp?uploads"},
                                                        {"DELETE", "/alices"}}) {
    Response r = Do(kBob, method, target, "");
    EXPECT_EQ(r.status, 403) << method << " " << target;
    EXPECT_TRUE(r.HasCode("AccessDenied")) << method << " " << target << " " << r.body;
  }
  EXPECT_EQ(Do(kBob, "HEAD", "/alices").status, 403);
  // Bob's copy from Alice's bucket into his own is denied too.
  ASSERT_EQ(Do(kBob, "PUT", "/bobs").status, 200);
  Response r = Do(kBob, "PUT", "/bobs/stolen", "", {{"x-amz-copy-source", "/alices/k"}});
  EXPECT_EQ(r.status, 403);
  // Bob's bucket list does not show Alice's bucket.
  r = Do(kBob, "GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(absl::StrContains(r.body, "<Name>bobs</Name>")) << r.body;
  EXPECT_FALSE(absl::StrContains(r.body, "alices")) << r.body;
  EXPECT_FALSE(absl::StrContains(r.body, kUploadsBucket)) << r.body;
  EXPECT_EQ(Do(kAlice, "GET", "/alices/k").body, "secret data");
}

TEST_F(S3RequestHandlerTest, AnonymousOnlyWherePublicRead) {
  ASSERT_EQ(Do(kAlice, "PUT", "/private-b").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/private-b/k", "p").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/public-b", "", {{"x-amz-acl", "public-read"}}).status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/public-b/k", "q").status, 200);
  Response r = Do(kAnonymous, "GET", "/private-b/k");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.HasCode("AccessDenied")) << r.body;
  r = Do(kAnonymous, "GET", "/public-b/k");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "q");
  EXPECT_EQ(Do(kAnonymous, "HEAD", "/public-b/k").status, 200);
  EXPECT_EQ(Do(kAnonymous, "GET", "/public-b?list-type=2").status, 200);
  EXPECT_EQ(Do(kBob, "GET", "/public-b/k").status, 200);
  // Reading is all public-read allows.
  EXPECT_EQ(Do(kAnonymous, "PUT", "/public-b/new", "x").status, 403);
  EXPECT_EQ(Do(kAnonymous, "DELETE", "/public-b/k").status, 403);
  EXPECT_EQ(Do(kBob, "PUT", "/public-b/new", "x").status, 403);
  EXPECT_EQ(Do(kBob, "DELETE", "/public-b/k").status, 403);
  EXPECT_EQ(Do(kAnonymous, "GET", "/").status, 403);
  EXPECT_EQ(Do(kAnonymous, "PUT", "/anon-bucket").status, 403);
  EXPECT_EQ(Do(kAlice, "GET", "/public-b/k").body, "q");
  // An unsupported canned ACL is refused, not ignored.
  r = Do(kAlice, "PUT", "/rw-b", "", {{"x-amz-acl", "public-read-write"}});
  EXPECT_GE(r.status, 400);
  EXPECT_EQ(Do(kAlice, "HEAD", "/rw-b").status, 404);
}

TEST_F(S3RequestHandlerTest, BadSignaturesAreRefused) {
  ASSERT_EQ(Do(kAlice, "PUT", "/sig").status, 200);
  const User wrong{kAliceKey, "not-alices-secret-0000000000000"};
  Response r = Do(wrong, "PUT", "/sig/k", "x");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.HasCode("SignatureDoesNotMatch")) << r.body;
  const User unknown{"AKIAUNKNOWN000000001", kAliceSecret};
  r = Do(unknown, "GET", "/sig/k");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.HasCode("InvalidAccessKeyId")) << r.body;
  EXPECT_EQ(Do(kAlice, "HEAD", "/sig/k").status, 404);
  // An empty Authorization header is no credentials: anonymous, refused on a private bucket.
  r = Do(kAnonymous, "PUT", "/sig/k", "x", {{"authorization", ""}});
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.HasCode("AccessDenied")) << r.body;
  // Signed days ago (scope and x-amz-date agree): RequestTimeTooSkewed, not a scope error.
  sign_offset_ = -absl::Hours(50);
  r = Do(kAlice, "PUT", "/sig/k", "x");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.HasCode("RequestTimeTooSkewed")) << r.body;
  sign_offset_ = absl::Minutes(20);
  EXPECT_TRUE(Do(kAlice, "PUT", "/sig/k", "x").HasCode("RequestTimeTooSkewed"));
  sign_offset_ = absl::Minutes(10);  // within the 15 minutes allowed
  EXPECT_EQ(Do(kAlice, "PUT", "/sig/k", "x").status, 200);
}

// A signed PUT with an unsigned x-amz-copy-source added must not turn into a copy of an object
// the signer can read (nor be a PUT): AccessDenied, and nothing is written.
TEST_F(S3RequestHandlerTest, UnsignedCopySourceIsRefused) {
  ASSERT_EQ(Do(kAlice, "PUT", "/bucket").status, 200);
  ASSERT_EQ(Do(kAlice, "PUT", "/bucket/private", "secret").status, 200);
  unsigned_extras_ = true;
  Response r = Do(kAlice, "PUT", "/bucket/copy", "", {{"x-amz-copy-source", "/bucket/private"}});
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(r.HasCode("AccessDenied")) << r.body;
  unsigned_extras_ = false;
  EXPECT_EQ(Do(kAlice, "GET", "/bucket/copy").status, 404);
  // Signed, the same copy is allowed.
  EXPECT_EQ(
      Do(kAlice, "PUT", "/bucket/copy", "", {{"x-amz-copy-source", "/bucket/private"}}).status,
      200);
  EXPECT_EQ(Do(kAlice, "GET", "/bucket/copy").body, "secret");
}

// A request is authenticated before it is routed: changing the method of a signed request
// answers SignatureDoesNotMatch, not the router's NotImplemented/MethodNotAllowed.
TEST_F(S3RequestHandlerTest, RequestsAreAuthenticatedBeforeRouting) {
  ASSERT_EQ(Do(kAlice, "PUT", "/bucket").status, 200);
  method_after_signing_ = "POST";  // POST /bucket without ?delete: NotImplemented when routed
  Response r = Do(kAlice, "GET", "/bucket");
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_TRUE(r.HasCode("SignatureDoesNotMatch")) << r.body;
  method_after_signing_ = "PATCH";
  r = Do(kAlice, "GET", "/bucket/key");
  EXPECT_EQ(r.status, 403) << r.body;
  method_after_signing_.clear();
  // Signed as sent, the router's answer comes through.
  r = Do(kAlice, "POST", "/bucket");
  EXPECT_EQ(r.status, 501) << r.body;
}

// Keys and listing parameters that are not UTF-8 are the client's error (400), not a 500 from
// the metadata layer.
TEST_F(S3RequestHandlerTest, KeysThatAreNotUtf8AreBadRequests) {
  ASSERT_EQ(Do(kAlice, "PUT", "/bucket").status, 200);
  Response r = Do(kAlice, "PUT", "/bucket/a%C0%AFb", "x");  // overlong '/'
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_TRUE(r.HasCode("InvalidArgument")) << r.body;
  EXPECT_EQ(Do(kAlice, "GET", "/bucket/%ED%A0%80").status, 400);  // lone surrogate
  EXPECT_EQ(Do(kAlice, "GET", "/bucket?list-type=2&prefix=%FF").status, 400);
  EXPECT_EQ(Do(kAlice, "PUT", "/bucket/caf%C3%A9", "ok").status, 200);
  EXPECT_EQ(Do(kAlice, "GET", "/bucket/caf%C3%A9").body, "ok");
}

TEST_F(S3RequestHandlerTest, MultipartErrors) {
  ASSERT_EQ(Do(kAlice, "PUT", "/mpb").status, 200);
  Response r = Do(kAlice, "POST", "/mpb/obj?uploads");
  ASSERT_EQ(r.status, 200) << r.body;
  const size_t at = r.body.find("<UploadId>");
  ASSERT_NE(at, std::string::npos);
  const std::string id = r.body.substr(at + 10, r.body.find("</UploadId>") - at - 10);
  r = Do(kAlice, "PUT", absl::StrCat("/mpb/obj?partNumber=1&uploadId=", id), "small part one");
  ASSERT_EQ(r.status, 200);
  const std::string etag1 = *r.Header("ETag");
  r = Do(kAlice, "PUT", absl::StrCat("/mpb/obj?partNumber=2&uploadId=", id), "part two");
  ASSERT_EQ(r.status, 200);
  const std::string etag2 = *r.Header("ETag");
  r = Do(kAlice, "PUT", absl::StrCat("/mpb/obj?partNumber=0&uploadId=", id), "x");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("InvalidArgument")) << r.body;
  auto complete = [&](const std::string& parts) {
    return Do(kAlice, "POST", absl::StrCat("/mpb/obj?uploadId=", id),
              absl::StrCat("<CompleteMultipartUpload>", parts, "</CompleteMultipartUpload>"));
  };
  auto part = [](int n, const std::string& etag) {
    return absl::StrCat("<Part><PartNumber>", n, "</PartNumber><ETag>", etag, "</ETag></Part>");
  };
  r = complete(part(2, etag2) + part(1, etag1));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("InvalidPartOrder")) << r.body;
  r = complete(part(1, etag1) + part(3, etag2));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("InvalidPart")) << r.body;
  r = complete(part(1, etag2));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("InvalidPart")) << r.body;
  r = complete(part(1, etag1) + part(2, etag2));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("EntityTooSmall")) << r.body;
  r = complete("<Part><PartNumber>1</PartNumber>");
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("MalformedXML")) << r.body;
  EXPECT_EQ(Do(kAlice, "HEAD", "/mpb/obj").status, 404);
  // A single (last) part may be small.
  r = complete(part(2, etag2));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "-1&quot;") || absl::StrContains(r.body, "-1\"")) << r.body;
  EXPECT_EQ(Do(kAlice, "GET", "/mpb/obj").body, "part two");
  r = Do(kAlice, "GET", "/mpb/obj?partNumber=1");
  EXPECT_EQ(r.body, "part two");
  ASSERT_NE(r.Header("x-amz-mp-parts-count"), nullptr);
  EXPECT_EQ(*r.Header("x-amz-mp-parts-count"), "1");
  r = Do(kAlice, "GET", "/mpb/obj?partNumber=2");
  EXPECT_EQ(r.status, 416);
  EXPECT_TRUE(r.HasCode("InvalidPartNumber")) << r.body;
  // Clients retry Complete after a timeout: as AWS, a repeated Complete answers 200 with the
  // same result (it answered NoSuchUpload before Complete became retryable).
  const std::string first_result = Do(kAlice, "GET", "/mpb/obj").body;
  r = complete(part(2, etag2));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(absl::StrContains(r.body, "-1&quot;") || absl::StrContains(r.body, "-1\"")) << r.body;
  EXPECT_EQ(Do(kAlice, "GET", "/mpb/obj").body, first_result);
  // The completed upload takes no parts, is not listed and cannot be aborted.
  r = Do(kAlice, "PUT", absl::StrCat("/mpb/obj?partNumber=3&uploadId=", id), "late part");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchUpload")) << r.body;
  r = Do(kAlice, "GET", "/mpb?uploads");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(absl::StrContains(r.body, id)) << r.body;
  r = Do(kAlice, "DELETE", absl::StrCat("/mpb/obj?uploadId=", id));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.HasCode("NoSuchUpload")) << r.body;
  // A different part list for the completed upload is refused.
  r = complete(part(1, etag1));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(r.HasCode("InvalidPart")) << r.body;
}

}  // namespace
}  // namespace tessera::services::s3
