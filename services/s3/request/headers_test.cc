#include "services/s3/request/headers.h"

#include "gtest/gtest.h"

namespace tessera::services::s3 {
namespace {

TEST(HeadersTest, FindHeaderIgnoresCaseAndTakesTheFirst) {
  const HeaderList h = {{"Content-Type", "a"}, {"X-Amz-Date", "d"}, {"content-type", "b"}};
  ASSERT_NE(FindHeader(h, "content-type"), nullptr);
  EXPECT_EQ(*FindHeader(h, "CONTENT-TYPE"), "a");
  EXPECT_EQ(*FindHeader(h, "x-amz-date"), "d");
  EXPECT_EQ(FindHeader(h, "range"), nullptr);
  EXPECT_EQ(FindHeader({}, "range"), nullptr);
}

TEST(HeadersTest, HeaderOrFallsBack) {
  const HeaderList h = {{"X-Amz-Acl", "private"}, {"Empty", ""}};
  EXPECT_EQ(HeaderOr(h, "x-amz-acl"), "private");
  EXPECT_EQ(HeaderOr(h, "x-amz-metadata-directive", "COPY"), "COPY");
  EXPECT_EQ(HeaderOr(h, "missing"), "");
  EXPECT_EQ(HeaderOr(h, "empty", "fallback"), "");  // present but empty is not absent
}

}  // namespace
}  // namespace tessera::services::s3
