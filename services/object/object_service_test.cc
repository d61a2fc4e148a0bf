// ObjectService semantics that need no storage node: buckets, inline objects, delete markers,
// listing, and the error codes callers act on. (Objects on nodes: object_cluster_test.)
#include "services/object/object_service.h"

#include <string>

#include "base/fake_clock.h"
#include "base/random.h"
#include "base/status_reasons.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/in_memory_manifest_store.h"
#include "services/object/object_test_util.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::GetAll;
using ::tessera::services::testing::Md5Etag;
using ::tessera::testing::StatusIs;

class ObjectServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(keyring_.Add(1, storage::SecretKey::Generate()));
    deps_.cluster = &view_;
    deps_.slices = &client_;
    deps_.keyring = &keyring_;
    deps_.pool = &pool_;
    ASSERT_OK_AND_ASSIGN(service_, ObjectService::Create(DataPathOptions(), deps_, &store_));
  }

  StaticClusterView view_{{}};  // no nodes: only inline objects can be stored
  GrpcSliceClient client_;
  storage::MasterKeyring keyring_;
  WorkPool pool_{2};
  InMemoryManifestStore store_;
  DataPathDeps deps_;
  std::unique_ptr<ObjectService> service_;
};

TEST_F(ObjectServiceTest, BucketNames) {
  EXPECT_TRUE(IsValidBucketName("my-bucket.1"));
  for (const char* bad : {"ab", "UPPER", "-dash", "dot.", "a..b", "192.168.1.1", "under_score"}) {
    EXPECT_FALSE(IsValidBucketName(bad)) << bad;
    EXPECT_THAT(service_->CreateBucket(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

// The one place bucket records are built (S3 and gRPC CreateBucket both come here).
TEST_F(ObjectServiceTest, CreateBucketRecordsOwnerAclAndRegion) {
  ASSERT_OK(
      service_->CreateBucket("eu-photos", Principal::User("alice"), "public-read", "eu-west-1"));
  ASSERT_OK_AND_ASSIGN(v1::BucketRecord r, service_->HeadBucket("eu-photos"));
  EXPECT_EQ(r.owner(), "alice");
  EXPECT_EQ(r.acl(), "public-read");
  EXPECT_EQ(r.region(), "eu-west-1");
  EXPECT_EQ(r.shards_size(), 1);
  EXPECT_GT(r.created_unix_micros(), 0);
  ASSERT_OK(service_->CreateBucket("plain", "bob"));
  ASSERT_OK_AND_ASSIGN(r, service_->HeadBucket("plain"));
  EXPECT_EQ(r.acl(), "private");
  EXPECT_EQ(r.region(), "");
}

TEST_F(ObjectServiceTest, BucketLifecycleAndErrors) {
  ASSERT_OK(service_->CreateBucket("photos", "alice"));
  EXPECT_THAT(service_->CreateBucket("photos"),
              StatusIs(absl::StatusCode::kAlreadyExists, ::testing::HasSubstr("photos")));
  ASSERT_OK_AND_ASSIGN(v1::BucketRecord r, service_->HeadBucket("photos"));
  EXPECT_EQ(r.owner(), "alice");
  EXPECT_EQ(r.bucket_id().size(), 16u);
  EXPECT_THAT(service_->HeadBucket("nope"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("no such bucket")));
  ASSERT_OK(service_->PutObject("photos", "a.jpg", "jpeg").status());
  EXPECT_THAT(service_->DeleteBucket("photos"),
              StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::HasSubstr("not empty")));
  ASSERT_OK(service_->DeleteObject("photos", "a.jpg"));
  EXPECT_OK(service_->DeleteBucket("photos"));
  ASSERT_OK_AND_ASSIGN(auto buckets, service_->ListBuckets());
  EXPECT_TRUE(buckets.empty());
}

TEST_F(ObjectServiceTest, AuthorizeAppliesTheAccessPolicyPerCaller) {
  const Principal alice = Principal::User("alice");
  const Principal bob = Principal::User("bob");
  EXPECT_THAT(service_->CreateBucket("anon-bucket", Principal::Anonymous()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_OK(service_->CreateBucket("alices", alice));
  ASSERT_OK(service_->CreateBucket("bobs", bob));
  ASSERT_OK_AND_ASSIGN(v1::BucketRecord r,
                       service_->Authorize(alice, "alices", BucketAccess::kWrite));
  EXPECT_EQ(r.owner(), "alice");
  EXPECT_EQ(r.acl(), "private");
  EXPECT_THAT(service_->Authorize(bob, "alices", BucketAccess::kRead),
              StatusIs(absl::StatusCode::kPermissionDenied, ::testing::HasSubstr("alices")));
  EXPECT_THAT(service_->Authorize(Principal::Anonymous(), "alices", BucketAccess::kRead),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(service_->Authorize(alice, "nope", BucketAccess::kRead),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("no such bucket")));

  // Each user lists only their own buckets; anonymous callers list nothing.
  ASSERT_OK_AND_ASSIGN(auto mine, service_->ListBuckets(alice));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].name(), "alices");
  EXPECT_THAT(service_->ListBuckets(Principal::Anonymous()),
              StatusIs(absl::StatusCode::kPermissionDenied));

  // public-read opens reading, not writing, to everyone.
  v1::BucketRecord pub = r;
  pub.set_name("alices-pub");
  pub.set_acl("public-read");
  ASSERT_OK(store_.CreateBucket(pub));
  EXPECT_OK(service_->Authorize(bob, "alices-pub", BucketAccess::kRead).status());
  EXPECT_OK(
      service_->Authorize(Principal::Anonymous(), "alices-pub", BucketAccess::kRead).status());
  EXPECT_THAT(service_->Authorize(bob, "alices-pub", BucketAccess::kWrite),
              StatusIs(absl::StatusCode::kPermissionDenied));
}

TEST_F(ObjectServiceTest, ObjectsOverwriteDeleteAndReportErrors) {
  ASSERT_OK(service_->CreateBucket("bkt"));
  EXPECT_THAT(service_->PutObject("nope", "k", "x").status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("no such bucket")));
  EXPECT_THAT(service_->PutObject("bkt", "", "x").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  PutObjectOptions opts;
  opts.content_type = "text/plain";
  opts.user_metadata["color"] = "blue";
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m1, service_->PutObject("bkt", "k", "first", opts));
  EXPECT_EQ(m1.etag(), Md5Etag("first"));
  EXPECT_EQ(m1.content_type(), "text/plain");
  EXPECT_EQ(m1.user_metadata().at("color"), "blue");
  EXPECT_EQ(m1.encryption().key_id(), 1u);
  const std::string second = RandomBytes(1000, 4);
  ASSERT_OK(service_->PutObject("bkt", "k", second).status());
  auto got = GetAll(*service_, "bkt", "k");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == second);
  got = GetAll(*service_, "bkt", "k", ObjectRange{10, 5});
  ASSERT_OK(got.status);
  EXPECT_EQ(got.data, second.substr(10, 5));
  EXPECT_THAT(GetAll(*service_, "bkt", "k", ObjectRange{1001, 1}).status,
              StatusIs(absl::StatusCode::kOutOfRange));

  ASSERT_OK(service_->DeleteObject("bkt", "k"));
  EXPECT_THAT(service_->HeadObject("bkt", "k"),
              StatusIs(absl::StatusCode::kNotFound, ::testing::HasSubstr("no such key")));
  EXPECT_THAT(GetAll(*service_, "bkt", "k").status, StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(service_->DeleteObject("bkt", "never-existed"));
  EXPECT_THAT(service_->DeleteObject("nope", "k"), StatusIs(absl::StatusCode::kNotFound));
  // "k" is now its head, the marker (commit 3). The inline objects it superseded held no slices,
  // so nothing of them was kept for the garbage collector.
  ASSERT_OK_AND_ASSIGN(auto versions, store_.ScanVersions("bkt", "", 10));
  ASSERT_EQ(versions.size(), 1u);
  ASSERT_EQ(versions[0].versions.size(), 1u);
  EXPECT_TRUE(versions[0].versions[0].delete_marker());
  EXPECT_EQ(versions[0].versions[0].commit_sequence(), 3u);
}

// Version order is decided where the commit happens, never by a writer's clock or start time.
TEST_F(ObjectServiceTest, TheLastPutToCommitWinsWhicheverStartedFirst) {
  ASSERT_OK(service_->CreateBucket("order"));
  ASSERT_OK_AND_ASSIGN(auto first, service_->PutObject("order", "k"));   // starts first
  ASSERT_OK_AND_ASSIGN(auto second, service_->PutObject("order", "k"));  // starts later
  ASSERT_OK(first->Write("started first, committed last"));
  ASSERT_OK(second->Write("started second, committed first"));
  ASSERT_OK(second->Finish().status());
  ASSERT_OK(first->Finish().status());
  auto got = GetAll(*service_, "order", "k");
  ASSERT_OK(got.status);
  EXPECT_EQ(got.data, "started first, committed last");
  ASSERT_OK_AND_ASSIGN(ListResult page, service_->ListObjects("order", ListRequest()));
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].etag(), Md5Etag("started first, committed last"));
}

TEST_F(ObjectServiceTest, AGatewayWhoseClockIsBehindStillWritesTheNewestVersion) {
  // Two gateways over one store; the second's clock is 2 s behind the first's.
  FakeClock ahead(absl::Now() + absl::Seconds(2));
  FakeClock behind(absl::Now());
  DataPathDeps deps_ahead = deps_, deps_behind = deps_;
  deps_ahead.clock = &ahead;
  deps_behind.clock = &behind;
  ASSERT_OK_AND_ASSIGN(auto gw_ahead,
                       ObjectService::Create(DataPathOptions(), deps_ahead, &store_));
  ASSERT_OK_AND_ASSIGN(auto gw_behind,
                       ObjectService::Create(DataPathOptions(), deps_behind, &store_));
  ASSERT_OK(gw_ahead->CreateBucket("skew"));
  ASSERT_OK(gw_ahead->PutObject("skew", "k", "older, from the gateway ahead").status());
  ASSERT_OK(gw_behind->PutObject("skew", "k", "newer, from the gateway behind").status());
  for (ObjectService* s : {gw_ahead.get(), gw_behind.get()}) {
    auto got = GetAll(*s, "skew", "k");
    ASSERT_OK(got.status);
    EXPECT_EQ(got.data, "newer, from the gateway behind");
  }
  // A delete through the gateway behind hides the object the gateway ahead wrote.
  ASSERT_OK(gw_ahead->PutObject("skew", "d", "doomed").status());
  ASSERT_OK(gw_behind->DeleteObject("skew", "d"));
  EXPECT_THAT(gw_ahead->HeadObject("skew", "d"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ObjectServiceTest, ListObjectsSeesLatestLiveVersions) {
  ASSERT_OK(service_->CreateBucket("bkt"));
  for (const char* key : {"x/1", "x/2", "y"})
    ASSERT_OK(service_->PutObject("bkt", key, key).status());
  ASSERT_OK(service_->DeleteObject("bkt", "x/2"));
  ListRequest r;
  ASSERT_OK_AND_ASSIGN(ListResult page, service_->ListObjects("bkt", r));
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key(), "x/1");
  EXPECT_EQ(page.objects[1].key(), "y");
  EXPECT_EQ(page.objects[1].size(), 1u);
}

TEST_F(ObjectServiceTest, LargeObjectWithoutNodesFailsUnavailableAndLeavesNothing) {
  ASSERT_OK(service_->CreateBucket("bkt"));
  ASSERT_OK_AND_ASSIGN(auto writer, service_->PutObject("bkt", "big"));
  absl::Status s = writer->Write(RandomBytes(9 << 20, 1));
  if (s.ok()) s = writer->Finish().status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("cannot place")));
  EXPECT_THAT(service_->HeadObject("bkt", "big"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ObjectServiceTest, ManifestWithAnUnknownMasterKeyIsNotReadable) {
  ASSERT_OK(service_->CreateBucket("bkt"));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, service_->PutObject("bkt", "k", "secret"));
  storage::MasterKeyring other;
  ASSERT_OK(other.Add(1, storage::SecretKey::Generate()));  // same id, other bytes
  DataPathDeps deps = deps_;
  deps.keyring = &other;
  ObjectReader reader(deps, nullptr);
  std::string out;
  EXPECT_THAT(reader.Read(m, 0, m.size(),
                          [&](absl::string_view p) {
                            out.append(p.data(), p.size());
                            return absl::OkStatus();
                          }),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_TRUE(out.empty());
}

// A manifest in a newer schema than this binary knows is refused on read (typed, clear), whatever
// store it came from, rather than misread.
TEST_F(ObjectServiceTest, ManifestOfANewerSchemaIsRefused) {
  ASSERT_OK(service_->CreateBucket("photos"));
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest m, service_->PutObject("photos", "a", "alpha"));
  m.set_schema_version(kNewestManifestSchema + 1);
  m.set_version_id(std::string(16, '\x7f'));
  ASSERT_OK(store_.Commit(m, {}).status());
  testing::GetOutcome got = GetAll(*service_, "photos", "a");
  EXPECT_TRUE(IsNewerFormat(got.status)) << got.status;
  EXPECT_THAT(got.status, StatusIs(absl::StatusCode::kFailedPrecondition,
                                   ::testing::HasSubstr("newer than this binary knows")));
  EXPECT_TRUE(got.data.empty());
  EXPECT_OK(CheckManifestFormat(v1::ObjectManifest()));  // 0: written before the field was set
}

}  // namespace
}  // namespace tessera::services
