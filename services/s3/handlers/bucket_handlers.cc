// Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
// ListObjects (v1 and v2).

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
#include "services/object/in_memory_manifest_store.h"  // EncodeContinuationToken
#include "services/s3/errors/errors.h"
#include "services/s3/handlers/error_mapping.h"
#include "services/s3/handlers/handlers.h"
#include "services/s3/handlers/request_context.h"

namespace tessera::services::s3 {
namespace {

class BucketHandlers : public RequestContext {
 public:
  explicit BucketHandlers(const RequestContext& context) : RequestContext(context) {}

  // --- buckets ----------------------------------------------------------------------------
  absl::Status ListBuckets() {
    if (absl::Status s = RequireUser(); !s.ok()) return s;
    absl::StatusOr<std::vector<v1::BucketRecord>> all = g_.objects->ListBuckets(Caller());
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
      if (!region->empty() && *region != g_.options.region) {
        return S3Status(S3ErrorCode::kInvalidArgument,
                        absl::StrCat("this endpoint serves region ", g_.options.region));
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
    // The record (id, owner, creation time, shard map) is the object layer's, as for gRPC.
    absl::Status s = g_.objects->CreateBucket(r_.bucket, Caller(), *acl, g_.options.region);
    if (Definite(s) && absl::IsAlreadyExists(s)) {
      absl::StatusOr<v1::BucketRecord> existing = g_.objects->HeadBucket(r_.bucket);
      if (existing.ok() && existing->owner() == auth_.user_id) {
        // As AWS: "BucketAlreadyOwnedByYou ... in all Regions except North Virginia", where
        // re-creating your own bucket is 200 OK and changes nothing (the bucket's canned ACL is
        // kept: AWS would reset it).
        if (g_.options.region == "us-east-1") {
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
    return SendEmpty(200, {{"x-amz-bucket-region", g_.options.region}});
  }

  absl::Status DeleteBucket() {
    absl::StatusOr<v1::BucketRecord> b = Authorize(r_.bucket, Access::kWrite);
    if (!b.ok()) return b.status();
    bool truncated = false;
    absl::StatusOr<std::vector<UploadInfo>> ups =
        g_.uploads->List(r_.bucket, "", "", "", 1, &truncated);
    // Fail closed: a bucket whose uploads cannot be listed is not known to have none.
    if (!ups.ok()) return ups.status();
    if (!ups->empty()) {
      return S3Status(S3ErrorCode::kBucketNotEmpty, "the bucket has multipart uploads in progress");
    }
    absl::Status s = g_.objects->DeleteBucket(r_.bucket);
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
    return SendXml(
        200, WriteLocationConstraint(g_.options.region == "us-east-1" ? "" : g_.options.region));
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
      absl::StatusOr<ListResult> page = g_.objects->ListObjects(r_.bucket, lr);
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
};

}  // namespace

absl::Status HandleBucketRequest(const RequestContext& context) {
  BucketHandlers h(context);
  switch (h.op()) {
    case S3Operation::kListBuckets:
      return h.ListBuckets();
    case S3Operation::kCreateBucket:
      return h.CreateBucket();
    case S3Operation::kHeadBucket:
      return h.HeadBucket();
    case S3Operation::kDeleteBucket:
      return h.DeleteBucket();
    case S3Operation::kGetBucketLocation:
      return h.GetBucketLocation();
    case S3Operation::kListObjects:
      return h.ListObjects(false);
    case S3Operation::kListObjectsV2:
      return h.ListObjects(true);
    default:
      return absl::InternalError("not a bucket operation");
  }
}

}  // namespace tessera::services::s3
