#include "services/s3/errors/errors.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tessera::services::s3 {
namespace {

struct Expected {
  const char* name;
  int http;
};

TEST(ErrorsTest, TableMatchesAwsHttpStatuses) {
  const Expected cases[] = {
      {"NoSuchBucket", 404},
      {"NoSuchKey", 404},
      {"BucketAlreadyOwnedByYou", 409},
      {"BucketAlreadyExists", 409},
      {"BucketNotEmpty", 409},
      {"SignatureDoesNotMatch", 403},
      {"AccessDenied", 403},
      {"InvalidAccessKeyId", 403},
      {"InvalidRange", 416},
      {"EntityTooSmall", 400},
      {"EntityTooLarge", 400},
      {"InvalidPart", 400},
      {"InvalidPartOrder", 400},
      {"NoSuchUpload", 404},
      {"MalformedXML", 400},
      {"BadDigest", 400},
      {"InvalidDigest", 400},
      {"PreconditionFailed", 412},
      {"NotModified", 304},
      {"RequestTimeTooSkewed", 403},
      {"NotImplemented", 501},
      {"InvalidArgument", 400},
      {"InvalidBucketName", 400},
      {"MethodNotAllowed", 405},
      {"MissingContentLength", 411},
      {"IncompleteBody", 400},
      {"XAmzContentSHA256Mismatch", 400},
      {"InternalError", 500},
      {"SlowDown", 503},
      {"ServiceUnavailable", 503},
      {"ExpiredToken", 400},
      {"InvalidRequest", 400},
  };
  for (const Expected& e : cases) {
    std::optional<S3ErrorCode> code = ErrorCodeFromName(e.name);
    ASSERT_TRUE(code.has_value()) << e.name;
    EXPECT_EQ(GetErrorInfo(*code).http_status, e.http) << e.name;
    EXPECT_EQ(GetErrorInfo(*code).name, e.name);
    EXPECT_FALSE(GetErrorInfo(*code).default_message.empty()) << e.name;
  }
  EXPECT_FALSE(ErrorCodeFromName("nosuchkey").has_value());
  EXPECT_FALSE(ErrorCodeFromName("").has_value());
}

TEST(ErrorsTest, NamesAreUnique) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(S3ErrorCode::kXAmzContentSHA256Mismatch); ++i) {
    const S3ErrorInfo& info = GetErrorInfo(static_cast<S3ErrorCode>(i));
    EXPECT_EQ(static_cast<int>(info.code), i);
    EXPECT_TRUE(names.insert(std::string(info.name)).second) << info.name;
  }
}

TEST(ErrorsTest, S3StatusRoundTripsThroughPayload) {
  for (int i = 0; i <= static_cast<int>(S3ErrorCode::kXAmzContentSHA256Mismatch); ++i) {
    auto code = static_cast<S3ErrorCode>(i);
    absl::Status s = S3Status(code, "custom");
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.message(), "custom");
    EXPECT_EQ(ErrorCodeOf(s), code) << GetErrorInfo(code).name;
    EXPECT_EQ(s.code(), AbslCodeFor(code));
  }
}

TEST(ErrorsTest, DefaultMessageUsedWhenEmpty) {
  absl::Status s = S3Status(S3ErrorCode::kNoSuchKey);
  EXPECT_EQ(s.message(), "The specified key does not exist.");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
}

TEST(ErrorsTest, AbslCodesFollowHttpStatus) {
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kNoSuchBucket), absl::StatusCode::kNotFound);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kAccessDenied), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kSignatureDoesNotMatch), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kInvalidRange), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kMalformedXML), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kNotImplemented), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kSlowDown), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(AbslCodeFor(S3ErrorCode::kBucketAlreadyExists), absl::StatusCode::kAlreadyExists);
}

TEST(ErrorsTest, PlainStatusesMapByAbslCode) {
  EXPECT_EQ(ErrorCodeOf(absl::NotFoundError("x")), S3ErrorCode::kNoSuchKey);
  EXPECT_EQ(ErrorCodeOf(absl::PermissionDeniedError("x")), S3ErrorCode::kAccessDenied);
  EXPECT_EQ(ErrorCodeOf(absl::InvalidArgumentError("x")), S3ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorCodeOf(absl::UnavailableError("x")), S3ErrorCode::kServiceUnavailable);
  EXPECT_EQ(ErrorCodeOf(absl::ResourceExhaustedError("x")), S3ErrorCode::kSlowDown);
  EXPECT_EQ(ErrorCodeOf(absl::OutOfRangeError("x")), S3ErrorCode::kInvalidRange);
  EXPECT_EQ(ErrorCodeOf(absl::UnimplementedError("x")), S3ErrorCode::kNotImplemented);
  EXPECT_EQ(ErrorCodeOf(absl::DataLossError("x")), S3ErrorCode::kInternalError);
  EXPECT_EQ(ErrorCodeOf(absl::UnknownError("x")), S3ErrorCode::kInternalError);
  EXPECT_EQ(ErrorCodeOf(absl::OkStatus()), S3ErrorCode::kInternalError);
}

}  // namespace
}  // namespace tessera::services::s3
