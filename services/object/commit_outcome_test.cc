// What the writers do with their slices when the commit of a manifest fails, and how a
// multipart Complete behaves under failures and races (docs/design/object_layer.md "Commit
// outcome"). The rule: slices are deleted only when the commit is known not to have happened; after
// an outcome-unknown failure they stay (the orphan reclaimer checks for a manifest first). A
// Complete is atomic and retryable, and never commits a part that was replaced under it.
//
// Real in-process storage nodes on 127.0.0.1 (TestCluster); the manifest store is the cluster's
// in-memory one behind a FaultyManifestStore that injects the failures.
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status_reasons.h"
#include "gtest/gtest.h"
#include "services/object/faulty_manifest_store.h"
#include "services/object/multipart.h"
#include "services/object/object_reader.h"
#include "services/object/object_service.h"
#include "services/object/object_test_util.h"
#include "services/object/test_cluster.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {
namespace {

using testing::Md5Raw;

std::string Md5(const std::string& data) { return Md5Raw(data); }
std::string Data(size_t n, char seed) { return testing::PatternData(n, seed); }

class CommitOutcomeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.status().ok()) << cluster_.status();
    auto service = ObjectService::Create(options_.data, cluster_.deps(), &store_);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    storage::StripeCodecOptions co;
    co.data_shards = options_.data.data_shards;
    co.parity_shards = options_.data.parity_shards;
    co.slice_alignment = options_.data.slice_alignment;
    auto codec = storage::StripeCodec::Create(co);
    ASSERT_TRUE(codec.ok());
    codec_ = *std::move(codec);
    uploads_ =
        std::make_unique<MultipartUploads>(options_.data, cluster_.deps(), &store_, codec_.get());
    ASSERT_TRUE(uploads_->Init().ok());
    ASSERT_TRUE(service_->CreateBucket("bkt", "alice").ok());
  }

  absl::StatusOr<std::string> Read(const std::string& key) {
    std::string out;
    absl::StatusOr<v1::ObjectManifest> m =
        service_->GetObject("bkt", key, ObjectRange{}, [&](absl::string_view p) {
          out.append(p.data(), p.size());
          return absl::OkStatus();
        });
    if (!m.ok()) return m.status();
    return out;
  }

  UploadInfo Create(const std::string& key) {
    v1::ObjectManifest base;
    base.set_owner("alice");
    auto up = uploads_->Create("bkt", key, base);
    EXPECT_TRUE(up.ok()) << up.status();
    return *up;
  }

  void Upload(const UploadInfo& up, int n, const std::string& data) {
    auto w = uploads_->PartWriter(up, n);
    ASSERT_TRUE(w.ok()) << w.status();
    ASSERT_TRUE((*w)->Write(data).ok());
    auto part = (*w)->FinishPart();
    ASSERT_TRUE(part.ok()) << part.status();
    ASSERT_TRUE(uploads_->CommitPart(up, *part, {}).ok());
  }

  testing::TestClusterOptions options_;
  testing::TestCluster cluster_{options_};
  testing::FaultyManifestStore store_{&cluster_.store()};
  std::unique_ptr<ObjectService> service_;
  std::unique_ptr<storage::StripeCodec> codec_;
  std::unique_ptr<MultipartUploads> uploads_;
};

// Before: any PutIfAbsent error deleted the slices, so a manifest committed despite the error
// pointed at deleted slices (GET: DATA_LOSS).
TEST_F(CommitOutcomeTest, PutWhoseCommitOutcomeIsUnknownKeepsItsSlices) {
  const std::string data = Data(3 << 20, 'u');  // several stripes, not inline
  store_.FailPutsAfterApplying("bkt", 1);
  absl::StatusOr<v1::ObjectManifest> put = service_->PutObject("bkt", "obj", data);
  ASSERT_FALSE(put.ok());
  EXPECT_TRUE(IsOutcomeUnknown(put.status())) << put.status();
  // The manifest did commit: the object must read back whole.
  absl::StatusOr<std::string> got = Read("obj");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, data);
}

TEST_F(CommitOutcomeTest, PutWhoseCommitSurelyFailedLeavesNoSlices) {
  const uint64_t before = cluster_.TotalSlices();
  store_.FailPutsNotApplied("bkt", 1);
  absl::StatusOr<v1::ObjectManifest> put = service_->PutObject("bkt", "obj", Data(3 << 20, 'n'));
  ASSERT_FALSE(put.ok());
  EXPECT_FALSE(IsOutcomeUnknown(put.status()));
  EXPECT_TRUE(absl::IsNotFound(service_->HeadObject("bkt", "obj").status()));
  EXPECT_EQ(cluster_.TotalSlices(), before);
}

// Before: Complete removed the upload record first and deleted every part when the manifest's
// commit failed, so the client's retry answered NoSuchUpload and the data was gone.
TEST_F(CommitOutcomeTest, CompleteIsRetryableAfterAFailedCommit) {
  UploadInfo up = Create("mp");
  const std::string p1 = Data(kMinPartSize, 'a'), p2 = Data(700000, 'b');
  Upload(up, 1, p1);
  Upload(up, 2, p2);
  CompleteError why;
  store_.FailPutsNotApplied("bkt", 1);
  auto first = uploads_->Complete("bkt", "mp", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_FALSE(first.ok());
  EXPECT_TRUE(absl::IsUnavailable(first.status())) << first.status();
  EXPECT_TRUE(absl::IsNotFound(service_->HeadObject("bkt", "mp").status()));
  auto retry = uploads_->Complete("bkt", "mp", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(why, CompleteError::kNone);
  absl::StatusOr<std::string> got = Read("mp");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, p1 + p2);
  // A third call (the client's retry after a lost response) answers the same object.
  auto again = uploads_->Complete("bkt", "mp", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->version_id(), retry->version_id());
  EXPECT_EQ(again->etag(), retry->etag());
}

TEST_F(CommitOutcomeTest, CompleteWhoseCommitOutcomeIsUnknownKeepsThePartsAndFinishesOnRetry) {
  UploadInfo up = Create("mpu");
  const std::string p1 = Data(kMinPartSize, 'c'), p2 = Data(300000, 'd');
  Upload(up, 1, p1);
  Upload(up, 2, p2);
  CompleteError why;
  store_.FailPutsAfterApplying("bkt", 1);
  auto first = uploads_->Complete("bkt", "mpu", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_FALSE(first.ok());
  absl::StatusOr<std::string> got = Read("mpu");  // committed after all: readable
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, p1 + p2);
  auto retry = uploads_->Complete("bkt", "mpu", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_TRUE(retry.ok()) << retry.status();
  auto head = service_->HeadObject("bkt", "mpu");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->version_id(), retry->version_id());  // the same object, not a second one
  got = Read("mpu");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, p1 + p2);
}

// Before: Complete checked only the number of parts, so a part re-uploaded while it ran was
// deleted (as replaced) while the committed manifest still pointed at it: GET failed.
TEST_F(CommitOutcomeTest, PartReplacedDuringCompleteIsNeverCommittedStale) {
  UploadInfo up = Create("race");
  const std::string p1 = Data(kMinPartSize, 'e'), p2 = Data(200000, 'f');
  Upload(up, 1, p1);
  Upload(up, 2, p2);
  const std::string p2_new = Data(200000, 'g');
  // Right before Complete claims the upload, part 2 is uploaded again with other bytes.
  store_.BeforeNextCompareAndSet(kUploadsBucket, [&] { Upload(up, 2, p2_new); });
  CompleteError why;
  auto stale = uploads_->Complete("bkt", "race", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_FALSE(stale.ok());  // the client named the old part 2, which no longer exists
  EXPECT_EQ(why, CompleteError::kInvalidPart) << stale.status();
  EXPECT_TRUE(absl::IsNotFound(service_->HeadObject("bkt", "race").status()));
  // Naming the part that is there now works, and the object holds it.
  auto ok = uploads_->Complete("bkt", "race", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2_new)}}, &why);
  ASSERT_TRUE(ok.ok()) << ok.status();
  absl::StatusOr<std::string> got = Read("race");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, p1 + p2_new);
}

TEST_F(CommitOutcomeTest, PartReplacedWithTheSameBytesDuringCompleteIsTheOneCommitted) {
  UploadInfo up = Create("same");
  const std::string p1 = Data(kMinPartSize, 'h'), p2 = Data(250000, 'i');
  Upload(up, 1, p1);
  Upload(up, 2, p2);
  store_.BeforeNextCompareAndSet(kUploadsBucket, [&] { Upload(up, 2, p2); });
  CompleteError why;
  auto m = uploads_->Complete("bkt", "same", up.upload_id, {{1, Md5(p1)}, {2, Md5(p2)}}, &why);
  ASSERT_TRUE(m.ok()) << m.status();
  absl::StatusOr<std::string> got = Read("same");
  ASSERT_TRUE(got.ok()) << got.status();  // reads the new copy; the old one's slices are gone
  EXPECT_EQ(*got, p1 + p2);
}

// A part upload that arrives after Complete claimed the upload is refused and leaves nothing.
TEST_F(CommitOutcomeTest, PartsAfterTheClaimAreRefused) {
  UploadInfo up = Create("late");
  const std::string p1 = Data(100000, 'j');
  Upload(up, 1, p1);
  CompleteError why;
  ASSERT_TRUE(uploads_->Complete("bkt", "late", up.upload_id, {{1, Md5(p1)}}, &why).ok());
  const uint64_t before = cluster_.TotalSlices();
  auto w = uploads_->PartWriter(up, 2);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Write(Data(100000, 'k')).ok());
  auto part = (*w)->FinishPart();
  ASSERT_TRUE(part.ok());
  EXPECT_TRUE(absl::IsNotFound(uploads_->CommitPart(up, *part, {})));
  EXPECT_EQ(cluster_.TotalSlices(), before);
  EXPECT_TRUE(absl::IsNotFound(uploads_->Abort("bkt", "late", up.upload_id)));
  absl::StatusOr<std::string> got = Read("late");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, p1);
}

// Uploads belong to the bucket, not to its name: a bucket deleted and created again does not
// inherit them, and completed records are purged after their retention.
TEST_F(CommitOutcomeTest, RecreatedBucketDoesNotInheritUploadsAndFinishedRecordsArePurged) {
  UploadInfo old = Create("k");
  Upload(old, 1, Data(1000, 'l'));
  ASSERT_TRUE(service_->DeleteBucket("bkt").ok());  // no objects: the bucket goes
  ASSERT_TRUE(service_->CreateBucket("bkt", "bob").ok());
  bool truncated = false;
  auto listed = uploads_->List("bkt", "", "", "", 100, &truncated);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_TRUE(listed->empty());
  EXPECT_TRUE(absl::IsNotFound(uploads_->Get("bkt", "k", old.upload_id).status()));

  UploadInfo up = Create("done");
  const std::string p1 = Data(1000, 'm');
  Upload(up, 1, p1);
  CompleteError why;
  ASSERT_TRUE(uploads_->Complete("bkt", "done", up.upload_id, {{1, Md5(p1)}}, &why).ok());
  // Within the retention nothing is purged (the orphaned upload of the old bucket is recent).
  auto purged = uploads_->PurgeFinished(absl::Hours(24));
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 0);
  // With no retention both the completed record and the old bucket's upload go; the object
  // stays readable.
  purged = uploads_->PurgeFinished(absl::ZeroDuration());
  ASSERT_TRUE(purged.ok()) << purged.status();
  EXPECT_EQ(*purged, 2);
  absl::StatusOr<std::string> got = Read("done");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, p1);
}

}  // namespace
}  // namespace tessera::services
