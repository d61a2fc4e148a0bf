#include "base/status_reasons.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tessera {
namespace {

// One payload per reason, so reasons compose: a stale-epoch refusal that is then marked
// outcome-unknown carries both, and a caller that retries on the first still sees it.
constexpr absl::string_view kReasonUrlPrefix = "type.tessera/reason/";

absl::string_view ReasonName(StatusReason reason) {
  switch (reason) {
    case StatusReason::kOutcomeUnknown:
      return "outcome_unknown";
    case StatusReason::kStaleLayoutEpoch:
      return "stale_layout_epoch";
    case StatusReason::kLayoutChanged:
      return "layout_changed";
    case StatusReason::kNoSuchKey:
      return "no_such_key";
    case StatusReason::kNoSuchBucket:
      return "no_such_bucket";
    case StatusReason::kNoSuchUpload:
      return "no_such_upload";
    case StatusReason::kBucketNotEmpty:
      return "bucket_not_empty";
    case StatusReason::kNewerFormat:
      return "newer_format";
    case StatusReason::kClockOffset:
      return "clock_offset";
  }
  return "unknown_reason";
}

}  // namespace

absl::Status WithReason(absl::Status status, StatusReason reason) {
  if (status.ok()) return status;
  status.SetPayload(absl::StrCat(kReasonUrlPrefix, ReasonName(reason)), absl::Cord("1"));
  return status;
}

absl::Status Restated(const absl::Status& status, absl::string_view message) {
  if (status.ok()) return status;
  absl::Status out(status.code(), message);
  status.ForEachPayload(
      [&out](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::Status NewerFormatError(absl::string_view what, uint64_t version, uint64_t known) {
  return WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          what, " has format version ", version, ", newer than this binary knows (", known,
          "); upgrade it (tessera-node, tessera-gateway, tessera-s3) before reading it")),
      StatusReason::kNewerFormat);
}

bool HasReason(const absl::Status& status, StatusReason reason) {
  if (status.ok()) return false;
  return status.GetPayload(absl::StrCat(kReasonUrlPrefix, ReasonName(reason))).has_value();
}

}  // namespace tessera
