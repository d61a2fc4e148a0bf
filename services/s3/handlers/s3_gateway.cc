#include "services/s3/handlers/s3_gateway.h"

#include <sodium.h>

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/logging.h"
#include "base/status_reasons.h"
#include "services/gateway/in_memory_manifest_store.h"
#include "services/s3/auth/chunked_decoder.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/errors/errors.h"
#include "services/s3/xml/s3_xml.h"

namespace tessera::services::s3 {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

const std::string* FindHeader(const Headers& headers, absl::string_view name) {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return &v;
  }
  return nullptr;
}

std::string HeaderOr(const Headers& headers, absl::string_view name, std::string def = "") {
  const std::string* v = FindHeader(headers, name);
  return v != nullptr ? *v : def;
}

// Standard headers stored with an object and returned on GET/HEAD.
constexpr absl::string_view kStoredHeaders[] = {"Cache-Control", "Content-Disposition",
                                                "Content-Encoding", "Content-Language", "Expires"};

absl::Time ModifiedTime(const v1::ObjectManifest& m) {
  // S3 times have one-second granularity (Last-Modified); keep listings consistent with it.
  return absl::FromUnixSeconds(m.created_unix_micros() / 1000000);
}

// Reads a request payload: de-frames aws-chunked bodies, hashes (MD5 for the ETag, SHA-256 for
// signed payloads, x-amz-checksum-*), and verifies everything at Finish().
class Payload {
 public:
  Payload(HttpBodyReader* body, const AuthResult& auth, const Headers& headers, size_t piece)
      : body_(body), auth_(auth), headers_(headers), piece_(piece) {}

  absl::Status Init() {
    const std::string encoding = absl::AsciiStrToLower(HeaderOr(headers_, "content-encoding"));
    const bool streaming = auth_.payload_mode == PayloadMode::kStreamingSigned ||
                           auth_.payload_mode == PayloadMode::kStreamingSignedTrailer ||
                           auth_.payload_mode == PayloadMode::kStreamingUnsignedTrailer;
    if (streaming) {
      ChunkedDecoderOptions o;
      o.mode = auth_.payload_mode;
      o.signing = auth_.chunk_context;
      if (const std::string* d = FindHeader(headers_, "x-amz-decoded-content-length")) {
        uint64_t n = 0;
        if (!absl::SimpleAtoi(*d, &n)) {
          return S3Status(S3ErrorCode::kInvalidArgument, "bad x-amz-decoded-content-length");
        }
        o.decoded_content_length = n;
      }
      if (const std::string* t = FindHeader(headers_, "x-amz-trailer")) {
        for (absl::string_view name : absl::StrSplit(*t, ',', absl::SkipWhitespace())) {
          o.declared_trailers.push_back(absl::AsciiStrToLower(absl::StripAsciiWhitespace(name)));
        }
      }
      absl::StatusOr<std::unique_ptr<AwsChunkedDecoder>> d = AwsChunkedDecoder::Create(o);
      if (!d.ok()) return d.status();
      decoder_ = *std::move(d);
    } else if (absl::StrContains(encoding, "aws-chunked")) {
      return S3Status(S3ErrorCode::kInvalidRequest,
                      "aws-chunked needs a STREAMING-* x-amz-content-sha256");
    }
    md5_ = NewMd5Hasher();
    if (auth_.payload_mode == PayloadMode::kSignedPayload) {
      sha256_ = NewHasher(ChecksumAlgorithm::kSha256);
    }
    for (const auto& [k, v] : headers_) {
      std::optional<ChecksumAlgorithm> a = ChecksumAlgorithmFromHeader(k);
      if (a.has_value()) {
        if (checksum_.has_value()) {
          return S3Status(S3ErrorCode::kInvalidRequest, "more than one checksum header");
        }
        checksum_ = *a;
        checksum_value_ = v;
        checksum_hasher_ = NewHasher(*a);
      }
    }
    return absl::OkStatus();
  }

  // Replaces *out with the next decoded bytes; empty at the end.
  absl::Status Next(std::string* out) {
    out->clear();
    while (out->empty()) {
      if (absl::Status s = body_->Read(piece_, &raw_); !s.ok()) return s;
      if (raw_.empty()) {
        if (decoder_) {
          if (absl::Status s = decoder_->Finish(); !s.ok()) return s;
        }
        return absl::OkStatus();
      }
      if (decoder_) {
        if (absl::Status s = decoder_->Feed(raw_, out); !s.ok()) return s;
      } else {
        out->swap(raw_);
      }
    }
    total_ += out->size();
    md5_->Update(*out);
    if (sha256_) sha256_->Update(*out);
    if (checksum_hasher_) checksum_hasher_->Update(*out);
    return absl::OkStatus();
  }

  // After Next() returned empty: verifies digests. Fills md5() and checksums().
  absl::Status Finish() {
    md5_raw_ = md5_->Finish();
    if (sha256_ && sha256_->FinishHex() != auth_.payload_sha256_hex) {
      return S3Status(S3ErrorCode::kXAmzContentSHA256Mismatch);
    }
    if (const std::string* cmd5 = FindHeader(headers_, "content-md5")) {
      if (absl::Status s = VerifyContentMd5(*cmd5, md5_raw_); !s.ok()) return s;
    }
    if (checksum_.has_value()) {
      if (absl::Status s = VerifyChecksum(*checksum_, checksum_value_, checksum_hasher_->Finish());
          !s.ok()) {
        return s;
      }
      checksums_[std::string(ChecksumAlgorithmName(*checksum_))] = checksum_value_;
    }
    if (decoder_) {
      for (const auto& [k, v] : decoder_->trailers()) {
        if (std::optional<ChecksumAlgorithm> a = ChecksumAlgorithmFromHeader(k)) {
          checksums_[std::string(ChecksumAlgorithmName(*a))] = v;  // verified by the decoder
        }
      }
    }
    return absl::OkStatus();
  }

  uint64_t total() const { return total_; }
  const std::string& md5() const { return md5_raw_; }
  const std::map<std::string, std::string>& checksums() const { return checksums_; }

 private:
  HttpBodyReader* body_;
  const AuthResult& auth_;
  const Headers& headers_;
  const size_t piece_;
  std::unique_ptr<AwsChunkedDecoder> decoder_;
  std::unique_ptr<Hasher> md5_, sha256_, checksum_hasher_;
  std::optional<ChecksumAlgorithm> checksum_;
  std::string checksum_value_;
  std::string raw_;
  std::string md5_raw_;
  uint64_t total_ = 0;
  std::map<std::string, std::string> checksums_;
};

// True unless `s` is outcome-unknown (base/status_reasons.h): a commit that may or may not have
// been applied carries whatever code its CAS function last returned (ALREADY_EXISTS for "bucket
// exists", FAILED_PRECONDITION for a refused condition, NOT_FOUND), and none of those may be
// answered as a definite S3 error. Every code-based mapping below is guarded by it.
bool Definite(const absl::Status& s) { return !IsOutcomeUnknown(s); }

S3ErrorCode CodeForDataPath(const absl::Status& s, bool bucket_op) {
  // First: an unknown outcome is 500 InternalError ("We encountered an internal error. Please
  // try again."), which every S3 client retries; a retry then sees what actually happened.
  if (IsOutcomeUnknown(s)) return S3ErrorCode::kInternalError;
  if (s.GetPayload("type.tessera/s3.error_code").has_value()) return ErrorCodeOf(s);
  const absl::string_view m = s.message();
  if (absl::IsNotFound(s)) {
    if (absl::StrContains(m, "no such bucket")) return S3ErrorCode::kNoSuchBucket;
    if (absl::StrContains(m, "no such upload")) return S3ErrorCode::kNoSuchUpload;
    return bucket_op ? S3ErrorCode::kNoSuchBucket : S3ErrorCode::kNoSuchKey;
  }
  if (absl::IsFailedPrecondition(s) && absl::StrContains(m, "not empty")) {
    return S3ErrorCode::kBucketNotEmpty;
  }
  if (absl::IsAlreadyExists(s)) return S3ErrorCode::kBucketAlreadyExists;
  return ErrorCodeOf(s);
}

}  // namespace

// One request.
class S3Gateway::Call {
 public:
  Call(S3Gateway* g, const HttpServerRequest& req, HttpBodyReader* body, HttpResponseWriter* out)
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

 private:
  // --- plumbing ---------------------------------------------------------------------------
  void Fail(const absl::Status& s, bool bucket_op = false) {
    if (out_->started()) return;  // mid-body: the server closes the connection
    const S3ErrorCode code = CodeForDataPath(s, bucket_op);
    const S3ErrorInfo& info = GetErrorInfo(code);
    if (info.http_status >= 500) {
      TESSERA_LOG(WARNING, "s3_request_failed")
          .Field("op", OperationName(r_.op))
          .Field("status", s);
    }
    HttpServerResponse res;
    res.status = info.http_status;
    if (code == S3ErrorCode::kNotModified) {
      (void)out_->Send(std::move(res));
      return;
    }
    res.headers.emplace_back("Content-Type", "application/xml");
    std::string message(s.message());
    if (message.empty() || info.http_status >= 500) message = std::string(info.default_message);
    res.body = WriteError(ErrorBody{std::string(info.name), message, resource_, req_.request_id});
    if (req_.method == "HEAD") res.head_content_length = 0;
    (void)out_->Send(std::move(res));
  }

  absl::Status SendXml(int status, std::string xml, Headers extra = {}) {
    HttpServerResponse res;
    res.status = status;
    res.headers = std::move(extra);
    res.headers.emplace_back("Content-Type", "application/xml");
    res.body = std::move(xml);
    return out_->Send(std::move(res));
  }

  absl::Status SendEmpty(int status, Headers headers = {}) {
    HttpServerResponse res;
    res.status = status;
    res.headers = std::move(headers);
    return out_->Send(std::move(res));
  }

  const std::string* Query(absl::string_view name) const { return r_.QueryParam(name); }

  Owner OwnerOf(const std::string& id) const { return Owner{id, id}; }

  // Reads a small body (XML) whole.
  absl::StatusOr<std::string> SmallBody() {
    Payload p(body_, auth_, req_.headers, 64 << 10);
    if (absl::Status s = p.Init(); !s.ok()) return s;
    std::string all, piece;
    while (true) {
      if (absl::Status s = p.Next(&piece); !s.ok()) return s;
      if (piece.empty()) break;
      all += piece;
      if (all.size() > g_->options_.max_xml_body_bytes) {
        return S3Status(S3ErrorCode::kMalformedXML, "request body too large");
      }
    }
    if (absl::Status s = p.Finish(); !s.ok()) return s;
    return all;
  }

  // --- authorisation ----------------------------------------------------------------------
  // The rule itself is the object layer's (services/gateway/access_policy.h), shared with gRPC.
  using Access = BucketAccess;
  Principal Caller() const {
    return auth_.anonymous ? Principal::Anonymous() : Principal::User(auth_.user_id);
  }
  absl::StatusOr<v1::BucketRecord> Authorize(const std::string& bucket, Access access) {
    absl::StatusOr<v1::BucketRecord> b = g_->objects_->Authorize(Caller(), bucket, access);
    if (b.ok()) return b;
    if (!Definite(b.status())) return b.status();
    if (absl::IsNotFound(b.status())) return S3Status(S3ErrorCode::kNoSuchBucket);
    if (absl::IsPermissionDenied(b.status())) return S3Status(S3ErrorCode::kAccessDenied);
    return b.status();
  }

  absl::Status RequireUser() {
    if (auth_.anonymous) return S3Status(S3ErrorCode::kAccessDenied);
    return absl::OkStatus();
  }

  // --- dispatch ---------------------------------------------------------------------------
  absl::Status Dispatch() {
    // A body-carrying PUT must say how long its body is (AWS: 411 MissingContentLength).
    if ((r_.op == S3Operation::kPutObject || r_.op == S3Operation::kUploadPart) &&
        FindHeader(req_.headers, "content-length") == nullptr &&
        FindHeader(req_.headers, "transfer-encoding") == nullptr) {
      return S3Status(S3ErrorCode::kMissingContentLength);
    }
    switch (r_.op) {
      case S3Operation::kListBuckets:
        return ListBuckets();
      case S3Operation::kCreateBucket:
        return CreateBucket();
      case S3Operation::kHeadBucket:
        return HeadBucket();
      case S3Operation::kDeleteBucket:
        return DeleteBucket();
      case S3Operation::kGetBucketLocation:
        return GetBucketLocation();
      case S3Operation::kListObjects:
        return ListObjects(false);
      case S3Operation::kListObjectsV2:
        return ListObjects(true);
      case S3Operation::kPutObject:
        return PutObject();
      case S3Operation::kGetObject:
        return GetObject(false);
      case S3Operation::kHeadObject:
        return GetObject(true);
      case S3Operation::kDeleteObject:
        return DeleteObject();
      case S3Operation::kDeleteObjects:
        return DeleteObjects();
      case S3Operation::kCopyObject:
        return CopyObject();
      case S3Operation::kCreateMultipartUpload:
        return CreateUpload();
      case S3Operation::kUploadPart:
        return UploadPart(false);
      case S3Operation::kUploadPartCopy:
        return UploadPart(true);
      case S3Operation::kCompleteMultipartUpload:
        return CompleteUpload();
      case S3Operation::kAbortMultipartUpload:
        return AbortUpload();
      case S3Operation::kListParts:
        return ListParts();
      case S3Operation::kListMultipartUploads:
        return ListUploads();
      default:
        return S3Status(S3ErrorCode::kNotImplemented,
                        absl::StrCat(OperationName(r_.op), " is not implemented"));
    }
  }

  // --- buckets ----------------------------------------------------------------------------
  absl::Status ListBuckets() {
    if (absl::Status s = RequireUser(); !s.ok()) return s;
    absl::StatusOr<std::vector<v1::BucketRecord>> all = g_->objects_->ListBuckets(Caller());
    if (!all.ok()) return all.status();
    std::vector<BucketEntry> mine;
    for (const v1::BucketRecord& b : *all) {
      mine.push_back({b.name(), absl::FromUnixMicros(b.created_unix_micros())});
    }
    return SendXml(200, WriteListAllMyBuckets(OwnerOf(auth_.user_id), mine));
  }

  absl::Status CreateBucket() {
    if (absl::Status s = RequireUser(); !s.ok()) return s;
    if (!IsValidBucketName(r_.bucket)) return S3Status(S3ErrorCode::kInvalidBucketName);
    absl::StatusOr<std::string> body = SmallBody();
    if (!body.ok()) return body.status();
    if (!body->empty()) {
      absl::StatusOr<std::string> region = ParseCreateBucketConfiguration(*body);
      if (!region.ok()) return region.status();
      if (!region->empty() && *region != g_->options_.region) {
        return S3Status(S3ErrorCode::kInvalidArgument,
                        absl::StrCat("this endpoint serves region ", g_->options_.region));
      }
    }
    // The same canned ACLs as gRPC CreateBucket (access_policy.h).
    absl::StatusOr<std::string> acl = ParseCannedAcl(HeaderOr(req_.headers, "x-amz-acl", ""));
    if (absl::IsUnimplemented(acl.status())) {
      return S3Status(S3ErrorCode::kNotImplemented, std::string(acl.status().message()));
    }
    if (!acl.ok()) {
      return S3Status(S3ErrorCode::kInvalidArgument, std::string(acl.status().message()));
    }
    v1::BucketRecord record;
    record.set_schema_version(kManifestSchemaVersion);
    record.set_name(r_.bucket);
    std::string id(16, '\0');
    randombytes_buf(id.data(), id.size());
    record.set_bucket_id(id);
    record.set_owner(auth_.user_id);
    record.set_created_unix_micros(absl::ToUnixMicros(g_->clock_->Now()));
    record.set_acl(*acl);
    record.set_region(g_->options_.region);
    record.add_shards()->set_id(0);
    absl::Status s = g_->store_->CreateBucket(record);
    if (Definite(s) && absl::IsAlreadyExists(s)) {
      absl::StatusOr<v1::BucketRecord> existing = g_->objects_->HeadBucket(r_.bucket);
      if (existing.ok() && existing->owner() == auth_.user_id) {
        // As AWS: "BucketAlreadyOwnedByYou ... in all Regions except North Virginia", where
        // re-creating your own bucket is 200 OK and changes nothing (the bucket's canned ACL is
        // kept: AWS would reset it).
        if (g_->options_.region == "us-east-1") {
          return SendEmpty(200, {{"Location", absl::StrCat("/", r_.bucket)}});
        }
        return S3Status(S3ErrorCode::kBucketAlreadyOwnedByYou);
      }
      return S3Status(S3ErrorCode::kBucketAlreadyExists);
    }
    if (!s.ok()) return s;
    return SendEmpty(200, {{"Location", absl::StrCat("/", r_.bucket)}});
  }

  absl::Status HeadBucket() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kRead);
    if (!b.ok()) return b.status();
    return SendEmpty(200, {{"x-amz-bucket-region", g_->options_.region}});
  }

  absl::Status DeleteBucket() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    bool truncated = false;
    absl::StatusOr<std::vector<UploadInfo>> ups =
        g_->uploads_->List(r_.bucket, "", "", "", 1, &truncated);
    // Fail closed: a bucket whose uploads cannot be listed is not known to have none.
    if (!ups.ok()) return ups.status();
    if (!ups->empty()) {
      return S3Status(S3ErrorCode::kBucketNotEmpty, "the bucket has multipart uploads in progress");
    }
    absl::Status s = g_->objects_->DeleteBucket(r_.bucket);
    if (!s.ok()) {
      if (!Definite(s)) return s;
      if (absl::IsFailedPrecondition(s)) return S3Status(S3ErrorCode::kBucketNotEmpty);
      if (absl::IsNotFound(s)) return S3Status(S3ErrorCode::kNoSuchBucket);
      return s;
    }
    return SendEmpty(204);
  }

  absl::Status GetBucketLocation() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    return SendXml(200, WriteLocationConstraint(
                            g_->options_.region == "us-east-1" ? "" : g_->options_.region));
  }

  absl::Status ListObjects(bool v2) {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kRead);
    if (!b.ok()) return b.status();
    ListBucketResult res;
    res.v2 = v2;
    res.name = r_.bucket;
    auto q = [&](absl::string_view n) { return Query(n) ? *Query(n) : std::string(); };
    res.prefix = q("prefix");
    res.delimiter = q("delimiter");
    if (const std::string* e = Query("encoding-type")) {
      if (*e != "url") return S3Status(S3ErrorCode::kInvalidArgument, "Invalid Encoding Method");
      res.url_encode = true;
    }
    int max_keys = 1000;
    if (const std::string* m = Query("max-keys")) {
      if (!absl::SimpleAtoi(*m, &max_keys) || max_keys < 0) {
        return S3Status(S3ErrorCode::kInvalidArgument, "max-keys must be a non-negative integer");
      }
      max_keys = std::min(max_keys, 1000);
    }
    res.max_keys = max_keys;
    ListRequest lr;
    lr.prefix = res.prefix;
    lr.delimiter = res.delimiter;
    lr.max_keys = std::max(max_keys, 1);
    bool fetch_owner = !v2;
    if (v2) {
      res.start_after = q("start-after");
      res.continuation_token = q("continuation-token");
      lr.start_after = res.start_after;
      lr.continuation_token = res.continuation_token;
      fetch_owner = q("fetch-owner") == "true";
    } else {
      res.marker = q("marker");
      lr.start_after = res.marker;
      // A marker inside a common prefix (NextMarker is the prefix itself when a page ends on
      // one) resumes after every key under that prefix, so the prefix is not listed twice.
      if (!res.delimiter.empty() && absl::StartsWith(res.marker, res.prefix)) {
        const size_t pos = res.marker.find(res.delimiter, res.prefix.size());
        if (pos != std::string::npos) {
          const std::string cp = res.marker.substr(0, pos + res.delimiter.size());
          lr.start_after = cp;
          lr.continuation_token = EncodeContinuationToken(/*is_prefix=*/true, cp);
        }
      }
    }
    if (max_keys > 0) {
      absl::StatusOr<ListResult> page = g_->objects_->ListObjects(r_.bucket, lr);
      if (!page.ok()) {
        if (absl::IsInvalidArgument(page.status()) && v2) {
          return S3Status(S3ErrorCode::kInvalidArgument,
                          "The continuation token provided is incorrect");
        }
        return page.status();
      }
      for (const v1::ObjectManifest& m : page->objects) {
        ObjectEntry e;
        e.key = m.key();
        e.last_modified = ModifiedTime(m);
        e.etag = m.etag();
        e.size = m.size();
        if (fetch_owner) e.owner = OwnerOf(m.owner());
        res.contents.push_back(std::move(e));
      }
      res.common_prefixes = page->common_prefixes;
      res.is_truncated = page->truncated;
      res.next_continuation_token = page->next_continuation_token;
      // NextMarker only with a delimiter (AWS: without one, the last key is the marker).
      if (!v2 && res.is_truncated && !res.delimiter.empty()) {
        std::string last = res.contents.empty() ? "" : res.contents.back().key;
        if (!res.common_prefixes.empty() && res.common_prefixes.back() > last) {
          last = res.common_prefixes.back();
        }
        res.next_marker = last;
      }
    }
    return SendXml(200, WriteListBucketResult(res));
  }

  // --- objects ----------------------------------------------------------------------------
  void MetadataFromRequest(PutObjectOptions* o) {
    o->content_type = HeaderOr(req_.headers, "content-type", "binary/octet-stream");
    for (const auto& [k, v] : req_.headers) {
      if (absl::StartsWithIgnoreCase(k, "x-amz-meta-")) {
        o->user_metadata[absl::AsciiStrToLower(k.substr(11))] = v;
      }
    }
    for (absl::string_view h : kStoredHeaders) {
      if (const std::string* v = FindHeader(req_.headers, h)) {
        std::string value = *v;
        if (h == "Content-Encoding") {
          // aws-chunked is transfer framing, not the object's encoding.
          std::vector<absl::string_view> kept;
          for (absl::string_view e : absl::StrSplit(value, ',', absl::SkipWhitespace())) {
            e = absl::StripAsciiWhitespace(e);
            if (!absl::EqualsIgnoreCase(e, "aws-chunked")) kept.push_back(e);
          }
          value = absl::StrJoin(kept, ",");
          if (value.empty()) continue;
        }
        o->headers[std::string(h)] = value;
      }
    }
    o->owner = auth_.user_id;
  }

  absl::Status CheckMetadataSize(const PutObjectOptions& o) {
    size_t n = 0;
    for (const auto& [k, v] : o.user_metadata) n += k.size() + v.size();
    if (n > 2048) return S3Status(S3ErrorCode::kMetadataTooLarge);
    return absl::OkStatus();
  }

  // Streams the payload into `writer`; OK only when the whole body arrived and verified.
  // Streams the payload into `writer`. The payload already computes the MD5 (Content-MD5 must
  // be checked before the commit), so the writer reuses it rather than hashing every byte twice.
  absl::Status StreamInto(ObjectWriter* writer, Payload* p) {
    if (absl::Status s = p->Init(); !s.ok()) return s;
    writer->UseCallerMd5();
    std::string piece;
    while (true) {
      if (absl::Status s = p->Next(&piece); !s.ok()) return s;
      if (piece.empty()) break;
      if (p->total() > g_->options_.max_object_bytes) return S3Status(S3ErrorCode::kEntityTooLarge);
      if (absl::Status s = writer->Write(piece); !s.ok()) return s;
    }
    if (absl::Status s = p->Finish(); !s.ok()) return s;
    writer->SetPlaintextMd5(p->md5());
    return absl::OkStatus();
  }

  Headers ChecksumHeaders(const std::map<std::string, std::string>& checksums) {
    Headers h;
    for (const auto& [alg, v] : checksums) {
      if (std::optional<ChecksumAlgorithm> a = ChecksumAlgorithmFromName(alg)) {
        h.emplace_back(std::string(ChecksumHeaderName(*a)), v);
      }
    }
    return h;
  }

  // Conditional writes (PutObject, CompleteMultipartUpload): If-None-Match: * fails with 412 if
  // the key exists; If-Match: <etag> fails with 412 on another ETag and 404 NoSuchKey if there
  // is no object. Decided inside the commit (WriteCondition -> ManifestStore::Commit), so of two
  // racing conditional writes at most one passes; CheckWriteConditions only refuses early, before
  // a body is read, what is already known to fail.
  CommitCondition WriteCondition() const {
    CommitCondition c;
    c.if_none_match = FindHeader(req_.headers, "if-none-match") != nullptr;
    if (const std::string* match = FindHeader(req_.headers, "if-match")) c.if_match = *match;
    return c;
  }

  // The S3 error for a commit refused by its condition; other statuses pass through.
  static absl::Status CommitConditionStatus(const absl::Status& s) {
    if (!Definite(s)) return s;
    if (IsConditionNotMet(s)) {
      return S3Status(S3ErrorCode::kPreconditionFailed,
                      "At least one of the pre-conditions you specified did not hold");
    }
    if (absl::IsNotFound(s) && absl::StrContains(s.message(), "no such key")) {
      return S3Status(S3ErrorCode::kNoSuchKey);
    }
    return s;
  }

  absl::Status CheckWriteConditions() {
    const std::string* none_match = FindHeader(req_.headers, "if-none-match");
    const std::string* match = FindHeader(req_.headers, "if-match");
    if (none_match == nullptr && match == nullptr) return absl::OkStatus();
    if (none_match != nullptr && absl::StripAsciiWhitespace(*none_match) != "*") {
      return S3Status(S3ErrorCode::kNotImplemented,
                      "If-None-Match on writes supports only the value *");
    }
    absl::StatusOr<v1::ObjectManifest> m = g_->objects_->HeadObject(r_.bucket, r_.key);
    if (!m.ok() && !(Definite(m.status()) && absl::IsNotFound(m.status()))) return m.status();
    if (none_match != nullptr && m.ok()) {
      return S3Status(S3ErrorCode::kPreconditionFailed,
                      "At least one of the pre-conditions you specified did not hold");
    }
    if (match != nullptr) {
      if (!m.ok()) return S3Status(S3ErrorCode::kNoSuchKey);
      ConditionalHeaders c;
      c.if_match = *match;
      if (EvaluateConditions(c, m->etag(), ModifiedTime(*m), false) != ConditionResult::kProceed) {
        return S3Status(S3ErrorCode::kPreconditionFailed,
                        "At least one of the pre-conditions you specified did not hold");
      }
    }
    return absl::OkStatus();
  }

  absl::Status PutObject() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    if (absl::Status s = CheckWriteConditions(); !s.ok()) return s;
    PutObjectOptions o;
    MetadataFromRequest(&o);
    o.condition = WriteCondition();
    if (absl::Status s = CheckMetadataSize(o); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer =
        g_->objects_->PutObject(r_.bucket, r_.key, o);
    if (!writer.ok()) return writer.status();
    Payload p(body_, auth_, req_.headers, g_->options_.read_piece_bytes);
    if (absl::Status s = StreamInto(writer->get(), &p); !s.ok()) {
      (*writer)->Abort();
      return s;
    }
    (*writer)->set_checksums(p.checksums());
    absl::StatusOr<v1::ObjectManifest> m = (*writer)->Finish();
    if (!m.ok()) return CommitConditionStatus(m.status());
    Headers h = ChecksumHeaders(p.checksums());
    h.emplace_back("ETag", m->etag());
    return SendEmpty(200, std::move(h));
  }

  absl::Status GetObject(bool head) {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kRead);
    if (!b.ok()) return b.status();
    absl::StatusOr<v1::ObjectManifest> m = g_->objects_->HeadObject(r_.bucket, r_.key);
    if (!m.ok()) {
      if (Definite(m.status()) && absl::IsNotFound(m.status()) &&
          !absl::StrContains(m.status().message(), "bucket")) {
        return S3Status(S3ErrorCode::kNoSuchKey);
      }
      return m.status();
    }
    if (!head && m->encryption().key_source() == v1::EncryptionParams::CLIENT_SEALED) {
      // Refused before any header goes out: its plaintext never reached the cluster, and its
      // ciphertext must not pass for the object's data (docs/design/e2e_mode.md).
      return S3Status(S3ErrorCode::kInvalidRequest,
                      absl::StrCat(r_.key,
                                   " is sealed end to end by its client; read it with "
                                   "the Tessera SDK's sealing client"));
    }
    const absl::Time modified = ModifiedTime(*m);
    Headers h;
    h.emplace_back("ETag", m->etag());
    h.emplace_back("Last-Modified", FormatHttpDate(modified));
    h.emplace_back("Accept-Ranges", "bytes");
    h.emplace_back("Content-Type",
                   m->content_type().empty() ? "binary/octet-stream" : m->content_type());
    for (const auto& [k, v] : m->user_metadata()) h.emplace_back(absl::StrCat("x-amz-meta-", k), v);
    for (const auto& [k, v] : m->headers()) h.emplace_back(k, v);
    if (m->parts_size() > 1) h.emplace_back("x-amz-mp-parts-count", absl::StrCat(m->parts_size()));
    if (absl::EqualsIgnoreCase(HeaderOr(req_.headers, "x-amz-checksum-mode"), "ENABLED") &&
        FindHeader(req_.headers, "range") == nullptr) {  // whole-object checksums only
      for (auto& kv : ChecksumHeaders({m->checksums().begin(), m->checksums().end()})) {
        h.push_back(std::move(kv));
      }
    }
    const ConditionResult cond =
        EvaluateConditions(ParseConditionalHeaders(req_.headers), m->etag(), modified, true);
    if (cond == ConditionResult::kNotModified) {
      return SendEmpty(304, {{"ETag", m->etag()}, {"Last-Modified", FormatHttpDate(modified)}});
    }
    if (absl::Status s = ConditionStatus(cond); !s.ok()) return s;
    // response-* overrides.
    static constexpr std::pair<absl::string_view, absl::string_view> kOverrides[] = {
        {"response-content-type", "Content-Type"},
        {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},
        {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"}};
    for (const auto& [param, header] : kOverrides) {
      if (const std::string* v = Query(param)) {
        if (auth_.anonymous) {
          return S3Status(S3ErrorCode::kInvalidRequest,
                          "response-* parameters need an authenticated request");
        }
        // Captured by name: clang 14 cannot capture a structured binding (the tsa build).
        h.erase(std::remove_if(h.begin(), h.end(),
                               [&header = header](const auto& kv) {
                                 return absl::EqualsIgnoreCase(kv.first, header);
                               }),
                h.end());
        h.emplace_back(std::string(header), *v);
      }
    }
    uint64_t offset = 0, length = m->size();
    int status = 200;
    if (r_.part_number.has_value()) {
      // ?partNumber=N: that part of a multipart object (a single-part object has part 1 only).
      if (FindHeader(req_.headers, "range") != nullptr) {
        return S3Status(S3ErrorCode::kInvalidRequest,
                        "Cannot specify both Range header and partNumber query parameter");
      }
      const bool multipart = absl::StrContains(m->etag(), "-");
      const int count = multipart ? std::max(m->parts_size(), 1) : 1;
      if (*r_.part_number > count) return S3Status(S3ErrorCode::kInvalidPartNumber);
      if (multipart && m->size() > 0) {
        offset = 0;
        for (int i = 0; i + 1 < *r_.part_number; ++i) offset += m->parts(i).size();
        length = m->parts(*r_.part_number - 1).size();
        status = 206;
        h.emplace_back("Content-Range",
                       absl::StrCat("bytes ", offset, "-", offset + length - 1, "/", m->size()));
      }
      if (multipart && m->parts_size() <= 1) {
        h.emplace_back("x-amz-mp-parts-count", absl::StrCat(count));
      }
    } else if (const std::string* range = FindHeader(req_.headers, "range")) {
      absl::StatusOr<std::optional<ByteRange>> br = ParseRange(*range, m->size());
      if (!br.ok()) return br.status();
      if (br->has_value()) {
        offset = (*br)->first;
        length = (*br)->length();
        status = 206;
        h.emplace_back("Content-Range", (*br)->ContentRange(m->size()));
      }
    }
    if (absl::Status s = out_->StartBody(status, std::move(h), length); !s.ok()) return s;
    if (head || length == 0) return out_->EndBody();
    absl::Status read = g_->reader_.Read(
        *m, offset, length, [&](absl::string_view piece) { return out_->WriteBody(piece); });
    if (!read.ok()) {
      TESSERA_LOG(WARNING, "s3_get_failed_mid_body").Field("status", read);
      return read;  // the connection is closed: the client sees a short body
    }
    return out_->EndBody();
  }

  absl::Status DeleteObject() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    if (absl::Status s = g_->objects_->DeleteObject(r_.bucket, r_.key); !s.ok()) return s;
    return SendEmpty(204);
  }

  absl::Status DeleteObjects() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    absl::StatusOr<std::string> body = SmallBody();
    if (!body.ok()) return body.status();
    absl::StatusOr<DeleteRequest> dr = ParseDeleteRequest(*body);
    if (!dr.ok()) return dr.status();
    std::vector<DeletedEntry> deleted;
    std::vector<DeleteErrorEntry> errors;
    for (const DeleteRequest::Object& o : dr->objects) {
      absl::Status s = g_->objects_->DeleteObject(r_.bucket, o.key);
      if (s.ok()) {
        deleted.push_back({o.key, o.version_id});
      } else {
        const S3ErrorInfo& info = GetErrorInfo(CodeForDataPath(s, false));
        errors.push_back({o.key, std::string(info.name), std::string(info.default_message)});
      }
    }
    return SendXml(200, WriteDeleteResult(deleted, errors, dr->quiet));
  }

  // The source of a copy, with its x-amz-copy-source-if-* conditions checked.
  absl::StatusOr<v1::ObjectManifest> CopySourceManifest() {
    absl::StatusOr<CopySource> src = ParseCopySource(HeaderOr(req_.headers, "x-amz-copy-source"));
    if (!src.ok()) return src.status();
    if (!src->version_id.empty()) {
      return S3Status(S3ErrorCode::kNotImplemented, "versioned copy sources");
    }
    absl::StatusOr<v1::BucketRecord> sb = Authorize(src->bucket, Access::kRead);
    if (!sb.ok()) return sb.status();
    absl::StatusOr<v1::ObjectManifest> m = g_->objects_->HeadObject(src->bucket, src->key);
    if (!m.ok()) {
      if (Definite(m.status()) && absl::IsNotFound(m.status())) {
        return S3Status(S3ErrorCode::kNoSuchKey);
      }
      return m.status();
    }
    Headers cond;
    for (const auto& [k, v] : req_.headers) {
      if (absl::StartsWithIgnoreCase(k, "x-amz-copy-source-if-")) {
        cond.emplace_back(absl::StrCat("if-", k.substr(21)), v);
      }
    }
    // Evaluated as for a GET (so x-amz-copy-source-if-modified-since counts), but every failed
    // condition is 412 PreconditionFailed for a copy.
    const ConditionResult c =
        EvaluateConditions(ParseConditionalHeaders(cond), m->etag(), ModifiedTime(*m), true);
    if (c != ConditionResult::kProceed) return S3Status(S3ErrorCode::kPreconditionFailed);
    return m;
  }

  absl::Status CopyObject() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    absl::StatusOr<v1::ObjectManifest> src = CopySourceManifest();
    if (!src.ok()) return src.status();
    const std::string directive =
        absl::AsciiStrToUpper(HeaderOr(req_.headers, "x-amz-metadata-directive", "COPY"));
    if (directive != "COPY" && directive != "REPLACE") {
      return S3Status(S3ErrorCode::kInvalidArgument, "Unknown metadata directive.");
    }
    PutObjectOptions o;
    if (directive == "REPLACE") {
      MetadataFromRequest(&o);
    } else {
      if (src->bucket() == r_.bucket && src->key() == r_.key) {
        return S3Status(S3ErrorCode::kInvalidRequest,
                        "This copy request is illegal because it is trying to copy an object to "
                        "itself without changing the object's metadata.");
      }
      o.content_type = src->content_type();
      o.user_metadata = {src->user_metadata().begin(), src->user_metadata().end()};
      o.headers = {src->headers().begin(), src->headers().end()};
      o.owner = auth_.user_id;
    }
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer =
        g_->objects_->PutObject(r_.bucket, r_.key, o);
    if (!writer.ok()) return writer.status();
    absl::Status read = g_->reader_.Read(
        *src, 0, src->size(), [&](absl::string_view piece) { return (*writer)->Write(piece); });
    if (!read.ok()) {
      (*writer)->Abort();
      return read;
    }
    if (directive == "COPY") {
      (*writer)->set_checksums({src->checksums().begin(), src->checksums().end()});
    }
    absl::StatusOr<v1::ObjectManifest> m = (*writer)->Finish();
    if (!m.ok()) return m.status();
    return SendXml(200, WriteCopyObjectResult(m->etag(), ModifiedTime(*m)));
  }

  // --- multipart --------------------------------------------------------------------------
  absl::Status CreateUpload() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    PutObjectOptions o;
    MetadataFromRequest(&o);
    if (absl::Status s = CheckMetadataSize(o); !s.ok()) return s;
    v1::ObjectManifest base;
    base.set_content_type(o.content_type);
    for (const auto& [k, v] : o.user_metadata) (*base.mutable_user_metadata())[k] = v;
    for (const auto& [k, v] : o.headers) (*base.mutable_headers())[k] = v;
    base.set_owner(o.owner);
    absl::StatusOr<UploadInfo> up = g_->uploads_->Create(r_.bucket, r_.key, std::move(base));
    if (!up.ok()) return up.status();
    return SendXml(200, WriteInitiateMultipartUploadResult(r_.bucket, r_.key, up->upload_id));
  }

  absl::Status UploadPart(bool copy) {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    const int n = r_.part_number.value_or(0);
    if (n < 1 || n > 10000) {
      return S3Status(S3ErrorCode::kInvalidArgument,
                      "Part number must be an integer between 1 and 10000, inclusive");
    }
    absl::StatusOr<UploadInfo> up = g_->uploads_->Get(r_.bucket, r_.key, r_.upload_id);
    if (!up.ok()) return up.status();
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = g_->uploads_->PartWriter(*up, n);
    if (!writer.ok()) return writer.status();
    std::map<std::string, std::string> checksums;
    std::optional<v1::ObjectManifest> src;
    if (copy) {
      absl::StatusOr<v1::ObjectManifest> m = CopySourceManifest();
      if (!m.ok()) return m.status();
      src = *m;
      uint64_t offset = 0, length = m->size();
      if (const std::string* range = FindHeader(req_.headers, "x-amz-copy-source-range")) {
        uint64_t first = 0, last = 0;
        std::vector<std::string> ab = absl::StrSplit(absl::StripPrefix(*range, "bytes="), '-');
        if (!absl::StartsWith(*range, "bytes=") || ab.size() != 2 ||
            !absl::SimpleAtoi(ab[0], &first) || !absl::SimpleAtoi(ab[1], &last) || last < first) {
          return S3Status(S3ErrorCode::kInvalidArgument,
                          "The x-amz-copy-source-range value must be of the form bytes=first-last "
                          "where first and last are the zero-based offsets of the first and last "
                          "bytes to copy");
        }
        if (last >= m->size()) {
          return S3Status(S3ErrorCode::kInvalidRange,
                          "The x-amz-copy-source-range is past the end of the source object");
        }
        offset = first;
        length = last - first + 1;
      }
      absl::Status read = g_->reader_.Read(
          *m, offset, length, [&](absl::string_view piece) { return (*writer)->Write(piece); });
      if (!read.ok()) {
        (*writer)->Abort();
        return read;
      }
    } else {
      Payload p(body_, auth_, req_.headers, g_->options_.read_piece_bytes);
      if (absl::Status s = StreamInto(writer->get(), &p); !s.ok()) {
        (*writer)->Abort();
        return s;
      }
      checksums = p.checksums();
    }
    absl::StatusOr<v1::PartRecord> part = (*writer)->FinishPart();
    if (!part.ok()) return part.status();
    const std::string etag = SinglePartETag(part->md5());
    if (absl::Status s = g_->uploads_->CommitPart(*up, *part, checksums); !s.ok()) return s;
    if (copy) return SendXml(200, WriteCopyPartResult(etag, g_->clock_->Now()));
    Headers h = ChecksumHeaders(checksums);
    h.emplace_back("ETag", etag);
    return SendEmpty(200, std::move(h));
  }

  absl::Status CompleteUpload() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    absl::StatusOr<std::string> body = SmallBody();
    if (!body.ok()) return body.status();
    absl::StatusOr<std::vector<CompletedPart>> parts = ParseCompleteMultipartUpload(*body);
    if (!parts.ok()) return parts.status();
    if (absl::Status s = CheckWriteConditions(); !s.ok()) return s;
    std::vector<ChosenPart> chosen;
    for (const CompletedPart& p : *parts) {
      absl::StatusOr<std::string> md5 = ParsePartETag(p.etag);
      if (!md5.ok()) return S3Status(S3ErrorCode::kInvalidPart, "bad part ETag");
      chosen.push_back({p.part_number, *md5});
    }
    CompleteError why = CompleteError::kNone;
    absl::StatusOr<v1::ObjectManifest> m =
        g_->uploads_->Complete(r_.bucket, r_.key, r_.upload_id, chosen, &why, WriteCondition());
    if (!m.ok()) {
      if (!Definite(m.status())) return m.status();  // 500: the object may have been made
      if (IsConditionNotMet(m.status()) || absl::IsNotFound(m.status())) {
        return CommitConditionStatus(m.status());  // 412, 404 NoSuchKey, or NoSuchUpload as is
      }
      switch (why) {
        case CompleteError::kInvalidPart:
          return S3Status(S3ErrorCode::kInvalidPart, m.status().message());
        case CompleteError::kInvalidPartOrder:
          return S3Status(S3ErrorCode::kInvalidPartOrder, m.status().message());
        case CompleteError::kEntityTooSmall:
          return S3Status(S3ErrorCode::kEntityTooSmall, m.status().message());
        default:
          return m.status();
      }
    }
    CompleteMultipartUploadResult res;
    res.location = absl::StrCat("/", r_.bucket, "/", r_.key);
    res.bucket = r_.bucket;
    res.key = r_.key;
    res.etag = m->etag();
    return SendXml(200, WriteCompleteMultipartUploadResult(res));
  }

  absl::Status AbortUpload() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    if (absl::Status s = g_->uploads_->Abort(r_.bucket, r_.key, r_.upload_id); !s.ok()) return s;
    return SendEmpty(204);
  }

  absl::Status ListParts() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    absl::StatusOr<UploadInfo> up = g_->uploads_->Get(r_.bucket, r_.key, r_.upload_id);
    if (!up.ok()) return up.status();
    ListPartsResult res;
    res.bucket = r_.bucket;
    res.key = r_.key;
    res.upload_id = r_.upload_id;
    res.initiator = res.owner = OwnerOf(up->record.owner());
    int max_parts = 1000;
    if (const std::string* m = Query("max-parts")) (void)absl::SimpleAtoi(*m, &max_parts);
    if (const std::string* m = Query("part-number-marker")) {
      (void)absl::SimpleAtoi(*m, &res.part_number_marker);
    }
    res.max_parts = max_parts;
    for (const v1::PartRecord& p : up->record.parts()) {
      const int n = MultipartUploads::S3PartNumber(p);
      if (n <= res.part_number_marker) continue;
      if (static_cast<int>(res.parts.size()) >= max_parts) {
        res.is_truncated = true;
        break;
      }
      PartEntry e;
      e.part_number = n;
      e.last_modified = ModifiedTime(up->record);
      e.etag = SinglePartETag(p.md5());
      e.size = p.size();
      for (const auto& [alg, v] : MultipartUploads::PartChecksums(up->record, n)) {
        if (alg == "CRC32") e.checksums.crc32 = v;
        if (alg == "CRC32C") e.checksums.crc32c = v;
        if (alg == "CRC64NVME") e.checksums.crc64nvme = v;
        if (alg == "SHA1") e.checksums.sha1 = v;
        if (alg == "SHA256") e.checksums.sha256 = v;
      }
      res.parts.push_back(e);
      res.next_part_number_marker = n;
    }
    return SendXml(200, WriteListPartsResult(res));
  }

  absl::Status ListUploads() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    ListMultipartUploadsResult res;
    res.bucket = r_.bucket;
    auto q = [&](absl::string_view n) { return Query(n) ? *Query(n) : std::string(); };
    res.prefix = q("prefix");
    res.key_marker = q("key-marker");
    res.upload_id_marker = q("upload-id-marker");
    int max = 1000;
    if (const std::string* m = Query("max-uploads")) (void)absl::SimpleAtoi(*m, &max);
    res.max_uploads = max;
    bool truncated = false;
    absl::StatusOr<std::vector<UploadInfo>> ups = g_->uploads_->List(
        r_.bucket, res.prefix, res.key_marker, res.upload_id_marker, max, &truncated);
    if (!ups.ok()) return ups.status();
    for (const UploadInfo& u : *ups) {
      UploadEntry e;
      e.key = u.key;
      e.upload_id = u.upload_id;
      e.initiator = e.owner = OwnerOf(u.record.owner());
      e.initiated = absl::FromUnixMicros(u.record.created_unix_micros());
      res.uploads.push_back(e);
    }
    res.is_truncated = truncated;
    if (truncated && !ups->empty()) {
      res.next_key_marker = ups->back().key;
      res.next_upload_id_marker = ups->back().upload_id;
    }
    return SendXml(200, WriteListMultipartUploadsResult(res));
  }

  S3Gateway* g_;
  const HttpServerRequest& req_;
  HttpBodyReader* body_;
  HttpResponseWriter* out_;
  S3Request r_;
  AuthResult auth_;
  std::string resource_;
};

S3Gateway::S3Gateway(S3GatewayOptions options, ObjectService* objects, MultipartUploads* uploads,
                     ManifestStore* store, const DataPathDeps& deps,
                     const CredentialStore* credentials, Clock* clock)
    : options_(std::move(options)),
      objects_(objects),
      uploads_(uploads),
      store_(store),
      deps_(deps),
      reader_(deps, nullptr),
      verifier_(
          credentials, clock,
          VerifierOptions{options_.region, "s3", absl::Minutes(15), /*allow_anonymous=*/true}),
      clock_(clock) {}

void S3Gateway::Handle(const HttpServerRequest& request, HttpBodyReader* body,
                       HttpResponseWriter* out) {
  Call(this, request, body, out).Run();
}

}  // namespace tessera::services::s3
