#include "services/s3/handlers/error_mapping.h"

#include "absl/status/status.h"
#include "base/status_reasons.h"
#include "gtest/gtest.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

// The object layer's meaning reaches S3 as typed reasons: the message may say anything.
TEST(ErrorMappingTest, MapsByReasonNotByMessage) {
  EXPECT_EQ(CodeForDataPath(MarkNoSuchBucket(absl::NotFoundError("bucket b is gone")), false),
            S3ErrorCode::kNoSuchBucket);
  EXPECT_EQ(CodeForDataPath(MarkNoSuchUpload(absl::NotFoundError("upload u is gone")), false),
            S3ErrorCode::kNoSuchUpload);
  EXPECT_EQ(
      CodeForDataPath(MarkBucketNotEmpty(absl::FailedPreconditionError("still has keys")), false),
      S3ErrorCode::kBucketNotEmpty);
  // Metadata writes refused for the cluster's clocks: a retryable 503, not 412 PreconditionFailed
  // (the request had no precondition; an S3 client does not retry a 412).
  EXPECT_EQ(
      CodeForDataPath(MarkClockOffset(absl::FailedPreconditionError("clock offset 2s")), false),
      S3ErrorCode::kServiceUnavailable);
}

TEST(ErrorMappingTest, MessageTextAloneMeansNothing) {
  EXPECT_EQ(CodeForDataPath(absl::NotFoundError("no such bucket: b"), false),
            S3ErrorCode::kNoSuchKey);
  EXPECT_EQ(CodeForDataPath(absl::NotFoundError("no such upload: u"), true),
            S3ErrorCode::kNoSuchBucket);
  EXPECT_NE(CodeForDataPath(absl::FailedPreconditionError("bucket not empty: b"), false),
            S3ErrorCode::kBucketNotEmpty);
}

TEST(ErrorMappingTest, OutcomeUnknownAndS3CodesFirst) {
  EXPECT_EQ(CodeForDataPath(MarkOutcomeUnknown(absl::AlreadyExistsError("bucket exists")), false),
            S3ErrorCode::kInternalError);
  EXPECT_EQ(CodeForDataPath(S3Status(S3ErrorCode::kNoSuchKey), true), S3ErrorCode::kNoSuchKey);
  EXPECT_EQ(CodeForDataPath(absl::NotFoundError("x"), true), S3ErrorCode::kNoSuchBucket);
  EXPECT_EQ(CodeForDataPath(absl::AlreadyExistsError("x"), false),
            S3ErrorCode::kBucketAlreadyExists);
}

}  // namespace
}  // namespace tessera::services::s3
