#include "services/s3/request/request.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/utf8.h"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

using Op = S3Operation;

// Subresources S3 defines that this gateway does not implement: requests naming them get
// NotImplemented rather than being mistaken for a plain object or bucket operation.
constexpr absl::string_view kUnsupportedSubresources[] = {
    "accelerate",     "analytics",         "attributes",
    "cors",           "encryption",        "intelligent-tiering",
    "inventory",      "legal-hold",        "lifecycle",
    "logging",        "metrics",           "notification",
    "object-lock",    "ownershipControls", "policy",
    "policyStatus",   "publicAccessBlock", "replication",
    "requestPayment", "restore",           "retention",
    "select",         "session",           "tagging",
    "torrent",        "versioning",        "versions",
    "website",
};

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool Decode(absl::string_view s, std::string* out) {
  out->clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out->push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = HexValue(s[i + 1]), lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

bool HasParam(const HeaderList& q, absl::string_view name) {
  return std::any_of(q.begin(), q.end(), [&](const auto& p) { return p.first == name; });
}

// Host without port; IPv6 literals keep their brackets.
std::string HostName(absl::string_view host) {
  host = absl::StripAsciiWhitespace(host);
  if (!host.empty() && host[0] == '[') {
    size_t close = host.find(']');
    return std::string(host.substr(0, close == absl::string_view::npos ? host.size() : close + 1));
  }
  size_t colon = host.rfind(':');
  if (colon != absl::string_view::npos) host = host.substr(0, colon);
  return absl::AsciiStrToLower(host);
}

absl::Status NotImplemented(absl::string_view what) {
  return S3Status(S3ErrorCode::kNotImplemented, what);
}

bool AllDigits(absl::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
}

std::string NormalizeETag(absl::string_view e) {
  e = absl::StripAsciiWhitespace(e);
  absl::ConsumePrefix(&e, "W/");
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return std::string(e);
}

bool ETagListMatches(absl::string_view list, absl::string_view etag) {
  std::string want = NormalizeETag(etag);
  for (absl::string_view candidate : absl::StrSplit(list, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (candidate == "*") return true;
    if (NormalizeETag(candidate) == want) return true;
  }
  return false;
}

}  // namespace

absl::string_view OperationName(S3Operation op) {
  static constexpr absl::string_view kNames[] = {
      "ListBuckets",
      "CreateBucket",
      "DeleteBucket",
      "HeadBucket",
      "ListObjects",
      "ListObjectsV2",
      "GetBucketLocation",
      "GetBucketAcl",
      "PutBucketAcl",
      "ListMultipartUploads",
      "DeleteObjects",
      "PutObject",
      "CopyObject",
      "GetObject",
      "HeadObject",
      "DeleteObject",
      "GetObjectAcl",
      "PutObjectAcl",
      "CreateMultipartUpload",
      "UploadPart",
      "UploadPartCopy",
      "CompleteMultipartUpload",
      "AbortMultipartUpload",
      "ListParts",
  };
  return kNames[static_cast<int>(op)];
}

const std::string* S3Request::QueryParam(absl::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return &v;
  }
  return nullptr;
}

bool IsValidBucketName(absl::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!(absl::ascii_islower(static_cast<unsigned char>(c)) ||
          absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-')) {
      return false;
    }
  }
  auto alnum = [](char c) {
    return absl::ascii_islower(static_cast<unsigned char>(c)) ||
           absl::ascii_isdigit(static_cast<unsigned char>(c));
  };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (absl::StrContains(name, "..")) return false;
  // Not formatted as an IPv4 address.
  std::vector<absl::string_view> parts = absl::StrSplit(name, '.');
  if (parts.size() == 4 && std::all_of(parts.begin(), parts.end(), [](absl::string_view p) {
        return AllDigits(p) && p.size() <= 3;
      })) {
    return false;
  }
  for (absl::string_view prefix : {"xn--", "sthree-", "amzn-s3-demo-"}) {
    if (absl::StartsWith(name, prefix)) return false;
  }
  for (absl::string_view suffix : {"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"}) {
    if (absl::EndsWith(name, suffix)) return false;
  }
  return true;
}

std::string VirtualHostedBucket(const HeaderList& headers, const RouterOptions& options) {
  const std::string* host_header = FindHeader(headers, "host");
  const std::string host = host_header ? HostName(*host_header) : "";
  for (const std::string& base : options.base_domains) {
    const std::string suffix = absl::StrCat(".", absl::AsciiStrToLower(base));
    if (host.size() > suffix.size() && absl::EndsWith(host, suffix)) {
      return host.substr(0, host.size() - suffix.size());
    }
  }
  return "";
}

absl::StatusOr<S3Request> RouteRequest(absl::string_view method, absl::string_view target,
                                       const HeaderList& headers, const RouterOptions& options) {
  S3Request req;
  size_t qpos = target.find('?');
  absl::string_view raw_path = target.substr(0, qpos);
  absl::string_view raw_query = qpos == absl::string_view::npos ? "" : target.substr(qpos + 1);
  if (raw_path.empty() || raw_path[0] != '/') {
    return S3Status(S3ErrorCode::kInvalidRequest, "request-target must start with '/'");
  }
  for (absl::string_view part : absl::StrSplit(raw_query, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string k, v;
    if (!Decode(part.substr(0, eq), &k) ||
        !Decode(eq == absl::string_view::npos ? "" : part.substr(eq + 1), &v)) {
      return S3Status(S3ErrorCode::kInvalidArgument, "malformed query string");
    }
    req.query.emplace_back(std::move(k), std::move(v));
  }
  std::string path;
  if (!Decode(raw_path, &path)) {
    return S3Status(S3ErrorCode::kInvalidArgument, "malformed percent-encoding in path");
  }

  req.bucket = VirtualHostedBucket(headers, options);
  req.virtual_hosted = !req.bucket.empty();
  if (req.virtual_hosted) {
    req.key = path.substr(1);
  } else {
    absl::string_view rest = absl::string_view(path).substr(1);
    size_t slash = rest.find('/');
    req.bucket = std::string(rest.substr(0, slash));
    if (slash != absl::string_view::npos) req.key = std::string(rest.substr(slash + 1));
  }
  if (req.key.size() > options.max_key_bytes) return S3Status(S3ErrorCode::kKeyTooLongError);
  // Names and listing parameters are stored or compared as UTF-8 text in the metadata; anything
  // else (overlong forms, lone surrogates, stray bytes) is the client's error, not ours.
  if (!IsValidUtf8(req.bucket) || !IsValidUtf8(req.key)) {
    return S3Status(S3ErrorCode::kInvalidArgument, "The object key is not valid UTF-8");
  }
  for (const auto& [k, v] : req.query) {
    if (!IsValidUtf8(k) || !IsValidUtf8(v)) {
      return S3Status(S3ErrorCode::kInvalidArgument, "A query parameter is not valid UTF-8");
    }
  }

  for (absl::string_view sub : kUnsupportedSubresources) {
    if (HasParam(req.query, sub)) {
      return NotImplemented(absl::StrCat("The ", sub, " subresource is not implemented"));
    }
  }
  const bool has_copy_source = FindHeader(headers, "x-amz-copy-source") != nullptr;
  const bool acl = HasParam(req.query, "acl");
  if (const std::string* id = req.QueryParam("uploadId")) req.upload_id = *id;
  const bool has_upload_id = req.QueryParam("uploadId") != nullptr;
  if (const std::string* pn = req.QueryParam("partNumber")) {
    int n = 0;
    if (!AllDigits(*pn) || !absl::SimpleAtoi(*pn, &n) || n < 1 || n > 10000) {
      return S3Status(S3ErrorCode::kInvalidArgument,
                      "Part number must be an integer between 1 and 10000, inclusive");
    }
    req.part_number = n;
  }

  auto method_not_allowed = [] { return S3Status(S3ErrorCode::kMethodNotAllowed); };
  if (req.bucket.empty()) {
    if (method == "GET") {
      req.op = Op::kListBuckets;
      return req;
    }
    return method_not_allowed();
  }

  if (req.key.empty()) {  // bucket operations
    if (method == "GET") {
      if (HasParam(req.query, "location")) {
        req.op = Op::kGetBucketLocation;
      } else if (acl) {
        req.op = Op::kGetBucketAcl;
      } else if (HasParam(req.query, "uploads")) {
        req.op = Op::kListMultipartUploads;
      } else if (const std::string* lt = req.QueryParam("list-type")) {
        if (*lt != "2") return S3Status(S3ErrorCode::kInvalidArgument, "Invalid list-type");
        req.op = Op::kListObjectsV2;
      } else {
        req.op = Op::kListObjects;
      }
    } else if (method == "PUT") {
      req.op = acl ? Op::kPutBucketAcl : Op::kCreateBucket;
      if (req.op == Op::kCreateBucket && !IsValidBucketName(req.bucket)) {
        return S3Status(S3ErrorCode::kInvalidBucketName);
      }
    } else if (method == "HEAD") {
      req.op = Op::kHeadBucket;
    } else if (method == "DELETE") {
      req.op = Op::kDeleteBucket;
    } else if (method == "POST") {
      if (!HasParam(req.query, "delete")) {
        return NotImplemented("POST object (browser-based upload) is not implemented");
      }
      req.op = Op::kDeleteObjects;
    } else {
      return method_not_allowed();
    }
    return req;
  }

  // Object operations.
  if (method == "PUT") {
    if (has_upload_id || req.part_number) {
      if (!has_upload_id || !req.part_number) {
        return S3Status(S3ErrorCode::kInvalidArgument,
                        "UploadPart needs both partNumber and uploadId");
      }
      req.op = has_copy_source ? Op::kUploadPartCopy : Op::kUploadPart;
    } else if (acl) {
      req.op = Op::kPutObjectAcl;
    } else {
      req.op = has_copy_source ? Op::kCopyObject : Op::kPutObject;
    }
  } else if (method == "GET") {
    req.op = has_upload_id ? Op::kListParts : acl ? Op::kGetObjectAcl : Op::kGetObject;
  } else if (method == "HEAD") {
    req.op = Op::kHeadObject;
  } else if (method == "DELETE") {
    req.op = has_upload_id ? Op::kAbortMultipartUpload : Op::kDeleteObject;
  } else if (method == "POST") {
    if (HasParam(req.query, "uploads")) {
      req.op = Op::kCreateMultipartUpload;
    } else if (has_upload_id) {
      req.op = Op::kCompleteMultipartUpload;
    } else {
      return NotImplemented("this POST operation is not implemented");
    }
  } else {
    return method_not_allowed();
  }
  return req;
}

absl::StatusOr<CopySource> ParseCopySource(absl::string_view value) {
  absl::string_view raw = value;
  absl::string_view version;
  size_t q = raw.find('?');
  if (q != absl::string_view::npos) {
    absl::string_view query = raw.substr(q + 1);
    raw = raw.substr(0, q);
    if (!absl::ConsumePrefix(&query, "versionId=")) {
      return S3Status(S3ErrorCode::kInvalidArgument, "Invalid copy source");
    }
    version = query;
  }
  std::string decoded;
  if (!Decode(raw, &decoded)) {
    return S3Status(S3ErrorCode::kInvalidArgument, "Invalid copy source encoding");
  }
  absl::string_view d = decoded;
  absl::ConsumePrefix(&d, "/");
  size_t slash = d.find('/');
  if (slash == absl::string_view::npos || slash == 0 || slash + 1 == d.size()) {
    return S3Status(S3ErrorCode::kInvalidArgument,
                    "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
  }
  CopySource out{std::string(d.substr(0, slash)), std::string(d.substr(slash + 1)), ""};
  if (!Decode(version, &out.version_id)) {
    return S3Status(S3ErrorCode::kInvalidArgument, "Invalid copy source encoding");
  }
  return out;
}

// --- Range ---------------------------------------------------------------------------------------

std::string ByteRange::ContentRange(uint64_t size) const {
  return absl::StrCat("bytes ", first, "-", last, "/", size);
}

absl::StatusOr<std::optional<ByteRange>> ParseRange(absl::string_view header, uint64_t size) {
  header = absl::StripAsciiWhitespace(header);
  if (!absl::ConsumePrefix(&header, "bytes=")) return std::nullopt;
  if (absl::StrContains(header, ',')) return std::nullopt;  // multiple ranges: whole object
  header = absl::StripAsciiWhitespace(header);
  size_t dash = header.find('-');
  if (dash == absl::string_view::npos) return std::nullopt;
  absl::string_view a = absl::StripAsciiWhitespace(header.substr(0, dash));
  absl::string_view b = absl::StripAsciiWhitespace(header.substr(dash + 1));
  auto invalid = [&] {
    return S3Status(
        S3ErrorCode::kInvalidRange,
        absl::StrCat("The requested range is not satisfiable (object size ", size, ")"));
  };
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    if (!AllDigits(b) || !absl::SimpleAtoi(b, &last)) return std::nullopt;
    if (last == 0 || size == 0) return invalid();
    uint64_t n = std::min(last, size);
    return ByteRange{size - n, size - 1};
  }
  if (!AllDigits(a) || !absl::SimpleAtoi(a, &first)) return std::nullopt;
  if (b.empty()) {
    last = UINT64_MAX;
  } else if (!AllDigits(b) || !absl::SimpleAtoi(b, &last)) {
    return std::nullopt;
  } else if (last < first) {
    return std::nullopt;  // syntactically invalid: ignored (RFC 7233 2.1)
  }
  if (first >= size) return invalid();
  return ByteRange{first, std::min(last, size - 1)};
}

// --- Conditionals --------------------------------------------------------------------------------

std::optional<absl::Time> ParseHttpDate(absl::string_view value) {
  std::string v(absl::StripAsciiWhitespace(value));
  absl::Time t;
  std::string err;
  for (const char* fmt :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    if (absl::ParseTime(fmt, v, absl::UTCTimeZone(), &t, &err)) return t;
  }
  return std::nullopt;
}

std::string FormatHttpDate(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", t, absl::UTCTimeZone());
}

ConditionalHeaders ParseConditionalHeaders(const HeaderList& headers) {
  ConditionalHeaders c;
  if (const std::string* v = FindHeader(headers, "if-match")) c.if_match = *v;
  if (const std::string* v = FindHeader(headers, "if-none-match")) c.if_none_match = *v;
  if (const std::string* v = FindHeader(headers, "if-modified-since")) {
    c.if_modified_since = ParseHttpDate(*v);
  }
  if (const std::string* v = FindHeader(headers, "if-unmodified-since")) {
    c.if_unmodified_since = ParseHttpDate(*v);
  }
  return c;
}

ConditionResult EvaluateConditions(const ConditionalHeaders& c, absl::string_view etag,
                                   absl::Time last_modified, bool is_get_or_head) {
  absl::Time lm = absl::FromUnixSeconds(absl::ToUnixSeconds(last_modified));  // 1 s granularity
  if (c.if_match) {
    if (!ETagListMatches(*c.if_match, etag)) return ConditionResult::kPreconditionFailed;
  } else if (c.if_unmodified_since && lm > *c.if_unmodified_since) {
    return ConditionResult::kPreconditionFailed;
  }
  if (c.if_none_match) {
    if (ETagListMatches(*c.if_none_match, etag)) {
      return is_get_or_head ? ConditionResult::kNotModified : ConditionResult::kPreconditionFailed;
    }
  } else if (c.if_modified_since && is_get_or_head && lm <= *c.if_modified_since) {
    return ConditionResult::kNotModified;
  }
  return ConditionResult::kProceed;
}

absl::Status ConditionStatus(ConditionResult result) {
  switch (result) {
    case ConditionResult::kProceed:
      return absl::OkStatus();
    case ConditionResult::kNotModified:
      return S3Status(S3ErrorCode::kNotModified);
    case ConditionResult::kPreconditionFailed:
      break;
  }
  return S3Status(S3ErrorCode::kPreconditionFailed);
}

}  // namespace tessera::services::s3
