#include "base/testing/status_matchers.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace tessera {
namespace {

using ::tessera::testing::IsOk;
using ::tessera::testing::IsOkAndHolds;
using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd value");
  return x / 2;
}

TEST(StatusMatchersTest, StatusIsMatchesCodeAndMessage) {
  absl::Status s = absl::NotFoundError("slice 42 missing");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, HasSubstr("42")));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, "slice 42 missing"));
  EXPECT_THAT(s, Not(StatusIs(absl::StatusCode::kInternal)));
  EXPECT_THAT(s, Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("43"))));
  EXPECT_THAT(Half(3), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("odd")));
  EXPECT_THAT(Half(4), Not(StatusIs(absl::StatusCode::kInvalidArgument)));
}

TEST(StatusMatchersTest, IsOkAndHolds) {
  EXPECT_THAT(Half(4), IsOk());
  EXPECT_THAT(Half(3), Not(IsOk()));
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(Half(4), IsOkAndHolds(2));
  EXPECT_THAT(Half(4), IsOkAndHolds(::testing::Gt(1)));
  EXPECT_THAT(Half(4), Not(IsOkAndHolds(3)));
  EXPECT_THAT(Half(3), Not(IsOkAndHolds(::testing::_)));
  absl::StatusOr<std::string> str = std::string("abc");
  EXPECT_THAT(str, IsOkAndHolds(HasSubstr("b")));
}

TEST(StatusMatchersTest, OkMacrosPassOnOk) {
  EXPECT_OK(absl::OkStatus());
  ASSERT_OK(absl::OkStatus());
  ASSERT_OK(Half(2));
  ASSERT_OK_AND_ASSIGN(int v, Half(10));
  EXPECT_EQ(v, 5);
  ASSERT_OK_AND_ASSIGN(v, Half(8));  // assign to an existing variable
  EXPECT_EQ(v, 4);
  ASSERT_OK_AND_ASSIGN(auto p, absl::StatusOr<std::unique_ptr<int>>(std::make_unique<int>(7)));
  EXPECT_EQ(*p, 7);
}

TEST(StatusMatchersTest, OkMacrosEvaluateOnce) {
  int calls = 0;
  auto f = [&calls]() {
    ++calls;
    return absl::OkStatus();
  };
  EXPECT_OK(f());
  ASSERT_OK(f());
  EXPECT_EQ(calls, 2);
}

TEST(StatusMatchersTest, FailuresAreReportedWithTheStatus) {
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(absl::DataLossError("bad checksum")), "bad checksum");
  EXPECT_FATAL_FAILURE(ASSERT_OK(absl::DataLossError("bad checksum")), "DATA_LOSS");
  EXPECT_FATAL_FAILURE(
      {
        ASSERT_OK_AND_ASSIGN(int v, Half(3));
        (void)v;
      },
      "odd value");
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(Half(4), StatusIs(absl::StatusCode::kNotFound)), "NOT_FOUND");
}

}  // namespace
}  // namespace tessera
