#include "services/gatewayd/gateway_service.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "api/sdk/call_signature.h"
#include "base/grpc_status.h"
#include "base/logging.h"
#include "base/status_reasons.h"

namespace tessera::services {
namespace {

// A failure that does not say which object it concerns (e.g. a metadata quorum error) gets
// "bucket/key: " in front, so a client's error always names the object.
absl::Status NameObject(absl::Status s, const std::string& bucket, const std::string& key) {
  if (s.ok()) return s;
  const std::string name = absl::StrCat(bucket, "/", key);
  if (absl::StrContains(s.message(), name)) return s;
  // Restated keeps the typed reasons (outcome unknown, ...): callers act on them, not on text.
  return Restated(s, absl::StrCat(name, ": ", s.message()));
}

// The status a gRPC client receives. An outcome-unknown failure (base/status_reasons.h: a commit
// sent past the point of no return, then failed) carries whatever code its CAS function last
// returned, e.g. ALREADY_EXISTS for "bucket exists" after our own first round landed, or
// FAILED_PRECONDITION / NOT_FOUND: passing that code on would give the client a definite answer
// nobody knows to be true. It is answered UNAVAILABLE (retry; the retry sees what happened).
grpc::Status ToClientStatus(const absl::Status& s) {
  if (IsOutcomeUnknown(s)) {
    return grpc::Status(
        grpc::StatusCode::UNAVAILABLE,
        absl::StrCat("outcome unknown, the request may or may not have taken effect; retry: ",
                     s.message()));
  }
  return ToGrpcStatus(s);
}

}  // namespace

struct GatewayService::Metrics {
  CounterFamily* requests = nullptr;
  HistogramFamily* duration = nullptr;
  Counter* received = nullptr;
  Counter* sent = nullptr;
  Gauge* inflight = nullptr;

  void Record(const char* method, const absl::Status& status, absl::Time start) {
    const std::string code = absl::StatusCodeToString(status.code());
    requests->WithLabels({method, code}).Increment();
    duration->WithLabels({method}).Observe(absl::ToDoubleSeconds(absl::Now() - start));
  }
};

absl::Status GatewayServiceDeps::Validate() const {
  if (objects == nullptr) return absl::InvalidArgumentError("objects is required");
  if (store == nullptr) return absl::InvalidArgumentError("store is required");
  if (handler_pool == nullptr) return absl::InvalidArgumentError("handler_pool is required");
  if (!cluster_status) return absl::InvalidArgumentError("cluster_status is required");
  if (verifier == nullptr) return absl::InvalidArgumentError("verifier is required");
  return data_path.Validate();
}

v1::ObjectInfo ToObjectInfo(const v1::ObjectManifest& m) {
  v1::ObjectInfo info;
  info.set_bucket(m.bucket());
  info.set_key(m.key());
  info.set_version_id(m.version_id());
  info.set_size(m.size());
  info.set_etag(m.etag());
  info.set_modified_unix_micros(m.created_unix_micros());
  info.set_content_type(m.content_type());
  for (const auto& [k, v] : m.user_metadata()) (*info.mutable_user_metadata())[k] = v;
  bool degraded = false;
  for (const v1::PartRecord& part : m.parts()) {
    for (const v1::StripeRecord& stripe : part.stripes()) degraded |= stripe.degraded();
  }
  info.set_degraded(degraded);
  return info;
}

v1::Bucket ToBucket(const v1::BucketRecord& record) {
  v1::Bucket b;
  b.set_name(record.name());
  b.set_created_unix_micros(record.created_unix_micros());
  b.set_owner(record.owner());
  b.set_acl(record.acl());
  return b;
}

absl::StatusOr<std::unique_ptr<GatewayService>> GatewayService::Create(GatewayServiceDeps deps) {
  if (absl::Status s = deps.Validate(); !s.ok()) return s;
  const DataPathOptions& o = deps.objects->options();
  storage::StripeCodecOptions co;
  co.data_shards = o.data_shards;
  co.parity_shards = o.parity_shards;
  co.slice_alignment = o.slice_alignment;
  auto codec = storage::StripeCodec::Create(co);
  if (!codec.ok()) return codec.status();
  Registry* reg = deps.registry != nullptr ? deps.registry : &Registry::Default();
  auto m = std::make_unique<Metrics>();
  auto requests =
      reg->AddCounter("tessera_gateway_requests_total",
                      "Gateway gRPC requests by method and status code.", {"method", "code"});
  if (!requests.ok()) return requests.status();
  m->requests = *requests;
  auto duration = reg->AddHistogram("tessera_gateway_request_duration_seconds",
                                    "Gateway gRPC request latency (whole stream for Put/Get).",
                                    {"method"}, ExponentialBuckets(0.0005, 2, 18));
  if (!duration.ok()) return duration.status();
  m->duration = *duration;
  auto received = reg->AddCounter("tessera_gateway_received_bytes_total",
                                  "Object bytes received by PutObject.");
  if (!received.ok()) return received.status();
  m->received = &(*received)->WithLabels({});
  auto sent =
      reg->AddCounter("tessera_gateway_sent_bytes_total", "Object bytes sent by GetObject.");
  if (!sent.ok()) return sent.status();
  m->sent = &(*sent)->WithLabels({});
  auto inflight =
      reg->AddGauge("tessera_gateway_inflight_requests", "Gateway requests being served.");
  if (!inflight.ok()) return inflight.status();
  m->inflight = &(*inflight)->WithLabels({});
  return std::unique_ptr<GatewayService>(
      new GatewayService(std::move(deps), *std::move(codec), std::move(m)));
}

GatewayService::GatewayService(GatewayServiceDeps deps, std::unique_ptr<storage::StripeCodec> codec,
                               std::unique_ptr<Metrics> metrics)
    : deps_(std::move(deps)),
      codec_(std::move(codec)),
      metrics_(std::move(metrics)),
      reader_(deps_.data_path, codec_.get()) {}

GatewayService::~GatewayService() = default;

absl::StatusOr<Principal> GatewayService::Authenticate(grpc::CallbackServerContext* ctx,
                                                       const char* method) {
  const std::multimap<grpc::string_ref, grpc::string_ref>& metadata = ctx->client_metadata();
  auto value = [&metadata](const char* name) {
    auto it = metadata.find(name);
    return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
  };
  if (absl::Status s = sdk::CheckApiVersion(value(sdk::kApiVersionHeader)); !s.ok()) return s;
  sdk::CallSignature call;
  call.access_key = value(sdk::kCallAccessKeyHeader);
  call.date = value(sdk::kCallDateHeader);
  call.nonce = value(sdk::kCallNonceHeader);
  call.signature = value(sdk::kCallSignatureHeader);
  return deps_.verifier->Verify(absl::StrCat(sdk::kGatewayServicePath, method), call);
}

grpc::ServerUnaryReactor* GatewayService::RunUnary(
    grpc::CallbackServerContext* ctx, const char* method,
    std::function<absl::Status(const Principal&)> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const absl::Time start = absl::Now();
  absl::StatusOr<Principal> caller = Authenticate(ctx, method);
  if (!caller.ok()) {
    // Refused before any work is queued.
    metrics_->Record(method, caller.status(), start);
    reactor->Finish(ToGrpcStatus(caller.status()));
    return reactor;
  }
  metrics_->inflight->Increment();
  deps_.handler_pool->Submit(
      [this, reactor, method, start, caller = *std::move(caller), work = std::move(work)] {
        absl::Status status = work(caller);
        metrics_->Record(method, status, start);
        metrics_->inflight->Decrement();
        reactor->Finish(ToClientStatus(status));
      });
  return reactor;
}

grpc::ServerUnaryReactor* GatewayService::CreateBucket(grpc::CallbackServerContext* ctx,
                                                       const v1::CreateBucketRequest* req,
                                                       v1::CreateBucketResponse* resp) {
  return RunUnary(ctx, "CreateBucket", [this, req, resp](const Principal& caller) -> absl::Status {
    if (absl::Status s = deps_.objects->CreateBucket(req->bucket(), caller, req->acl()); !s.ok()) {
      return s;
    }
    absl::StatusOr<v1::BucketRecord> b = deps_.objects->HeadBucket(req->bucket());
    if (b.ok()) *resp->mutable_bucket() = ToBucket(*b);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GatewayService::DeleteBucket(grpc::CallbackServerContext* ctx,
                                                       const v1::DeleteBucketRequest* req,
                                                       v1::DeleteBucketResponse*) {
  return RunUnary(ctx, "DeleteBucket", [this, req](const Principal& caller) -> absl::Status {
    absl::StatusOr<v1::BucketRecord> b =
        deps_.objects->Authorize(caller, req->bucket(), BucketAccess::kWrite);
    if (!b.ok()) return b.status();
    return deps_.objects->DeleteBucket(req->bucket());
  });
}

grpc::ServerUnaryReactor* GatewayService::HeadBucket(grpc::CallbackServerContext* ctx,
                                                     const v1::HeadBucketRequest* req,
                                                     v1::HeadBucketResponse* resp) {
  return RunUnary(ctx, "HeadBucket", [this, req, resp](const Principal& caller) -> absl::Status {
    absl::StatusOr<v1::BucketRecord> b =
        deps_.objects->Authorize(caller, req->bucket(), BucketAccess::kRead);
    if (!b.ok()) return b.status();
    *resp->mutable_bucket() = ToBucket(*b);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GatewayService::ListBuckets(grpc::CallbackServerContext* ctx,
                                                      const v1::ListBucketsRequest*,
                                                      v1::ListBucketsResponse* resp) {
  return RunUnary(ctx, "ListBuckets", [this, resp](const Principal& caller) -> absl::Status {
    auto buckets = deps_.objects->ListBuckets(caller);
    if (!buckets.ok()) return buckets.status();
    for (const v1::BucketRecord& b : *buckets) *resp->add_buckets() = ToBucket(b);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GatewayService::HeadObject(grpc::CallbackServerContext* ctx,
                                                     const v1::HeadObjectRequest* req,
                                                     v1::HeadObjectResponse* resp) {
  return RunUnary(ctx, "HeadObject", [this, req, resp](const Principal& caller) -> absl::Status {
    absl::StatusOr<v1::BucketRecord> b =
        deps_.objects->Authorize(caller, req->bucket(), BucketAccess::kRead);
    if (!b.ok()) return b.status();
    absl::StatusOr<v1::ObjectManifest> m;
    if (req->version_id().empty()) {
      m = deps_.objects->HeadObject(req->bucket(), req->key());
    } else {
      m = deps_.store->Get(req->bucket(), req->key(), req->version_id());
      if (m.ok() && m->delete_marker()) {
        return absl::NotFoundError(
            absl::StrCat("version is a delete marker: ", req->bucket(), "/", req->key()));
      }
    }
    if (!m.ok()) return m.status();
    *resp->mutable_object() = ToObjectInfo(*m);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GatewayService::DeleteObject(grpc::CallbackServerContext* ctx,
                                                       const v1::DeleteObjectRequest* req,
                                                       v1::DeleteObjectResponse*) {
  return RunUnary(ctx, "DeleteObject", [this, req](const Principal& caller) -> absl::Status {
    absl::StatusOr<v1::BucketRecord> b =
        deps_.objects->Authorize(caller, req->bucket(), BucketAccess::kWrite);
    if (!b.ok()) return b.status();
    return deps_.objects->DeleteObject(req->bucket(), req->key());
  });
}

grpc::ServerUnaryReactor* GatewayService::ListObjects(grpc::CallbackServerContext* ctx,
                                                      const v1::ListObjectsRequest* req,
                                                      v1::ListObjectsResponse* resp) {
  return RunUnary(ctx, "ListObjects", [this, req, resp](const Principal& caller) -> absl::Status {
    absl::StatusOr<v1::BucketRecord> b =
        deps_.objects->Authorize(caller, req->bucket(), BucketAccess::kRead);
    if (!b.ok()) return b.status();
    if (req->max_keys() > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_keys is ", req->max_keys(), "; at most 1000 keys per page"));
    }
    ListRequest lr;
    lr.prefix = req->prefix();
    lr.delimiter = req->delimiter();
    lr.start_after = req->start_after();
    lr.continuation_token = req->continuation_token();
    lr.max_keys = req->max_keys() == 0 ? 1000 : static_cast<int>(req->max_keys());
    absl::StatusOr<ListResult> r = deps_.objects->ListObjects(req->bucket(), lr);
    if (!r.ok()) return r.status();
    for (const v1::ObjectManifest& m : r->objects) *resp->add_objects() = ToObjectInfo(m);
    for (const std::string& p : r->common_prefixes) resp->add_common_prefixes(p);
    resp->set_truncated(r->truncated);
    resp->set_next_continuation_token(r->next_continuation_token);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* GatewayService::ClusterStatus(grpc::CallbackServerContext* ctx,
                                                        const v1::ClusterStatusRequest*,
                                                        v1::ClusterStatusResponse* resp) {
  return RunUnary(ctx, "ClusterStatus", [this, resp](const Principal&) -> absl::Status {
    *resp = deps_.cluster_status();
    resp->set_data_shards(deps_.objects->options().data_shards);
    resp->set_parity_shards(deps_.objects->options().parity_shards);
    return absl::OkStatus();
  });
}

// ---------------------------------------------------------------------------------------------
// PutObject: one message read at a time; each is handed to the ObjectWriter on the handler pool
// and only then is the next read started.

class GatewayService::PutReactor final : public grpc::ServerReadReactor<v1::PutObjectRequest> {
 public:
  PutReactor(GatewayService* service, grpc::CallbackServerContext* ctx, v1::PutObjectResponse* resp)
      : service_(service), ctx_(ctx), resp_(resp), start_(absl::Now()) {
    service_->metrics_->inflight->Increment();
    absl::StatusOr<Principal> caller = service_->Authenticate(ctx, "PutObject");
    if (!caller.ok()) {
      Fail(caller.status());  // before any message is read
      return;
    }
    caller_ = *std::move(caller);
    StartRead(&msg_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      service_->deps_.handler_pool->Submit([this] { Complete(); });
      return;
    }
    service_->deps_.handler_pool->Submit([this] { Process(); });
  }

  void OnDone() override {
    service_->metrics_->inflight->Decrement();
    delete this;
  }

 private:
  void Process() {
    absl::Status s = Consume();
    if (!s.ok()) {
      Fail(std::move(s));
      return;
    }
    StartRead(&msg_);
  }

  absl::Status Consume() {
    if (saw_last_) {
      return absl::InvalidArgumentError("message received after the one marked last");
    }
    if (writer_ == nullptr) {
      if (!msg_.has_header()) {
        return absl::InvalidArgumentError(
            "the first PutObject message must carry the header (bucket, key)");
      }
      header_ = msg_.header();
      if (header_.size() < -1) {
        return absl::InvalidArgumentError(
            absl::StrCat("declared size ", header_.size(), " is invalid; use -1 for unknown"));
      }
      absl::StatusOr<v1::BucketRecord> bucket =
          service_->deps_.objects->Authorize(caller_, header_.bucket(), BucketAccess::kWrite);
      if (!bucket.ok()) return bucket.status();
      if (header_.if_none_match()) {
        absl::StatusOr<v1::ObjectManifest> existing =
            service_->deps_.objects->HeadObject(header_.bucket(), header_.key());
        if (existing.ok()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "key exists: ", header_.bucket(), "/", header_.key(), " (if_none_match was set)"));
        }
        if (!absl::IsNotFound(existing.status())) return existing.status();
      }
      PutObjectOptions options;
      options.content_type = header_.content_type();
      options.owner = caller_.user_id;
      // Decided again inside the commit: the check above only saves uploading a doomed body.
      options.condition.if_none_match = header_.if_none_match();
      options.condition.if_match = header_.if_match();
      for (const auto& [k, v] : header_.user_metadata()) options.user_metadata[k] = v;
      auto writer = service_->deps_.objects->PutObject(header_.bucket(), header_.key(), options);
      if (!writer.ok()) return writer.status();
      writer_ = *std::move(writer);
    } else if (msg_.has_header()) {
      return absl::InvalidArgumentError("only the first PutObject message may carry a header");
    }
    if (msg_.data().size() > kMaxChunkBytes) {
      return absl::InvalidArgumentError(absl::StrCat("a message carries ", msg_.data().size(),
                                                     " bytes; at most ", kMaxChunkBytes));
    }
    received_ += msg_.data().size();
    if (header_.size() >= 0 && received_ > static_cast<uint64_t>(header_.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat("received more than the declared size of ", header_.size(), " bytes"));
    }
    service_->metrics_->received->Increment(static_cast<double>(msg_.data().size()));
    if (!msg_.data().empty()) {
      if (absl::Status s = writer_->Write(msg_.data()); !s.ok()) return s;
    }
    saw_last_ = msg_.last();
    msg_.Clear();
    return absl::OkStatus();
  }

  // The client closed its side (or the call was cancelled / broke).
  void Complete() {
    if (ctx_->IsCancelled()) {
      Fail(absl::CancelledError("upload cancelled; nothing was stored"));
      return;
    }
    if (writer_ == nullptr) {
      Fail(absl::InvalidArgumentError("empty PutObject stream: no header was sent"));
      return;
    }
    if (header_.size() >= 0 && received_ != static_cast<uint64_t>(header_.size())) {
      Fail(absl::InvalidArgumentError(absl::StrCat("stream ended after ", received_,
                                                   " of the declared ", header_.size(),
                                                   " bytes; nothing was stored")));
      return;
    }
    if (header_.size() < 0 && !saw_last_) {
      Fail(absl::InvalidArgumentError(
          "stream of unknown size ended without a message marked last; nothing was stored"));
      return;
    }
    absl::StatusOr<v1::ObjectManifest> m = writer_->Finish();
    if (!m.ok()) {
      Fail(m.status());
      return;
    }
    writer_.reset();
    *resp_->mutable_object() = ToObjectInfo(*m);
    service_->metrics_->Record("PutObject", absl::OkStatus(), start_);
    Finish(grpc::Status::OK);  // last use of `this`
  }

  void Fail(absl::Status status) {
    if (writer_ != nullptr) {
      writer_->Abort();
      writer_.reset();
    }
    TESSERA_LOG(DEBUG, "put_failed")
        .Field("bucket", header_.bucket())
        .Field("key", header_.key())
        .Field("status", status);
    service_->metrics_->Record("PutObject", status, start_);
    Finish(ToClientStatus(status));  // last use of `this`
  }

  GatewayService* const service_;
  grpc::CallbackServerContext* const ctx_;
  v1::PutObjectResponse* const resp_;
  const absl::Time start_;
  Principal caller_;
  v1::PutObjectRequest msg_;
  v1::PutObjectRequest::Header header_;
  std::unique_ptr<ObjectWriter> writer_;
  uint64_t received_ = 0;
  bool saw_last_ = false;
};

absl::StatusOr<v1::ObjectManifest> GatewayService::ReadableVersion(const Principal& caller,
                                                                   const std::string& bucket,
                                                                   const std::string& key,
                                                                   const std::string& version_id) {
  absl::StatusOr<v1::BucketRecord> record =
      deps_.objects->Authorize(caller, bucket, BucketAccess::kRead);
  if (!record.ok()) return record.status();
  if (version_id.empty()) return deps_.objects->HeadObject(bucket, key);
  absl::StatusOr<v1::ObjectManifest> m = deps_.store->Get(bucket, key, version_id);
  if (m.ok() && m->delete_marker()) {
    return absl::NotFoundError(absl::StrCat("version is a delete marker: ", bucket, "/", key));
  }
  return m;
}

grpc::ServerReadReactor<v1::PutObjectRequest>* GatewayService::PutObject(
    grpc::CallbackServerContext* ctx, v1::PutObjectResponse* resp) {
  return new PutReactor(this, ctx, resp);
}

// ---------------------------------------------------------------------------------------------
// GetObject: the read runs on the handler pool; its sink waits for each write to complete.

class GatewayService::GetReactor final : public grpc::ServerWriteReactor<v1::GetObjectResponse> {
 public:
  GetReactor(GatewayService* service, grpc::CallbackServerContext* ctx,
             const v1::GetObjectRequest* req)
      : service_(service), req_(req), start_(absl::Now()) {
    service_->metrics_->inflight->Increment();
    absl::StatusOr<Principal> caller = service_->Authenticate(ctx, "GetObject");
    if (!caller.ok()) {
      service_->metrics_->Record("GetObject", caller.status(), start_);
      Finish(ToGrpcStatus(caller.status()));  // nothing was read
      return;
    }
    caller_ = *std::move(caller);
    service_->deps_.handler_pool->Submit([this] { Run(); });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;
  }
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    broken_ = true;
  }
  void OnDone() override {
    service_->metrics_->inflight->Decrement();
    delete this;
  }

 private:
  void Run() {
    absl::Status s = NameObject(Serve(), req_->bucket(), req_->key());
    service_->metrics_->Record("GetObject", s, start_);
    Finish(ToClientStatus(s));  // last use of `this`
  }

  absl::Status Serve() {
    absl::StatusOr<v1::ObjectManifest> m =
        service_->ReadableVersion(caller_, req_->bucket(), req_->key(), req_->version_id());
    if (!m.ok()) return m.status();
    const uint64_t size = m->size();
    if (req_->offset() > size) {
      return absl::OutOfRangeError(absl::StrCat("range starts at ", req_->offset(), " but ",
                                                req_->bucket(), "/", req_->key(), " has ", size,
                                                " bytes"));
    }
    const uint64_t rest = size - req_->offset();
    const uint64_t length = req_->length() == 0 ? rest : std::min(req_->length(), rest);
    out_.Clear();
    *out_.mutable_object() = ToObjectInfo(*m);
    if (absl::Status s = Send(); !s.ok()) return s;
    return service_->reader_.Read(*m, req_->offset(), length, [this](absl::string_view data) {
      while (!data.empty()) {
        const size_t n = std::min(data.size(), kMaxChunkBytes);
        out_.Clear();
        out_.set_data(data.data(), n);
        if (absl::Status s = Send(); !s.ok()) return s;
        service_->metrics_->sent->Increment(static_cast<double>(n));
        data.remove_prefix(n);
      }
      return absl::OkStatus();
    });
  }

  // Writes out_ and waits until the write completed (or the call broke).
  absl::Status Send() {
    {
      absl::MutexLock l(&mu_);
      if (broken_) return absl::CancelledError("client went away");
      writing_ = true;
    }
    StartWrite(&out_);
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](GetReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return !r->writing_; }, this));
    if (broken_) return absl::CancelledError("client went away");
    return absl::OkStatus();
  }

  GatewayService* const service_;
  const v1::GetObjectRequest* const req_;
  const absl::Time start_;
  Principal caller_;
  v1::GetObjectResponse out_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerWriteReactor<v1::GetObjectResponse>* GatewayService::GetObject(
    grpc::CallbackServerContext* ctx, const v1::GetObjectRequest* req) {
  return new GetReactor(this, ctx, req);
}

// ---------------------------------------------------------------------------------------------
// PutSealedObject: as PutObject, but each message carries one stripe the client sealed; the
// writer (ObjectWriter::CreateSealed) only codes, places and commits it.

namespace {

constexpr size_t kMaxWrappedKeyBytes = 256;
constexpr size_t kUploadNonceBytes = 16;

absl::StatusOr<v1::EncryptionParams> ToEncryptionParams(const v1::ClientSealing& sealing) {
  if (sealing.format() == 0) {
    return absl::InvalidArgumentError("header.sealing.format is required (the client's format)");
  }
  if (sealing.upload_nonce().size() != kUploadNonceBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.sealing.upload_nonce must be ", kUploadNonceBytes, " bytes"));
  }
  if (sealing.wrapped_data_key().empty() ||
      sealing.wrapped_data_key().size() > kMaxWrappedKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("header.sealing.wrapped_data_key must be 1..", kMaxWrappedKeyBytes, " bytes"));
  }
  v1::EncryptionParams enc;
  enc.set_key_source(v1::EncryptionParams::CLIENT_SEALED);
  enc.set_key_id(sealing.key_id());
  enc.set_wrapped_data_key(sealing.wrapped_data_key());
  enc.set_client_seal_format(sealing.format());
  enc.set_client_upload_nonce(sealing.upload_nonce());
  return enc;
}

v1::ClientSealing ToClientSealing(const v1::EncryptionParams& enc) {
  v1::ClientSealing sealing;
  sealing.set_format(enc.client_seal_format());
  sealing.set_key_id(enc.key_id());
  sealing.set_wrapped_data_key(enc.wrapped_data_key());
  sealing.set_upload_nonce(enc.client_upload_nonce());
  return sealing;
}

}  // namespace

class GatewayService::PutSealedReactor final
    : public grpc::ServerReadReactor<v1::PutSealedObjectRequest> {
 public:
  PutSealedReactor(GatewayService* service, grpc::CallbackServerContext* ctx,
                   v1::PutSealedObjectResponse* resp)
      : service_(service), ctx_(ctx), resp_(resp), start_(absl::Now()) {
    service_->metrics_->inflight->Increment();
    absl::StatusOr<Principal> caller = service_->Authenticate(ctx, "PutSealedObject");
    if (!caller.ok()) {
      Fail(caller.status());  // before any message is read
      return;
    }
    caller_ = *std::move(caller);
    StartRead(&msg_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      service_->deps_.handler_pool->Submit([this] { Complete(); });
      return;
    }
    service_->deps_.handler_pool->Submit([this] { Process(); });
  }

  void OnDone() override {
    service_->metrics_->inflight->Decrement();
    delete this;
  }

 private:
  void Process() {
    absl::Status s = Consume();
    if (!s.ok()) {
      Fail(std::move(s));
      return;
    }
    StartRead(&msg_);
  }

  absl::Status Consume() {
    if (saw_last_) return absl::InvalidArgumentError("message received after the last stripe");
    if (writer_ == nullptr) {
      if (!msg_.has_header()) {
        return absl::InvalidArgumentError(
            "the first PutSealedObject message must carry the header (bucket, key, sealing)");
      }
      header_ = msg_.header();
      // The same authorisation as PutObject: write access to the bucket.
      absl::StatusOr<v1::BucketRecord> bucket =
          service_->deps_.objects->Authorize(caller_, header_.bucket(), BucketAccess::kWrite);
      if (!bucket.ok()) return bucket.status();
      absl::StatusOr<v1::EncryptionParams> enc = ToEncryptionParams(header_.sealing());
      if (!enc.ok()) return enc.status();
      PutObjectOptions options;
      options.content_type = header_.content_type();
      options.owner = caller_.user_id;
      options.condition.if_none_match = header_.if_none_match();
      options.condition.if_match = header_.if_match();
      for (const auto& [k, v] : header_.user_metadata()) options.user_metadata[k] = v;
      auto writer =
          service_->deps_.objects->PutSealedObject(header_.bucket(), header_.key(), options, *enc);
      if (!writer.ok()) return writer.status();
      writer_ = *std::move(writer);
    } else if (msg_.has_header()) {
      return absl::InvalidArgumentError(
          "only the first PutSealedObject message may carry a header");
    }
    if (msg_.has_stripe()) {
      const v1::SealedStripe& stripe = msg_.stripe();
      // Order and positions are checked here only to refuse a confused stream early; the client
      // authenticates them (they are in each stripe's associated data).
      if (stripe.index() != next_index_ || stripe.plaintext_offset() != received_) {
        return absl::InvalidArgumentError(absl::StrCat(
            "stripe ", stripe.index(), " at plaintext offset ", stripe.plaintext_offset(),
            " out of order: expected stripe ", next_index_, " at ", received_));
      }
      if (absl::Status s = writer_->WriteSealedStripe(stripe.sealed(), stripe.plaintext_size());
          !s.ok()) {
        return s;
      }
      service_->metrics_->received->Increment(static_cast<double>(stripe.sealed().size()));
      ++next_index_;
      received_ += stripe.plaintext_size();
      saw_last_ = stripe.last();
    }
    msg_.Clear();
    return absl::OkStatus();
  }

  void Complete() {
    if (ctx_->IsCancelled()) {
      Fail(absl::CancelledError("upload cancelled; nothing was stored"));
      return;
    }
    if (writer_ == nullptr) {
      Fail(absl::InvalidArgumentError("empty PutSealedObject stream: no header was sent"));
      return;
    }
    if (!saw_last_) {
      Fail(absl::InvalidArgumentError(
          "sealed stream ended without a stripe marked last; nothing was stored"));
      return;
    }
    absl::StatusOr<v1::ObjectManifest> m = writer_->Finish();
    if (!m.ok()) {
      Fail(m.status());
      return;
    }
    writer_.reset();
    *resp_->mutable_object() = ToObjectInfo(*m);
    service_->metrics_->Record("PutSealedObject", absl::OkStatus(), start_);
    Finish(grpc::Status::OK);  // last use of `this`
  }

  void Fail(absl::Status status) {
    if (writer_ != nullptr) {
      writer_->Abort();
      writer_.reset();
    }
    TESSERA_LOG(DEBUG, "put_sealed_failed")
        .Field("bucket", header_.bucket())
        .Field("key", header_.key())
        .Field("status", status);
    service_->metrics_->Record("PutSealedObject", status, start_);
    Finish(ToClientStatus(status));  // last use of `this`
  }

  GatewayService* const service_;
  grpc::CallbackServerContext* const ctx_;
  v1::PutSealedObjectResponse* const resp_;
  const absl::Time start_;
  Principal caller_;
  v1::PutSealedObjectRequest msg_;
  v1::PutSealedObjectRequest::Header header_;
  std::unique_ptr<ObjectWriter> writer_;
  uint32_t next_index_ = 0;
  uint64_t received_ = 0;  // plaintext bytes declared so far
  bool saw_last_ = false;
};

grpc::ServerReadReactor<v1::PutSealedObjectRequest>* GatewayService::PutSealedObject(
    grpc::CallbackServerContext* ctx, v1::PutSealedObjectResponse* resp) {
  return new PutSealedReactor(this, ctx, resp);
}

// ---------------------------------------------------------------------------------------------
// GetSealedObject: as GetObject, but whole sealed stripes go out (ObjectReader::ReadSealed).

class GatewayService::GetSealedReactor final
    : public grpc::ServerWriteReactor<v1::GetSealedObjectResponse> {
 public:
  GetSealedReactor(GatewayService* service, grpc::CallbackServerContext* ctx,
                   const v1::GetSealedObjectRequest* req)
      : service_(service), req_(req), start_(absl::Now()) {
    service_->metrics_->inflight->Increment();
    absl::StatusOr<Principal> caller = service_->Authenticate(ctx, "GetSealedObject");
    if (!caller.ok()) {
      service_->metrics_->Record("GetSealedObject", caller.status(), start_);
      Finish(ToGrpcStatus(caller.status()));  // nothing was read
      return;
    }
    caller_ = *std::move(caller);
    service_->deps_.handler_pool->Submit([this] { Run(); });
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock l(&mu_);
    writing_ = false;
    if (!ok) broken_ = true;
  }
  void OnCancel() override {
    absl::MutexLock l(&mu_);
    broken_ = true;
  }
  void OnDone() override {
    service_->metrics_->inflight->Decrement();
    delete this;
  }

 private:
  void Run() {
    absl::Status s = NameObject(Serve(), req_->bucket(), req_->key());
    service_->metrics_->Record("GetSealedObject", s, start_);
    Finish(ToClientStatus(s));  // last use of `this`
  }

  absl::Status Serve() {
    // The same authorisation as GetObject: read access to the bucket.
    absl::StatusOr<v1::ObjectManifest> m =
        service_->ReadableVersion(caller_, req_->bucket(), req_->key(), req_->version_id());
    if (!m.ok()) return m.status();
    if (m->encryption().key_source() != v1::EncryptionParams::CLIENT_SEALED) {
      return absl::FailedPreconditionError(absl::StrCat(
          req_->bucket(), "/", req_->key(), " was not sealed by its client; use GetObject"));
    }
    const uint64_t size = m->size();
    if (req_->offset() > size) {
      return absl::OutOfRangeError(absl::StrCat("range starts at ", req_->offset(), " but ",
                                                req_->bucket(), "/", req_->key(), " has ", size,
                                                " bytes"));
    }
    const uint64_t rest = size - req_->offset();
    const uint64_t length = req_->length() == 0 ? rest : std::min(req_->length(), rest);
    out_.Clear();
    *out_.mutable_object() = ToObjectInfo(*m);
    *out_.mutable_sealing() = ToClientSealing(m->encryption());
    const int stripes = m->parts_size() == 1 ? m->parts(0).stripes_size() : 0;
    out_.set_stripe_count(static_cast<uint32_t>(stripes));
    if (absl::Status s = Send(); !s.ok()) return s;
    return service_->reader_.ReadSealed(
        *m, req_->offset(), length, [this, stripes](SealedStripeData stripe) {
          out_.Clear();
          v1::SealedStripe* out = out_.mutable_stripe();
          out->set_index(stripe.index);
          out->set_plaintext_offset(stripe.plaintext_offset);
          out->set_plaintext_size(stripe.plaintext_size);
          out->set_last(static_cast<int>(stripe.index) + 1 == stripes);
          service_->metrics_->sent->Increment(static_cast<double>(stripe.sealed.size()));
          out->set_sealed(std::move(stripe.sealed));
          return Send();
        });
  }

  absl::Status Send() {
    {
      absl::MutexLock l(&mu_);
      if (broken_) return absl::CancelledError("client went away");
      writing_ = true;
    }
    StartWrite(&out_);
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](GetSealedReactor* r) ABSL_EXCLUSIVE_LOCKS_REQUIRED(r->mu_) { return !r->writing_; },
        this));
    if (broken_) return absl::CancelledError("client went away");
    return absl::OkStatus();
  }

  GatewayService* const service_;
  const v1::GetSealedObjectRequest* const req_;
  const absl::Time start_;
  Principal caller_;
  v1::GetSealedObjectResponse out_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
};

grpc::ServerWriteReactor<v1::GetSealedObjectResponse>* GatewayService::GetSealedObject(
    grpc::CallbackServerContext* ctx, const v1::GetSealedObjectRequest* req) {
  return new GetSealedReactor(this, ctx, req);
}

}  // namespace tessera::services
