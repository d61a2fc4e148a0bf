#include "services/s3/handlers/request_context.h"

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_reasons.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/errors/errors.h"
#include "services/s3/handlers/error_mapping.h"

namespace tessera::services::s3 {

absl::Time ModifiedTime(const v1::ObjectManifest& m) {
  return absl::FromUnixSeconds(m.created_unix_micros() / 1000000);
}

absl::Status NextPayload(HttpBodyReader* body, PayloadVerifier* verifier, size_t piece,
                         std::string* out) {
  out->clear();
  while (out->empty()) {
    if (absl::Status s = body->Read(piece, out); !s.ok()) return s;
    if (out->empty()) return absl::OkStatus();
    if (absl::Status s = verifier->Feed(out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RequestContext::SendXml(int status, std::string xml, Headers extra) {
  HttpServerResponse res;
  res.status = status;
  res.headers = std::move(extra);
  res.headers.emplace_back("Content-Type", "application/xml");
  res.body = std::move(xml);
  return out_->Send(std::move(res));
}

absl::Status RequestContext::SendEmpty(int status, Headers headers) {
  HttpServerResponse res;
  res.status = status;
  res.headers = std::move(headers);
  return out_->Send(std::move(res));
}

absl::StatusOr<std::string> RequestContext::SmallBody() {
  absl::StatusOr<std::unique_ptr<PayloadVerifier>> p = PayloadVerifier::Create(auth_, req_.headers);
  if (!p.ok()) return p.status();
  std::string all, piece;
  while (true) {
    if (absl::Status s = NextPayload(body_, p->get(), 64 << 10, &piece); !s.ok()) return s;
    if (piece.empty()) break;
    all += piece;
    if (all.size() > g_.options.max_xml_body_bytes) {
      return S3Status(S3ErrorCode::kMalformedXML, "request body too large");
    }
  }
  if (absl::Status s = (*p)->Finish(); !s.ok()) return s;
  return all;
}

Principal RequestContext::Caller() const {
  return auth_.anonymous ? Principal::Anonymous() : Principal::User(auth_.user_id);
}

absl::StatusOr<v1::BucketRecord> RequestContext::Authorize(const std::string& bucket,
                                                           Access access) {
  absl::StatusOr<v1::BucketRecord> b = g_.objects->Authorize(Caller(), bucket, access);
  if (b.ok()) return b;
  if (!Definite(b.status())) return b.status();
  if (absl::IsNotFound(b.status())) return S3Status(S3ErrorCode::kNoSuchBucket);
  if (absl::IsPermissionDenied(b.status())) return S3Status(S3ErrorCode::kAccessDenied);
  return b.status();
}

absl::Status RequestContext::RequireUser() {
  if (auth_.anonymous) return S3Status(S3ErrorCode::kAccessDenied);
  return absl::OkStatus();
}

void RequestContext::MetadataFromRequest(PutObjectOptions* o) {
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

absl::Status RequestContext::CheckMetadataSize(const PutObjectOptions& o) {
  size_t n = 0;
  for (const auto& [k, v] : o.user_metadata) n += k.size() + v.size();
  if (n > 2048) return S3Status(S3ErrorCode::kMetadataTooLarge);
  return absl::OkStatus();
}

absl::Status RequestContext::StreamInto(ObjectWriter* writer,
                                        std::map<std::string, std::string>* checksums) {
  absl::StatusOr<std::unique_ptr<PayloadVerifier>> p = PayloadVerifier::Create(
      auth_, req_.headers, {.max_decoded_bytes = g_.options.max_object_bytes});
  if (!p.ok()) return p.status();
  writer->UseCallerMd5();
  std::string piece;
  while (true) {
    if (absl::Status s = NextPayload(body_, p->get(), g_.options.read_piece_bytes, &piece);
        !s.ok()) {
      return s;
    }
    if (piece.empty()) break;
    if (absl::Status s = writer->Write(piece); !s.ok()) return s;
  }
  if (absl::Status s = (*p)->Finish(); !s.ok()) return s;
  writer->SetPlaintextMd5((*p)->md5());
  *checksums = (*p)->checksums();
  return absl::OkStatus();
}

Headers RequestContext::ChecksumHeaders(const std::map<std::string, std::string>& checksums) {
  Headers h;
  for (const auto& [alg, v] : checksums) {
    if (std::optional<ChecksumAlgorithm> a = ChecksumAlgorithmFromName(alg)) {
      h.emplace_back(std::string(ChecksumHeaderName(*a)), v);
    }
  }
  return h;
}

CommitCondition RequestContext::WriteCondition() const {
  CommitCondition c;
  c.if_none_match = FindHeader(req_.headers, "if-none-match") != nullptr;
  if (const std::string* match = FindHeader(req_.headers, "if-match")) c.if_match = *match;
  return c;
}

absl::Status RequestContext::CommitConditionStatus(const absl::Status& s) {
  if (!Definite(s)) return s;
  if (IsConditionNotMet(s)) {
    return S3Status(S3ErrorCode::kPreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold");
  }
  if (IsNoSuchKey(s)) {
    return S3Status(S3ErrorCode::kNoSuchKey);
  }
  return s;
}

absl::Status RequestContext::CheckWriteConditions() {
  const std::string* none_match = FindHeader(req_.headers, "if-none-match");
  const std::string* match = FindHeader(req_.headers, "if-match");
  if (none_match == nullptr && match == nullptr) return absl::OkStatus();
  if (none_match != nullptr && absl::StripAsciiWhitespace(*none_match) != "*") {
    return S3Status(S3ErrorCode::kNotImplemented,
                    "If-None-Match on writes supports only the value *");
  }
  absl::StatusOr<v1::ObjectManifest> m = g_.objects->HeadObject(r_.bucket, r_.key);
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

absl::StatusOr<v1::ObjectManifest> RequestContext::CopySourceManifest() {
  absl::StatusOr<CopySource> src = ParseCopySource(HeaderOr(req_.headers, "x-amz-copy-source"));
  if (!src.ok()) return src.status();
  if (!src->version_id.empty()) {
    return S3Status(S3ErrorCode::kNotImplemented, "versioned copy sources");
  }
  absl::StatusOr<v1::BucketRecord> sb = Authorize(src->bucket, Access::kRead);
  if (!sb.ok()) return sb.status();
  absl::StatusOr<v1::ObjectManifest> m = g_.objects->HeadObject(src->bucket, src->key);
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

}  // namespace tessera::services::s3
