// Master-key rotation over a TestCluster (6 in-process nodes, in-memory manifest store): objects
// written under master key 1 are rewrapped under key 2 without touching a slice, and read back
// byte-exact by a gateway whose keyring no longer holds key 1.
#include "services/object/key_rotation.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/object/faulty_manifest_store.h"
#include "services/object/multipart.h"
#include "services/object/object_reader.h"
#include "services/object/object_test_util.h"
#include "services/object/test_cluster.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::GetAll;
using ::tessera::services::testing::Md5Raw;
using ::tessera::services::testing::PatternData;
using ::tessera::testing::StatusIs;

// Forwards to a GrpcSliceClient and counts the calls that change a node's slices.
class CountingSliceClient final : public SliceClient {
 public:
  absl::Status Put(const std::string& address, const v1::SliceId& id,
                   absl::string_view data) override {
    {
      absl::MutexLock lock(&mu_);
      ++puts_;
    }
    return real_.Put(address, id, data);
  }
  absl::StatusOr<std::string> Get(const std::string& address, const v1::SliceId& id,
                                  uint64_t offset, uint64_t length) override {
    return real_.Get(address, id, offset, length);
  }
  absl::Status Delete(const std::string& address, const v1::SliceId& id) override {
    {
      absl::MutexLock lock(&mu_);
      ++deletes_;
    }
    return real_.Delete(address, id);
  }
  int puts() const {
    absl::MutexLock lock(&mu_);
    return puts_;
  }
  int deletes() const {
    absl::MutexLock lock(&mu_);
    return deletes_;
  }

 private:
  GrpcSliceClient real_;
  mutable absl::Mutex mu_;
  int puts_ ABSL_GUARDED_BY(mu_) = 0;
  int deletes_ ABSL_GUARDED_BY(mu_) = 0;
};

testing::TestClusterOptions SmallStripes() {
  testing::TestClusterOptions options;
  options.data.stripe_size = 64 << 10;
  options.data.inline_threshold = 1024;
  return options;
}

// One gateway's view: its own keyring over the shared cluster and manifest store.
struct Gateway {
  storage::MasterKeyring keyring;
  DataPathDeps deps;
  std::unique_ptr<ObjectService> objects;
  std::unique_ptr<MultipartUploads> uploads;
};

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(cluster_.status());
    storage::StripeCodecOptions co;
    co.data_shards = cluster_options_.data.data_shards;
    co.parity_shards = cluster_options_.data.parity_shards;
    co.slice_alignment = cluster_options_.data.slice_alignment;
    ASSERT_OK_AND_ASSIGN(codec_, storage::StripeCodec::Create(co));
    // Three gateways' keyrings: before rotation {1}, during it {1, 2 active}, after it {2}.
    ASSERT_NO_FATAL_FAILURE(MakeGateway(old_, {1}, 1));
    ASSERT_NO_FATAL_FAILURE(MakeGateway(both_, {1, 2}, 2));
    ASSERT_NO_FATAL_FAILURE(MakeGateway(new_, {2}, 2));
    ASSERT_OK(old_.uploads->Init());
    ASSERT_OK(old_.objects->CreateBucket("photos", "alice"));
  }

  void MakeGateway(Gateway& g, const std::vector<storage::MasterKeyId>& ids,
                   storage::MasterKeyId active) {
    for (storage::MasterKeyId id : ids) {
      ASSERT_OK(g.keyring.Add(id, (id == 1 ? key1_ : key2_).Clone()));
    }
    ASSERT_OK(g.keyring.SetActive(active));
    g.deps = cluster_.deps();
    g.deps.keyring = &g.keyring;
    ASSERT_OK_AND_ASSIGN(g.objects, ObjectService::Create(cluster_options_.data, g.deps, &store_));
    g.uploads =
        std::make_unique<MultipartUploads>(cluster_options_.data, g.deps, &store_, codec_.get());
  }

  std::string ReadVersion(Gateway& g, const v1::ObjectManifest& m) {
    ObjectReader reader(g.deps, nullptr);
    std::string out;
    EXPECT_OK(reader.Read(m, 0, m.size(), [&](absl::string_view p) {
      out.append(p.data(), p.size());
      return absl::OkStatus();
    }));
    return out;
  }

  storage::SecretKey key1_ = storage::SecretKey::Generate();
  storage::SecretKey key2_ = storage::SecretKey::Generate();
  testing::TestClusterOptions cluster_options_ = SmallStripes();
  CountingSliceClient slices_;
  testing::TestCluster cluster_{cluster_options_, &slices_};
  testing::FaultyManifestStore store_{&cluster_.store()};
  std::unique_ptr<storage::StripeCodec> codec_;
  Gateway old_, both_, new_;
};

TEST_F(KeyRotationTest, RewrapsEveryVersionAndUploadWithoutTouchingSlices) {
  // Written under key 1: an inline object, a sliced object overwritten once (its first version
  // stays as a superseded entry), a delete marker, and a multipart upload with one part.
  const std::string small = "small object";
  const std::string big_v1 = PatternData(300 << 10, 'a');
  const std::string big_v2 = PatternData(200 << 10, 'b');
  ASSERT_OK(old_.objects->PutObject("photos", "small", small).status());
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest first, old_.objects->PutObject("photos", "big", big_v1));
  ASSERT_OK(old_.objects->PutObject("photos", "big", big_v2).status());
  ASSERT_OK(old_.objects->PutObject("photos", "gone", "x").status());
  ASSERT_OK(old_.objects->DeleteObject("photos", "gone"));
  v1::ObjectManifest base;
  base.set_owner("alice");
  ASSERT_OK_AND_ASSIGN(UploadInfo up, old_.uploads->Create("photos", "multi", base));
  const std::string part1 = PatternData(kMinPartSize, 'c');
  {
    ASSERT_OK_AND_ASSIGN(auto w, old_.uploads->PartWriter(up, 1));
    ASSERT_OK(w->Write(part1));
    ASSERT_OK_AND_ASSIGN(v1::PartRecord part, w->FinishPart());
    ASSERT_OK(old_.uploads->CommitPart(up, part, {}));
  }
  // A client-sealed object: the cluster holds no key for it and must leave it alone.
  v1::ObjectManifest sealed;
  sealed.set_bucket("photos");
  sealed.set_key("sealed");
  sealed.set_version_id(std::string(16, '\x01'));
  sealed.set_size(0);
  sealed.mutable_encryption()->set_key_source(v1::EncryptionParams::CLIENT_SEALED);
  sealed.mutable_encryption()->set_key_id(1);
  sealed.mutable_encryption()->set_wrapped_data_key("opaque to the cluster");
  ASSERT_OK_AND_ASSIGN(sealed, store_.Commit(sealed, {}));

  // The premise: a gateway without key 1 cannot read them yet.
  EXPECT_THAT(GetAll(*new_.objects, "photos", "small").status,
              StatusIs(absl::StatusCode::kNotFound));

  const int puts = slices_.puts();
  const int deletes = slices_.deletes();
  const uint64_t slices = cluster_.TotalSlices();
  ASSERT_GT(slices, 0u);

  ASSERT_OK_AND_ASSIGN(MasterKeyRotationStats stats, RewrapMasterKeys(store_, both_.keyring));
  EXPECT_EQ(stats.failed, 0) << stats.first_error;
  EXPECT_EQ(stats.active_key_id, 2u);
  // small, big (head), big (superseded), gone (object, superseded? no: dropped), the upload.
  EXPECT_EQ(stats.rewrapped, 4);
  EXPECT_EQ(stats.skipped, 2);  // the delete marker and the sealed object
  EXPECT_EQ(stats.vanished, 0);

  // No slice was written, deleted or changed.
  EXPECT_EQ(slices_.puts(), puts);
  EXPECT_EQ(slices_.deletes(), deletes);
  EXPECT_EQ(cluster_.TotalSlices(), slices);

  // A second pass and a dry run find nothing left.
  ASSERT_OK_AND_ASSIGN(stats, RewrapMasterKeys(store_, both_.keyring));
  EXPECT_EQ(stats.rewrapped, 0);
  EXPECT_EQ(stats.current, 4);
  MasterKeyRotationOptions dry;
  dry.dry_run = true;
  ASSERT_OK_AND_ASSIGN(stats, RewrapMasterKeys(store_, both_.keyring, dry));
  EXPECT_EQ(stats.remaining, 0);

  // Key 1 retired: everything still reads byte-exact with key 2 alone.
  testing::GetOutcome got = GetAll(*new_.objects, "photos", "small");
  ASSERT_OK(got.status);
  EXPECT_EQ(got.data, small);
  got = GetAll(*new_.objects, "photos", "big");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == big_v2);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest old_version,
                       store_.Get("photos", "big", first.version_id()));
  EXPECT_EQ(old_version.encryption().key_id(), 2u);
  EXPECT_TRUE(ReadVersion(new_, old_version) == big_v1);
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest small_now, store_.GetLatest("photos", "small"));
  EXPECT_EQ(small_now.encryption().key_id(), 2u);

  // The upload goes on under key 2 only: a new part is sealed with the (rewrapped) data key, and
  // the completed object reads back whole.
  ASSERT_OK_AND_ASSIGN(up, new_.uploads->Get("photos", "multi", up.upload_id));
  EXPECT_EQ(up.record.encryption().key_id(), 2u);
  const std::string part2 = PatternData(1000, 'd');
  {
    ASSERT_OK_AND_ASSIGN(auto w, new_.uploads->PartWriter(up, 2));
    ASSERT_OK(w->Write(part2));
    ASSERT_OK_AND_ASSIGN(v1::PartRecord part, w->FinishPart());
    ASSERT_OK(new_.uploads->CommitPart(up, part, {}));
  }
  CompleteError why = CompleteError::kNone;
  ASSERT_OK(new_.uploads
                ->Complete("photos", "multi", up.upload_id,
                           {{1, Md5Raw(part1)}, {2, Md5Raw(part2)}}, &why)
                .status());
  got = GetAll(*new_.objects, "photos", "multi");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == part1 + part2);

  // The sealed object's manifest is exactly as it was.
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest sealed_now, store_.GetLatest("photos", "sealed"));
  EXPECT_EQ(sealed_now.SerializeAsString(), sealed.SerializeAsString());
}

TEST_F(KeyRotationTest, ConcurrentOverwriteIsNotUndone) {
  ASSERT_OK(old_.objects->PutObject("photos", "k", "version one").status());
  ASSERT_OK(old_.objects->PutObject("photos", "sliced", PatternData(100 << 10, 'e')).status());
  // Between the pass's scan and its first compare-and-set, a gateway already on key 2 overwrites
  // both keys: the inline first version of "k" is dropped, the sliced one kept as superseded.
  const std::string sliced_v2 = PatternData(70 << 10, 'f');
  store_.BeforeNextCompareAndSet("photos", [&] {
    ASSERT_OK(both_.objects->PutObject("photos", "k", "version two").status());
    ASSERT_OK(both_.objects->PutObject("photos", "sliced", sliced_v2).status());
  });
  ASSERT_OK_AND_ASSIGN(MasterKeyRotationStats stats, RewrapMasterKeys(store_, both_.keyring));
  EXPECT_EQ(stats.failed, 0) << stats.first_error;
  EXPECT_EQ(stats.vanished, 1);   // "k" version one: superseded inline versions are dropped
  EXPECT_EQ(stats.rewrapped, 1);  // "sliced" version one, now a superseded entry

  testing::GetOutcome got = GetAll(*new_.objects, "photos", "k");
  ASSERT_OK(got.status);
  EXPECT_EQ(got.data, "version two");
  got = GetAll(*new_.objects, "photos", "sliced");
  ASSERT_OK(got.status);
  EXPECT_TRUE(got.data == sliced_v2);
  ASSERT_OK_AND_ASSIGN(std::vector<KeyVersions> versions, store_.ScanVersions("photos", "", 10));
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].key, "k");
  EXPECT_EQ(versions[0].versions.size(), 1u);  // version one was not recreated
  ASSERT_EQ(versions[1].versions.size(), 2u);
  for (const v1::ObjectManifest& m : versions[1].versions) {
    EXPECT_EQ(m.encryption().key_id(), 2u);
  }
  EXPECT_GT(versions[1].versions[0].commit_sequence(), versions[1].versions[1].commit_sequence());
}

TEST_F(KeyRotationTest, MissingOldKeyFailsAndChangesNothing) {
  ASSERT_OK(old_.objects->PutObject("photos", "a", "alpha").status());
  ASSERT_OK(old_.objects->PutObject("photos", "b", "beta").status());
  MasterKeyRotationOptions dry;
  dry.dry_run = true;
  ASSERT_OK_AND_ASSIGN(MasterKeyRotationStats stats, RewrapMasterKeys(store_, both_.keyring, dry));
  EXPECT_EQ(stats.remaining, 2);
  EXPECT_EQ(stats.rewrapped, 0);

  // Key 1 dropped before the pass: nothing can be rewrapped, and the pass says so.
  ASSERT_OK_AND_ASSIGN(stats, RewrapMasterKeys(store_, new_.keyring));
  EXPECT_EQ(stats.failed, 2);
  EXPECT_EQ(stats.rewrapped, 0);
  EXPECT_THAT(stats.first_error, ::testing::HasSubstr("master key id 1"));
  EXPECT_THAT(stats.first_error, ::testing::HasSubstr("photos/a"));
  testing::GetOutcome got = GetAll(*old_.objects, "photos", "a");
  ASSERT_OK(got.status);
  EXPECT_EQ(got.data, "alpha");

  storage::MasterKeyring empty;
  EXPECT_THAT(RewrapMasterKeys(store_, empty).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  MasterKeyRotationOptions bad;
  bad.scan_batch = 0;
  EXPECT_THAT(RewrapMasterKeys(store_, both_.keyring, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace tessera::services
