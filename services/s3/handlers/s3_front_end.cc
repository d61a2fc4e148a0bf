#include "services/s3/handlers/s3_front_end.h"

#include <utility>

namespace tessera::services::s3 {

absl::StatusOr<std::unique_ptr<S3FrontEnd>> S3FrontEnd::Create(
    S3FrontEndOptions options, ObjectService* objects, ManifestStore* store,
    const DataPathDeps& deps, const CredentialStore* credentials, Clock* clock) {
  std::unique_ptr<S3FrontEnd> f(new S3FrontEnd());
  storage::StripeCodecOptions co;
  co.data_shards = options.data.data_shards;
  co.parity_shards = options.data.parity_shards;
  co.slice_alignment = options.data.slice_alignment;
  absl::StatusOr<std::unique_ptr<storage::StripeCodec>> codec = storage::StripeCodec::Create(co);
  if (!codec.ok()) return codec.status();
  f->codec_ = *std::move(codec);
  f->uploads_ = std::make_unique<MultipartUploads>(options.data, deps, store, f->codec_.get());
  if (absl::Status s = f->uploads_->Init(); !s.ok()) return s;
  f->gateway_ = std::make_unique<S3RequestHandler>(std::move(options.gateway), objects,
                                                   f->uploads_.get(), deps, credentials, clock);
  return f;
}

S3FrontEnd::~S3FrontEnd() {
  if (server_) server_->Stop();  // joins the I/O threads: no handler runs after this
  server_.reset();
  gateway_.reset();
  uploads_.reset();
}

absl::Status S3FrontEnd::StartHttp(HttpServerOptions options) {
  if (server_) return absl::FailedPreconditionError("the S3 HTTP server is already running");
  options.streaming_handler = gateway_->AsHandler();
  absl::StatusOr<std::unique_ptr<S3HttpServer>> server = S3HttpServer::Start(std::move(options));
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  return absl::OkStatus();
}

}  // namespace tessera::services::s3
