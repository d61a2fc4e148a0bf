// S3FrontEnd: the one way to build the S3 front end over an object layer. It wires what every
// S3 server needs and used to be assembled by hand in each of them (tessera-s3, the benchmark
// cluster, the tests): the erasure codec for multipart parts, MultipartUploads (Init()ed), the
// S3RequestHandler handlers and, when asked, the S3HttpServer serving them.
//
// Ownership: owns the codec, the uploads, the gateway and the HTTP server; nothing passed to
// Create is owned and all of it must outlive the front end. Destruction stops the HTTP server
// first (no handler runs afterwards), then releases the gateway and the uploads.
// Thread-safety: Create/StartHttp/destruction from one thread; the handler (gateway()) is
// thread-safe as S3RequestHandler is.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/clock.h"
#include "services/object/data_path.h"
#include "services/object/multipart.h"
#include "services/object/object_service.h"
#include "services/s3/auth/credential_store.h"
#include "services/s3/handlers/s3_request_handler.h"
#include "services/s3/http_server/http_server.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services::s3 {

struct S3FrontEndOptions {
  S3RequestHandlerOptions gateway;
  // The data path's erasure coding (data_shards, parity_shards, slice_alignment, ...), as the
  // ObjectService's: multipart parts are coded like whole objects.
  DataPathOptions data;
};

class S3FrontEnd {
 public:
  // Builds codec, uploads (Init()ed) and gateway. INVALID_ARGUMENT for bad coding options;
  // MultipartUploads::Init's errors (the store unreachable).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<S3FrontEnd>> Create(
      S3FrontEndOptions options, ObjectService* objects, ManifestStore* store,
      const DataPathDeps& deps, const CredentialStore* credentials, Clock* clock);
  ~S3FrontEnd();

  // Starts an S3HttpServer with the gateway as its streaming handler (`options`'s own
  // streaming_handler is replaced). S3HttpServer::Start's errors; FAILED_PRECONDITION if
  // already started.
  [[nodiscard]] absl::Status StartHttp(HttpServerOptions options);

  S3RequestHandler& gateway() { return *gateway_; }
  MultipartUploads& uploads() { return *uploads_; }
  // Null until StartHttp succeeded.
  S3HttpServer* http() { return server_.get(); }

 private:
  S3FrontEnd() = default;

  std::unique_ptr<storage::StripeCodec> codec_;
  std::unique_ptr<MultipartUploads> uploads_;
  std::unique_ptr<S3RequestHandler> gateway_;
  std::unique_ptr<S3HttpServer> server_;
};

}  // namespace tessera::services::s3
