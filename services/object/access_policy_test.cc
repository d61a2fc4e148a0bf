#include "services/object/access_policy.h"

#include "gtest/gtest.h"

namespace tessera::services {
namespace {

v1::BucketRecord Bucket(const std::string& owner, const std::string& acl) {
  v1::BucketRecord b;
  b.set_name("photos");
  b.set_owner(owner);
  b.set_acl(acl);
  return b;
}

TEST(AccessPolicyTest, OwnerMayDoAnything) {
  const Principal alice = Principal::User("alice");
  for (const char* acl : {"private", "public-read"}) {
    EXPECT_TRUE(CheckBucketAccess(alice, Bucket("alice", acl), BucketAccess::kRead).ok());
    EXPECT_TRUE(CheckBucketAccess(alice, Bucket("alice", acl), BucketAccess::kWrite).ok());
  }
}

TEST(AccessPolicyTest, OthersMayOnlyReadPublicReadBuckets) {
  for (const Principal& who : {Principal::User("bob"), Principal::Anonymous()}) {
    EXPECT_TRUE(CheckBucketAccess(who, Bucket("alice", "public-read"), BucketAccess::kRead).ok());
    absl::Status w = CheckBucketAccess(who, Bucket("alice", "public-read"), BucketAccess::kWrite);
    EXPECT_TRUE(absl::IsPermissionDenied(w)) << w;
    absl::Status r = CheckBucketAccess(who, Bucket("alice", "private"), BucketAccess::kRead);
    EXPECT_TRUE(absl::IsPermissionDenied(r)) << r;
    EXPECT_NE(r.message().find("photos"), absl::string_view::npos) << r;
  }
}

TEST(AccessPolicyTest, UnownedBucketsBelongToNobody) {
  // Neither an anonymous caller (empty user id) nor anyone else owns a bucket with no owner.
  EXPECT_FALSE(OwnsBucket(Principal::Anonymous(), Bucket("", "private")));
  EXPECT_FALSE(OwnsBucket(Principal::User(""), Bucket("", "private")));
  EXPECT_TRUE(absl::IsPermissionDenied(
      CheckBucketAccess(Principal::Anonymous(), Bucket("", "private"), BucketAccess::kWrite)));
}

TEST(AccessPolicyTest, CreatingAndListingNeedAUser) {
  EXPECT_TRUE(RequireUser(Principal::User("alice"), "list buckets").ok());
  EXPECT_TRUE(absl::IsPermissionDenied(RequireUser(Principal::Anonymous(), "list buckets")));
  EXPECT_TRUE(absl::IsPermissionDenied(RequireUser(Principal::User(""), "create buckets")));
}

TEST(AccessPolicyTest, CannedAcls) {
  EXPECT_EQ(ParseCannedAcl("").value(), "private");
  EXPECT_EQ(ParseCannedAcl("private").value(), "private");
  EXPECT_EQ(ParseCannedAcl("Public-Read").value(), "public-read");
  for (const char* other :
       {"public-read-write", "authenticated-read", "bucket-owner-full-control"}) {
    EXPECT_EQ(ParseCannedAcl(other).status().code(), absl::StatusCode::kUnimplemented) << other;
  }
  EXPECT_EQ(ParseCannedAcl("world-writable").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::services
