// GatewayService: the tessera.v1.Gateway gRPC service (api/gateway.proto) over ObjectService.
//
// Thin handlers on the gRPC callback API. No handler blocks a gRPC thread: all work that may
// wait on storage nodes or the manifest store runs on `handler_pool` (a WorkPool distinct from
// the data path's, because data-path tasks must never wait on each other).
//
//   PutObject   client stream -> ObjectWriter. One request message (<= 1 MiB of data) is read at
//               a time, and the next read starts only after the writer took the previous one, so
//               an upload holds one message plus the writer's bounded stripes in flight
//               (DataPathOptions::max_stripes_in_flight): flow control pushes back on the client.
//               The object becomes visible only after the whole stream arrived intact: the
//               declared header.size must match, and a stream of unknown size (-1) must end with
//               a message whose `last` is true; a cancelled or truncated stream never commits.
//   GetObject   server stream: first the ObjectInfo, then data chunks of at most 1 MiB. Each
//               chunk is written only after the previous write completed (gRPC backpressure), so
//               a slow reader holds at most one chunk plus the reader's stripe prefetch.
//               A range past the end is cut to the end; an offset past the end is OUT_OF_RANGE.
//               Bytes are only ever sent from authenticated, decoded stripes; if the object
//               cannot be read the stream ends with DATA_LOSS / UNAVAILABLE (never wrong bytes).
//
// Authentication and authorisation: every call is authenticated first, by its sdk::CallSignature
// metadata (call_signature.h) checked by the CallVerifier, before any work is queued or any
// message read: a call without valid credentials ends UNAUTHENTICATED. The handler then acts as
// that user through the object layer's rule (ObjectService::Authorize, access_policy.h), the same
// one S3 applies: PERMISSION_DENIED for a bucket the user may not read or write. CreateBucket
// makes the caller the owner; ListBuckets shows the caller's buckets; ClusterStatus is open to
// every authenticated user.
//
// Errors: absl codes cross as the gRPC code of the same number, with ObjectService's messages
// (e.g. NOT_FOUND "no such key: b/k"); see grpc_status.h.
//
// Thread-safety: thread-safe; owned by the gRPC server's lifetime.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "api/gateway.grpc.pb.h"
#include "base/metrics.h"
#include "services/gatewayd/call_verifier.h"
#include "services/object/access_policy.h"
#include "services/object/manifest_store.h"
#include "services/object/object_reader.h"
#include "services/object/object_service.h"
#include "services/object/work_pool.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {

// The largest data field accepted in or sent in one message.
inline constexpr size_t kMaxChunkBytes = 1 << 20;

// Produces the node list of a ClusterStatus answer.
using ClusterStatusFn = std::function<v1::ClusterStatusResponse()>;

struct GatewayServiceDeps {
  ObjectService* objects = nullptr;  // required
  ManifestStore* store = nullptr;    // required (version-specific reads)
  DataPathDeps data_path;            // for the service's own ObjectReader
  WorkPool* handler_pool = nullptr;  // required; runs every handler's blocking work
  ClusterStatusFn cluster_status;    // required
  CallVerifier* verifier = nullptr;  // required: authenticates every call
  Registry* registry = nullptr;      // metrics; nullptr = Registry::Default()

  [[nodiscard]] absl::Status Validate() const;
};

class GatewayService final : public v1::Gateway::CallbackService {
 public:
  // INVALID_ARGUMENT for missing deps; the metric families must not exist yet in the registry.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<GatewayService>> Create(
      GatewayServiceDeps deps);
  ~GatewayService() override;

  grpc::ServerUnaryReactor* CreateBucket(grpc::CallbackServerContext* ctx,
                                         const v1::CreateBucketRequest* req,
                                         v1::CreateBucketResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteBucket(grpc::CallbackServerContext* ctx,
                                         const v1::DeleteBucketRequest* req,
                                         v1::DeleteBucketResponse* resp) override;
  grpc::ServerUnaryReactor* HeadBucket(grpc::CallbackServerContext* ctx,
                                       const v1::HeadBucketRequest* req,
                                       v1::HeadBucketResponse* resp) override;
  grpc::ServerUnaryReactor* ListBuckets(grpc::CallbackServerContext* ctx,
                                        const v1::ListBucketsRequest* req,
                                        v1::ListBucketsResponse* resp) override;
  grpc::ServerReadReactor<v1::PutObjectRequest>* PutObject(grpc::CallbackServerContext* ctx,
                                                           v1::PutObjectResponse* resp) override;
  grpc::ServerWriteReactor<v1::GetObjectResponse>* GetObject(
      grpc::CallbackServerContext* ctx, const v1::GetObjectRequest* req) override;
  grpc::ServerUnaryReactor* HeadObject(grpc::CallbackServerContext* ctx,
                                       const v1::HeadObjectRequest* req,
                                       v1::HeadObjectResponse* resp) override;
  grpc::ServerUnaryReactor* DeleteObject(grpc::CallbackServerContext* ctx,
                                         const v1::DeleteObjectRequest* req,
                                         v1::DeleteObjectResponse* resp) override;
  grpc::ServerUnaryReactor* ListObjects(grpc::CallbackServerContext* ctx,
                                        const v1::ListObjectsRequest* req,
                                        v1::ListObjectsResponse* resp) override;
  grpc::ServerUnaryReactor* ClusterStatus(grpc::CallbackServerContext* ctx,
                                          const v1::ClusterStatusRequest* req,
                                          v1::ClusterStatusResponse* resp) override;
  // Client-sealed objects (docs/design/e2e_mode.md): authorised as PutObject / GetObject.
  grpc::ServerReadReactor<v1::PutSealedObjectRequest>* PutSealedObject(
      grpc::CallbackServerContext* ctx, v1::PutSealedObjectResponse* resp) override;
  grpc::ServerWriteReactor<v1::GetSealedObjectResponse>* GetSealedObject(
      grpc::CallbackServerContext* ctx, const v1::GetSealedObjectRequest* req) override;

  // Implementation details shared with the reactors (gateway_service.cc).
  struct Metrics;
  class PutReactor;
  class GetReactor;
  class PutSealedReactor;
  class GetSealedReactor;

 private:
  GatewayService(GatewayServiceDeps deps, std::unique_ptr<storage::StripeCodec> codec,
                 std::unique_ptr<Metrics> metrics);
  // The caller of `method` (a Gateway method's short name) from the call's metadata.
  absl::StatusOr<Principal> Authenticate(grpc::CallbackServerContext* ctx, const char* method);
  // The version a read names (the latest when `version_id` is empty), once `caller` may read
  // `bucket`: PERMISSION_DENIED / NOT_FOUND (bucket, key, version, or a delete marker named by
  // id), or what the store returned. Shared by GetObject and GetSealedObject.
  absl::StatusOr<v1::ObjectManifest> ReadableVersion(const Principal& caller,
                                                     const std::string& bucket,
                                                     const std::string& key,
                                                     const std::string& version_id);
  // Authenticates, then runs `work` as the caller on the handler pool.
  grpc::ServerUnaryReactor* RunUnary(grpc::CallbackServerContext* ctx, const char* method,
                                     std::function<absl::Status(const Principal&)> work);

  const GatewayServiceDeps deps_;
  std::unique_ptr<storage::StripeCodec> codec_;
  std::unique_ptr<Metrics> metrics_;
  ObjectReader reader_;
};

// Conversions used by the service (exposed for tests).
v1::ObjectInfo ToObjectInfo(const v1::ObjectManifest& manifest);
v1::Bucket ToBucket(const v1::BucketRecord& record);

}  // namespace tessera::services
