// GoogleTest helpers for absl::Status and absl::StatusOr<T>.
//
//   EXPECT_OK(env->SyncDir(dir));                 // also accepts a StatusOr
//   ASSERT_OK(store->Put(id, data));
//   ASSERT_OK_AND_ASSIGN(auto file, env->NewWritableFile(path));
//   EXPECT_THAT(store->Get(id), StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_size")));
//   EXPECT_THAT(reader.Next(), IsOk());
//   EXPECT_THAT(ReadFileToString(env, p), IsOkAndHolds("contents"));
//
// On failure the status (code and message) is printed. Test-only: link into cc_test targets.
#pragma once

#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tessera {
namespace testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Polymorphic matcher implementation behind StatusIs().
class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename T>
  operator ::testing::Matcher<T>() const {  // NOLINT: implicit by design (gmock idiom)
    return ::testing::Matcher<T>(new Impl<const T&>(code_, message_));
  }

 private:
  template <typename T>
  class Impl : public ::testing::MatcherInterface<T> {
   public:
    Impl(absl::StatusCode code, ::testing::Matcher<const std::string&> message)
        : code_(code), message_(std::move(message)) {}
    bool MatchAndExplain(T value, ::testing::MatchResultListener* listener) const override {
      const absl::Status& status = GetStatus(value);
      *listener << "whose status is " << status;
      if (status.code() != code_) return false;
      return message_.MatchAndExplain(std::string(status.message()), listener);
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "has status code " << absl::StatusCodeToString(code_) << " and message that ";
      message_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "does not have status code " << absl::StatusCodeToString(code_)
          << " or has message that ";
      message_.DescribeNegationTo(os);
    }

   private:
    const absl::StatusCode code_;
    const ::testing::Matcher<const std::string&> message_;
  };

  const absl::StatusCode code_;
  const ::testing::Matcher<const std::string&> message_;
};

// Matcher implementation behind IsOkAndHolds().
template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename StatusOrT>
  operator ::testing::Matcher<StatusOrT>() const {  // NOLINT: implicit by design
    using Value = typename std::remove_cv_t<std::remove_reference_t<StatusOrT>>::value_type;
    return ::testing::Matcher<StatusOrT>(
        new Impl<const StatusOrT&, Value>(::testing::SafeMatcherCast<const Value&>(inner_)));
  }

 private:
  template <typename StatusOrRef, typename Value>
  class Impl : public ::testing::MatcherInterface<StatusOrRef> {
   public:
    explicit Impl(::testing::Matcher<const Value&> inner) : inner_(std::move(inner)) {}
    bool MatchAndExplain(StatusOrRef value,
                         ::testing::MatchResultListener* listener) const override {
      if (!value.ok()) {
        *listener << "whose status is " << value.status();
        return false;
      }
      return inner_.MatchAndExplain(*value, listener);
    }
    void DescribeTo(std::ostream* os) const override {
      *os << "is OK and holds a value that ";
      inner_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "is not OK or holds a value that ";
      inner_.DescribeNegationTo(os);
    }

   private:
    const ::testing::Matcher<const Value&> inner_;
  };

  const InnerMatcher inner_;
};

}  // namespace internal

// Matches a Status or StatusOr whose code is `code` (and whose message matches `message`).
inline internal::StatusIsMatcher StatusIs(absl::StatusCode code) {
  return internal::StatusIsMatcher(code, ::testing::_);
}
template <typename MessageMatcher>
internal::StatusIsMatcher StatusIs(absl::StatusCode code, MessageMatcher message) {
  return internal::StatusIsMatcher(code,
                                   ::testing::MatcherCast<const std::string&>(std::move(message)));
}

// Matches an OK Status or StatusOr.
inline internal::StatusIsMatcher IsOk() { return StatusIs(absl::StatusCode::kOk); }

// Matches an OK StatusOr whose value matches `inner` (a matcher or a plain value).
template <typename InnerMatcher>
internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>> IsOkAndHolds(InnerMatcher&& inner) {
  return internal::IsOkAndHoldsMatcher<std::decay_t<InnerMatcher>>(
      std::forward<InnerMatcher>(inner));
}

}  // namespace testing
}  // namespace tessera

#define TESSERA_TESTING_CONCAT_INNER_(a, b) a##b
#define TESSERA_TESTING_CONCAT_(a, b) TESSERA_TESTING_CONCAT_INNER_(a, b)

// Expects / asserts that `expr` (a Status or StatusOr) is OK; prints the status otherwise.
// `expr` is evaluated once. They are statements (safe in an unbraced if/else), so extra messages
// cannot be streamed into them; use EXPECT_THAT(expr, IsOk()) << ... for that.
#define EXPECT_OK(expr)                              \
  do {                                               \
    EXPECT_THAT((expr), ::tessera::testing::IsOk()); \
  } while (0)
#define ASSERT_OK(expr)                              \
  do {                                               \
    ASSERT_THAT((expr), ::tessera::testing::IsOk()); \
  } while (0)

// Evaluates `expr` (a StatusOr), asserts it is OK and moves its value into `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define ASSERT_OK_AND_ASSIGN(lhs, expr)                                                            \
  TESSERA_ASSERT_OK_AND_ASSIGN_IMPL_(TESSERA_TESTING_CONCAT_(tessera_testing_statusor_, __LINE__), \
                                     lhs, expr)
#define TESSERA_ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr)     \
  auto statusor = (expr);                                           \
  ASSERT_TRUE(statusor.ok()) << #expr << ": " << statusor.status(); \
  lhs = std::move(statusor).value()
