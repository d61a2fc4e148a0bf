// Error mapping of the S3 handlers (internal to //services/s3/handlers:s3_request_handler): the one
// place where a data-path absl::Status becomes an S3 error code and an S3 error response.
// Statuses that already carry an S3 code (S3Status, services/s3/errors) keep it; the object
// layer's typed reasons (base/status_reasons.h) and codes are mapped here.
//
// Thread-safety: pure functions (SendS3Error writes to the given response only).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "services/s3/errors/errors.h"
#include "services/s3/http_server/http_server.h"
#include "services/s3/request/request.h"

namespace tessera::services::s3 {

// True unless `s` is outcome-unknown (base/status_reasons.h): a commit that may or may not have
// been applied carries whatever code its CAS function last returned (ALREADY_EXISTS for "bucket
// exists", FAILED_PRECONDITION for a refused condition, NOT_FOUND), and none of those may be
// answered as a definite S3 error. Every code-based mapping is guarded by it.
[[nodiscard]] bool Definite(const absl::Status& s);

// The S3 error code for a failed data-path call. `bucket_op`: a plain NOT_FOUND means the
// bucket (else the key).
[[nodiscard]] S3ErrorCode CodeForDataPath(const absl::Status& s, bool bucket_op);

// Sends the S3 error response for `s` (XML body naming `resource`; none for 304 and HEAD),
// unless the response already started (mid-body: the server closes the connection). Logs
// 5xx answers with `op`.
void SendS3Error(const absl::Status& s, const HttpServerRequest& req, S3Operation op,
                 const std::string& resource, HttpResponseWriter* out);

}  // namespace tessera::services::s3
