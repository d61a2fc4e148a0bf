// Metadata scan pages bounded by bytes, end to end, over real in-process storage nodes (real
// sockets, MetaService on every node, its gRPC message caps): a bucket of 1000+ objects of
// several sizes (empty, 2 KiB inline, a few over one stripe) whose manifests add up to several
// times the node's message cap is listed completely through every listing path: ListObjects with
// and without prefix / delimiter / start-after and with paging, ScanVersions (version listing),
// the slice GC, the orphan reclaimer, the multipart-upload listing DeleteBucket checks, and the
// scans of a shard split. Before scan pages were bounded by bytes, a page of 1000 such
// manifests exceeded the node's 1.06 MiB send limit and every one of these failed with
// RESOURCE_EXHAUSTED (S3: 503 SlowDown).
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "base/testing/status_matchers.h"
#include "gtest/gtest.h"
#include "services/meta/meta_limits.h"
#include "services/object/key_rotation.h"
#include "services/object/manifest_chunks.h"
#include "services/object/multipart.h"
#include "services/object/object_backend.h"
#include "services/object/object_test_util.h"
#include "services/object/orphan_reclaimer.h"
#include "services/object/replicated_manifest_store.h"
#include "services/object/replicated_test_cluster.h"
#include "services/object/slice_gc.h"
#include "storage/crypto/key_wrap.h"
#include "storage/pipeline/stripe_codec.h"

namespace tessera::services {
namespace {

using ::tessera::services::testing::ReplicatedClusterOptions;
using ::tessera::services::testing::ReplicatedTestCluster;
using ::tessera::testing::StatusIs;

constexpr uint64_t kStripe = 64 << 10;
constexpr char kBucket[] = "many";

std::string Data(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed * 131 + i * 31 + (i >> 9));
  return s;
}

// Every page of `request` until the end; the keys and common prefixes in order. Fails the test
// on an error or a page over max_keys.
void ListAll(ObjectService& s, ListRequest request, std::vector<std::string>* keys,
             std::vector<std::string>* prefixes, int* pages) {
  *pages = 0;
  while (true) {
    absl::StatusOr<ListResult> page = s.ListObjects(kBucket, request);
    ASSERT_OK(page.status());
    ++*pages;
    ASSERT_LE(static_cast<int>(page->objects.size() + page->common_prefixes.size()),
              request.max_keys);
    for (const v1::ObjectManifest& m : page->objects) keys->push_back(m.key());
    for (const std::string& p : page->common_prefixes) prefixes->push_back(p);
    if (!page->truncated) return;
    ASSERT_FALSE(page->next_continuation_token.empty());
    request.continuation_token = page->next_continuation_token;
    ASSERT_LT(*pages, 10000);
  }
}

class ReplicatedPagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ReplicatedClusterOptions o;
    o.nodes = 4;
    o.data.data_shards = 2;
    o.data.parity_shards = 1;  // metadata: 3 replicas, majority quorums
    o.data.stripe_size = kStripe;
    o.data.inline_threshold = 4 << 10;  // 2 KiB objects are inline (as the 64 KiB default)
    o.layout.partitions = 16;
    cluster_ = std::make_unique<ReplicatedTestCluster>(o);
    ASSERT_OK(cluster_->status());
    ASSERT_OK_AND_ASSIGN(gw_, cluster_->OpenGateway());
    ASSERT_OK(gw_->objects().CreateBucket(kBucket));
  }

  // Writes `jobs` (key -> size) with 8 threads; each object's content depends on `seed`.
  void PutAll(const std::map<std::string, size_t>& jobs, int seed) {
    std::vector<std::pair<std::string, size_t>> list(jobs.begin(), jobs.end());
    std::atomic<size_t> next{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (size_t i = next++; i < list.size(); i = next++) {
          absl::StatusOr<v1::ObjectManifest> m = gw_->objects().PutObject(
              kBucket, list[i].first, Data(list[i].second, seed + static_cast<int>(i)));
          if (!m.ok()) {
            ++failures;
            ADD_FAILURE() << list[i].first << ": " << m.status();
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    ASSERT_EQ(failures.load(), 0);
  }

  ObjectService& s() { return gw_->objects(); }

  std::unique_ptr<ReplicatedTestCluster> cluster_;
  std::unique_ptr<ObjectBackend> gw_;
};

TEST_F(ReplicatedPagingTest, ThousandsOfManifestsListThroughEveryScan) {
  // 300 empty objects, 800 inline ones of 2 KiB in ten directories, 6 over one stripe, 4 at the
  // top level: 1110 keys, about 2 MB of manifests (the node's message cap is 1.06 MiB).
  std::map<std::string, size_t> objects;
  for (int i = 0; i < 300; ++i) objects[absl::StrFormat("e/%04d", i)] = 0;
  for (int i = 0; i < 800; ++i) objects[absl::StrFormat("i/%d/%04d", i % 10, i)] = 2 << 10;
  for (int i = 0; i < 6; ++i) objects[absl::StrFormat("s/%d", i)] = kStripe + 1 + i * kStripe / 2;
  for (int i = 0; i < 4; ++i) objects[absl::StrFormat("top%d", i)] = 100;
  ASSERT_NO_FATAL_FAILURE(PutAll(objects, 1));
  // Superseded versions for the GC: 40 inline objects and 2 striped ones written again.
  std::map<std::string, size_t> again;
  for (int i = 0; i < 40; ++i) again[absl::StrFormat("i/%d/%04d", i % 10, i)] = 2 << 10;
  again["s/0"] = objects["s/0"];
  again["s/1"] = objects["s/1"];
  ASSERT_NO_FATAL_FAILURE(PutAll(again, 2));

  std::vector<std::string> all_keys;
  for (const auto& [k, size] : objects) all_keys.push_back(k);
  ObjectService& s = gw_->objects();

  // 1. ListObjects, whole bucket, default page size (1000): two pages.
  {
    std::vector<std::string> keys, prefixes;
    int pages = 0;
    ASSERT_NO_FATAL_FAILURE(ListAll(s, ListRequest{}, &keys, &prefixes, &pages));
    EXPECT_EQ(keys, all_keys);
    EXPECT_TRUE(prefixes.empty());
    EXPECT_EQ(pages, 2);
  }
  // 2. Small pages.
  {
    ListRequest r;
    r.max_keys = 137;
    std::vector<std::string> keys, prefixes;
    int pages = 0;
    ASSERT_NO_FATAL_FAILURE(ListAll(s, r, &keys, &prefixes, &pages));
    EXPECT_EQ(keys, all_keys);
    EXPECT_EQ(pages, static_cast<int>((all_keys.size() + 136) / 137));
  }
  // 3. Delimiter at the top: three directories and the top-level keys.
  {
    ListRequest r;
    r.delimiter = "/";
    std::vector<std::string> keys, prefixes;
    int pages = 0;
    ASSERT_NO_FATAL_FAILURE(ListAll(s, r, &keys, &prefixes, &pages));
    EXPECT_EQ(prefixes, (std::vector<std::string>{"e/", "i/", "s/"}));
    EXPECT_EQ(keys, (std::vector<std::string>{"top0", "top1", "top2", "top3"}));
  }
  // 4. Prefix + delimiter, pages of 3 (prefixes and keys share the page).
  {
    ListRequest r;
    r.prefix = "i/";
    r.delimiter = "/";
    r.max_keys = 3;
    std::vector<std::string> keys, prefixes;
    int pages = 0;
    ASSERT_NO_FATAL_FAILURE(ListAll(s, r, &keys, &prefixes, &pages));
    EXPECT_TRUE(keys.empty());
    ASSERT_EQ(prefixes.size(), 10u);
    EXPECT_EQ(prefixes[0], "i/0/");
    EXPECT_EQ(prefixes[9], "i/9/");
  }
  // 5. One directory in full, and the whole inline range after a start-after.
  {
    ListRequest r;
    r.prefix = "i/3/";
    std::vector<std::string> keys, prefixes;
    int pages = 0;
    ASSERT_NO_FATAL_FAILURE(ListAll(s, r, &keys, &prefixes, &pages));
    EXPECT_EQ(keys.size(), 80u);
    ListRequest after;
    after.prefix = "i/";
    after.start_after = "i/0/9999";
    keys.clear();
    ASSERT_NO_FATAL_FAILURE(ListAll(s, after, &keys, &prefixes, &pages));
    EXPECT_EQ(keys.size(), 720u);
  }
  // 6. Version listing: every key with all of its versions.
  {
    std::string after;
    std::map<std::string, int> versions;
    while (true) {
      ASSERT_OK_AND_ASSIGN(std::vector<KeyVersions> batch,
                           gw_->store().ScanVersions(kBucket, after, 1000));
      for (const KeyVersions& kv : batch) versions[kv.key] = static_cast<int>(kv.versions.size());
      if (batch.size() < 1000) break;
      after = batch.back().key;
    }
    ASSERT_EQ(versions.size(), objects.size());
    // A superseded version is kept for the GC only if it references slices: the two striped
    // objects written again; the inline ones had nothing to collect and were dropped.
    for (const auto& [k, n] : versions) {
      EXPECT_EQ(n, again.count(k) != 0 && absl::StartsWith(k, "s/") ? 2 : 1) << k;
    }
  }

  // 7. Multipart uploads: 520 of them with 2 KiB of metadata each (about 1.1 MB of upload
  //    records, scanned 500 keys at a time), then the listing DeleteBucket uses to check for
  //    uploads in progress, and the full listing.
  storage::StripeCodecOptions co;
  co.data_shards = 2;
  co.parity_shards = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<storage::StripeCodec> codec,
                       storage::StripeCodec::Create(co));
  MultipartUploads uploads(s.options(), gw_->deps(), &gw_->store(), codec.get());
  ASSERT_OK(uploads.Init());
  {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = next++; i < 520; i = next++) {
          v1::ObjectManifest base;
          (*base.mutable_user_metadata())["note"] = std::string(2 << 10, 'n');
          EXPECT_OK(uploads.Create(kBucket, absl::StrFormat("up/%04d", i), base).status());
        }
      });
    }
    for (auto& t : threads) t.join();
    bool truncated = false;
    ASSERT_OK_AND_ASSIGN(std::vector<UploadInfo> first,
                         uploads.List(kBucket, "", "", "", 1, &truncated));
    EXPECT_EQ(first.size(), 1u);
    EXPECT_TRUE(truncated);
    ASSERT_OK_AND_ASSIGN(std::vector<UploadInfo> every,
                         uploads.List(kBucket, "", "", "", 1000, &truncated));
    EXPECT_EQ(every.size(), 520u);
    EXPECT_FALSE(truncated);
  }
  // The bucket is not empty: a precondition failure, never an exhausted resource.
  EXPECT_THAT(s.DeleteBucket(kBucket), StatusIs(absl::StatusCode::kFailedPrecondition));

  // 8. Slice GC: exactly the 2 superseded striped versions go; every key keeps its newest version.
  SliceGcOptions gc_options;
  gc_options.grace = absl::ZeroDuration();
  SliceGarbageCollector gc(gc_options, gw_->deps(), &gw_->store());
  ASSERT_OK_AND_ASSIGN(SliceGcStats gc_stats, gc.RunOnce());
  EXPECT_EQ(gc_stats.versions_collected, 2);
  EXPECT_EQ(gc_stats.slice_failures, 0);
  EXPECT_GT(gc_stats.slices_deleted, 0);

  // 9. Orphan reclaimer: it must see every manifest, so it finds no orphan among live data.
  std::unique_ptr<SliceLister> lister = NewGrpcSliceLister(cluster_->auth());
  OrphanReclaimerOptions orphan_options;
  orphan_options.grace = absl::ZeroDuration();
  OrphanReclaimer reclaimer(orphan_options, gw_->deps(), &gw_->store(), lister.get());
  ASSERT_OK_AND_ASSIGN(OrphanReclaimStats orphan_stats, reclaimer.RunOnce());
  EXPECT_EQ(orphan_stats.node_failures, 0);
  EXPECT_EQ(orphan_stats.orphan_versions, 0);
  EXPECT_EQ(orphan_stats.slices_deleted, 0);
  for (const char* key : {"s/0", "s/5"}) {
    testing::GetOutcome got = testing::GetAll(s, kBucket, key);
    ASSERT_OK(got.status);
    EXPECT_EQ(got.data.size(), objects[key]) << key;
  }

  // 10. A shard split (its size scan, copy and drain read the shard page by page), then the
  //     listing across both shards.
  auto* store = dynamic_cast<ReplicatedManifestStore*>(&gw_->store());
  ASSERT_NE(store, nullptr);
  ASSERT_OK(store->SplitShard(kBucket, 0, /*force=*/true));
  ASSERT_OK_AND_ASSIGN(v1::BucketRecord record, s.HeadBucket(kBucket));
  EXPECT_EQ(record.shards_size(), 2);
  {
    std::vector<std::string> keys, prefixes;
    int pages = 0;
    ASSERT_NO_FATAL_FAILURE(ListAll(s, ListRequest{}, &keys, &prefixes, &pages));
    EXPECT_EQ(keys, all_keys);
  }
}

// A manifest of a 50 GiB object in 8 MiB stripes (6,400 stripes of six slices, about 2.8 MB of
// stripe records: over twice the metadata message cap), built synthetically: it is written
// (stripes out of line in chunk records, the head small), read back whole, listed as a head,
// updated one stripe at a time and deleted with its chunk records.
TEST_F(ReplicatedPagingTest, FiftyGibManifestIsStoredOutOfLine) {
  constexpr uint64_t kBigStripe = 8ull << 20;
  const std::vector<int> part_stripes = {3000, 3000, 400};  // 6,400 stripes = 50 GiB
  v1::ObjectManifest m;
  m.set_schema_version(1);
  m.set_bucket(kBucket);
  m.set_key("big/object");
  m.set_version_id(std::string(16, '\x07'));
  m.set_etag("\"0123456789abcdef-3\"");
  m.set_created_unix_micros(absl::ToUnixMicros(absl::Now()));
  m.mutable_coding()->set_data_shards(4);  // the default 4 + 2: six slices per stripe
  m.mutable_coding()->set_parity_shards(2);
  m.mutable_coding()->set_stripe_size(kBigStripe);
  uint64_t total = 0;
  for (size_t p = 0; p < part_stripes.size(); ++p) {
    v1::PartRecord* part = m.add_parts();
    part->set_number(static_cast<uint32_t>(p + 1));
    part->set_md5(std::string(16, static_cast<char>(p)));
    for (int i = 0; i < part_stripes[p]; ++i) {
      v1::StripeRecord* st = part->add_stripes();
      st->set_index(static_cast<uint32_t>(i));
      st->set_plaintext_size(kBigStripe);
      st->set_sealed_size(kBigStripe + 16);
      st->set_slice_size(kBigStripe / 4 + 64);
      for (int j = 0; j < 6; ++j) {
        v1::SliceRef* ref = st->add_slices();
        ref->set_node_id(cluster_->node_id((i + j) % cluster_->size()));
        ref->set_hash(std::string(32, static_cast<char>(i * 6 + j)));
      }
    }
    part->set_size(static_cast<uint64_t>(part_stripes[p]) * kBigStripe);
    total += part->size();
  }
  m.set_size(total);
  ASSERT_EQ(total, 50ull << 30);
  ASSERT_GT(m.ByteSizeLong(), 2 * kMaxMetaRequestBytes);

  ManifestStore& store = gw_->store();
  ASSERT_OK(store.PutIfAbsent(m));
  EXPECT_THAT(store.PutIfAbsent(m), StatusIs(absl::StatusCode::kAlreadyExists));

  // Read back whole, by version and as the latest.
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest got, store.Get(kBucket, m.key(), m.version_id()));
  EXPECT_TRUE(got.SerializeAsString() == m.SerializeAsString());
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest latest, store.GetLatest(kBucket, m.key()));
  EXPECT_TRUE(latest.SerializeAsString() == m.SerializeAsString());

  // Stored: a small head, and 26 chunk records (3000 = 11 x 256 + 184, twice; 400 = 256 + 144).
  ASSERT_OK_AND_ASSIGN(ScanResult chunks,
                       gw_->meta().Scan(ChunkField(m.version_id()), "", "", 1000));
  EXPECT_EQ(chunks.items.size(), 26u);
  for (const ScanItem& item : chunks.items) EXPECT_LT(item.value.size(), 128u << 10);

  // Listed as a head (parts with stripe counts, no stripes), with its size.
  ListRequest r;
  r.prefix = "big/";
  ASSERT_OK_AND_ASSIGN(ListResult listed, s().ListObjects(kBucket, r));
  ASSERT_EQ(listed.objects.size(), 1u);
  const v1::ObjectManifest& head = listed.objects[0];
  EXPECT_EQ(head.size(), 50ull << 30);
  EXPECT_EQ(head.schema_version(), kManifestSchemaOutOfLine);
  EXPECT_EQ(head.stripe_chunks(), 26u);
  ASSERT_EQ(head.parts_size(), 3);
  EXPECT_EQ(head.parts(0).stripe_count(), 3000u);
  EXPECT_EQ(head.parts(0).stripes_size(), 0);
  EXPECT_LT(head.ByteSizeLong(), 4096u);
  ASSERT_OK_AND_ASSIGN(std::vector<KeyVersions> versions, store.ScanVersions(kBucket, "big/", 10));
  ASSERT_FALSE(versions.empty());
  EXPECT_EQ(versions[0].key, m.key());
  EXPECT_EQ(versions[0].versions[0].stripe_chunks(), 26u);

  // A repair-like update of one stripe: read back with the change, everything else unchanged.
  const std::string moved_to = cluster_->node_id(3);
  ASSERT_OK(store.CompareAndSet(
      kBucket, m.key(), m.version_id(),
      [&](const std::optional<v1::ObjectManifest>& cur)
          -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
        if (!cur.has_value()) return absl::NotFoundError("gone");
        v1::ObjectManifest next = *cur;
        if (next.parts(1).stripes_size() != 3000) return absl::InternalError("not whole");
        next.mutable_parts(1)->mutable_stripes(2000)->mutable_slices(0)->set_node_id(moved_to);
        return std::optional<v1::ObjectManifest>(next);
      }));
  ASSERT_OK_AND_ASSIGN(got, store.Get(kBucket, m.key(), m.version_id()));
  EXPECT_EQ(got.parts(1).stripes(2000).slices(0).node_id(), moved_to);
  m.mutable_parts(1)->mutable_stripes(2000)->mutable_slices(0)->set_node_id(moved_to);
  EXPECT_TRUE(got.SerializeAsString() == m.SerializeAsString());

  // Deleted (as the GC does once the slices are gone): the head and every chunk record.
  ASSERT_OK(store.CompareAndSet(kBucket, m.key(), m.version_id(),
                                [](const std::optional<v1::ObjectManifest>&)
                                    -> absl::StatusOr<std::optional<v1::ObjectManifest>> {
                                  return std::optional<v1::ObjectManifest>();
                                }));
  EXPECT_THAT(store.Get(kBucket, m.key(), m.version_id()), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK_AND_ASSIGN(chunks, gw_->meta().Scan(ChunkField(m.version_id()), "", "", 1000));
  EXPECT_TRUE(chunks.items.empty());
}

// Master-key rotation of a manifest stored out of line (head + chunk records): the CAS goes through
// the whole-manifest path, the wrapped key changes, every stripe stays as it was.
TEST_F(ReplicatedPagingTest, KeyRotationRewrapsAnOutOfLineManifest) {
  storage::SecretKey key1 = storage::SecretKey::Generate();
  storage::SecretKey key2 = storage::SecretKey::Generate();
  storage::MasterKeyring old_ring, both, new_ring;
  ASSERT_OK(old_ring.Add(1, key1.Clone()));
  ASSERT_OK(both.Add(1, key1.Clone()));
  ASSERT_OK(both.Add(2, key2.Clone()));
  ASSERT_OK(both.SetActive(2));
  ASSERT_OK(new_ring.Add(2, key2.Clone()));

  v1::ObjectManifest m;
  m.set_schema_version(1);
  m.set_bucket(kBucket);
  m.set_key("rotate/big");
  m.set_version_id(std::string(16, '\x09'));
  m.set_created_unix_micros(absl::ToUnixMicros(absl::Now()));
  v1::PartRecord* part = m.add_parts();
  part->set_number(1);
  for (int i = 0; i < 600; ++i) {  // > kStripesPerChunk: out of line
    v1::StripeRecord* st = part->add_stripes();
    st->set_index(static_cast<uint32_t>(i));
    st->set_plaintext_size(kStripe);
    for (int j = 0; j < 3; ++j) {
      v1::SliceRef* ref = st->add_slices();
      ref->set_node_id(cluster_->node_id((i + j) % cluster_->size()));
      ref->set_hash(std::string(32, static_cast<char>(i + j)));
    }
  }
  part->set_size(600 * kStripe);
  m.set_size(part->size());
  const storage::SecretKey data_key = storage::SecretKey::Generate();
  ASSERT_OK_AND_ASSIGN(storage::WrappedKey wrapped, old_ring.Wrap(data_key, m.version_id()));
  v1::EncryptionParams* enc = m.mutable_encryption();
  enc->set_aead_algorithm(1);
  enc->set_key_source(v1::EncryptionParams::CLUSTER_MASTER_KEY);
  enc->set_key_id(1);
  enc->set_wrapped_data_key(wrapped.Serialize());
  ManifestStore& store = gw_->store();
  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest committed, store.Commit(m, {}));
  // Stored out of line: a scan sees the head only.
  ASSERT_OK_AND_ASSIGN(std::vector<KeyVersions> scanned, store.ScanVersions(kBucket, "rotate/", 1));
  ASSERT_EQ(scanned.size(), 1u);
  ASSERT_GT(scanned[0].versions[0].stripe_chunks(), 0u);

  ASSERT_OK_AND_ASSIGN(MasterKeyRotationStats stats, RewrapMasterKeys(store, both));
  EXPECT_EQ(stats.failed, 0) << stats.first_error;
  EXPECT_EQ(stats.rewrapped, 1);

  ASSERT_OK_AND_ASSIGN(v1::ObjectManifest got, store.GetLatest(kBucket, m.key()));
  EXPECT_EQ(got.encryption().key_id(), 2u);
  ASSERT_OK_AND_ASSIGN(storage::WrappedKey now,
                       storage::WrappedKey::Parse(got.encryption().wrapped_data_key()));
  ASSERT_OK_AND_ASSIGN(storage::SecretKey unwrapped, new_ring.Unwrap(now, m.version_id()));
  EXPECT_TRUE(unwrapped.Equals(data_key));
  // Everything but the wrapping is as committed (stripes from the chunk records included).
  v1::ObjectManifest expected = committed;
  *expected.mutable_encryption() = got.encryption();
  EXPECT_TRUE(got.SerializeAsString() == expected.SerializeAsString());
  ASSERT_EQ(got.parts(0).stripes_size(), 600);
}

}  // namespace
}  // namespace tessera::services
