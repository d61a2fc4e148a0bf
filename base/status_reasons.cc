#include "base/status_reasons.h"

#include <optional>

#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace tessera {
namespace {

constexpr absl::string_view kReasonUrl = "type.tessera/reason";

absl::string_view ReasonName(StatusReason reason) {
  switch (reason) {
    case StatusReason::kOutcomeUnknown:
      return "outcome_unknown";
    case StatusReason::kNoSuchBucket:
      return "no_such_bucket";
    case StatusReason::kNoSuchUpload:
      return "no_such_upload";
    case StatusReason::kBucketNotEmpty:
      return "bucket_not_empty";
  }
  return "unknown_reason";
}

}  // namespace

absl::Status WithReason(absl::Status status, StatusReason reason) {
  if (status.ok()) return status;
  status.SetPayload(kReasonUrl, absl::Cord(ReasonName(reason)));
  return status;
}

bool HasReason(const absl::Status& status, StatusReason reason) {
  if (status.ok()) return false;
  auto payload = status.GetPayload(kReasonUrl);
  return payload.has_value() && *payload == ReasonName(reason);
}

}  // namespace tessera
