// S3 XML bodies (namespace http://s3.amazonaws.com/doc/2006-03-01/) through pugixml: response
// writers and request parsers. Writers return a complete document starting with
// <?xml version="1.0" encoding="UTF-8"?>; text is escaped by pugixml; times are ISO 8601 with
// milliseconds ("2009-10-12T17:50:30.000Z"). Parsers accept the documented request bodies and
// return an S3 MalformedXML error for anything not well-formed or not of the expected shape.
// Stateless functions; thread-safe. Callers bound request body sizes before parsing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace tessera::services::s3 {

inline constexpr absl::string_view kS3XmlNamespace = "http://s3.amazonaws.com/doc/2006-03-01/";

// "2009-10-12T17:50:30.000Z".
std::string FormatIso8601(absl::Time t);

// Percent-encoding used for encoding-type=url (every byte but A-Z a-z 0-9 - . _ ~ and '/').
std::string UrlEncodeForListing(absl::string_view s);

struct Owner {
  std::string id;
  std::string display_name;
};

// --- Responses ---------------------------------------------------------------------------------

struct ErrorBody {
  std::string code;
  std::string message;
  std::string resource;
  std::string request_id;
};
std::string WriteError(const ErrorBody& error);

struct BucketEntry {
  std::string name;
  absl::Time creation_date;
};
std::string WriteListAllMyBuckets(const Owner& owner, const std::vector<BucketEntry>& buckets);

struct ObjectEntry {
  std::string key;
  absl::Time last_modified;
  std::string etag;  // quoted, as stored
  uint64_t size = 0;
  std::string storage_class = "STANDARD";
  std::optional<Owner> owner;  // v1 always, v2 with fetch-owner=true
};

struct ListBucketResult {
  bool v2 = false;
  std::string name;
  std::string prefix;
  std::string delimiter;
  int max_keys = 1000;
  bool is_truncated = false;
  bool url_encode = false;  // encoding-type=url
  // v1
  std::string marker;
  std::string next_marker;
  // v2
  std::string continuation_token;
  std::string next_continuation_token;
  std::string start_after;
  std::vector<ObjectEntry> contents;
  std::vector<std::string> common_prefixes;
};
std::string WriteListBucketResult(const ListBucketResult& result);

// GetBucketLocation: empty for us-east-1, as AWS answers.
std::string WriteLocationConstraint(absl::string_view region);

struct DeletedEntry {
  std::string key;
  std::string version_id;
};
struct DeleteErrorEntry {
  std::string key;
  std::string code;
  std::string message;
};
// In quiet mode only errors are listed (pass quiet = true to drop `deleted`).
std::string WriteDeleteResult(const std::vector<DeletedEntry>& deleted,
                              const std::vector<DeleteErrorEntry>& errors, bool quiet);

std::string WriteInitiateMultipartUploadResult(absl::string_view bucket, absl::string_view key,
                                               absl::string_view upload_id);

struct ChecksumFields {
  std::string crc32, crc32c, crc64nvme, sha1, sha256;  // base64; empty = absent
};

struct CompleteMultipartUploadResult {
  std::string location;
  std::string bucket;
  std::string key;
  std::string etag;
  ChecksumFields checksums;
};
std::string WriteCompleteMultipartUploadResult(const CompleteMultipartUploadResult& r);

struct PartEntry {
  int part_number = 0;
  absl::Time last_modified;
  std::string etag;
  uint64_t size = 0;
  ChecksumFields checksums;
};
struct ListPartsResult {
  std::string bucket;
  std::string key;
  std::string upload_id;
  int part_number_marker = 0;
  int next_part_number_marker = 0;
  int max_parts = 1000;
  bool is_truncated = false;
  Owner initiator;
  Owner owner;
  std::string storage_class = "STANDARD";
  std::vector<PartEntry> parts;
};
std::string WriteListPartsResult(const ListPartsResult& r);

struct UploadEntry {
  std::string key;
  std::string upload_id;
  Owner initiator;
  Owner owner;
  std::string storage_class = "STANDARD";
  absl::Time initiated;
};
struct ListMultipartUploadsResult {
  std::string bucket;
  std::string key_marker;
  std::string upload_id_marker;
  std::string next_key_marker;
  std::string next_upload_id_marker;
  std::string prefix;
  std::string delimiter;
  int max_uploads = 1000;
  bool is_truncated = false;
  bool url_encode = false;
  std::vector<UploadEntry> uploads;
  std::vector<std::string> common_prefixes;
};
std::string WriteListMultipartUploadsResult(const ListMultipartUploadsResult& r);

std::string WriteCopyObjectResult(absl::string_view etag, absl::Time last_modified);
std::string WriteCopyPartResult(absl::string_view etag, absl::Time last_modified);

// --- Requests ----------------------------------------------------------------------------------

// CreateBucket body: the LocationConstraint ("" if the body is empty or has none).
[[nodiscard]] absl::StatusOr<std::string> ParseCreateBucketConfiguration(absl::string_view body);

struct DeleteRequest {
  bool quiet = false;
  struct Object {
    std::string key;
    std::string version_id;
  };
  std::vector<Object> objects;  // 1..1000
};
[[nodiscard]] absl::StatusOr<DeleteRequest> ParseDeleteRequest(absl::string_view body);

struct CompletedPart {
  int part_number = 0;
  std::string etag;
  ChecksumFields checksums;
};
// Parts as listed (1..10000 of them, part numbers 1..10000). Order is not checked here: the
// caller reports InvalidPartOrder against its own rules.
[[nodiscard]] absl::StatusOr<std::vector<CompletedPart>> ParseCompleteMultipartUpload(
    absl::string_view body);

}  // namespace tessera::services::s3
