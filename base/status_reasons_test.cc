#include "base/status_reasons.h"

#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(StatusReasonsTest, ReasonTravelsWithTheStatusAndKeepsCodeAndMessage) {
  absl::Status s = MarkOutcomeUnknown(absl::UnavailableError("commit lost"));
  EXPECT_TRUE(IsOutcomeUnknown(s));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "commit lost");
  absl::Status copy = s;
  EXPECT_TRUE(IsOutcomeUnknown(copy));
}

TEST(StatusReasonsTest, PlainErrorsAndOkHaveNoReason) {
  EXPECT_FALSE(IsOutcomeUnknown(absl::UnavailableError("x")));
  EXPECT_FALSE(IsOutcomeUnknown(absl::OkStatus()));
  EXPECT_TRUE(MarkOutcomeUnknown(absl::OkStatus()).ok());
  // The reason is not in the message: text matching cannot fake or lose it.
  EXPECT_FALSE(IsOutcomeUnknown(absl::UnavailableError("outcome_unknown")));
}

TEST(StatusReasonsTest, ReasonsCompose) {
  absl::Status s =
      WithReason(absl::FailedPreconditionError("stale"), StatusReason::kStaleLayoutEpoch);
  s = MarkOutcomeUnknown(s);
  EXPECT_TRUE(IsStaleLayoutEpoch(s));
  EXPECT_TRUE(IsOutcomeUnknown(s));
  EXPECT_FALSE(IsLayoutChanged(s));
  EXPECT_FALSE(IsNoSuchKey(s));
}

TEST(StatusReasonsTest, RestatedKeepsCodeAndReasons) {
  absl::Status s = MarkOutcomeUnknown(
      WithReason(absl::FailedPreconditionError("stale"), StatusReason::kStaleLayoutEpoch));
  absl::Status r = Restated(s, "accept: stale (key partition 3)");
  EXPECT_EQ(r.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.message(), "accept: stale (key partition 3)");
  EXPECT_TRUE(IsStaleLayoutEpoch(r));
  EXPECT_TRUE(IsOutcomeUnknown(r));
  EXPECT_TRUE(Restated(absl::OkStatus(), "x").ok());
}

TEST(StatusReasonsTest, BucketAndUploadReasons) {
  absl::Status bucket = MarkNoSuchBucket(absl::NotFoundError("no such bucket: b"));
  EXPECT_TRUE(IsNoSuchBucket(bucket));
  EXPECT_FALSE(IsNoSuchUpload(bucket));
  EXPECT_EQ(bucket.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(IsNoSuchUpload(MarkNoSuchUpload(absl::NotFoundError("u"))));
  absl::Status full = MarkBucketNotEmpty(absl::FailedPreconditionError("b"));
  EXPECT_TRUE(IsBucketNotEmpty(full));
  EXPECT_FALSE(IsNoSuchBucket(full));
  // Message text is not a reason.
  EXPECT_FALSE(IsNoSuchBucket(absl::NotFoundError("no such bucket: b")));
  EXPECT_FALSE(IsBucketNotEmpty(absl::FailedPreconditionError("bucket not empty: b")));
  EXPECT_TRUE(MarkNoSuchUpload(absl::OkStatus()).ok());
}

TEST(StatusReasonsTest, NewerFormat) {
  absl::Status s = NewerFormatError("manifest of b/k", 3, 2);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(IsNewerFormat(s));
  EXPECT_NE(s.message().find("manifest of b/k has format version 3"), absl::string_view::npos);
  EXPECT_NE(s.message().find("knows (2)"), absl::string_view::npos);
  EXPECT_FALSE(IsNewerFormat(absl::FailedPreconditionError("newer format")));
}

}  // namespace
}  // namespace tessera
