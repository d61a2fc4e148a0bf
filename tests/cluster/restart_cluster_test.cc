// Crashes and restarts of real processes (6 tessera-node in 3 sites, k=4 m=2, metadata replicated
// on the nodes with N=5, W=R=3; one tessera-gateway and one tessera-s3 joined by --seeds), all by
// kill -9, with the objects written and read through tessera-s3 over HTTP (and read through
// tessera-gateway with the SDK):
//   - m nodes killed, everything reads back byte-exact; those nodes RESTARTED on their data
//     directories; m OTHER nodes killed: everything reads back again. With 6 nodes and k+m = 6
//     every stripe has a slice on every node, so the second read needs both restarted nodes'
//     slices, and metadata quorums need them too: they serve what they held before the crash.
//     Then more objects are written and everything reads back.
//   - tessera-s3 killed in the middle of a large single PUT (a new key and an overwrite) and of a
//     multipart UploadPart: after a restart every acknowledged object reads back byte-exact, the
//     interrupted PUTs left nothing (the overwritten key still has its old bytes), and the
//     upload continues from its acknowledged parts (its state lives in the metadata) and
//     completes. tessera-s3 killed while answering CompleteMultipartUpload: the object is absent
//     or complete, never partial, and a retried Complete returns it.
#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "services/meta/layout.h"
#include "services/meta/meta_client.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

using services::Layout;
using services::LayoutOptions;
using services::LayoutView;
using services::MetaClient;
using services::MetaClientOptions;
using services::MetaMember;

constexpr uint64_t kStripe = 256 << 10;
constexpr uint64_t kPart = 5 << 20;  // S3's smallest non-last part
constexpr char kBucket[] = "bkt";
// How long killed nodes stay down: a realistic outage, long enough for an unbounded gRPC reconnect
// backoff to grow past kReconnect (1 s x 1.6^n: gaps of 6.5 s and more after 15 s), short of the
// layout maintainers' 30 s grace period (the test copes with a layout change either way).
constexpr absl::Duration kOutage = absl::Seconds(20);
// What the front ends get to reconnect to restarted nodes: they retry a refused connection at
// least every second (GrpcSliceClient, GrpcAcceptorClient).
constexpr absl::Duration kReconnect = absl::Seconds(5);

ProcessClusterOptions Options() {
  ProcessClusterOptions o;
  o.stripe_size = kStripe;
  o.s3_gateways = 1;
  return o;
}

S3TestClient S3Client(ProcessCluster& cluster) {
  return S3TestClient(cluster.s3_port(), ProcessCluster::access_key(),
                      ProcessCluster::secret_key());
}

std::string Describe(const absl::StatusOr<S3Response>& r) {
  if (!r.ok()) return r.status().ToString();
  return absl::StrCat("HTTP ", r->status, " ", r->body.substr(0, 300));
}

// PUTs objects of assorted sizes (empty, inline, one partial stripe, whole stripes, many
// stripes) named prefix0, prefix1, ...; returns key -> bytes of those acknowledged (200).
std::map<std::string, std::string> PutObjects(const S3TestClient& s3, const std::string& prefix,
                                              uint64_t seed) {
  const uint64_t sizes[] = {
      0, 10, 70 << 10, kStripe, 3 * kStripe + 999, 9 * kStripe + 1, 16 * kStripe + 12345};
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < std::size(sizes); ++i) {
    const std::string key = absl::StrCat(prefix, i);
    std::string data = TestBytes(sizes[i], seed + i);
    auto r = s3.Put(kBucket, key, data);
    EXPECT_TRUE(r.ok() && r->status == 200) << key << ": " << Describe(r);
    if (r.ok() && r->status == 200) out[key] = std::move(data);
  }
  return out;
}

// Uploads `parts` through a multipart upload of `key` and completes it; the object's bytes, or ""
// after a failure (reported).
std::string PutMultipart(const S3TestClient& s3, const std::string& key,
                         const std::vector<uint64_t>& part_sizes, uint64_t seed) {
  auto created = s3.CreateMultipartUpload(kBucket, key);
  EXPECT_TRUE(created.ok() && created->status == 200) << Describe(created);
  if (!created.ok() || created->status != 200) return "";
  const std::string upload_id = created->XmlValue("UploadId");
  std::string all;
  std::vector<S3Part> parts;
  for (size_t i = 0; i < part_sizes.size(); ++i) {
    const std::string data = TestBytes(part_sizes[i], seed + i);
    auto r = s3.UploadPart(kBucket, key, upload_id, static_cast<int>(i + 1), data);
    EXPECT_TRUE(r.ok() && r->status == 200) << key << " part " << i + 1 << ": " << Describe(r);
    if (!r.ok() || r->status != 200) return "";
    parts.push_back({static_cast<int>(i + 1), r->header("etag")});
    all += data;
  }
  auto done = s3.CompleteMultipartUpload(kBucket, key, upload_id, parts);
  EXPECT_TRUE(done.ok() && done->status == 200) << key << ": " << Describe(done);
  return done.ok() && done->status == 200 ? all : "";
}

void ExpectAllReadable(const S3TestClient& s3, const std::map<std::string, std::string>& objects,
                       const std::string& when) {
  for (const auto& [key, data] : objects) {
    auto r = s3.Get(kBucket, key);
    ASSERT_TRUE(r.ok()) << when << ": " << key << ": " << r.status();
    ASSERT_EQ(r->status, 200) << when << ": " << key << ": " << Describe(r);
    EXPECT_EQ(r->body.size(), data.size()) << when << ": " << key;
    EXPECT_TRUE(r->body == data) << when << ": " << key << ": bytes differ";
  }
}

// The same objects through tessera-gateway (gRPC, SDK): one data path, one metadata store.
void ExpectAllReadableSdk(sdk::Client& c, const std::map<std::string, std::string>& objects,
                          const std::string& when) {
  for (const auto& [key, data] : objects) {
    auto got = c.GetObject(kBucket, key);
    ASSERT_TRUE(got.ok()) << when << " (gateway): " << key << ": " << got.status();
    EXPECT_TRUE(*got == data) << when << " (gateway): " << key << ": bytes differ";
  }
}

// Waits (up to 3 minutes: a layout change waits out the maintainers' 30 s grace period, then
// hands partitions off) until the decided metadata layout record holds every node at its
// current address and is not in transition, as read by a MetaClient of our own. Returns the
// record's epoch, 0 on timeout (reported).
uint64_t WaitLayoutOfAllNodes(ProcessCluster& cluster) {
  std::vector<MetaMember> members;
  for (size_t i = 0; i < cluster.node_ids().size(); ++i) {
    members.push_back({cluster.node_ids()[i], absl::StrCat("site", cluster.site_of(i)),
                       cluster.node_addresses()[i]});
  }
  auto auth = p2p::ClusterAuth::FromSecretFile(cluster.secret_file(), "layout-probe");
  EXPECT_TRUE(auth.ok()) << auth.status();
  if (!auth.ok()) return 0;
  LayoutOptions layout_options{.replicas = 5, .write_quorum = 3, .read_quorum = 3};
  auto placeholder = Layout::Compute(0, members, layout_options);
  EXPECT_TRUE(placeholder.ok()) << placeholder.status();
  if (!placeholder.ok()) return 0;
  MetaClientOptions meta_options;
  meta_options.auth = std::shared_ptr<const p2p::ClusterAuth>(*std::move(auth));
  auto meta = MetaClient::Create(LayoutView(*std::move(placeholder)), std::move(meta_options));
  EXPECT_TRUE(meta.ok()) << meta.status();
  if (!meta.ok()) return 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(3);
  std::string last;
  while (absl::Now() < deadline) {
    auto record = (*meta)->LoadLayout(members);
    if (record.ok()) {
      std::set<std::pair<std::string, std::string>> have, want;
      for (const auto& m : record->members()) have.insert({m.node_id(), m.address()});
      for (const MetaMember& m : members) want.insert({m.node_id, m.address});
      if (have == want && !record->in_transition()) return record->epoch();
      last = absl::StrCat("epoch ", record->epoch(), ": ", record->members_size(),
                          " members, in_transition=", record->in_transition());
    } else {
      last = record.status().ToString();
    }
    absl::SleepFor(absl::Milliseconds(500));
  }
  ADD_FAILURE() << "the metadata layout never held all nodes again; last seen: " << last;
  return 0;
}

// Restarts the killed nodes `a` and `b` once `kOutage` has passed since `killed_at`, then waits
// until the gateway sees them alive, the metadata layout holds every node again, and the front
// ends had kReconnect to reconnect. Returns the layout epoch.
uint64_t RestartAfterOutage(ProcessCluster& cluster, int a, int b, absl::Time killed_at) {
  absl::SleepFor(killed_at + kOutage - absl::Now());
  EXPECT_TRUE(cluster.RestartNode(a));
  EXPECT_TRUE(cluster.RestartNode(b));
  EXPECT_TRUE(cluster.WaitAlive(6)) << "the gateway does not see the restarted nodes alive";
  const uint64_t epoch = WaitLayoutOfAllNodes(cluster);
  absl::SleepFor(kReconnect);
  return epoch;
}

TEST(RestartClusterTest, KilledNodesRestartAndServeWhenOtherNodesDie) {
  ProcessCluster cluster(Options());
  S3TestClient s3 = S3Client(cluster);
  auto bucket = s3.Request("PUT", absl::StrCat("/", kBucket));
  ASSERT_TRUE(bucket.ok() && bucket->status == 200) << Describe(bucket);
  const uint64_t first_epoch = WaitLayoutOfAllNodes(cluster);
  ASSERT_GT(first_epoch, 0u);

  std::map<std::string, std::string> objects = PutObjects(s3, "before/", 100);
  ASSERT_EQ(objects.size(), 7u);
  objects["before/mp"] = PutMultipart(s3, "before/mp", {kPart, kPart + 7, 333}, 200);
  ASSERT_FALSE(objects["before/mp"].empty());

  // m = 2 nodes dead, in sites 1 and 2.
  absl::Time killed_at = absl::Now();
  cluster.KillNode(1);
  cluster.KillNode(2);
  ExpectAllReadable(s3, objects, "nodes 1, 2 dead");
  // Metadata-only (inline) writes still succeed; a striped one cannot place k+1 = 5 slices on
  // 4 live nodes and fails cleanly, leaving nothing.
  const std::string small = TestBytes(1000, 300);
  auto put = s3.Put(kBucket, "during-outage/inline", small);
  EXPECT_TRUE(put.ok() && put->status == 200) << Describe(put);
  if (put.ok() && put->status == 200) objects["during-outage/inline"] = small;
  put = s3.Put(kBucket, "during-outage/striped", TestBytes(3 * kStripe, 301));
  EXPECT_TRUE(put.ok() && put->status == 503) << Describe(put);
  auto head = s3.Request("HEAD", absl::StrCat("/", kBucket, "/during-outage/striped"));
  EXPECT_TRUE(head.ok() && head->status == 404) << Describe(head);

  // Back on the same data directories and addresses.
  const uint64_t epoch_after_restart = RestartAfterOutage(cluster, 1, 2, killed_at);
  ASSERT_GT(epoch_after_restart, 0u);
  std::cout << "layout epoch " << first_epoch << " at start, " << epoch_after_restart
            << " after nodes 1 and 2 restarted\n";

  // Two OTHER nodes dead (sites 0 and 2): every stripe now needs the restarted nodes' slices.
  killed_at = absl::Now();
  cluster.KillNode(3);
  cluster.KillNode(5);
  ExpectAllReadable(s3, objects, "nodes 1, 2 restarted, nodes 3, 5 dead");
  ExpectAllReadableSdk(cluster.client(), objects, "nodes 1, 2 restarted, nodes 3, 5 dead");
  put = s3.Put(kBucket, "during-outage/inline2", small);
  EXPECT_TRUE(put.ok() && put->status == 200) << Describe(put);
  if (put.ok() && put->status == 200) objects["during-outage/inline2"] = small;

  const uint64_t final_epoch = RestartAfterOutage(cluster, 3, 5, killed_at);
  EXPECT_GT(final_epoch, 0u);
  std::cout << "layout epoch " << final_epoch << " after nodes 3 and 5 restarted\n";
  std::map<std::string, std::string> more = PutObjects(s3, "after/", 400);
  EXPECT_EQ(more.size(), 7u);
  more["after/mp"] = PutMultipart(s3, "after/mp", {kPart + 1, 4096}, 500);
  EXPECT_FALSE(more["after/mp"].empty());
  objects.insert(more.begin(), more.end());
  ExpectAllReadable(s3, objects, "all restarted");
  ExpectAllReadableSdk(cluster.client(), objects, "all restarted");

  // The listing is exactly what was acknowledged.
  std::set<std::string> listed;
  ASSERT_TRUE(cluster.client()
                  .ListAllObjects(kBucket, {},
                                  [&](const sdk::ObjectInfo& o) {
                                    listed.insert(o.key);
                                    return absl::OkStatus();
                                  })
                  .ok());
  std::set<std::string> expected;
  for (const auto& [key, data] : objects) expected.insert(key);
  EXPECT_EQ(listed, expected);
}

TEST(RestartClusterTest, S3KilledMidUploadLosesNoAcknowledgedObject) {
  ProcessCluster cluster(Options());
  S3TestClient s3 = S3Client(cluster);
  auto bucket = s3.Request("PUT", absl::StrCat("/", kBucket));
  ASSERT_TRUE(bucket.ok() && bucket->status == 200) << Describe(bucket);

  std::map<std::string, std::string> acked = PutObjects(s3, "acked/", 100);
  ASSERT_EQ(acked.size(), 7u);
  const std::string old_bytes = TestBytes(2 * kStripe + 5, 150);
  auto put = s3.Put(kBucket, "overwritten", old_bytes);
  ASSERT_TRUE(put.ok() && put->status == 200) << Describe(put);
  acked["overwritten"] = old_bytes;

  // A multipart upload with three acknowledged parts.
  auto created = s3.CreateMultipartUpload(kBucket, "big-mp");
  ASSERT_TRUE(created.ok() && created->status == 200) << Describe(created);
  const std::string upload_id = created->XmlValue("UploadId");
  ASSERT_FALSE(upload_id.empty()) << created->body;
  std::vector<S3Part> parts;
  std::string mp_bytes;
  for (int n = 1; n <= 3; ++n) {
    const std::string data = TestBytes(kPart + n, 600 + n);
    auto r = s3.UploadPart(kBucket, "big-mp", upload_id, n, data);
    ASSERT_TRUE(r.ok() && r->status == 200) << Describe(r);
    parts.push_back({n, r->header("etag")});
    mp_bytes += data;
  }

  // In flight when tessera-s3 dies: part 4 (16 MiB, 12 MiB sent), a new 64 MiB object (40 MiB
  // sent) and a 64 MiB overwrite of "overwritten" (40 MiB sent). Each send returned once the
  // kernel took the bytes, i.e. tessera-s3 has read most of them and is writing stripes.
  {
    const std::string part4 = TestBytes(16 << 20, 604);
    const std::string big = TestBytes(64 << 20, 700);
    auto mp_part =
        s3.StartRequest("PUT", absl::StrCat("/", kBucket, "/big-mp"),
                        absl::StrCat("partNumber=4&uploadId=", S3TestClient::QueryValue(upload_id)),
                        part4.size(), absl::string_view(part4).substr(0, 12 << 20));
    ASSERT_TRUE(mp_part.ok()) << mp_part.status();
    auto new_put = s3.StartRequest("PUT", absl::StrCat("/", kBucket, "/interrupted"), "",
                                   big.size(), absl::string_view(big).substr(0, 40 << 20));
    ASSERT_TRUE(new_put.ok()) << new_put.status();
    auto overwrite = s3.StartRequest("PUT", absl::StrCat("/", kBucket, "/overwritten"), "",
                                     big.size(), absl::string_view(big).substr(0, 40 << 20));
    ASSERT_TRUE(overwrite.ok()) << overwrite.status();
    const int status = cluster.KillS3(0, SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  cluster.RestartS3(0);
  s3.set_port(cluster.s3_port());

  ExpectAllReadable(s3, acked, "after tessera-s3 was killed mid-upload");
  ExpectAllReadableSdk(cluster.client(), acked, "after tessera-s3 was killed mid-upload");
  auto head = s3.Request("HEAD", absl::StrCat("/", kBucket, "/interrupted"));
  EXPECT_TRUE(head.ok() && head->status == 404) << "a half-sent PUT left " << Describe(head);

  // The upload survived the crash with exactly its acknowledged parts, and continues.
  auto listed = s3.ListParts(kBucket, "big-mp", upload_id);
  ASSERT_TRUE(listed.ok() && listed->status == 200) << Describe(listed);
  std::vector<S3Part> have = PartsOf(*listed);
  ASSERT_EQ(have.size(), 3u) << listed->body;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(have[i].number, parts[i].number);
    EXPECT_EQ(have[i].etag, parts[i].etag);
  }
  for (int n = 4; n <= 5; ++n) {
    const std::string data = TestBytes(n == 4 ? kPart + 4 : 777, 600 + n);
    auto r = s3.UploadPart(kBucket, "big-mp", upload_id, n, data);
    ASSERT_TRUE(r.ok() && r->status == 200) << Describe(r);
    parts.push_back({n, r->header("etag")});
    mp_bytes += data;
  }
  auto done = s3.CompleteMultipartUpload(kBucket, "big-mp", upload_id, parts);
  ASSERT_TRUE(done.ok() && done->status == 200) << Describe(done);
  acked["big-mp"] = mp_bytes;
  ExpectAllReadable(s3, acked, "after the upload completed");

  // tessera-s3 killed while it answers CompleteMultipartUpload, after 0 to 200 ms: the object is
  // absent or whole, and a retried Complete (same part list) returns it.
  int absent = 0, whole = 0;
  const int delays_ms[] = {0, 2, 10, 40, 200};
  for (int round = 0; round < static_cast<int>(std::size(delays_ms)); ++round) {
    const std::string key = absl::StrCat("complete-", round);
    auto c = s3.CreateMultipartUpload(kBucket, key);
    ASSERT_TRUE(c.ok() && c->status == 200) << Describe(c);
    const std::string id = c->XmlValue("UploadId");
    std::vector<S3Part> round_parts;
    std::string bytes;
    for (int n = 1; n <= 4; ++n) {
      const std::string data = TestBytes(n < 4 ? kPart : 1000 + round, 800 + 10 * round + n);
      auto r = s3.UploadPart(kBucket, key, id, n, data);
      ASSERT_TRUE(r.ok() && r->status == 200) << Describe(r);
      round_parts.push_back({n, r->header("etag")});
      bytes += data;
    }
    const std::string body = S3TestClient::CompleteBody(round_parts);
    {
      auto pending = s3.StartRequest("POST", absl::StrCat("/", kBucket, "/", key),
                                     absl::StrCat("uploadId=", S3TestClient::QueryValue(id)),
                                     body.size(), body);
      ASSERT_TRUE(pending.ok()) << pending.status();
      absl::SleepFor(absl::Milliseconds(delays_ms[round]));
      cluster.KillS3(0, SIGKILL);
    }
    cluster.RestartS3(0);
    s3.set_port(cluster.s3_port());
    auto got = s3.Get(kBucket, key);
    ASSERT_TRUE(got.ok()) << got.status();
    if (got->status == 404) {
      ++absent;
    } else {
      ASSERT_EQ(got->status, 200) << Describe(got);
      EXPECT_TRUE(got->body == bytes) << key << ": a partial or wrong object after the crash";
      ++whole;
    }
    auto retried = s3.CompleteMultipartUpload(kBucket, key, id, round_parts);
    ASSERT_TRUE(retried.ok() && retried->status == 200) << key << ": " << Describe(retried);
    EXPECT_TRUE(absl::EndsWith(retried->XmlValue("ETag"), "-4&quot;") ||
                absl::EndsWith(retried->XmlValue("ETag"), "-4\""))
        << retried->body;
    acked[key] = bytes;
  }
  std::cout << "killed during Complete: " << absent << " absent, " << whole
            << " whole after the restart\n";
  ExpectAllReadable(s3, acked, "at the end");
  ExpectAllReadableSdk(cluster.client(), acked, "at the end");

  // Nothing else became visible: the listing is exactly the acknowledged keys.
  std::set<std::string> listed_keys;
  ASSERT_TRUE(cluster.client()
                  .ListAllObjects(kBucket, {},
                                  [&](const sdk::ObjectInfo& o) {
                                    listed_keys.insert(o.key);
                                    return absl::OkStatus();
                                  })
                  .ok());
  std::set<std::string> expected;
  for (const auto& [key, data] : acked) expected.insert(key);
  EXPECT_EQ(listed_keys, expected);
}

}  // namespace
}  // namespace tessera::testing
