#include "services/s3/handlers/error_mapping.h"

#include <utility>

#include "base/logging.h"
#include "base/status_reasons.h"
#include "services/s3/xml/s3_xml.h"

namespace tessera::services::s3 {

bool Definite(const absl::Status& s) { return !IsOutcomeUnknown(s); }

S3ErrorCode CodeForDataPath(const absl::Status& s, bool bucket_op) {
  // First: an unknown outcome is 500 InternalError ("We encountered an internal error. Please
  // try again."), which every S3 client retries; a retry then sees what actually happened.
  if (IsOutcomeUnknown(s)) return S3ErrorCode::kInternalError;
  if (s.GetPayload("type.tessera/s3.error_code").has_value()) return ErrorCodeOf(s);
  // Typed reasons (base/status_reasons.h), never message text.
  if (IsNoSuchBucket(s)) return S3ErrorCode::kNoSuchBucket;
  if (IsNoSuchUpload(s)) return S3ErrorCode::kNoSuchUpload;
  if (IsBucketNotEmpty(s)) return S3ErrorCode::kBucketNotEmpty;
  // Refused for the cluster's clocks, not for anything in the request: 503, which clients retry.
  if (IsClockOffset(s)) return S3ErrorCode::kServiceUnavailable;
  if (absl::IsNotFound(s)) return bucket_op ? S3ErrorCode::kNoSuchBucket : S3ErrorCode::kNoSuchKey;
  if (absl::IsAlreadyExists(s)) return S3ErrorCode::kBucketAlreadyExists;
  return ErrorCodeOf(s);
}

void SendS3Error(const absl::Status& s, const HttpServerRequest& req, S3Operation op,
                 const std::string& resource, HttpResponseWriter* out) {
  if (out->started()) return;  // mid-body: the server closes the connection
  const S3ErrorCode code = CodeForDataPath(s, /*bucket_op=*/false);
  const S3ErrorInfo& info = GetErrorInfo(code);
  if (info.http_status >= 500) {
    TESSERA_LOG(WARNING, "s3_request_failed").Field("op", OperationName(op)).Field("status", s);
  }
  HttpServerResponse res;
  res.status = info.http_status;
  if (code == S3ErrorCode::kNotModified) {
    (void)out->Send(std::move(res));
    return;
  }
  res.headers.emplace_back("Content-Type", "application/xml");
  std::string message(s.message());
  if (message.empty() || info.http_status >= 500) message = std::string(info.default_message);
  res.body = WriteError(ErrorBody{std::string(info.name), message, resource, req.request_id});
  if (req.method == "HEAD") res.head_content_length = 0;
  (void)out->Send(std::move(res));
}

}  // namespace tessera::services::s3
