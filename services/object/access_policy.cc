#include "services/object/access_policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace tessera::services {

bool OwnsBucket(const Principal& who, const v1::BucketRecord& bucket) {
  return !who.anonymous && !who.user_id.empty() && bucket.owner() == who.user_id;
}

absl::Status CheckBucketAccess(const Principal& who, const v1::BucketRecord& bucket,
                               BucketAccess access) {
  if (OwnsBucket(who, bucket)) return absl::OkStatus();
  if (access == BucketAccess::kRead && bucket.acl() == "public-read") return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "access denied: ", who.anonymous ? "an anonymous caller" : who.user_id, " may not ",
      access == BucketAccess::kRead ? "read" : "write", " bucket ", bucket.name()));
}

absl::StatusOr<std::string> ParseCannedAcl(absl::string_view requested) {
  const std::string acl = absl::AsciiStrToLower(requested);
  if (acl.empty() || acl == "private") return std::string("private");
  if (acl == "public-read") return acl;
  for (const char* other :
       {"public-read-write", "authenticated-read", "aws-exec-read", "bucket-owner-read",
        "bucket-owner-full-control", "log-delivery-write"}) {
    if (acl == other) {
      return absl::UnimplementedError(
          absl::StrCat("canned ACL ", acl, " is not supported; only private and public-read are"));
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown canned ACL \"", requested, "\"; use private or public-read"));
}

absl::Status RequireUser(const Principal& who, const char* what) {
  if (!who.anonymous && !who.user_id.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("access denied: an anonymous caller may not ", what));
}

}  // namespace tessera::services
