// Network-independent S3 request routing and header semantics:
//   * RouteRequest: method + request-target + Host (+ headers) -> S3 operation, bucket, key,
//     path-style or virtual-hosted-style (given configured base domains);
//   * ParseRange: the Range header as S3 applies it;
//   * conditional requests (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since) with
//     AWS's precedence;
//   * bucket-name validation (general purpose bucket naming rules), copy-source parsing.
// All functions are pure and thread-safe. Errors carry S3 codes (services/s3/errors).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/s3/request/headers.h"

namespace tessera::services::s3 {

enum class S3Operation {
  kListBuckets,
  kCreateBucket,
  kDeleteBucket,
  kHeadBucket,
  kListObjects,
  kListObjectsV2,
  kGetBucketLocation,
  kGetBucketAcl,
  kPutBucketAcl,
  kListMultipartUploads,
  kDeleteObjects,
  kPutObject,
  kCopyObject,
  kGetObject,
  kHeadObject,
  kDeleteObject,
  kGetObjectAcl,
  kPutObjectAcl,
  kCreateMultipartUpload,
  kUploadPart,
  kUploadPartCopy,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListParts,
};

// "ListBuckets", "PutObject", ...
absl::string_view OperationName(S3Operation op);

struct RouterOptions {
  // Base domains for virtual-hosted-style addressing, e.g. {"s3.example.com"}: a Host of
  // "photos.s3.example.com" addresses bucket "photos". Hosts that are not a subdomain of one of
  // these (IP addresses, localhost, the base domain itself) use path-style addressing.
  std::vector<std::string> base_domains;
  size_t max_key_bytes = 1024;
};

struct S3Request {
  S3Operation op = S3Operation::kListBuckets;
  std::string bucket;  // empty for ListBuckets
  std::string key;     // decoded; empty for bucket operations
  bool virtual_hosted = false;
  HeaderList query;                // decoded query parameters, in order
  std::optional<int> part_number;  // UploadPart / UploadPartCopy
  std::string upload_id;           // multipart operations

  // The first value of query parameter `name`, if present.
  const std::string* QueryParam(absl::string_view name) const;
};

// The bucket named by the Host header when it is a subdomain of one of options.base_domains
// (virtual-hosted-style addressing), else "" (path-style). RouteRequest uses the same rule; the
// authenticator needs it on its own because it runs before (and whether or not) routing succeeds.
std::string VirtualHostedBucket(const HeaderList& headers, const RouterOptions& options);

// Decides the operation. Errors: MethodNotAllowed, NotImplemented (unsupported subresource
// such as ?versioning, ?policy, ?tagging, or POST object forms), InvalidArgument (bad partNumber,
// uploadId without partNumber on PUT, list-type other than 2, malformed %-escapes),
// KeyTooLongError, InvalidBucketName (CreateBucket with a name that breaks the naming rules).
[[nodiscard]] absl::StatusOr<S3Request> RouteRequest(absl::string_view method,
                                                     absl::string_view target,
                                                     const HeaderList& headers,
                                                     const RouterOptions& options);

// General purpose bucket naming rules: 3-63 chars of a-z 0-9 . -, starting and ending with a
// letter or digit, no "..", not an IPv4 address, no reserved prefixes (xn--, sthree-,
// amzn-s3-demo-) or suffixes (-s3alias, --ol-s3, .mrap, --x-s3, --table-s3).
bool IsValidBucketName(absl::string_view name);

// x-amz-copy-source: "[/]bucket/key[?versionId=v]", URL-encoded.
struct CopySource {
  std::string bucket;
  std::string key;
  std::string version_id;
};
[[nodiscard]] absl::StatusOr<CopySource> ParseCopySource(absl::string_view value);

// --- Range -----------------------------------------------------------------------------------

struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
  // "bytes first-last/size" for Content-Range.
  std::string ContentRange(uint64_t size) const;
};

// Applies a Range header to an object of `size` bytes, as S3 does:
//   nullopt (serve the whole object, 200): no usable range - not "bytes=", a syntactically
//     invalid spec, or several ranges (S3 serves only single ranges and ignores the rest);
//   a ByteRange (206): "a-b" (b clamped to size-1), "a-", "-n" (the last n bytes);
//   InvalidRange (416): a satisfiable range cannot be formed (a >= size, "-0", empty object).
[[nodiscard]] absl::StatusOr<std::optional<ByteRange>> ParseRange(absl::string_view header,
                                                                  uint64_t size);

// --- Conditional requests --------------------------------------------------------------------

// Parses an HTTP-date (RFC 7231 7.1.1.1: IMF-fixdate, obsolete RFC 850 and asctime forms).
std::optional<absl::Time> ParseHttpDate(absl::string_view value);
// IMF-fixdate, e.g. "Fri, 24 May 2013 00:00:00 GMT".
std::string FormatHttpDate(absl::Time t);

struct ConditionalHeaders {
  std::optional<std::string> if_match;
  std::optional<std::string> if_none_match;
  std::optional<absl::Time> if_modified_since;  // unparsable dates are ignored, as by S3
  std::optional<absl::Time> if_unmodified_since;
};
ConditionalHeaders ParseConditionalHeaders(const HeaderList& headers);

enum class ConditionResult { kProceed, kNotModified, kPreconditionFailed };

// AWS precedence (RFC 7232 section 6): If-Match (fails -> 412) else If-Unmodified-Since
// (fails -> 412); then If-None-Match (matches -> 304 for GET/HEAD, 412 otherwise) else
// If-Modified-Since (GET/HEAD only; not modified -> 304). Hence, as the S3 GetObject
// documentation states: If-Match true + If-Unmodified-Since false -> 200, and If-None-Match
// false (ETag matches) + If-Modified-Since true -> 304. `etag` may be quoted; times compare at
// one-second granularity.
ConditionResult EvaluateConditions(const ConditionalHeaders& conditions, absl::string_view etag,
                                   absl::Time last_modified, bool is_get_or_head);

// The S3 status for a ConditionResult: OK, NotModified (304) or PreconditionFailed (412).
[[nodiscard]] absl::Status ConditionStatus(ConditionResult result);

}  // namespace tessera::services::s3
