// Typed reasons carried by an absl::Status, so callers act on what happened rather than on
// message text (messages are for people and may change).
//
// Each reason is a payload under its own type URL, so a status can carry several (e.g. a stale
// layout epoch refusal later marked outcome-unknown); the code stays whatever the failure's code is
// (UNAVAILABLE, DEADLINE_EXCEEDED, ...), so code-based retry rules keep working.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tessera {

enum class StatusReason {
  // A compare-and-set (or a write built on one) may or may not have been applied: it was sent
  // past the point of no return and then failed. Whatever it referenced must be kept (a later
  // reader may see the write); cleanup is left to a reclaimer that checks first.
  kOutcomeUnknown,
  // The metadata acceptor refused a request made under an older layout epoch than it knows: the
  // caller reloads the layout record and retries under the newer one.
  kStaleLayoutEpoch,
  // A compare-and-set of the layout record lost: another proposer changed it first (or a
  // hand-off is still in progress). The caller's view is reloaded; nothing is wrong.
  kLayoutChanged,
  // The named object (or version) does not exist. Distinct from a missing bucket.
  kNoSuchKey,
  // The named bucket does not exist (NOT_FOUND). Distinct from a missing key or upload: S3
  // answers NoSuchBucket, and a lookup inside a bucket stops rather than treating it as absent.
  kNoSuchBucket,
  // The named multipart upload does not exist (NOT_FOUND; also once completed or aborted).
  kNoSuchUpload,
  // A bucket delete refused because the bucket still holds live objects (FAILED_PRECONDITION).
  kBucketNotEmpty,
  // Stored data or a request in a format (version) newer than this binary knows, refused rather
  // than misread (FAILED_PRECONDITION): upgrade this binary. See NewerFormatError.
  kNewerFormat,
  // Metadata writes refused because clocks are further apart than the configured max offset
  // (FAILED_PRECONDITION: retrying at once does not help). Not the caller's fault: front ends
  // answer "service unavailable" so clients retry later, and operators fix the clocks.
  kClockOffset,
};

// `status` (not OK) carrying `reason`; OK stays OK.
[[nodiscard]] absl::Status WithReason(absl::Status status, StatusReason reason);
// True if `status` is not OK and carries `reason`.
[[nodiscard]] bool HasReason(const absl::Status& status, StatusReason reason);

// `status` with `message` in place of its own message, keeping its code and every payload (its
// typed reason included): for adding context to an error on its way up. OK stays OK.
[[nodiscard]] absl::Status Restated(const absl::Status& status, absl::string_view message);

// Shorthands for kOutcomeUnknown.
[[nodiscard]] inline bool IsOutcomeUnknown(const absl::Status& status) {
  return HasReason(status, StatusReason::kOutcomeUnknown);
}
[[nodiscard]] inline absl::Status MarkOutcomeUnknown(absl::Status status) {
  return WithReason(std::move(status), StatusReason::kOutcomeUnknown);
}

// Shorthands for the other reasons.
[[nodiscard]] inline bool IsStaleLayoutEpoch(const absl::Status& status) {
  return HasReason(status, StatusReason::kStaleLayoutEpoch);
}
[[nodiscard]] inline bool IsLayoutChanged(const absl::Status& status) {
  return HasReason(status, StatusReason::kLayoutChanged);
}
[[nodiscard]] inline bool IsNoSuchKey(const absl::Status& status) {
  return HasReason(status, StatusReason::kNoSuchKey);
}
[[nodiscard]] inline bool IsNoSuchBucket(const absl::Status& status) {
  return HasReason(status, StatusReason::kNoSuchBucket);
}
[[nodiscard]] inline absl::Status MarkNoSuchBucket(absl::Status status) {
  return WithReason(std::move(status), StatusReason::kNoSuchBucket);
}
[[nodiscard]] inline bool IsNoSuchUpload(const absl::Status& status) {
  return HasReason(status, StatusReason::kNoSuchUpload);
}
[[nodiscard]] inline absl::Status MarkNoSuchUpload(absl::Status status) {
  return WithReason(std::move(status), StatusReason::kNoSuchUpload);
}
// FAILED_PRECONDITION carrying kNewerFormat: "<what> has format version <version>, newer than
// this binary knows (<known>); upgrade it (tessera-node, tessera-gateway, tessera-s3) before
// reading it".
[[nodiscard]] absl::Status NewerFormatError(absl::string_view what, uint64_t version,
                                            uint64_t known);
[[nodiscard]] inline bool IsNewerFormat(const absl::Status& status) {
  return HasReason(status, StatusReason::kNewerFormat);
}
[[nodiscard]] inline bool IsClockOffset(const absl::Status& status) {
  return HasReason(status, StatusReason::kClockOffset);
}
[[nodiscard]] inline absl::Status MarkClockOffset(absl::Status status) {
  return WithReason(std::move(status), StatusReason::kClockOffset);
}
[[nodiscard]] inline bool IsBucketNotEmpty(const absl::Status& status) {
  return HasReason(status, StatusReason::kBucketNotEmpty);
}
[[nodiscard]] inline absl::Status MarkBucketNotEmpty(absl::Status status) {
  return WithReason(std::move(status), StatusReason::kBucketNotEmpty);
}

}  // namespace tessera
