#include "services/s3/xml/s3_xml.h"

#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pugixml.hpp"
#include "services/s3/errors/errors.h"

namespace tessera::services::s3 {
namespace {

constexpr char kHexDigits[] = "0123456789ABCDEF";

class Doc {
 public:
  // A document whose root is <root_name>, with the S3 namespace unless `with_namespace` is false.
  explicit Doc(const char* root_name, bool with_namespace = true) {
    pugi::xml_node decl = doc_.append_child(pugi::node_declaration);
    decl.append_attribute("version") = "1.0";
    decl.append_attribute("encoding") = "UTF-8";
    root_ = doc_.append_child(root_name);
    if (with_namespace) {
      root_.append_attribute("xmlns") = std::string(kS3XmlNamespace).c_str();
    }
  }
  pugi::xml_node root() { return root_; }
  std::string Str() {
    std::ostringstream out;
    doc_.save(out, "", pugi::format_raw, pugi::encoding_utf8);
    return out.str();
  }

 private:
  pugi::xml_document doc_;
  pugi::xml_node root_;
};

void Add(pugi::xml_node parent, const char* name, absl::string_view text) {
  parent.append_child(name).text().set(std::string(text).c_str());
}
void AddIfNotEmpty(pugi::xml_node parent, const char* name, absl::string_view text) {
  if (!text.empty()) Add(parent, name, text);
}
void Add(pugi::xml_node parent, const char* name, uint64_t v) {
  Add(parent, name, absl::StrCat(v));
}
void AddBool(pugi::xml_node parent, const char* name, bool v) {
  Add(parent, name, v ? "true" : "false");
}
void AddOwner(pugi::xml_node parent, const char* name, const Owner& owner) {
  pugi::xml_node o = parent.append_child(name);
  Add(o, "ID", owner.id);
  Add(o, "DisplayName", owner.display_name);
}
void AddChecksums(pugi::xml_node parent, const ChecksumFields& c) {
  AddIfNotEmpty(parent, "ChecksumCRC32", c.crc32);
  AddIfNotEmpty(parent, "ChecksumCRC32C", c.crc32c);
  AddIfNotEmpty(parent, "ChecksumCRC64NVME", c.crc64nvme);
  AddIfNotEmpty(parent, "ChecksumSHA1", c.sha1);
  AddIfNotEmpty(parent, "ChecksumSHA256", c.sha256);
}

absl::Status Malformed(absl::string_view why = {}) {
  return S3Status(S3ErrorCode::kMalformedXML,
                  why.empty() ? absl::string_view() : absl::string_view(why));
}

// Parses `body`; the root element must be named `root` (any namespace prefix-free form).
absl::Status Load(absl::string_view body, const char* root, pugi::xml_document* doc,
                  pugi::xml_node* out) {
  pugi::xml_parse_result r = doc->load_buffer(
      body.data(), body.size(), pugi::parse_default & ~pugi::parse_doctype, pugi::encoding_utf8);
  if (!r) return Malformed();
  pugi::xml_node node = doc->document_element();
  if (std::string(node.name()) != root) return Malformed();
  // No other top-level elements (pugixml accepts several roots).
  int elements = 0;
  for (pugi::xml_node n : doc->children()) elements += n.type() == pugi::node_element;
  if (elements != 1) return Malformed();
  *out = node;
  return absl::OkStatus();
}

// The element's text if it has only text (or nothing).
bool TextOf(pugi::xml_node n, std::string* out) {
  for (pugi::xml_node c : n.children()) {
    if (c.type() == pugi::node_element) return false;
  }
  *out = n.text().get();
  return true;
}

void ReadChecksums(pugi::xml_node part, ChecksumFields* c) {
  c->crc32 = part.child("ChecksumCRC32").text().get();
  c->crc32c = part.child("ChecksumCRC32C").text().get();
  c->crc64nvme = part.child("ChecksumCRC64NVME").text().get();
  c->sha1 = part.child("ChecksumSHA1").text().get();
  c->sha256 = part.child("ChecksumSHA256").text().get();
}

}  // namespace

std::string FormatIso8601(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

std::string UrlEncodeForListing(absl::string_view s) {
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHexDigits[c >> 4]);
      out.push_back(kHexDigits[c & 15]);
    }
  }
  return out;
}

std::string WriteError(const ErrorBody& e) {
  Doc doc("Error", /*with_namespace=*/false);  // S3 error bodies carry no namespace
  Add(doc.root(), "Code", e.code);
  Add(doc.root(), "Message", e.message);
  AddIfNotEmpty(doc.root(), "Resource", e.resource);
  AddIfNotEmpty(doc.root(), "RequestId", e.request_id);
  return doc.Str();
}

std::string WriteListAllMyBuckets(const Owner& owner, const std::vector<BucketEntry>& buckets) {
  Doc doc("ListAllMyBucketsResult");
  AddOwner(doc.root(), "Owner", owner);
  pugi::xml_node list = doc.root().append_child("Buckets");
  for (const BucketEntry& b : buckets) {
    pugi::xml_node n = list.append_child("Bucket");
    Add(n, "Name", b.name);
    Add(n, "CreationDate", FormatIso8601(b.creation_date));
  }
  return doc.Str();
}

std::string WriteListBucketResult(const ListBucketResult& r) {
  auto enc = [&](absl::string_view s) {
    return r.url_encode ? UrlEncodeForListing(s) : std::string(s);
  };
  Doc doc("ListBucketResult");
  pugi::xml_node root = doc.root();
  Add(root, "Name", r.name);
  Add(root, "Prefix", enc(r.prefix));
  if (r.v2) {
    AddIfNotEmpty(root, "ContinuationToken", r.continuation_token);
    AddIfNotEmpty(root, "NextContinuationToken", r.next_continuation_token);
    AddIfNotEmpty(root, "StartAfter", enc(r.start_after));
    Add(root, "KeyCount", static_cast<uint64_t>(r.contents.size() + r.common_prefixes.size()));
  } else {
    Add(root, "Marker", enc(r.marker));
    AddIfNotEmpty(root, "NextMarker", enc(r.next_marker));
  }
  Add(root, "MaxKeys", static_cast<uint64_t>(r.max_keys < 0 ? 0 : r.max_keys));
  AddIfNotEmpty(root, "Delimiter", enc(r.delimiter));
  if (r.url_encode) Add(root, "EncodingType", "url");
  AddBool(root, "IsTruncated", r.is_truncated);
  for (const ObjectEntry& o : r.contents) {
    pugi::xml_node c = root.append_child("Contents");
    Add(c, "Key", enc(o.key));
    Add(c, "LastModified", FormatIso8601(o.last_modified));
    Add(c, "ETag", o.etag);
    Add(c, "Size", o.size);
    if (o.owner) AddOwner(c, "Owner", *o.owner);
    Add(c, "StorageClass", o.storage_class);
  }
  for (const std::string& p : r.common_prefixes) {
    Add(root.append_child("CommonPrefixes"), "Prefix", enc(p));
  }
  return doc.Str();
}

std::string WriteLocationConstraint(absl::string_view region) {
  Doc doc("LocationConstraint");
  if (region != "us-east-1") doc.root().text().set(std::string(region).c_str());
  return doc.Str();
}

std::string WriteDeleteResult(const std::vector<DeletedEntry>& deleted,
                              const std::vector<DeleteErrorEntry>& errors, bool quiet) {
  Doc doc("DeleteResult");
  if (!quiet) {
    for (const DeletedEntry& d : deleted) {
      pugi::xml_node n = doc.root().append_child("Deleted");
      Add(n, "Key", d.key);
      AddIfNotEmpty(n, "VersionId", d.version_id);
    }
  }
  for (const DeleteErrorEntry& e : errors) {
    pugi::xml_node n = doc.root().append_child("Error");
    Add(n, "Key", e.key);
    Add(n, "Code", e.code);
    Add(n, "Message", e.message);
  }
  return doc.Str();
}

std::string WriteInitiateMultipartUploadResult(absl::string_view bucket, absl::string_view key,
                                               absl::string_view upload_id) {
  Doc doc("InitiateMultipartUploadResult");
  Add(doc.root(), "Bucket", bucket);
  Add(doc.root(), "Key", key);
  Add(doc.root(), "UploadId", upload_id);
  return doc.Str();
}

std::string WriteCompleteMultipartUploadResult(const CompleteMultipartUploadResult& r) {
  Doc doc("CompleteMultipartUploadResult");
  Add(doc.root(), "Location", r.location);
  Add(doc.root(), "Bucket", r.bucket);
  Add(doc.root(), "Key", r.key);
  Add(doc.root(), "ETag", r.etag);
  AddChecksums(doc.root(), r.checksums);
  return doc.Str();
}

std::string WriteListPartsResult(const ListPartsResult& r) {
  Doc doc("ListPartsResult");
  pugi::xml_node root = doc.root();
  Add(root, "Bucket", r.bucket);
  Add(root, "Key", r.key);
  Add(root, "UploadId", r.upload_id);
  AddOwner(root, "Initiator", r.initiator);
  AddOwner(root, "Owner", r.owner);
  Add(root, "StorageClass", r.storage_class);
  Add(root, "PartNumberMarker", static_cast<uint64_t>(r.part_number_marker));
  Add(root, "NextPartNumberMarker", static_cast<uint64_t>(r.next_part_number_marker));
  Add(root, "MaxParts", static_cast<uint64_t>(r.max_parts));
  AddBool(root, "IsTruncated", r.is_truncated);
  for (const PartEntry& p : r.parts) {
    pugi::xml_node n = root.append_child("Part");
    Add(n, "PartNumber", static_cast<uint64_t>(p.part_number));
    Add(n, "LastModified", FormatIso8601(p.last_modified));
    Add(n, "ETag", p.etag);
    Add(n, "Size", p.size);
    AddChecksums(n, p.checksums);
  }
  return doc.Str();
}

std::string WriteListMultipartUploadsResult(const ListMultipartUploadsResult& r) {
  auto enc = [&](absl::string_view s) {
    return r.url_encode ? UrlEncodeForListing(s) : std::string(s);
  };
  Doc doc("ListMultipartUploadsResult");
  pugi::xml_node root = doc.root();
  Add(root, "Bucket", r.bucket);
  Add(root, "KeyMarker", enc(r.key_marker));
  Add(root, "UploadIdMarker", r.upload_id_marker);
  Add(root, "NextKeyMarker", enc(r.next_key_marker));
  Add(root, "NextUploadIdMarker", r.next_upload_id_marker);
  AddIfNotEmpty(root, "Prefix", enc(r.prefix));
  AddIfNotEmpty(root, "Delimiter", enc(r.delimiter));
  if (r.url_encode) Add(root, "EncodingType", "url");
  Add(root, "MaxUploads", static_cast<uint64_t>(r.max_uploads));
  AddBool(root, "IsTruncated", r.is_truncated);
  for (const UploadEntry& u : r.uploads) {
    pugi::xml_node n = root.append_child("Upload");
    Add(n, "Key", enc(u.key));
    Add(n, "UploadId", u.upload_id);
    AddOwner(n, "Initiator", u.initiator);
    AddOwner(n, "Owner", u.owner);
    Add(n, "StorageClass", u.storage_class);
    Add(n, "Initiated", FormatIso8601(u.initiated));
  }
  for (const std::string& p : r.common_prefixes) {
    Add(root.append_child("CommonPrefixes"), "Prefix", enc(p));
  }
  return doc.Str();
}

std::string WriteCopyObjectResult(absl::string_view etag, absl::Time last_modified) {
  Doc doc("CopyObjectResult");
  Add(doc.root(), "LastModified", FormatIso8601(last_modified));
  Add(doc.root(), "ETag", etag);
  return doc.Str();
}

std::string WriteCopyPartResult(absl::string_view etag, absl::Time last_modified) {
  Doc doc("CopyPartResult");
  Add(doc.root(), "LastModified", FormatIso8601(last_modified));
  Add(doc.root(), "ETag", etag);
  return doc.Str();
}

absl::StatusOr<std::string> ParseCreateBucketConfiguration(absl::string_view body) {
  if (absl::StripAsciiWhitespace(body).empty()) return std::string();
  pugi::xml_document doc;
  pugi::xml_node root;
  if (absl::Status s = Load(body, "CreateBucketConfiguration", &doc, &root); !s.ok()) return s;
  std::string location;
  pugi::xml_node lc = root.child("LocationConstraint");
  if (lc && !TextOf(lc, &location)) return Malformed();
  return location;
}

absl::StatusOr<DeleteRequest> ParseDeleteRequest(absl::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node root;
  if (absl::Status s = Load(body, "Delete", &doc, &root); !s.ok()) return s;
  DeleteRequest req;
  for (pugi::xml_node n : root.children()) {
    if (n.type() != pugi::node_element) continue;
    std::string name = n.name();
    if (name == "Quiet") {
      std::string v;
      if (!TextOf(n, &v)) return Malformed();
      v = absl::AsciiStrToLower(absl::StripAsciiWhitespace(v));
      if (v != "true" && v != "false") return Malformed();
      req.quiet = v == "true";
    } else if (name == "Object") {
      pugi::xml_node key = n.child("Key");
      DeleteRequest::Object o;
      if (!key || !TextOf(key, &o.key) || o.key.empty()) return Malformed();
      if (pugi::xml_node v = n.child("VersionId"); v && !TextOf(v, &o.version_id)) {
        return Malformed();
      }
      req.objects.push_back(std::move(o));
      if (req.objects.size() > 1000) return Malformed("too many objects (at most 1000)");
    } else {
      return Malformed();
    }
  }
  if (req.objects.empty()) return Malformed();
  return req;
}

absl::StatusOr<std::vector<CompletedPart>> ParseCompleteMultipartUpload(absl::string_view body) {
  pugi::xml_document doc;
  pugi::xml_node root;
  if (absl::Status s = Load(body, "CompleteMultipartUpload", &doc, &root); !s.ok()) return s;
  std::vector<CompletedPart> parts;
  for (pugi::xml_node n : root.children()) {
    if (n.type() != pugi::node_element) continue;
    if (std::string(n.name()) != "Part") return Malformed();
    CompletedPart p;
    std::string number;
    pugi::xml_node pn = n.child("PartNumber");
    pugi::xml_node etag = n.child("ETag");
    if (!pn || !etag || !TextOf(pn, &number) || !TextOf(etag, &p.etag)) return Malformed();
    number = std::string(absl::StripAsciiWhitespace(number));
    if (!absl::SimpleAtoi(number, &p.part_number) || p.part_number < 1 || p.part_number > 10000) {
      return Malformed();
    }
    ReadChecksums(n, &p.checksums);
    parts.push_back(std::move(p));
    if (parts.size() > 10000) return Malformed();
  }
  if (parts.empty()) return Malformed();
  return parts;
}

}  // namespace tessera::services::s3
