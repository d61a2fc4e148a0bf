// Known-answer tests use AWS's published SigV4 examples for S3 ("Signature Calculations for the
// Authorization Header: Transferring Payload in a Single Chunk", "Authenticating Requests: Using
// Query Parameters", "... Transferring Payload in Multiple Chunks"): access key
// AKIAIOSFODNN7EXAMPLE, secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, 20130524T000000Z,
// us-east-1, bucket examplebucket.
#include "services/s3/auth/sigv4.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/fake_clock.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

constexpr char kAccessKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kHost[] = "examplebucket.s3.amazonaws.com";

absl::Time ExampleTime() { return absl::FromUnixSeconds(1369353600); }  // 2013-05-24T00:00:00Z

std::string Auth(absl::string_view signed_headers, absl::string_view signature) {
  return absl::StrCat(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
      "aws4_request,SignedHeaders=",
      signed_headers, ",Signature=", signature);
}

class SigV4Test : public ::testing::Test {
 protected:
  SigV4Test() : clock_(ExampleTime() + absl::Minutes(5)) {
    EXPECT_OK(store_.Add({kAccessKey, kSecret, "example-user"}));
    EXPECT_OK(store_.Add({"AKIAOTHERUSER0000001", "another-secret-key-0000000", "other"}));
  }
  absl::StatusOr<AuthResult> Verify(const HttpRequest& r) {
    SigV4Verifier verifier(&store_, &clock_);
    return verifier.Verify(r);
  }
  S3ErrorCode CodeOf(const HttpRequest& r) { return ErrorCodeOf(Verify(r).status()); }

  static HttpRequest GetObjectExample() {
    return {"GET",
            "/test.txt",
            {{"Host", kHost},
             {"Range", "bytes=0-9"},
             {"x-amz-content-sha256", std::string(kEmptySha256)},
             {"x-amz-date", "20130524T000000Z"},
             {"Authorization",
              Auth("host;range;x-amz-content-sha256;x-amz-date",
                   "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")}}};
  }
  static HttpRequest PresignExample(absl::string_view expires = "86400") {
    return {"GET",
            absl::StrCat("/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
                         "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-"
                         "Date=20130524T000000Z&X-Amz-Expires=",
                         expires,
                         "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                         "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"),
            {{"Host", kHost}}};
  }

  FakeClock clock_;
  CredentialStore store_;
};

TEST_F(SigV4Test, PublishedGetObjectWithRange) {
  ASSERT_OK_AND_ASSIGN(AuthResult r, Verify(GetObjectExample()));
  EXPECT_EQ(r.user_id, "example-user");
  EXPECT_EQ(r.access_key, kAccessKey);
  EXPECT_FALSE(r.presigned);
  EXPECT_EQ(r.payload_mode, PayloadMode::kSignedPayload);
  EXPECT_EQ(r.payload_sha256_hex, kEmptySha256);
}

TEST_F(SigV4Test, PublishedPutObject) {
  HttpRequest r{
      "PUT",
      "/test%24file.text",
      {{"Host", kHost},
       {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
       {"x-amz-date", "20130524T000000Z"},
       {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
       {"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
       {"Authorization",
        Auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
             "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")}}};
  EXPECT_EQ(Sha256Hex("Welcome to Amazon S3."), r.headers[4].second);
  ASSERT_OK_AND_ASSIGN(AuthResult a, Verify(r));
  EXPECT_EQ(a.payload_sha256_hex, r.headers[4].second);
  // The same key sent unencoded canonicalises identically ('$' -> %24).
  r.target = "/test$file.text";
  EXPECT_OK(Verify(r));
}

TEST_F(SigV4Test, PublishedGetBucketLifecycle) {
  HttpRequest r{"GET",
                "/?lifecycle",
                {{"Host", kHost},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", std::string(kEmptySha256)},
                 {"Authorization",
                  Auth("host;x-amz-content-sha256;x-amz-date",
                       "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")}}};
  EXPECT_OK(Verify(r));
}

TEST_F(SigV4Test, PublishedListObjects) {
  HttpRequest r{"GET",
                "/?max-keys=2&prefix=J",
                {{"Host", kHost},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", std::string(kEmptySha256)},
                 {"Authorization",
                  Auth("host;x-amz-content-sha256;x-amz-date",
                       "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")}}};
  EXPECT_OK(Verify(r));
  r.target = "/?prefix=J&max-keys=2";  // order on the wire does not matter
  EXPECT_OK(Verify(r));
  r.target = "/?prefix=K&max-keys=2";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
}

TEST_F(SigV4Test, PublishedChunkedUploadSeedSignature) {
  HttpRequest r{"PUT",
                "/examplebucket/chunkObject.txt",
                {{"Host", "s3.amazonaws.com"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                 {"Authorization",
                  Auth("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                       "x-amz-decoded-content-length;x-amz-storage-class",
                       "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")},
                 {"x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
                 {"Content-Encoding", "aws-chunked"},
                 {"x-amz-decoded-content-length", "66560"},
                 {"Content-Length", "66824"}}};
  ASSERT_OK_AND_ASSIGN(AuthResult a, Verify(r));
  EXPECT_EQ(a.payload_mode, PayloadMode::kStreamingSigned);
  EXPECT_EQ(a.chunk_context.seed_signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
  EXPECT_EQ(a.chunk_context.scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(a.chunk_context.amz_date, "20130524T000000Z");
  EXPECT_EQ(a.chunk_context.signing_key, DeriveSigningKey(kSecret, "20130524", "us-east-1", "s3"));
}

TEST_F(SigV4Test, PublishedPresignedUrl) {
  ASSERT_OK_AND_ASSIGN(AuthResult a, Verify(PresignExample()));
  EXPECT_TRUE(a.presigned);
  EXPECT_EQ(a.payload_mode, PayloadMode::kUnsignedPayload);
  EXPECT_EQ(a.user_id, "example-user");
}

TEST_F(SigV4Test, PresignExpiryIsEnforcedAgainstTheClock) {
  clock_.SetTime(ExampleTime() + absl::Seconds(86400));
  EXPECT_OK(Verify(PresignExample()));
  clock_.SetTime(ExampleTime() + absl::Seconds(86401));
  absl::Status s = Verify(PresignExample()).status();
  EXPECT_EQ(ErrorCodeOf(s), S3ErrorCode::kAccessDenied);
  EXPECT_EQ(s.message(), "Request has expired");
  // Too far in the future is skew.
  clock_.SetTime(ExampleTime() - absl::Minutes(16));
  EXPECT_EQ(CodeOf(PresignExample()), S3ErrorCode::kRequestTimeTooSkewed);
}

TEST_F(SigV4Test, PresignExpiresIsCappedAtSevenDays) {
  EXPECT_EQ(CodeOf(PresignExample("604801")), S3ErrorCode::kAuthorizationQueryParametersError);
  EXPECT_EQ(CodeOf(PresignExample("-1")), S3ErrorCode::kAuthorizationQueryParametersError);
  EXPECT_EQ(CodeOf(PresignExample("abc")), S3ErrorCode::kAuthorizationQueryParametersError);
  // 604800 is allowed (the signature then no longer matches, which is checked after the cap).
  EXPECT_EQ(CodeOf(PresignExample("604800")), S3ErrorCode::kSignatureDoesNotMatch);
}

TEST_F(SigV4Test, PresignTamperedPathOrMissingParameter) {
  HttpRequest r = PresignExample();
  r.target.replace(0, 9, "/test.tx2");
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
  r = PresignExample();
  r.target = r.target.substr(0, r.target.find("&X-Amz-Signature"));
  r.target += "&X-Amz-Signature=";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
  r = PresignExample();
  absl::StrReplaceAll({{"X-Amz-Expires=86400&", ""}}, &r.target);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kAuthorizationQueryParametersError);
}

TEST_F(SigV4Test, WrongSecretFails) {
  CredentialStore other;
  ASSERT_OK(other.Add({kAccessKey, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", "u"}));
  SigV4Verifier verifier(&other, &clock_);
  EXPECT_EQ(ErrorCodeOf(verifier.Verify(GetObjectExample()).status()),
            S3ErrorCode::kSignatureDoesNotMatch);
  EXPECT_EQ(ErrorCodeOf(verifier.Verify(PresignExample()).status()),
            S3ErrorCode::kSignatureDoesNotMatch);
}

TEST_F(SigV4Test, TamperedHeaderFails) {
  HttpRequest r = GetObjectExample();
  r.headers[1].second = "bytes=0-10";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
  r = GetObjectExample();
  r.method = "HEAD";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
  r = GetObjectExample();
  r.headers[0].second = "otherbucket.s3.amazonaws.com";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
  // Whitespace differences in header values do not matter (trim + collapse).
  r = GetObjectExample();
  r.headers[1].second = "  bytes=0-9  ";
  EXPECT_OK(Verify(r));
  // Uppercase hex in the signature is not the signature.
  r = GetObjectExample();
  r.headers[4].second = Auth("host;range;x-amz-content-sha256;x-amz-date",
                             "F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41");
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kSignatureDoesNotMatch);
}

TEST_F(SigV4Test, ClockSkewLimitIsFifteenMinutes) {
  clock_.SetTime(ExampleTime() + absl::Minutes(15));
  EXPECT_OK(Verify(GetObjectExample()));
  clock_.SetTime(ExampleTime() + absl::Minutes(15) + absl::Seconds(1));
  EXPECT_EQ(CodeOf(GetObjectExample()), S3ErrorCode::kRequestTimeTooSkewed);
  clock_.SetTime(ExampleTime() - absl::Minutes(15) - absl::Seconds(1));
  EXPECT_EQ(CodeOf(GetObjectExample()), S3ErrorCode::kRequestTimeTooSkewed);
  clock_.SetTime(ExampleTime() - absl::Minutes(14));
  EXPECT_OK(Verify(GetObjectExample()));
}

TEST_F(SigV4Test, UnknownAccessKeyAndBadScopes) {
  HttpRequest r = GetObjectExample();
  absl::StrReplaceAll({{"AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPL2"}}, &r.headers[4].second);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kInvalidAccessKeyId);
  r = GetObjectExample();
  absl::StrReplaceAll({{"us-east-1", "eu-west-1"}}, &r.headers[4].second);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kAuthorizationHeaderMalformed);
  r = GetObjectExample();
  absl::StrReplaceAll({{"/20130524/", "/20130525/"}}, &r.headers[4].second);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kAuthorizationHeaderMalformed);
  r = GetObjectExample();
  absl::StrReplaceAll({{"/s3/", "/ec2/"}}, &r.headers[4].second);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kAuthorizationHeaderMalformed);
  r = GetObjectExample();
  r.headers[4].second = "AWS4-HMAC-SHA1 Credential=x";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kAuthorizationHeaderMalformed);
  r = GetObjectExample();
  absl::StrReplaceAll({{"SignedHeaders=host;", "SignedHeaders="}}, &r.headers[4].second);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kAuthorizationHeaderMalformed);  // host must be signed
}

TEST_F(SigV4Test, ContentSha256Handling) {
  HttpRequest r = GetObjectExample();
  r.headers.erase(r.headers.begin() + 2);
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kInvalidRequest);
  r = GetObjectExample();
  r.headers[2].second = "not-a-hash";
  EXPECT_EQ(CodeOf(r), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(*ParsePayloadMode("UNSIGNED-PAYLOAD"), PayloadMode::kUnsignedPayload);
  EXPECT_EQ(*ParsePayloadMode("STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), PayloadMode::kStreamingSigned);
  EXPECT_EQ(*ParsePayloadMode("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"),
            PayloadMode::kStreamingSignedTrailer);
  EXPECT_EQ(*ParsePayloadMode("STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
            PayloadMode::kStreamingUnsignedTrailer);
  EXPECT_FALSE(ParsePayloadMode(std::string(64, 'A')).ok());  // uppercase hex is not accepted
}

TEST_F(SigV4Test, AnonymousAndDoubleAuth) {
  HttpRequest anon{"GET", "/test.txt", {{"Host", kHost}}};
  EXPECT_EQ(CodeOf(anon), S3ErrorCode::kAccessDenied);
  VerifierOptions options;
  options.allow_anonymous = true;
  SigV4Verifier verifier(&store_, &clock_, options);
  ASSERT_OK_AND_ASSIGN(AuthResult a, verifier.Verify(anon));
  EXPECT_TRUE(a.anonymous);
  HttpRequest both = PresignExample();
  both.headers.emplace_back("Authorization", GetObjectExample().headers[4].second);
  EXPECT_EQ(CodeOf(both), S3ErrorCode::kInvalidArgument);
}

TEST_F(SigV4Test, SignerRoundTripsThroughVerifier) {
  HttpRequest r{"PUT",
                "/bucket/some%20key/with+plus?uploadId=abc&partNumber=3",
                {{"Host", "localhost:9000"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
                 {"X-Amz-Meta-Note", "a   b"}}};
  ASSERT_OK_AND_ASSIGN(
      std::string header,
      SignAuthorizationHeader(
          r, "AKIAOTHERUSER0000001", "another-secret-key-0000000", "us-east-1", "20130524T000000Z",
          {"host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-note"}, "UNSIGNED-PAYLOAD"));
  r.headers.emplace_back("authorization", header);
  ASSERT_OK_AND_ASSIGN(AuthResult a, Verify(r));
  EXPECT_EQ(a.user_id, "other");
  EXPECT_EQ(a.payload_mode, PayloadMode::kUnsignedPayload);
}

// A presigned PUT URL must not become a copy of another object: x-amz-copy-source (like any
// x-amz-* header) counts only when the signer signed it.
TEST_F(SigV4Test, UnsignedAmzHeadersAreRefused) {
  HttpRequest presigned = PresignExample();
  ASSERT_OK(Verify(presigned));
  presigned.headers.emplace_back("X-Amz-Copy-Source", "/private-bucket/secret.txt");
  absl::Status s = Verify(presigned).status();
  EXPECT_EQ(ErrorCodeOf(s), S3ErrorCode::kAccessDenied) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "not signed")) << s;

  HttpRequest header_auth = GetObjectExample();
  ASSERT_OK(Verify(header_auth));
  header_auth.headers.emplace_back("x-amz-acl", "public-read");
  EXPECT_EQ(CodeOf(header_auth), S3ErrorCode::kAccessDenied);

  // The same header, signed, is fine.
  HttpRequest r{"PUT",
                "/bucket/copy",
                {{"Host", "localhost:9000"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
                 {"x-amz-copy-source", "/bucket/source"}}};
  ASSERT_OK_AND_ASSIGN(
      std::string header,
      SignAuthorizationHeader(
          r, "AKIAOTHERUSER0000001", "another-secret-key-0000000", "us-east-1", "20130524T000000Z",
          {"host", "x-amz-content-sha256", "x-amz-copy-source", "x-amz-date"}, "UNSIGNED-PAYLOAD"));
  r.headers.emplace_back("authorization", header);
  EXPECT_OK(Verify(r));
}

TEST(SigV4CanonicalTest, UriEncode) {
  EXPECT_EQ(UriEncode("AZaz09-._~", true), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b/c$d", false), "a%20b/c%24d");
  EXPECT_EQ(UriEncode("a b/c$d", true), "a%20b%2Fc%24d");
  EXPECT_EQ(UriEncode("\xe2\x82\xac+*", true), "%E2%82%AC%2B%2A");
}

TEST(SigV4CanonicalTest, CanonicalUriIsEncodedOnceNotTwice) {
  EXPECT_EQ(*CanonicalUri(""), "/");
  EXPECT_EQ(*CanonicalUri("/"), "/");
  EXPECT_EQ(*CanonicalUri("/test%24file.text"), "/test%24file.text");
  EXPECT_EQ(*CanonicalUri("/test$file.text"), "/test%24file.text");
  EXPECT_EQ(*CanonicalUri("/a%20b/c d"), "/a%20b/c%20d");
  EXPECT_EQ(*CanonicalUri("/b/./../k//x"), "/b/./../k//x");  // no normalisation for S3
  EXPECT_EQ(*CanonicalUri("/%E2%82%AC"), "/%E2%82%AC");
  EXPECT_FALSE(CanonicalUri("/bad%2").ok());
  EXPECT_FALSE(CanonicalUri("/bad%zz").ok());
}

TEST(SigV4CanonicalTest, CanonicalQueryString) {
  EXPECT_EQ(*CanonicalQueryString("", false), "");
  EXPECT_EQ(*CanonicalQueryString("lifecycle", false), "lifecycle=");
  EXPECT_EQ(*CanonicalQueryString("prefix=J&max-keys=2", false), "max-keys=2&prefix=J");
  EXPECT_EQ(*CanonicalQueryString("b=2&a=z&a=y", false), "a=y&a=z&b=2");
  EXPECT_EQ(*CanonicalQueryString("prefix=a%2Fb&k=a b", false), "k=a%20b&prefix=a%2Fb");
  EXPECT_EQ(*CanonicalQueryString("prefix=a/b", false), "prefix=a%2Fb");
  EXPECT_EQ(*CanonicalQueryString("X-Amz-Signature=abc&x=1", true), "x=1");
  EXPECT_EQ(*CanonicalQueryString("X-Amz-Signature=abc&x=1", false), "X-Amz-Signature=abc&x=1");
  EXPECT_FALSE(CanonicalQueryString("a=%G0", false).ok());
}

TEST(SigV4CanonicalTest, CanonicalHeadersTrimCollapseAndJoin) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"Host", "example.com"}, {"X-Amz-Meta-A", "  one   two  "}, {"x-amz-meta-a", "three"}};
  EXPECT_EQ(CanonicalHeaders(h, {"host", "x-amz-meta-a"}),
            "host:example.com\nx-amz-meta-a:one two,three\n");
}

TEST(SigV4CanonicalTest, SigningKeyAndDates) {
  // The derived key of AWS's chunked example (independently re-derivable chain).
  std::string key = DeriveSigningKey(kSecret, "20130524", "us-east-1", "s3");
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(key, DeriveSigningKey(kSecret, "20130525", "us-east-1", "s3"));
  ASSERT_OK_AND_ASSIGN(absl::Time t, ParseAmzDate("20130524T000000Z"));
  EXPECT_EQ(t, ExampleTime());
  EXPECT_EQ(FormatAmzDate(t), "20130524T000000Z");
  EXPECT_FALSE(ParseAmzDate("20130524T000000").ok());
  EXPECT_FALSE(ParseAmzDate("20131324T000000Z").ok());
  EXPECT_FALSE(ParseAmzDate("2013-05-24T00:00").ok());
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
}

TEST(SigV4CanonicalTest, ParseAuthorizationHeader) {
  ASSERT_OK_AND_ASSIGN(
      ParsedAuthorization a,
      ParseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=AK/20130524/us-east-1/s3/"
                               "aws4_request, SignedHeaders=host;x-amz-date, Signature=abc"));
  EXPECT_EQ(a.credential.access_key, "AK");
  EXPECT_EQ(a.credential.Scope(), "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(a.signed_headers, (std::vector<std::string>{"host", "x-amz-date"}));
  EXPECT_EQ(a.signature, "abc");
  EXPECT_FALSE(ParseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=AK/2013/us/s3/aws4_request,"
                                        "SignedHeaders=host,Signature=a")
                   .ok());
  EXPECT_FALSE(ParseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=AK/20130524/us/s3/x,"
                                        "SignedHeaders=host,Signature=a")
                   .ok());
  EXPECT_FALSE(ParseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=AK/20130524/us/s3/"
                                        "aws4_request,SignedHeaders=Host,Signature=a")
                   .ok());
  EXPECT_FALSE(ParseAuthorizationHeader("AWS4-HMAC-SHA256 Credential=AK/20130524/us/s3/"
                                        "aws4_request,Signature=a")
                   .ok());
}

// Signature Version 2, AWS's documented example ("Signing and authenticating REST requests":
// GET /photos/puppy.jpg of bucket johnsmith, path-style here).
TEST(SigV2Test, AwsDocumentedExampleAndFailures) {
  CredentialStore store;
  ASSERT_OK(store.Add({kAccessKey, kSecret, "example-user"}));
  absl::Time when;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%a, %d %b %Y %H:%M:%S +0000", "Tue, 27 Mar 2007 19:36:42 +0000",
                              absl::UTCTimeZone(), &when, &err));
  FakeClock clock(when + absl::Minutes(2));
  SigV4Verifier verifier(&store, &clock);
  HttpRequest r{"GET",
                "/johnsmith/photos/puppy.jpg",
                {{"Host", "s3.amazonaws.com"},
                 {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"},
                 {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}}};
  ASSERT_OK_AND_ASSIGN(AuthResult a, verifier.Verify(r));
  EXPECT_EQ(a.user_id, "example-user");
  EXPECT_EQ(a.payload_mode, PayloadMode::kUnsignedPayload);
  HttpRequest tampered = r;
  tampered.target = "/johnsmith/photos/kitten.jpg";
  EXPECT_EQ(ErrorCodeOf(verifier.Verify(tampered).status()), S3ErrorCode::kSignatureDoesNotMatch);
  clock.Advance(absl::Minutes(20));
  EXPECT_EQ(ErrorCodeOf(verifier.Verify(r).status()), S3ErrorCode::kRequestTimeTooSkewed);
  // Presigned form: Expires is in the past -> AccessDenied.
  HttpRequest q{"GET",
                "/johnsmith/photos/puppy.jpg?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175024202"
                "&Signature=x",
                {{"Host", "s3.amazonaws.com"}}};
  EXPECT_EQ(ErrorCodeOf(verifier.Verify(q).status()), S3ErrorCode::kAccessDenied);
}

// AWS's documented SigV2 example is virtual-hosted: Host johnsmith.s3.amazonaws.com, path
// /photos/puppy.jpg, resource /johnsmith/photos/puppy.jpg. SigV2 does not sign Host, so the
// bucket from Host must be part of the signed resource: otherwise the same signature would be
// accepted with any other bucket in Host.
TEST(SigV2Test, VirtualHostedBucketIsPartOfTheSignedResource) {
  CredentialStore store;
  ASSERT_OK(store.Add({kAccessKey, kSecret, "example-user"}));
  absl::Time when;
  std::string err;
  ASSERT_TRUE(absl::ParseTime("%a, %d %b %Y %H:%M:%S +0000", "Tue, 27 Mar 2007 19:36:42 +0000",
                              absl::UTCTimeZone(), &when, &err));
  FakeClock clock(when + absl::Minutes(2));
  SigV4Verifier verifier(&store, &clock);
  HttpRequest r{"GET",
                "/photos/puppy.jpg",
                {{"Host", "johnsmith.s3.amazonaws.com"},
                 {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"},
                 {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:bWq2s1WEIj+Ydj0vQ697zp+IXMU="}}};
  ASSERT_OK_AND_ASSIGN(AuthResult a, verifier.Verify(r, "johnsmith"));
  EXPECT_EQ(a.user_id, "example-user");
  HttpRequest other_bucket = r;
  other_bucket.headers[0].second = "victim.s3.amazonaws.com";
  EXPECT_EQ(ErrorCodeOf(verifier.Verify(other_bucket, "victim").status()),
            S3ErrorCode::kSignatureDoesNotMatch);
}

}  // namespace
}  // namespace tessera::services::s3
