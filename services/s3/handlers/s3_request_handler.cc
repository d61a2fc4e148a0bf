#include "services/s3/handlers/s3_request_handler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/s3/errors/errors.h"
#include "services/s3/handlers/error_mapping.h"
#include "services/s3/handlers/handlers.h"
#include "services/s3/handlers/request_context.h"
#include "services/s3/request/headers.h"

namespace tessera::services::s3 {

// One request: authenticate, route to the resource's handler, map a failure to an S3 error.
class S3RequestHandler::Call {
 public:
  Call(S3RequestHandler* g, const HttpServerRequest& req, HttpBodyReader* body,
       HttpResponseWriter* out)
      : g_(g), req_(req), body_(body), out_(out) {}

  void Run() {
    // Authenticate before routing: a request the router would refuse (unknown method or
    // subresource, bad part number) must not tell an unauthenticated caller anything beyond
    // "access denied", and a signed request altered on the way must fail as altered.
    HttpRequest h{req_.method, req_.target, req_.headers};
    absl::StatusOr<AuthResult> auth =
        g_->verifier_.Verify(h, VirtualHostedBucket(req_.headers, g_->options_.router));
    absl::StatusOr<S3Request> routed =
        RouteRequest(req_.method, req_.target, req_.headers, g_->options_.router);
    if (routed.ok()) {
      routed_ = true;
      r_ = *std::move(routed);
      resource_ =
          r_.bucket.empty() ? "/" : absl::StrCat("/", r_.bucket, r_.key.empty() ? "" : "/", r_.key);
    }
    if (!auth.ok()) return Fail(auth.status());
    if (!routed.ok()) return Fail(routed.status());
    auth_ = *std::move(auth);
    absl::Status s = Dispatch();
    if (!s.ok()) Fail(s);
  }

  // The S3 operation for metrics: its name once routed, "Unknown" before.
  std::string operation() const { return routed_ ? std::string(OperationName(r_.op)) : "Unknown"; }

 private:
  void Fail(const absl::Status& s) { SendS3Error(s, req_, r_.op, resource_, out_); }

  // Routes to the handler of the resource the operation names (handlers.h).
  absl::Status Dispatch() {
    // A body-carrying PUT must say how long its body is (AWS: 411 MissingContentLength).
    if ((r_.op == S3Operation::kPutObject || r_.op == S3Operation::kUploadPart) &&
        FindHeader(req_.headers, "content-length") == nullptr &&
        FindHeader(req_.headers, "transfer-encoding") == nullptr) {
      return S3Status(S3ErrorCode::kMissingContentLength);
    }
    const HandlerDeps deps{g_->options_, g_->objects_, g_->uploads_, g_->reader_, g_->clock_};
    const RequestContext context(deps, req_, body_, out_, r_, auth_);
    switch (r_.op) {
      case S3Operation::kListBuckets:
      case S3Operation::kCreateBucket:
      case S3Operation::kHeadBucket:
      case S3Operation::kDeleteBucket:
      case S3Operation::kGetBucketLocation:
      case S3Operation::kListObjects:
      case S3Operation::kListObjectsV2:
        return HandleBucketRequest(context);
      case S3Operation::kPutObject:
      case S3Operation::kGetObject:
      case S3Operation::kHeadObject:
      case S3Operation::kDeleteObject:
      case S3Operation::kDeleteObjects:
      case S3Operation::kCopyObject:
        return HandleObjectRequest(context);
      case S3Operation::kCreateMultipartUpload:
      case S3Operation::kUploadPart:
      case S3Operation::kUploadPartCopy:
      case S3Operation::kCompleteMultipartUpload:
      case S3Operation::kAbortMultipartUpload:
      case S3Operation::kListParts:
      case S3Operation::kListMultipartUploads:
        return HandleMultipartRequest(context);
      default:
        return S3Status(S3ErrorCode::kNotImplemented,
                        absl::StrCat(OperationName(r_.op), " is not implemented"));
    }
  }

  S3RequestHandler* g_;
  const HttpServerRequest& req_;
  HttpBodyReader* body_;
  HttpResponseWriter* out_;
  S3Request r_;
  bool routed_ = false;
  AuthResult auth_;
  std::string resource_;
};

S3RequestHandler::S3RequestHandler(S3RequestHandlerOptions options, ObjectService* objects,
                                   MultipartUploads* uploads, const DataPathDeps& deps,
                                   const CredentialStore* credentials, Clock* clock)
    : options_(std::move(options)),
      objects_(objects),
      uploads_(uploads),
      deps_(deps),
      reader_(deps, nullptr),
      verifier_(
          credentials, clock,
          VerifierOptions{options_.region, "s3", absl::Minutes(15), /*allow_anonymous=*/true}),
      clock_(clock) {}

void S3RequestHandler::Handle(const HttpServerRequest& request, HttpBodyReader* body,
                              HttpResponseWriter* out) {
  S3Metrics* metrics = options_.metrics;
  if (metrics == nullptr) {
    Call(this, request, body, out).Run();
    return;
  }
  const absl::Time start = absl::Now();
  metrics->RequestStarted();
  CountingBodyReader counted(body);
  RecordingResponseWriter recorded(out);
  Call call(this, request, &counted, &recorded);
  call.Run();
  metrics->RequestDone(call.operation(), recorded.status(), absl::Now() - start, counted.bytes(),
                       recorded.bytes());
}

}  // namespace tessera::services::s3