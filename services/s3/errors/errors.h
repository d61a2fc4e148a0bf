// The S3 error table: S3 error codes, their HTTP statuses and default messages, and the bridge
// between them and absl::Status.
//
// Layers below the HTTP handler return absl::Status. When a failure has a precise S3 meaning they
// build it with S3Status(S3ErrorCode::kNoSuchKey, "..."), which picks a fitting absl code and
// attaches the S3 code as a payload; the handler then calls ErrorCodeOf(status) to get the code
// (payload first, otherwise a mapping from the absl code) and GetErrorInfo() for status/message.
#pragma once

#include <optional>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tessera::services::s3 {

enum class S3ErrorCode {
  kAccessDenied,
  kAuthorizationHeaderMalformed,
  kAuthorizationQueryParametersError,
  kBadDigest,
  kBucketAlreadyExists,
  kBucketAlreadyOwnedByYou,
  kBucketNotEmpty,
  kEntityTooLarge,
  kEntityTooSmall,
  kExpiredToken,
  kIncompleteBody,
  kInternalError,
  kInvalidAccessKeyId,
  kInvalidArgument,
  kInvalidBucketName,
  kInvalidChunkSizeError,
  kInvalidDigest,
  kInvalidPart,
  kInvalidPartNumber,
  kInvalidPartOrder,
  kInvalidRange,
  kInvalidRequest,
  kInvalidStorageClass,
  kKeyTooLongError,
  kMalformedXML,
  kMetadataTooLarge,
  kMethodNotAllowed,
  kMissingContentLength,
  kMissingSecurityHeader,
  kNoSuchBucket,
  kNoSuchKey,
  kNoSuchUpload,
  kNotImplemented,
  kNotModified,
  kOperationAborted,
  kPreconditionFailed,
  kRequestHeaderSectionTooLarge,
  kRequestTimeout,
  kRequestTimeTooSkewed,
  kServiceUnavailable,
  kSignatureDoesNotMatch,
  kSlowDown,
  kXAmzContentSHA256Mismatch,
};

struct S3ErrorInfo {
  S3ErrorCode code;
  absl::string_view name;             // The <Code> element, e.g. "NoSuchKey".
  int http_status;                    // e.g. 404.
  absl::string_view default_message;  // AWS's wording where it is well known.
};

// Every code has an entry; never fails.
const S3ErrorInfo& GetErrorInfo(S3ErrorCode code);

// Looks a code up by its S3 name ("NoSuchKey"). Case-sensitive, as S3 codes are.
std::optional<S3ErrorCode> ErrorCodeFromName(absl::string_view name);

// A non-OK status carrying `code` as payload. Its absl code follows the HTTP status (404 ->
// kNotFound, 403 -> kPermissionDenied or kUnauthenticated, 409 -> kAlreadyExists or
// kFailedPrecondition, 412 -> kFailedPrecondition, 416 -> kOutOfRange, 4xx -> kInvalidArgument,
// 501 -> kUnimplemented, 503 -> kUnavailable, else kInternal). An empty `message` uses the
// default message.
[[nodiscard]] absl::Status S3Status(S3ErrorCode code, absl::string_view message = {});

// The S3 code of a non-OK status: its payload if S3Status made it, else a mapping from the absl
// code (kNotFound -> NoSuchKey, kPermissionDenied/kUnauthenticated -> AccessDenied,
// kInvalidArgument -> InvalidArgument, kAlreadyExists -> BucketAlreadyExists,
// kFailedPrecondition -> PreconditionFailed, kOutOfRange -> InvalidRange, kUnimplemented ->
// NotImplemented, kUnavailable -> ServiceUnavailable, kResourceExhausted -> SlowDown,
// kDeadlineExceeded -> RequestTimeout, kAborted -> OperationAborted, other -> InternalError).
// Must not be called with OK (returns InternalError then).
S3ErrorCode ErrorCodeOf(const absl::Status& status);

// The absl code S3Status uses for `code`.
absl::StatusCode AbslCodeFor(S3ErrorCode code);

}  // namespace tessera::services::s3
