#include "services/node/node_config.h"

#include "base/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::services {
namespace {

using ::tessera::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(NodeConfigTest, ParsesKeyValueLines) {
  auto pairs = ParseConfigText(
      "# a comment\n\n  data_dir = /var/lib/tessera  \nsite=\"eu 1\"\nlisten =0.0.0.0:7400\n"
      "empty =\n");
  ASSERT_TRUE(pairs.ok()) << pairs.status();
  EXPECT_THAT(*pairs,
              ::testing::ElementsAre(Pair("data_dir", "/var/lib/tessera"), Pair("site", "eu 1"),
                                     Pair("listen", "0.0.0.0:7400"), Pair("empty", "")));
}

TEST(NodeConfigTest, RejectsMalformedLines) {
  EXPECT_THAT(ParseConfigText("a = 1\njust words\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
  EXPECT_THAT(ParseConfigText(" = 1\n"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseConfigText("a = 1\na = 2\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
}

}  // namespace
}  // namespace tessera::services
