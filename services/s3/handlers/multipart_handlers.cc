// Multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts, ListMultipartUploads.
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
#include "services/s3/checksum/checksum.h"
#include "services/s3/errors/errors.h"
#include "services/s3/handlers/error_mapping.h"
#include "services/s3/handlers/handlers.h"
#include "services/s3/handlers/request_context.h"

namespace tessera::services::s3 {
namespace {

class MultipartHandlers : public RequestContext {
 public:
  explicit MultipartHandlers(const RequestContext& context) : RequestContext(context) {}

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
    absl::StatusOr<UploadInfo> up = g_.uploads->Create(r_.bucket, r_.key, std::move(base));
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
    absl::StatusOr<UploadInfo> up = g_.uploads->Get(r_.bucket, r_.key, r_.upload_id);
    if (!up.ok()) return up.status();
    absl::StatusOr<std::unique_ptr<ObjectWriter>> writer = g_.uploads->PartWriter(*up, n);
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
      absl::Status read = g_.reader.Read(
          *m, offset, length, [&](absl::string_view piece) { return (*writer)->Write(piece); });
      if (!read.ok()) {
        (*writer)->Abort();
        return read;
      }
    } else {
      if (absl::Status s = StreamInto(writer->get(), &checksums); !s.ok()) {
        (*writer)->Abort();
        return s;
      }
    }
    absl::StatusOr<v1::PartRecord> part = (*writer)->FinishPart();
    if (!part.ok()) return part.status();
    const std::string etag = SinglePartETag(part->md5());
    if (absl::Status s = g_.uploads->CommitPart(*up, *part, checksums); !s.ok()) return s;
    if (copy) return SendXml(200, WriteCopyPartResult(etag, g_.clock->Now()));
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
        g_.uploads->Complete(r_.bucket, r_.key, r_.upload_id, chosen, &why, WriteCondition());
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
    if (absl::Status s = g_.uploads->Abort(r_.bucket, r_.key, r_.upload_id); !s.ok()) return s;
    return SendEmpty(204);
  }

  absl::Status ListParts() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    absl::StatusOr<UploadInfo> up = g_.uploads->Get(r_.bucket, r_.key, r_.upload_id);
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
    absl::StatusOr<std::vector<UploadInfo>> ups = g_.uploads->List(
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
};

}  // namespace

absl::Status HandleMultipartRequest(const RequestContext& context) {
  MultipartHandlers h(context);
  switch (h.op()) {
    case S3Operation::kCreateMultipartUpload:
      return h.CreateUpload();
    case S3Operation::kUploadPart:
      return h.UploadPart(false);
    case S3Operation::kUploadPartCopy:
      return h.UploadPart(true);
    case S3Operation::kCompleteMultipartUpload:
      return h.CompleteUpload();
    case S3Operation::kAbortMultipartUpload:
      return h.AbortUpload();
    case S3Operation::kListParts:
      return h.ListParts();
    case S3Operation::kListMultipartUploads:
      return h.ListUploads();
    default:
      return absl::InternalError("not a multipart operation");
  }
}

}  // namespace tessera::services::s3
