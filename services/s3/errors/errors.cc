#include "services/s3/errors/errors.h"

#include <array>
#include <string>

#include "absl/strings/cord.h"

namespace tessera::services::s3 {
namespace {

constexpr absl::string_view kPayloadUrl = "type.tessera/s3.error_code";

using C = S3ErrorCode;

// Sorted by enum value; the static_assert below keeps it complete.
constexpr std::array<S3ErrorInfo, 43> kTable = {{
    {C::kAccessDenied, "AccessDenied", 403, "Access Denied"},
    {C::kAuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", 400,
     "The authorization header is malformed."},
    {C::kAuthorizationQueryParametersError, "AuthorizationQueryParametersError", 400,
     "Error parsing the X-Amz-Credential parameter."},
    {C::kBadDigest, "BadDigest", 400,
     "The Content-MD5 or checksum value that you specified did not match what the server "
     "received."},
    {C::kBucketAlreadyExists, "BucketAlreadyExists", 409,
     "The requested bucket name is not available. The bucket namespace is shared by all users "
     "of the system. Please select a different name and try again."},
    {C::kBucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou", 409,
     "Your previous request to create the named bucket succeeded and you already own it."},
    {C::kBucketNotEmpty, "BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
    {C::kEntityTooLarge, "EntityTooLarge", 400,
     "Your proposed upload exceeds the maximum allowed object size."},
    {C::kEntityTooSmall, "EntityTooSmall", 400,
     "Your proposed upload is smaller than the minimum allowed object size."},
    {C::kExpiredToken, "ExpiredToken", 400, "The provided token has expired."},
    {C::kIncompleteBody, "IncompleteBody", 400,
     "You did not provide the number of bytes specified by the Content-Length HTTP header."},
    {C::kInternalError, "InternalError", 500,
     "We encountered an internal error. Please try again."},
    {C::kInvalidAccessKeyId, "InvalidAccessKeyId", 403,
     "The AWS Access Key Id you provided does not exist in our records."},
    {C::kInvalidArgument, "InvalidArgument", 400, "Invalid Argument"},
    {C::kInvalidBucketName, "InvalidBucketName", 400, "The specified bucket is not valid."},
    {C::kInvalidChunkSizeError, "InvalidChunkSizeError", 403,
     "Only the last chunk is allowed to have a size less than 8192 bytes"},
    {C::kInvalidDigest, "InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    {C::kInvalidPart, "InvalidPart", 400,
     "One or more of the specified parts could not be found. The part might not have been "
     "uploaded, or the specified entity tag might not have matched the part's entity tag."},
    {C::kInvalidPartNumber, "InvalidPartNumber", 416,
     "The requested partnumber is not satisfiable"},
    {C::kInvalidPartOrder, "InvalidPartOrder", 400,
     "The list of parts was not in ascending order. The parts list must be specified in order "
     "by part number."},
    {C::kInvalidRange, "InvalidRange", 416, "The requested range is not satisfiable"},
    {C::kInvalidRequest, "InvalidRequest", 400, "Invalid Request"},
    {C::kInvalidStorageClass, "InvalidStorageClass", 400,
     "The storage class you specified is not valid"},
    {C::kKeyTooLongError, "KeyTooLongError", 400, "Your key is too long"},
    {C::kMalformedXML, "MalformedXML", 400,
     "The XML you provided was not well-formed or did not validate against our published "
     "schema"},
    {C::kMetadataTooLarge, "MetadataTooLarge", 400,
     "Your metadata headers exceed the maximum allowed metadata size."},
    {C::kMethodNotAllowed, "MethodNotAllowed", 405,
     "The specified method is not allowed against this resource."},
    {C::kMissingContentLength, "MissingContentLength", 411,
     "You must provide the Content-Length HTTP header."},
    {C::kMissingSecurityHeader, "MissingSecurityHeader", 400,
     "Your request is missing a required header."},
    {C::kNoSuchBucket, "NoSuchBucket", 404, "The specified bucket does not exist"},
    {C::kNoSuchKey, "NoSuchKey", 404, "The specified key does not exist."},
    {C::kNoSuchUpload, "NoSuchUpload", 404,
     "The specified multipart upload does not exist. The upload ID might be invalid, or the "
     "multipart upload might have been aborted or completed."},
    {C::kNotImplemented, "NotImplemented", 501,
     "A header you provided implies functionality that is not implemented"},
    {C::kNotModified, "NotModified", 304, "Not Modified"},
    {C::kOperationAborted, "OperationAborted", 409,
     "A conflicting conditional operation is currently in progress against this resource. "
     "Please try again."},
    {C::kPreconditionFailed, "PreconditionFailed", 412,
     "At least one of the pre-conditions you specified did not hold"},
    {C::kRequestHeaderSectionTooLarge, "RequestHeaderSectionTooLarge", 400,
     "Your request header section exceeds the maximum allowed size."},
    {C::kRequestTimeout, "RequestTimeout", 400,
     "Your socket connection to the server was not read from or written to within the timeout "
     "period."},
    {C::kRequestTimeTooSkewed, "RequestTimeTooSkewed", 403,
     "The difference between the request time and the current time is too large."},
    {C::kServiceUnavailable, "ServiceUnavailable", 503, "Please reduce your request rate."},
    {C::kSignatureDoesNotMatch, "SignatureDoesNotMatch", 403,
     "The request signature we calculated does not match the signature you provided. Check your "
     "key and signing method."},
    {C::kSlowDown, "SlowDown", 503, "Please reduce your request rate."},
    {C::kXAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400,
     "The provided 'x-amz-content-sha256' header does not match what was computed."},
}};
static_assert(kTable.size() == static_cast<size_t>(C::kXAmzContentSHA256Mismatch) + 1);

constexpr bool TableIsOrdered() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].code) != i) return false;
  }
  return true;
}
static_assert(TableIsOrdered(), "kTable must list codes in enum order");

}  // namespace

const S3ErrorInfo& GetErrorInfo(S3ErrorCode code) {
  size_t i = static_cast<size_t>(code);
  if (i >= kTable.size()) return kTable[static_cast<size_t>(C::kInternalError)];
  return kTable[i];
}

std::optional<S3ErrorCode> ErrorCodeFromName(absl::string_view name) {
  for (const S3ErrorInfo& info : kTable) {
    if (info.name == name) return info.code;
  }
  return std::nullopt;
}

absl::StatusCode AbslCodeFor(S3ErrorCode code) {
  switch (code) {
    case C::kAccessDenied:
      return absl::StatusCode::kPermissionDenied;
    case C::kInvalidAccessKeyId:
    case C::kSignatureDoesNotMatch:
    case C::kRequestTimeTooSkewed:
    case C::kExpiredToken:
    case C::kMissingSecurityHeader:
    case C::kAuthorizationHeaderMalformed:
    case C::kAuthorizationQueryParametersError:
      return absl::StatusCode::kUnauthenticated;
    case C::kBucketAlreadyExists:
    case C::kBucketAlreadyOwnedByYou:
      return absl::StatusCode::kAlreadyExists;
    case C::kBucketNotEmpty:
    case C::kPreconditionFailed:
    case C::kNotModified:
      return absl::StatusCode::kFailedPrecondition;
    case C::kOperationAborted:
      return absl::StatusCode::kAborted;
    case C::kInvalidRange:
      return absl::StatusCode::kOutOfRange;
    case C::kRequestTimeout:
      return absl::StatusCode::kDeadlineExceeded;
    case C::kNotImplemented:
      return absl::StatusCode::kUnimplemented;
    case C::kServiceUnavailable:
      return absl::StatusCode::kUnavailable;
    case C::kSlowDown:
      return absl::StatusCode::kResourceExhausted;
    case C::kInternalError:
      return absl::StatusCode::kInternal;
    default:
      break;
  }
  int http = GetErrorInfo(code).http_status;
  if (http == 404) return absl::StatusCode::kNotFound;
  if (http == 403) return absl::StatusCode::kPermissionDenied;
  if (http >= 400 && http < 500) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kInternal;
}

absl::Status S3Status(S3ErrorCode code, absl::string_view message) {
  const S3ErrorInfo& info = GetErrorInfo(code);
  absl::Status status(AbslCodeFor(code), message.empty() ? info.default_message : message);
  status.SetPayload(kPayloadUrl, absl::Cord(info.name));
  return status;
}

S3ErrorCode ErrorCodeOf(const absl::Status& status) {
  if (status.ok()) return C::kInternalError;
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    if (std::optional<S3ErrorCode> code = ErrorCodeFromName(std::string(*payload))) return *code;
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return C::kNoSuchKey;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return C::kAccessDenied;
    case absl::StatusCode::kInvalidArgument:
      return C::kInvalidArgument;
    case absl::StatusCode::kAlreadyExists:
      return C::kBucketAlreadyExists;
    case absl::StatusCode::kFailedPrecondition:
      return C::kPreconditionFailed;
    case absl::StatusCode::kOutOfRange:
      return C::kInvalidRange;
    case absl::StatusCode::kUnimplemented:
      return C::kNotImplemented;
    case absl::StatusCode::kUnavailable:
      return C::kServiceUnavailable;
    case absl::StatusCode::kResourceExhausted:
      return C::kSlowDown;
    case absl::StatusCode::kDeadlineExceeded:
      return C::kRequestTimeout;
    case absl::StatusCode::kAborted:
      return C::kOperationAborted;
    default:
      return C::kInternalError;
  }
}

}  // namespace tessera::services::s3
