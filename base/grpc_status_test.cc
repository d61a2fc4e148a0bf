#include "base/grpc_status.h"

#include "absl/strings/cord.h"
#include "base/status_reasons.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

TEST(GrpcStatusTest, CodesAndMessagesCrossUnchanged) {
  for (int code = 1; code <= 16; ++code) {
    absl::Status s(static_cast<absl::StatusCode>(code), "no such key: b/k");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(g.error_message(), "no such key: b/k");
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_EQ(ToGrpcStatus(absl::DataLossError("x")).error_code(), grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")).code(),
            absl::StatusCode::kUnavailable);
}

TEST(GrpcStatusTest, TypedReasonsCross) {
  absl::Status s = MarkOutcomeUnknown(absl::UnavailableError("commit lost"));
  s = WithReason(s, StatusReason::kStaleLayoutEpoch);  // reasons compose
  s.SetPayload("type.example/other", absl::Cord(std::string("\0binary\xff", 8)));
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_FALSE(g.error_details().empty());
  absl::Status back = FromGrpcStatus(g);
  EXPECT_EQ(back.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(back.message(), "commit lost");
  EXPECT_TRUE(IsStaleLayoutEpoch(back));
  EXPECT_TRUE(IsOutcomeUnknown(back));
  EXPECT_FALSE(IsNoSuchKey(back));
  EXPECT_EQ(back.GetPayload("type.example/other"), absl::Cord(std::string("\0binary\xff", 8)));
  EXPECT_EQ(back, s);

  // Every reason survives on its own.
  for (StatusReason r :
       {StatusReason::kOutcomeUnknown, StatusReason::kLayoutChanged, StatusReason::kNoSuchKey}) {
    EXPECT_TRUE(
        HasReason(FromGrpcStatus(ToGrpcStatus(WithReason(absl::NotFoundError("x"), r))), r));
  }
}

TEST(GrpcStatusTest, NoPayloadsNoDetails) {
  EXPECT_TRUE(ToGrpcStatus(absl::NotFoundError("x")).error_details().empty());
}

TEST(GrpcStatusTest, MalformedDetailsKeepCodeAndMessage) {
  const std::string good =
      ToGrpcStatus(MarkOutcomeUnknown(absl::AbortedError("a"))).error_details();
  for (const std::string& details :
       {std::string("\xff\xff\xff"), std::string("\x1a\x7f"), good.substr(0, good.size() - 1),
        std::string("\x1a\x02\x12\x00") /* an Any without a type URL */}) {
    absl::Status back = FromGrpcStatus(grpc::Status(grpc::StatusCode::ABORTED, "a", details));
    EXPECT_EQ(back.code(), absl::StatusCode::kAborted);
    EXPECT_EQ(back.message(), "a");
    EXPECT_FALSE(IsOutcomeUnknown(back));
  }
}

TEST(GrpcStatusTest, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

}  // namespace
}  // namespace tessera
