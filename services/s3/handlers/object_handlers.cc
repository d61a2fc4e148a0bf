// Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "base/logging.h"
#include "base/status_reasons.h"
#include "services/s3/checksum/checksum.h"
#include "services/s3/errors/errors.h"
#include "services/s3/handlers/error_mapping.h"
#include "services/s3/handlers/handlers.h"
#include "services/s3/handlers/request_context.h"

namespace tessera::services::s3 {
namespace {

class ObjectHandlers : public RequestContext {
 public:
  explicit ObjectHandlers(const RequestContext& context) : RequestContext(context) {}

  absl::Status PutObject() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    if (absl::Status s = CheckWriteConditions(); !s.ok()) return s;
    PutObjectOptions o;
    MetadataFromRequest(&o);
    o.condition = WriteCondition();
    if (absl::Status s = CheckMetadataSize(o); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer =
        g_.objects->PutObject(r_.bucket, r_.key, o);
    if (!writer.ok()) return writer.status();
    std::map<std::string, std::string> checksums;
    if (absl::Status s = StreamInto(writer->get(), &checksums); !s.ok()) {
      (*writer)->Abort();
      return s;
    }
    (*writer)->set_checksums(checksums);
    absl::StatusOr<v1::ObjectManifest> m = (*writer)->Finish();
    if (!m.ok()) return CommitConditionStatus(m.status());
    Headers h = ChecksumHeaders(checksums);
    h.emplace_back("ETag", m->etag());
    return SendEmpty(200, std::move(h));
  }

  absl::Status GetObject(bool head) {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kRead);
    if (!b.ok()) return b.status();
    absl::StatusOr<v1::ObjectManifest> m = g_.objects->HeadObject(r_.bucket, r_.key);
    if (!m.ok()) {
      if (Definite(m.status()) && absl::IsNotFound(m.status()) && !IsNoSuchBucket(m.status())) {
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
    absl::Status read = g_.reader.Read(
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
    if (absl::Status s = g_.objects->DeleteObject(r_.bucket, r_.key); !s.ok()) return s;
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
      absl::Status s = g_.objects->DeleteObject(r_.bucket, o.key);
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
        g_.objects->PutObject(r_.bucket, r_.key, o);
    if (!writer.ok()) return writer.status();
    absl::Status read = g_.reader.Read(
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
};

}  // namespace

absl::Status HandleObjectRequest(const RequestContext& context) {
  ObjectHandlers h(context);
  switch (h.op()) {
    case S3Operation::kPutObject:
      return h.PutObject();
    case S3Operation::kGetObject:
      return h.GetObject(false);
    case S3Operation::kHeadObject:
      return h.GetObject(true);
    case S3Operation::kDeleteObject:
      return h.DeleteObject();
    case S3Operation::kDeleteObjects:
      return h.DeleteObjects();
    case S3Operation::kCopyObject:
      return h.CopyObject();
    default:
      return absl::InternalError("not a object operation");
  }
}

}  // namespace tessera::services::s3
