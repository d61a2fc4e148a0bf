#include "services/gateway/access_policy.h"

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

absl::Status RequireUser(const Principal& who, const char* what) {
  if (!who.anonymous && !who.user_id.empty()) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("access denied: an anonymous caller may not ", what));
}

}  // namespace tessera::services
