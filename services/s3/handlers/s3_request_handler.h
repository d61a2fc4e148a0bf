// S3RequestHandler: the S3 REST API over the cluster data path (ObjectService + MultipartUploads).
// Plugged into S3HttpServer as its streaming handler: route -> authenticate (SigV4 header,
// presigned, aws-chunked with or without trailers) -> authorise (bucket owner, canned ACL
// private / public-read) -> call the data path -> write the S3 response. Request bodies stream
// into ObjectWriters and are verified (Content-MD5, x-amz-content-sha256, x-amz-checksum-*,
// chunk signatures) before the object is committed; GET bodies stream from ObjectReader to the
// socket. There is no other storage: everything goes through the data path.
// See docs/design/s3.md and docs/s3-compatibility.md.
//
// Thread-safety: Handle() may run concurrently (one call per connection thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/clock.h"
#include "services/object/multipart.h"
#include "services/object/object_reader.h"
#include "services/object/object_service.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/auth/sigv4.h"
#include "services/s3/handlers/s3_metrics.h"
#include "services/s3/http_server/http_server.h"
#include "services/s3/request/request.h"

namespace tessera::services::s3 {

struct S3RequestHandlerOptions {
  std::string region = "us-east-1";
  RouterOptions router;
  uint64_t max_object_bytes = 5ull << 30;  // single PUT / part
  size_t max_xml_body_bytes = 2 << 20;
  size_t read_piece_bytes = 1 << 20;  // body bytes read per step
  // Request metrics (operation, status, latency, bytes); null: none. Not owned.
  S3Metrics* metrics = nullptr;
};

class S3RequestHandler {
 public:
  // Nothing is owned; all must outlive the gateway. `uploads` must have been Init()ed.
  S3RequestHandler(S3RequestHandlerOptions options, ObjectService* objects,
                   MultipartUploads* uploads, const DataPathDeps& deps,
                   const CredentialStore* credentials, Clock* clock);

  void Handle(const HttpServerRequest& request, HttpBodyReader* body, HttpResponseWriter* out);

  // A handler bound to this gateway, for HttpServerOptions::streaming_handler.
  StreamingHttpHandler AsHandler() {
    return [this](const HttpServerRequest& r, HttpBodyReader* b, HttpResponseWriter* w) {
      Handle(r, b, w);
    };
  }

  class Call;

 private:
  friend class Call;
  const S3RequestHandlerOptions options_;
  ObjectService* const objects_;
  MultipartUploads* const uploads_;
  const DataPathDeps deps_;
  ObjectReader reader_;
  SigV4Verifier verifier_;
  Clock* const clock_;
};

}  // namespace tessera::services::s3
