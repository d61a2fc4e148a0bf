// The shared context of the S3 handlers (internal to //services/s3/handlers:s3_request_handler).
//
// S3RequestHandler::Call authenticates and routes a request, then hands a RequestContext to the
// handler of the resource it names: bucket_handlers.cc, object_handlers.cc or
// multipart_handlers.cc (declared in handlers.h). The context carries what every handler needs
// (the data path, the routed request, the caller) and the helpers more than one of them uses:
// responses, authorisation, request bodies (through PayloadVerifier), object metadata from
// headers, conditional writes, copy sources. Error mapping to S3 codes lives in
// error_mapping.h.
//
// Ownership: nothing is owned; a context lives for one request, inside S3RequestHandler::Call, and
// every pointer and reference must outlive it. Copying is cheap (pointers and references) and
// is how a handler class gets its own.
// Thread-compatible: one request on one thread.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "base/clock.h"
#include "services/object/multipart.h"
#include "services/object/object_reader.h"
#include "services/object/object_service.h"
#include "services/s3/auth/payload_verifier.h"
#include "services/s3/auth/sigv4.h"
#include "services/s3/handlers/s3_request_handler.h"
#include "services/s3/http_server/http_server.h"
#include "services/s3/request/headers.h"
#include "services/s3/request/request.h"
#include "services/s3/xml/s3_xml.h"

namespace tessera::services::s3 {

using Headers = HeaderList;

// The data path the handlers call (owned by S3RequestHandler).
struct HandlerDeps {
  const S3RequestHandlerOptions& options;
  ObjectService* objects;
  MultipartUploads* uploads;
  const ObjectReader& reader;
  Clock* clock;
};

// Standard headers stored with an object and returned on GET/HEAD.
inline constexpr absl::string_view kStoredHeaders[] = {
    "Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires"};

// An object's Last-Modified: S3 times have one-second granularity; listings use the same.
absl::Time ModifiedTime(const v1::ObjectManifest& m);

// Replaces *out with the next verified-so-far payload bytes of `body` (read `piece` raw bytes
// at a time through `verifier`); empty at the end of the body, when verifier->Finish() decides.
[[nodiscard]] absl::Status NextPayload(HttpBodyReader* body, PayloadVerifier* verifier,
                                       size_t piece, std::string* out);

class RequestContext {
 public:
  RequestContext(const HandlerDeps& deps, const HttpServerRequest& req, HttpBodyReader* body,
                 HttpResponseWriter* out, const S3Request& routed, const AuthResult& auth)
      : g_(deps), req_(req), body_(body), out_(out), r_(routed), auth_(auth) {}

  S3Operation op() const { return r_.op; }

 protected:
  // --- responses, query, small bodies ------------------------------------------------------
  absl::Status SendXml(int status, std::string xml, Headers extra = {});

  absl::Status SendEmpty(int status, Headers headers = {});

  const std::string* Query(absl::string_view name) const { return r_.QueryParam(name); }

  Owner OwnerOf(const std::string& id) const { return Owner{id, id}; }

  // Reads a small body (XML) whole.
  absl::StatusOr<std::string> SmallBody();

  // --- authorisation ----------------------------------------------------------------------
  // The rule itself is the object layer's (services/object/access_policy.h), shared with gRPC.
  using Access = BucketAccess;
  Principal Caller() const;

  absl::StatusOr<v1::BucketRecord> Authorize(const std::string& bucket, Access access);

  absl::Status RequireUser();

  // --- objects ----------------------------------------------------------------------------
  void MetadataFromRequest(PutObjectOptions* o);

  absl::Status CheckMetadataSize(const PutObjectOptions& o);

  // Streams the payload into `writer`; OK only when the whole body arrived and verified, then
  // *checksums holds its verified checksums. The verifier already computes the MD5 (Content-MD5
  // must be checked before the commit), so the writer reuses it rather than hashing every byte
  // twice.
  absl::Status StreamInto(ObjectWriter* writer, std::map<std::string, std::string>* checksums);

  Headers ChecksumHeaders(const std::map<std::string, std::string>& checksums);

  // Conditional writes (PutObject, CompleteMultipartUpload): If-None-Match: * fails with 412 if
  // the key exists; If-Match: <etag> fails with 412 on another ETag and 404 NoSuchKey if there
  // is no object. Decided inside the commit (WriteCondition -> ManifestStore::Commit), so of two
  // racing conditional writes at most one passes; CheckWriteConditions only refuses early, before
  // a body is read, what is already known to fail.
  CommitCondition WriteCondition() const;

  // The S3 error for a commit refused by its condition; other statuses pass through.
  static absl::Status CommitConditionStatus(const absl::Status& s);

  absl::Status CheckWriteConditions();

  absl::StatusOr<v1::ObjectManifest> CopySourceManifest();

  const HandlerDeps& g_;
  const HttpServerRequest& req_;
  HttpBodyReader* const body_;
  HttpResponseWriter* const out_;
  const S3Request& r_;
  const AuthResult& auth_;
};

}  // namespace tessera::services::s3
