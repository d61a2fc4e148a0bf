#include "storage/crypto/secret_key.h"

#include <array>
#include <sstream>
#include <type_traits>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera::storage {
namespace {

template <typename T, typename = void>
struct IsStreamable : std::false_type {};
template <typename T>
struct IsStreamable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
    : std::true_type {};

static_assert(!IsStreamable<const SecretKey&>::value, "SecretKey must not be printable");
static_assert(!std::is_copy_constructible_v<SecretKey>);
static_assert(!std::is_copy_assignable_v<SecretKey>);
static_assert(std::is_nothrow_move_constructible_v<SecretKey>);

bool AllZero(const SecretKey& key) {
  for (size_t i = 0; i < key.size(); ++i) {
    if (key.data()[i] != 0) return false;
  }
  return true;
}

TEST(SecretKeyTest, GenerateGivesDistinctNonZeroKeys) {
  SecretKey a = SecretKey::Generate();
  SecretKey b = SecretKey::Generate();
  EXPECT_FALSE(a.Equals(b));
  EXPECT_FALSE(AllZero(a));
  EXPECT_TRUE(a.Equals(a));
}

TEST(SecretKeyTest, FromBytesChecksLength) {
  std::array<uint8_t, 32> bytes;
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i + 1);
  absl::StatusOr<SecretKey> key = SecretKey::FromBytes(bytes);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->data()[0], 1);
  EXPECT_EQ(key->data()[31], 32);
  EXPECT_EQ(SecretKey::FromBytes(absl::MakeConstSpan(bytes.data(), 31)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(SecretKeyTest, MoveWipesTheSource) {
  SecretKey a = SecretKey::Generate();
  SecretKey reference = a.Clone();
  SecretKey b = std::move(a);
  EXPECT_TRUE(b.Equals(reference));
  EXPECT_TRUE(AllZero(a));  // NOLINT(bugprone-use-after-move): checking the wipe
  SecretKey c = SecretKey::Generate();
  c = std::move(b);
  EXPECT_TRUE(c.Equals(reference));
  EXPECT_TRUE(AllZero(b));  // NOLINT(bugprone-use-after-move)
}

TEST(SecretKeyTest, CloneIsEqualAndIndependent) {
  SecretKey a = SecretKey::Generate();
  SecretKey b = a.Clone();
  EXPECT_TRUE(a.Equals(b));
  EXPECT_NE(a.data(), b.data());
}

TEST(SecretKeyTest, GoogleTestPrinterRedacts) {
  std::array<uint8_t, 32> bytes;
  bytes.fill(0xAB);
  absl::StatusOr<SecretKey> key = SecretKey::FromBytes(bytes);
  ASSERT_TRUE(key.ok());
  const std::string printed = ::testing::PrintToString(*key);
  EXPECT_THAT(printed, ::testing::HasSubstr("redacted"));
  EXPECT_THAT(printed, ::testing::Not(::testing::HasSubstr("AB")));
  EXPECT_THAT(printed, ::testing::Not(::testing::HasSubstr("ab")));
}

}  // namespace
}  // namespace tessera::storage
