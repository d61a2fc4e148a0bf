// Typed reasons carried by an absl::Status, so callers act on what happened rather than on
// message text (messages are for people and may change).
//
// A reason is a payload under one type URL; the code stays whatever the failure's code is
// (UNAVAILABLE, DEADLINE_EXCEEDED, ...), so code-based retry rules keep working.
//
// Thread-safety: pure functions.
#pragma once

#include <utility>

#include "absl/status/status.h"

namespace tessera {

enum class StatusReason {
  // A compare-and-set (or a write built on one) may or may not have been applied: it was sent
  // past the point of no return and then failed. Whatever it referenced must be kept (a later
  // reader may see the write); cleanup is left to a reclaimer that checks first.
  kOutcomeUnknown,
};

// `status` (not OK) carrying `reason`; OK stays OK.
[[nodiscard]] absl::Status WithReason(absl::Status status, StatusReason reason);
// True if `status` is not OK and carries `reason`.
[[nodiscard]] bool HasReason(const absl::Status& status, StatusReason reason);

// Shorthands for kOutcomeUnknown.
[[nodiscard]] inline bool IsOutcomeUnknown(const absl::Status& status) {
  return HasReason(status, StatusReason::kOutcomeUnknown);
}
[[nodiscard]] inline absl::Status MarkOutcomeUnknown(absl::Status status) {
  return WithReason(std::move(status), StatusReason::kOutcomeUnknown);
}

}  // namespace tessera
