#include "services/s3/request/request.h"

#include <string>

#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

using Op = S3Operation;

RouterOptions Options() {
  RouterOptions o;
  o.base_domains = {"s3.example.com"};
  return o;
}

absl::StatusOr<S3Request> Route(absl::string_view method, absl::string_view target,
                                HeaderList headers = {{"Host", "localhost:9000"}}) {
  return RouteRequest(method, target, headers, Options());
}

Op OpOf(absl::string_view method, absl::string_view target,
        HeaderList headers = {{"Host", "localhost:9000"}}) {
  absl::StatusOr<S3Request> r = Route(method, target, headers);
  EXPECT_TRUE(r.ok()) << method << " " << target << ": " << r.status();
  return r.ok() ? r->op : Op::kListBuckets;
}

S3ErrorCode ErrOf(absl::string_view method, absl::string_view target,
                  HeaderList headers = {{"Host", "localhost"}}) {
  return ErrorCodeOf(Route(method, target, headers).status());
}

TEST(RouteTest, BucketOperations) {
  EXPECT_EQ(OpOf("GET", "/"), Op::kListBuckets);
  EXPECT_EQ(OpOf("PUT", "/photos"), Op::kCreateBucket);
  EXPECT_EQ(OpOf("PUT", "/photos/"), Op::kCreateBucket);
  EXPECT_EQ(OpOf("DELETE", "/photos"), Op::kDeleteBucket);
  EXPECT_EQ(OpOf("HEAD", "/photos"), Op::kHeadBucket);
  EXPECT_EQ(OpOf("GET", "/photos"), Op::kListObjects);
  EXPECT_EQ(OpOf("GET", "/photos?prefix=a&delimiter=/"), Op::kListObjects);
  EXPECT_EQ(OpOf("GET", "/photos?list-type=2&prefix=a"), Op::kListObjectsV2);
  EXPECT_EQ(OpOf("GET", "/photos?location"), Op::kGetBucketLocation);
  EXPECT_EQ(OpOf("GET", "/photos?acl"), Op::kGetBucketAcl);
  EXPECT_EQ(OpOf("PUT", "/photos?acl"), Op::kPutBucketAcl);
  EXPECT_EQ(OpOf("GET", "/photos?uploads"), Op::kListMultipartUploads);
  EXPECT_EQ(OpOf("POST", "/photos?delete"), Op::kDeleteObjects);
  EXPECT_EQ(OpOf("POST", "/photos?delete="), Op::kDeleteObjects);
}

TEST(RouteTest, ObjectOperations) {
  EXPECT_EQ(OpOf("PUT", "/b/k"), Op::kPutObject);
  EXPECT_EQ(OpOf("PUT", "/b/k", {{"Host", "h"}, {"x-amz-copy-source", "/src/key"}}),
            Op::kCopyObject);
  EXPECT_EQ(OpOf("GET", "/b/k"), Op::kGetObject);
  EXPECT_EQ(OpOf("HEAD", "/b/k"), Op::kHeadObject);
  EXPECT_EQ(OpOf("DELETE", "/b/k"), Op::kDeleteObject);
  EXPECT_EQ(OpOf("GET", "/b/k?acl"), Op::kGetObjectAcl);
  EXPECT_EQ(OpOf("PUT", "/b/k?acl"), Op::kPutObjectAcl);
  EXPECT_EQ(OpOf("POST", "/b/k?uploads"), Op::kCreateMultipartUpload);
  EXPECT_EQ(OpOf("PUT", "/b/k?partNumber=1&uploadId=u1"), Op::kUploadPart);
  EXPECT_EQ(OpOf("PUT", "/b/k?partNumber=10000&uploadId=u1",
                 {{"Host", "h"}, {"X-Amz-Copy-Source", "src/key"}}),
            Op::kUploadPartCopy);
  EXPECT_EQ(OpOf("POST", "/b/k?uploadId=u1"), Op::kCompleteMultipartUpload);
  EXPECT_EQ(OpOf("DELETE", "/b/k?uploadId=u1"), Op::kAbortMultipartUpload);
  EXPECT_EQ(OpOf("GET", "/b/k?uploadId=u1&max-parts=10"), Op::kListParts);
  ASSERT_OK_AND_ASSIGN(S3Request r, Route("PUT", "/b/k?partNumber=7&uploadId=abc%2Bdef"));
  EXPECT_EQ(r.part_number, 7);
  EXPECT_EQ(r.upload_id, "abc+def");
  EXPECT_EQ(OperationName(r.op), "UploadPart");
}

TEST(RouteTest, PathStyleKeysAreDecoded) {
  ASSERT_OK_AND_ASSIGN(S3Request r, Route("GET", "/bucket/dir/sub%20dir/file%24.txt"));
  EXPECT_EQ(r.bucket, "bucket");
  EXPECT_EQ(r.key, "dir/sub dir/file$.txt");
  EXPECT_FALSE(r.virtual_hosted);
  ASSERT_OK_AND_ASSIGN(r, Route("GET", "/bucket/a//b/"));
  EXPECT_EQ(r.key, "a//b/");
  ASSERT_OK_AND_ASSIGN(r, Route("GET", "/bucket/a+b"));
  EXPECT_EQ(r.key, "a+b");  // '+' is literal in paths
}

TEST(RouteTest, VirtualHostedStyle) {
  ASSERT_OK_AND_ASSIGN(S3Request r,
                       Route("GET", "/dir/file.txt", {{"host", "Photos.S3.Example.com:443"}}));
  EXPECT_TRUE(r.virtual_hosted);
  EXPECT_EQ(r.bucket, "photos");
  EXPECT_EQ(r.key, "dir/file.txt");
  EXPECT_EQ(r.op, Op::kGetObject);
  ASSERT_OK_AND_ASSIGN(r, Route("GET", "/?list-type=2", {{"Host", "my.bucket.s3.example.com"}}));
  EXPECT_EQ(r.bucket, "my.bucket");
  EXPECT_EQ(r.op, Op::kListObjectsV2);
  // The base domain itself and unrelated hosts are path-style.
  ASSERT_OK_AND_ASSIGN(r, Route("GET", "/b/k", {{"Host", "s3.example.com"}}));
  EXPECT_FALSE(r.virtual_hosted);
  EXPECT_EQ(r.bucket, "b");
  ASSERT_OK_AND_ASSIGN(r, Route("GET", "/b/k", {{"Host", "evils3.example.com"}}));
  EXPECT_FALSE(r.virtual_hosted);
  ASSERT_OK_AND_ASSIGN(r, Route("GET", "/", {{"Host", "[::1]:9000"}}));
  EXPECT_EQ(r.op, Op::kListBuckets);
}

TEST(RouteTest, Errors) {
  EXPECT_EQ(ErrOf("PUT", "/"), S3ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(ErrOf("PATCH", "/b/k"), S3ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(ErrOf("OPTIONS", "/b"), S3ErrorCode::kMethodNotAllowed);
  EXPECT_EQ(ErrOf("GET", "/b?versioning"), S3ErrorCode::kNotImplemented);
  EXPECT_EQ(ErrOf("PUT", "/b?policy"), S3ErrorCode::kNotImplemented);
  EXPECT_EQ(ErrOf("GET", "/b/k?tagging"), S3ErrorCode::kNotImplemented);
  EXPECT_EQ(ErrOf("POST", "/b"), S3ErrorCode::kNotImplemented);
  EXPECT_EQ(ErrOf("POST", "/b/k"), S3ErrorCode::kNotImplemented);
  EXPECT_EQ(ErrOf("GET", "/b?list-type=3"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("PUT", "/b/k?partNumber=0&uploadId=u"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("PUT", "/b/k?partNumber=10001&uploadId=u"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("PUT", "/b/k?partNumber=x&uploadId=u"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("PUT", "/b/k?partNumber=1"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("PUT", "/b/k?uploadId=u"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("GET", "/b/%zz"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("GET", "/b?x=%4"), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrOf("GET", "b/k"), S3ErrorCode::kInvalidRequest);
  EXPECT_EQ(ErrOf("PUT", "/Bad_Bucket"), S3ErrorCode::kInvalidBucketName);
  EXPECT_EQ(ErrOf("PUT", "/b/" + std::string(1025, 'k')), S3ErrorCode::kKeyTooLongError);
  EXPECT_OK(Route("PUT", "/b/" + std::string(1024, 'k')).status());
}

TEST(BucketNameTest, Rules) {
  for (const char* ok : {"abc", "my-bucket", "my.bucket.name", "a1b2c3", "123",
                         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_TRUE(IsValidBucketName(ok)) << ok;
  }
  for (const char* bad : {"ab",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                          "My-Bucket",
                          "my_bucket",
                          "-bucket",
                          "bucket-",
                          ".bucket",
                          "bucket.",
                          "my..bucket",
                          "192.168.5.4",
                          "xn--bucket",
                          "sthree-bucket",
                          "amzn-s3-demo-bucket",
                          "bucket-s3alias",
                          "bucket--ol-s3",
                          "b.mrap",
                          "bucket--x-s3",
                          "bucket--table-s3",
                          "buck et",
                          ""}) {
    EXPECT_FALSE(IsValidBucketName(bad)) << bad;
  }
}

TEST(CopySourceTest, Parse) {
  ASSERT_OK_AND_ASSIGN(CopySource c, ParseCopySource("/src-bucket/dir/my%20key.txt"));
  EXPECT_EQ(c.bucket, "src-bucket");
  EXPECT_EQ(c.key, "dir/my key.txt");
  EXPECT_EQ(c.version_id, "");
  ASSERT_OK_AND_ASSIGN(c, ParseCopySource("src/k?versionId=v%2B1"));
  EXPECT_EQ(c.key, "k");
  EXPECT_EQ(c.version_id, "v+1");
  EXPECT_FALSE(ParseCopySource("/bucketonly").ok());
  EXPECT_FALSE(ParseCopySource("/bucket/").ok());
  EXPECT_FALSE(ParseCopySource("//key").ok());
  EXPECT_FALSE(ParseCopySource("/b/k?other=1").ok());
  EXPECT_FALSE(ParseCopySource("/b/%zz").ok());
}

TEST(RangeTest, SingleRanges) {
  auto range = [](absl::string_view h, uint64_t size) { return ParseRange(h, size); };
  ASSERT_OK_AND_ASSIGN(auto r, range("bytes=0-9", 100));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 9u);
  EXPECT_EQ(r->length(), 10u);
  EXPECT_EQ(r->ContentRange(100), "bytes 0-9/100");
  ASSERT_OK_AND_ASSIGN(r, range("bytes=90-200", 100));  // clamped
  EXPECT_EQ(r->last, 99u);
  ASSERT_OK_AND_ASSIGN(r, range("bytes=50-", 100));
  EXPECT_EQ(r->first, 50u);
  EXPECT_EQ(r->last, 99u);
  ASSERT_OK_AND_ASSIGN(r, range("bytes=-10", 100));  // suffix
  EXPECT_EQ(r->first, 90u);
  EXPECT_EQ(r->last, 99u);
  ASSERT_OK_AND_ASSIGN(r, range("bytes=-500", 100));  // suffix longer than the object
  EXPECT_EQ(r->first, 0u);
  EXPECT_EQ(r->last, 99u);
  ASSERT_OK_AND_ASSIGN(r, range("bytes=99-99", 100));
  EXPECT_EQ(r->length(), 1u);
}

TEST(RangeTest, IgnoredAndUnsatisfiable) {
  for (const char* ignored :
       {"items=0-9", "bytes=9-0", "bytes=a-b", "bytes=0-9,20-29", "bytes=", "bytes=5", "bytes=--1",
        "bytes=1-2-3", "bytes=0x1-2", "bytes=99999999999999999999-"}) {
    ASSERT_OK_AND_ASSIGN(auto r, ParseRange(ignored, 100));
    EXPECT_FALSE(r.has_value()) << ignored;
  }
  for (auto [h, size] : std::vector<std::pair<const char*, uint64_t>>{{"bytes=100-", 100},
                                                                      {"bytes=100-200", 100},
                                                                      {"bytes=-0", 100},
                                                                      {"bytes=0-", 0},
                                                                      {"bytes=-5", 0}}) {
    EXPECT_EQ(ErrorCodeOf(ParseRange(h, size).status()), S3ErrorCode::kInvalidRange) << h;
  }
}

TEST(HttpDateTest, ThreeFormats) {
  absl::Time want = absl::FromUnixSeconds(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), want);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), want);
  EXPECT_EQ(ParseHttpDate("Sun Nov  6 08:49:37 1994"), want);
  EXPECT_EQ(FormatHttpDate(want), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_FALSE(ParseHttpDate("yesterday").has_value());
  EXPECT_FALSE(ParseHttpDate("").has_value());
}

class ConditionsTest : public ::testing::Test {
 protected:
  const std::string etag_ = "\"d41d8cd98f00b204e9800998ecf8427e\"";
  const absl::Time modified_ = absl::FromUnixSeconds(1369353600) + absl::Milliseconds(250);
  ConditionResult Eval(const HeaderList& h, bool get = true) {
    return EvaluateConditions(ParseConditionalHeaders(h), etag_, modified_, get);
  }
  const std::string before_ = "Thu, 23 May 2013 00:00:00 GMT";
  const std::string at_ = "Fri, 24 May 2013 00:00:00 GMT";
  const std::string after_ = "Sat, 25 May 2013 00:00:00 GMT";
};

TEST_F(ConditionsTest, Individually) {
  EXPECT_EQ(Eval({}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Match", etag_}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Match", "d41d8cd98f00b204e9800998ecf8427e"}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Match", "\"other\", " + etag_}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Match", "*"}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Match", "\"other\""}}), ConditionResult::kPreconditionFailed);
  EXPECT_EQ(Eval({{"If-None-Match", etag_}}), ConditionResult::kNotModified);
  EXPECT_EQ(Eval({{"If-None-Match", etag_}}, false), ConditionResult::kPreconditionFailed);
  EXPECT_EQ(Eval({{"If-None-Match", "\"other\""}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Modified-Since", before_}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Modified-Since", at_}}), ConditionResult::kNotModified);  // 1 s granularity
  EXPECT_EQ(Eval({{"If-Modified-Since", after_}}), ConditionResult::kNotModified);
  EXPECT_EQ(Eval({{"If-Modified-Since", after_}}, false), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Modified-Since", "garbage"}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Unmodified-Since", after_}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Unmodified-Since", at_}}), ConditionResult::kProceed);
  EXPECT_EQ(Eval({{"If-Unmodified-Since", before_}}), ConditionResult::kPreconditionFailed);
}

// The two combinations the S3 GetObject documentation spells out.
TEST_F(ConditionsTest, AwsPrecedence) {
  // If-Match true and If-Unmodified-Since false -> 200.
  EXPECT_EQ(Eval({{"If-Match", etag_}, {"If-Unmodified-Since", before_}}),
            ConditionResult::kProceed);
  // If-None-Match false and If-Modified-Since true -> 304.
  EXPECT_EQ(Eval({{"If-None-Match", etag_}, {"If-Modified-Since", before_}}),
            ConditionResult::kNotModified);
  // If-None-Match true wins over If-Modified-Since false.
  EXPECT_EQ(Eval({{"If-None-Match", "\"x\""}, {"If-Modified-Since", after_}}),
            ConditionResult::kProceed);
  // A failed If-Match beats everything.
  EXPECT_EQ(Eval({{"If-Match", "\"x\""}, {"If-None-Match", "\"y\""}}),
            ConditionResult::kPreconditionFailed);
  EXPECT_EQ(ErrorCodeOf(ConditionStatus(ConditionResult::kNotModified)), S3ErrorCode::kNotModified);
  EXPECT_EQ(ErrorCodeOf(ConditionStatus(ConditionResult::kPreconditionFailed)),
            S3ErrorCode::kPreconditionFailed);
  EXPECT_OK(ConditionStatus(ConditionResult::kProceed));
}

}  // namespace
}  // namespace tessera::services::s3
