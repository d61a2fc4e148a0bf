// Who is calling, and what a caller may do with a bucket: the one authorisation rule of the
// object layer. Both front ends (S3, services/s3/handlers; gRPC, services/gatewayd) turn a
// verified request into a Principal and ask ObjectService::Authorize / ListBuckets(Principal),
// which apply this rule, before they touch a bucket; so S3 and gRPC cannot drift apart.
//
// The rule (S3's canned ACLs "private" and "public-read"; docs/design/security.md):
//   * a bucket's owner (the user who created it) may do anything with it and its objects;
//   * anyone, anonymous callers included, may read a bucket whose acl is "public-read" (head the
//     bucket, list, get and head its objects);
//   * nothing else is allowed: PERMISSION_DENIED.
//   * A user lists only the buckets they own; an anonymous caller may not list buckets.
//   * Creating a bucket needs a user, who becomes its owner. The creator picks the bucket's canned
//     ACL (S3 x-amz-acl, gRPC CreateBucketRequest.acl), parsed by ParseCannedAcl for both.
// A bucket with no owner (created before callers were authenticated) is readable only if
// public-read, and writable by nobody.
//
// Pure functions over values: thread-safe.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "api/manifest.pb.h"

namespace tessera::services {

// An authenticated caller, or an anonymous one.
struct Principal {
  [[nodiscard]] static Principal Anonymous() { return Principal(); }
  // `user_id` must be non-empty (CredentialStore user ids are 1..64 characters).
  [[nodiscard]] static Principal User(std::string user_id) {
    Principal p;
    p.anonymous = user_id.empty();
    p.user_id = std::move(user_id);
    return p;
  }

  bool anonymous = true;
  std::string user_id;  // empty iff anonymous
};

enum class BucketAccess {
  kRead,   // head the bucket, list it, get/head its objects
  kWrite,  // everything else: put/delete objects, delete the bucket, multipart, location
};

// True if `who` owns `bucket`.
[[nodiscard]] bool OwnsBucket(const Principal& who, const v1::BucketRecord& bucket);

// OK if `who` may have `access` to `bucket`; else PERMISSION_DENIED "access denied: ..." naming
// the caller and the bucket.
[[nodiscard]] absl::Status CheckBucketAccess(const Principal& who, const v1::BucketRecord& bucket,
                                             BucketAccess access);

// The canned ACL a new bucket gets for the requested one (S3's x-amz-acl values, any case; empty
// = "private"): "private" or "public-read". UNIMPLEMENTED for S3's other canned ACLs
// (public-read-write, authenticated-read, aws-exec-read, bucket-owner-read,
// bucket-owner-full-control, log-delivery-write): refused rather than silently narrowed;
// INVALID_ARGUMENT for anything else. Both front ends call this, so they accept the same set.
[[nodiscard]] absl::StatusOr<std::string> ParseCannedAcl(absl::string_view requested);

// OK for a user; PERMISSION_DENIED for an anonymous caller (creating and listing buckets).
[[nodiscard]] absl::Status RequireUser(const Principal& who, const char* what);

}  // namespace tessera::services
