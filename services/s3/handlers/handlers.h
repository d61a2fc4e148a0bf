// The S3 handlers by resource (internal to //services/s3/handlers:s3_request_handler).
// S3RequestHandler::Call authenticates and routes a request, then calls the function of the
// resource it names with a RequestContext (request_context.h). Each writes the S3 response on
// success and returns OK, or returns the failure for S3RequestHandler::Call to map
// (error_mapping.h) and send. Called with an operation of another resource: INTERNAL.
#pragma once

#include "absl/status/status.h"
#include "services/s3/handlers/request_context.h"

namespace tessera::services::s3 {

// ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, ListObjects(V2).
[[nodiscard]] absl::Status HandleBucketRequest(const RequestContext& context);
// PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject.
[[nodiscard]] absl::Status HandleObjectRequest(const RequestContext& context);
// CreateMultipartUpload, UploadPart(Copy), CompleteMultipartUpload, AbortMultipartUpload,
// ListParts, ListMultipartUploads.
[[nodiscard]] absl::Status HandleMultipartRequest(const RequestContext& context);

}  // namespace tessera::services::s3
