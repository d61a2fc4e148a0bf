// Self-healing with real processes: 7 tessera-node (3 sites, k=2 m=2, so k+2m+1 nodes) with the
// repair scheduler on (1 s passes, 3 s dead-node grace), tessera-gateway and tessera-s3 in front.
//   - A node holding slices of 200 objects (and of a multipart upload still in progress) is
//     killed -9: every stripe returns to k+m healthy slices on live nodes, checked from the
//     manifests and from the nodes' stores (every slice read back, its hash the manifest's); once
//     the metadata layout has moved off the dead node, m further nodes are killed and every
//     object, the completed upload included, still reads byte-exact.
//   - A node is drained with `tessera node drain --wait` while objects are being written: it ends
//     holding no slice, no manifest names it, every object (those written during the drain too)
//     reads back; `tessera node remove` takes it out, it is stopped, and everything still reads.
//   - 5% of one node's slice files are corrupted on disk: its scrubber finds them, repair
//     rewrites them in place, and reads meanwhile never return a wrong byte.
// Repair runs on the storage nodes and holds no key: the test's own inspector is a keyless backend
// too (it reads manifests and slices, never plaintext).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "p2p/auth/cluster_auth.h"
#include "services/object/data_path.h"
#include "services/object/multipart.h"
#include "services/object/object_backend.h"
#include "storage/pipeline/stripe_codec.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

using services::KeyVersions;
using services::ObjectBackend;

constexpr uint64_t kStripe = 64 << 10;
constexpr char kBucket[] = "heal";
constexpr int kK = 2;
constexpr int kM = 2;

ProcessClusterOptions Options(std::vector<std::string> extra_node_flags = {}) {
  ProcessClusterOptions o;
  o.nodes = 7;
  o.sites = 3;
  o.k = kK;
  o.m = kM;
  o.stripe_size = kStripe;
  o.gateways = 1;
  o.s3_gateways = 1;
  std::vector<std::string> flags = {"--repair_interval=1s", "--repair_dead_grace=3s",
                                    "--repair_lease=10s"};
  flags.insert(flags.end(), extra_node_flags.begin(), extra_node_flags.end());
  o.node_args.assign(o.nodes, flags);
  return o;
}

S3TestClient S3Client(ProcessCluster& cluster) {
  return S3TestClient(cluster.s3_port(), ProcessCluster::access_key(),
                      ProcessCluster::secret_key());
}

// A keyless backend over the cluster: manifests and slices, no key.
std::unique_ptr<ObjectBackend> Inspector(ProcessCluster& cluster) {
  services::ObjectBackendOptions o;
  o.seeds = cluster.node_addresses();
  auto auth = p2p::ClusterAuth::FromSecretFile(cluster.secret_file(), "test");
  EXPECT_TRUE(auth.ok()) << auth.status();
  if (!auth.ok()) return nullptr;
  o.auth = *std::move(auth);
  o.keyless = true;
  o.layout_maintainer.run_thread = false;
  o.membership_refresh = absl::Milliseconds(200);
  auto backend = services::OpenObjectBackend(std::move(o));
  EXPECT_TRUE(backend.ok()) << backend.status();
  return backend.ok() ? *std::move(backend) : nullptr;
}

struct RedundancyReport {
  int stripes = 0;
  int full = 0;  // k+m refs, distinct nodes, none on a dead node
  std::string first_problem;
};

// Every stripe of every version of kBucket and of the multipart uploads.
RedundancyReport CheckRedundancy(ObjectBackend& inspector, const std::set<std::string>& dead) {
  RedundancyReport r;
  for (const std::string& bucket : {std::string(kBucket), std::string(services::kUploadsBucket)}) {
    absl::StatusOr<std::vector<KeyVersions>> scanned =
        inspector.store().ScanVersions(bucket, "", 100000);
    if (!scanned.ok()) {
      r.first_problem = scanned.status().ToString();
      r.stripes = -1;
      return r;
    }
    for (const KeyVersions& kv : *scanned) {
      for (const v1::ObjectManifest& m : kv.versions) {
        for (const v1::PartRecord& part : m.parts()) {
          for (const v1::StripeRecord& s : part.stripes()) {
            ++r.stripes;
            std::set<std::string> holders;
            bool ok = s.slices_size() == kK + kM;
            for (const v1::SliceRef& ref : s.slices()) {
              ok &= !ref.node_id().empty() && !dead.contains(ref.node_id());
              holders.insert(ref.node_id());
            }
            ok &= holders.size() == static_cast<size_t>(kK + kM);
            if (ok) {
              ++r.full;
            } else if (r.first_problem.empty()) {
              r.first_problem =
                  absl::StrCat(bucket, "/", kv.key, " part ", part.number(), " stripe ", s.index());
            }
          }
        }
      }
    }
  }
  return r;
}

// Reads every slice every manifest names from the node it names; counts those that are missing or
// whose bytes are not the manifest's hash.
int CountBadSlices(ObjectBackend& inspector, ProcessCluster& cluster) {
  std::map<std::string, std::string> address_of;
  for (size_t i = 0; i < cluster.node_ids().size(); ++i) {
    address_of[cluster.node_ids()[i]] = cluster.node_addresses()[i];
  }
  int bad = 0;
  for (const std::string& bucket : {std::string(kBucket), std::string(services::kUploadsBucket)}) {
    auto scanned = inspector.store().ScanVersions(bucket, "", 100000);
    if (!scanned.ok()) return -1;
    for (const KeyVersions& kv : *scanned) {
      for (const v1::ObjectManifest& m : kv.versions) {
        for (const v1::PartRecord& part : m.parts()) {
          for (const v1::StripeRecord& s : part.stripes()) {
            for (int i = 0; i < s.slices_size(); ++i) {
              auto got = inspector.grpc_slices().Get(
                  address_of[s.slices(i).node_id()],
                  services::MakeSliceId(services::DataVersionId(m), part.number(), s.index(), i), 0,
                  0);
              if (!got.ok()) {
                ++bad;
                continue;
              }
              const storage::SliceHash h = storage::HashSlice(*got);
              bad += std::string(h.begin(), h.end()) == s.slices(i).hash() ? 0 : 1;
            }
          }
        }
      }
    }
  }
  return bad;
}

// Waits (up to 180 s) until the metadata layout is out of transition and no longer names `node_id`
// (the front ends' layout maintainer moves the replicas off a dead or draining node).
bool LayoutLeaves(ObjectBackend& inspector, const std::string& node_id) {
  const absl::Time deadline = absl::Now() + absl::Seconds(180);
  while (absl::Now() < deadline) {
    auto record = inspector.meta().ReloadLayout();
    if (record.ok() && !record->in_transition()) {
      bool named = false;
      for (const auto& member : record->members()) named |= member.node_id() == node_id;
      if (!named) return true;
    }
    absl::SleepFor(absl::Seconds(1));
  }
  return false;
}

void ExpectAllReadable(const S3TestClient& s3, const std::map<std::string, std::string>& objects,
                       const std::string& when) {
  for (const auto& [key, data] : objects) {
    auto r = s3.Get(kBucket, key);
    ASSERT_TRUE(r.ok()) << when << ": " << key << ": " << r.status();
    ASSERT_EQ(r->status, 200) << when << ": " << key << ": " << r->body.substr(0, 300);
    EXPECT_TRUE(r->body == data) << when << ": " << key << ": bytes differ";
  }
}

std::map<std::string, std::string> PutObjects(ProcessCluster& cluster, int count) {
  std::map<std::string, std::string> objects;
  for (int i = 0; i < count; ++i) {
    const std::string key = absl::StrCat("obj-", i);
    // 70 KiB .. 198 KiB: 2 to 4 stripes each (over the 64 KiB inline threshold).
    std::string data = TestBytes((70 << 10) + (i % 3) * kStripe, 1000 + i);
    auto put = cluster.client().PutObject(kBucket, key, data);
    EXPECT_TRUE(put.ok()) << key << ": " << put.status();
    if (put.ok()) objects[key] = std::move(data);
  }
  return objects;
}

// The node's `tessera node status --json` line, as the CLI prints it.
std::string NodeStatus(ProcessCluster& cluster, int node) {
  CommandResult r = RunTesseraCli({"node", "status", cluster.node_addresses()[node],
                                   "--cluster_secret_file=" + cluster.secret_file(), "--json"});
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

TEST(RepairClusterTest, KilledNodeIsRebuiltThenMFurtherLossesAreSurvived) {
  ProcessCluster cluster(Options());
  ASSERT_TRUE(cluster.client().CreateBucket(kBucket).ok());
  std::map<std::string, std::string> objects = PutObjects(cluster, 200);
  ASSERT_EQ(objects.size(), 200u);
  // A multipart upload still in progress: its parts are repaired too.
  const S3TestClient s3 = S3Client(cluster);
  auto created = s3.CreateMultipartUpload(kBucket, "upload");
  ASSERT_TRUE(created.ok() && created->status == 200);
  const std::string upload_id = created->XmlValue("UploadId");
  const std::string part_data = TestBytes(1 << 20, 77);
  auto part = s3.UploadPart(kBucket, "upload", upload_id, 1, part_data);
  ASSERT_TRUE(part.ok() && part->status == 200);

  std::unique_ptr<ObjectBackend> inspector = Inspector(cluster);
  ASSERT_NE(inspector, nullptr);
  RedundancyReport before = CheckRedundancy(*inspector, {});
  ASSERT_EQ(before.full, before.stripes) << before.first_problem;

  const int victim = 3;
  const std::string victim_id = cluster.node_ids()[victim];
  const absl::Time killed = absl::Now();
  cluster.KillNode(victim);
  RedundancyReport after;
  const absl::Time deadline = absl::Now() + absl::Seconds(240);
  while (absl::Now() < deadline) {
    after = CheckRedundancy(*inspector, {victim_id});
    if (after.stripes == before.stripes && after.full == after.stripes) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  const absl::Duration healed = absl::Now() - killed;
  ASSERT_EQ(after.full, before.stripes)
      << "not back to k+m after " << healed << "; e.g. " << after.first_problem;
  std::printf("repair: %d stripes back at k+m %.1f s after kill -9 (3 s grace, 1 s passes)\n",
              after.stripes, absl::ToDoubleSeconds(healed));
  EXPECT_EQ(CountBadSlices(*inspector, cluster), 0);
  // The nodes report what they repaired (NodeInfo, `tessera node status --json`).
  uint64_t reported_repaired = 0;
  for (int i = 0; i < 7; ++i) {
    if (i == victim) continue;
    const std::string status = NodeStatus(cluster, i);
    const size_t at = status.find("\"repair_stripes_repaired\":");
    ASSERT_NE(at, std::string::npos) << status;
    reported_repaired += std::strtoull(status.c_str() + at + 26, nullptr, 10);
  }
  EXPECT_GT(reported_repaired, 0u) << "no node reports a repaired stripe";
  EXPECT_LE(reported_repaired, static_cast<uint64_t>(before.stripes));

  // Complete the upload whose parts were repaired.
  auto done = s3.CompleteMultipartUpload(kBucket, "upload", upload_id, {{1, part->header("etag")}});
  ASSERT_TRUE(done.ok() && done->status == 200) << (done.ok() ? done->body : "");
  objects["upload"] = part_data;

  // The metadata replicas leave the dead node (the front ends' layout maintainer, 30 s grace);
  // then m more nodes go.
  ASSERT_TRUE(LayoutLeaves(*inspector, victim_id))
      << "the metadata layout still names the dead node";
  cluster.KillNode(0);
  cluster.KillNode(5);
  ExpectAllReadable(s3, objects, "with 3 of 7 nodes killed");
}

// Issue 10: repair of a killed node while two other nodes are killed and restarted and a client
// overwrites and deletes objects under repair. At the end every stripe is at k+m on distinct live
// nodes (no slice counted twice), every slice the manifests name is there with its hash (none
// lost), no deleted object is back, and every object reads what its last acknowledged write
// wrote (an operation whose answer was lost may have happened or not, but never half).
TEST(RepairClusterTest, RestartsAndOverwritesDuringRepairLoseAndResurrectNothing) {
  ProcessCluster cluster(Options());
  ASSERT_TRUE(cluster.client().CreateBucket(kBucket).ok());
  const std::map<std::string, std::string> original = PutObjects(cluster, 120);
  ASSERT_EQ(original.size(), 120u);
  std::unique_ptr<ObjectBackend> inspector = Inspector(cluster);
  ASSERT_NE(inspector, nullptr);
  const RedundancyReport before = CheckRedundancy(*inspector, {});
  ASSERT_EQ(before.full, before.stripes) << before.first_problem;

  const int victim = 3;
  const std::string victim_id = cluster.node_ids()[victim];
  cluster.KillNode(victim);

  // What each key must read at the end: its bytes, or nullopt for deleted. A key whose last
  // operation got no answer may hold either candidate.
  struct Expected {
    std::vector<std::optional<std::string>> candidates;
  };
  std::map<std::string, Expected> expected;
  for (const auto& [key, data] : original) expected[key].candidates = {data};
  std::mutex mu;
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0}, unanswered{0};
  std::thread churn([&] {
    const S3TestClient s3 = S3Client(cluster);
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = absl::StrCat("obj-", (i * 37) % 120);
      std::optional<std::string> next;
      bool ok = false;
      if (i % 3 == 0) {
        auto r = s3.Request("DELETE", absl::StrCat("/", kBucket, "/", key));
        ok = r.ok() && r->status == 204;
      } else {
        next = TestBytes((70 << 10) + (i % 3) * kStripe, 5000 + i);
        auto r = s3.Put(kBucket, key, *next);
        ok = r.ok() && r->status == 200;
      }
      std::lock_guard<std::mutex> lock(mu);
      Expected& e = expected[key];
      if (ok) {
        e.candidates = {next};
        ++acknowledged;
      } else {
        e.candidates.push_back(next);
        ++unanswered;
      }
    }
  });
  // Repair starts after the 3 s grace; two nodes are killed and restarted while it runs.
  absl::SleepFor(absl::Seconds(5));
  ASSERT_TRUE(cluster.RestartNode(1));
  absl::SleepFor(absl::Seconds(3));
  ASSERT_TRUE(cluster.RestartNode(5));
  absl::SleepFor(absl::Seconds(5));
  stop = true;
  churn.join();
  ASSERT_GT(acknowledged.load(), 20) << "the client made too little progress to test anything";

  RedundancyReport after;
  const absl::Time deadline = absl::Now() + absl::Seconds(240);
  while (absl::Now() < deadline) {
    after = CheckRedundancy(*inspector, {victim_id});
    if (after.stripes > 0 && after.full == after.stripes) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_EQ(after.full, after.stripes) << "not back to k+m; e.g. " << after.first_problem;
  EXPECT_EQ(CountBadSlices(*inspector, cluster), 0) << "a slice a manifest names is lost";

  const S3TestClient s3 = S3Client(cluster);
  int deleted = 0, overwritten = 0;
  for (const auto& [key, e] : expected) {
    auto r = s3.Get(kBucket, key);
    ASSERT_TRUE(r.ok()) << key << ": " << r.status();
    ASSERT_TRUE(r->status == 200 || r->status == 404) << key << ": " << r->body.substr(0, 300);
    const std::optional<std::string> got =
        r->status == 200 ? std::optional<std::string>(r->body) : std::nullopt;
    const bool allowed =
        std::find(e.candidates.begin(), e.candidates.end(), got) != e.candidates.end();
    EXPECT_TRUE(allowed) << key << ": reads "
                         << (got.has_value() ? absl::StrCat(got->size(), " bytes") : "404")
                         << ", which no acknowledged or unanswered write left there";
    if (e.candidates.size() == 1 && !e.candidates[0].has_value()) ++deleted;
    if (e.candidates.size() == 1 && e.candidates[0].has_value() &&
        *e.candidates[0] != original.at(key)) {
      ++overwritten;
    }
  }
  EXPECT_GT(deleted, 0);
  EXPECT_GT(overwritten, 0);
  std::printf(
      "repair under churn: %d stripes at k+m; %d acknowledged and %d unanswered client writes; "
      "%d objects deleted and %d overwritten stay so\n",
      after.stripes, acknowledged.load(), unanswered.load(), deleted, overwritten);
}

// Issue 10: a killed node that comes back after its slices were rebuilt elsewhere has its stale
// copies reclaimed (tessera-s3's orphan reclaimer, step 5, 10 s grace here) and never counted:
// its slice count falls to what the manifests place on it, and every object stays readable.
TEST(RepairClusterTest, ReturningNodesStaleCopiesAreReclaimed) {
  ProcessClusterOptions o = Options();
  o.s3_flags = {"--orphan_interval=2s", "--orphan_grace=10s"};
  ProcessCluster cluster(o);
  ASSERT_TRUE(cluster.client().CreateBucket(kBucket).ok());
  const std::map<std::string, std::string> objects = PutObjects(cluster, 60);
  ASSERT_EQ(objects.size(), 60u);
  std::unique_ptr<ObjectBackend> inspector = Inspector(cluster);
  ASSERT_NE(inspector, nullptr);
  const int victim = 2;
  const std::string victim_id = cluster.node_ids()[victim];
  auto slices_on_victim = [&] {
    const std::string status = NodeStatus(cluster, victim);
    const size_t at = status.find("\"slices\":");
    return at == std::string::npos ? -1 : std::atoi(status.c_str() + at + 9);
  };
  const int held = slices_on_victim();
  ASSERT_GT(held, 20);

  cluster.KillNode(victim);
  RedundancyReport healed;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(240); absl::Now() < deadline;) {
    healed = CheckRedundancy(*inspector, {victim_id});
    if (healed.stripes > 0 && healed.full == healed.stripes) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_EQ(healed.full, healed.stripes) << healed.first_problem;

  // Back with its old copies, none of which a manifest names any more.
  ASSERT_TRUE(cluster.RestartNode(victim));
  int named = -1, left = -1;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(180); absl::Now() < deadline;) {
    named = 0;
    auto scanned = inspector->store().ScanVersions(kBucket, "", 100000);
    ASSERT_TRUE(scanned.ok()) << scanned.status();
    for (const KeyVersions& kv : *scanned) {
      for (const v1::ObjectManifest& m : kv.versions) {
        for (const v1::PartRecord& part : m.parts()) {
          for (const v1::StripeRecord& st : part.stripes()) {
            for (const v1::SliceRef& ref : st.slices()) named += ref.node_id() == victim_id;
          }
        }
      }
    }
    left = slices_on_victim();
    if (left == named) break;
    absl::SleepFor(absl::Seconds(1));
  }
  EXPECT_EQ(left, named) << "the returning node still holds stale copies";
  EXPECT_EQ(CheckRedundancy(*inspector, {}).full, healed.stripes);
  EXPECT_EQ(CountBadSlices(*inspector, cluster), 0);
  ExpectAllReadable(S3Client(cluster), objects, "after the stale copies went");
  std::printf("stale copies: the returning node held %d slices, %d after reclaim (%d named)\n",
              held, left, named);
}

TEST(RepairClusterTest, DrainedNodeEndsEmptyUnderWritesAndLeaves) {
  ProcessCluster cluster(Options());
  ASSERT_TRUE(cluster.client().CreateBucket(kBucket).ok());
  std::map<std::string, std::string> objects = PutObjects(cluster, 120);
  ASSERT_EQ(objects.size(), 120u);
  const int drained = 2;
  const std::string drained_id = cluster.node_ids()[drained];
  const std::string secret = "--cluster_secret_file=" + cluster.secret_file();
  EXPECT_TRUE(absl::StrContains(NodeStatus(cluster, drained), "\"draining\":false"));

  // Without the cluster secret the node refuses to drain.
  CommandResult refused =
      RunTesseraCli({"node", "drain", cluster.node_addresses()[drained], "--insecure_no_auth"});
  EXPECT_EQ(refused.code, 1) << refused.out;
  EXPECT_TRUE(absl::StrContains(NodeStatus(cluster, drained), "\"draining\":false"));
  // A node that still holds slices cannot leave.
  CommandResult early =
      RunTesseraCli({"node", "remove", cluster.node_addresses()[drained], secret});
  EXPECT_EQ(early.code, 1) << early.out;

  // Writes and reads go on through S3 while the node drains; none may fail.
  std::atomic<bool> stop{false};
  std::atomic<int> client_errors{0};
  std::atomic<int> reads{0};
  std::mutex written_mu;
  std::map<std::string, std::string> written;
  std::string first_error;
  auto fail = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(written_mu);
    if (client_errors++ == 0) first_error = what;
  };
  std::thread writer([&] {
    const S3TestClient s3 = S3Client(cluster);
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = absl::StrCat("during-", i);
      std::string data = TestBytes((70 << 10) + (i % 2) * kStripe, 5000 + i);
      auto put = s3.Put(kBucket, key, data);
      if (!put.ok() || put->status != 200) {
        fail(absl::StrCat("PUT ", key, ": ",
                          put.ok() ? put->body.substr(0, 200) : put.status().ToString()));
        continue;
      }
      std::lock_guard<std::mutex> lock(written_mu);
      written[key] = std::move(data);
    }
  });
  std::thread reader([&] {
    const S3TestClient s3 = S3Client(cluster);
    for (int i = 0; !stop.load(); ++i) {
      const auto it = std::next(objects.begin(), i % objects.size());
      auto got = s3.Get(kBucket, it->first);
      if (!got.ok() || got->status != 200 || got->body != it->second) {
        fail(absl::StrCat("GET ", it->first, ": ",
                          got.ok() ? absl::StrCat(got->status) : got.status().ToString()));
      }
      ++reads;
    }
  });
  const absl::Time start = absl::Now();
  CommandResult drain = RunTesseraCli(
      {"node", "drain", cluster.node_addresses()[drained], secret, "--wait", "--timeout=240s"},
      absl::Seconds(300));
  const absl::Duration took = absl::Now() - start;
  stop = true;
  writer.join();
  reader.join();
  ASSERT_EQ(drain.code, 0) << drain.out << drain.err;
  EXPECT_EQ(client_errors.load(), 0) << "first: " << first_error;
  EXPECT_TRUE(absl::StrContains(drain.out, "drained: no slice left")) << drain.out;
  const std::string status = NodeStatus(cluster, drained);
  EXPECT_TRUE(absl::StrContains(status, "\"draining\":true")) << status;
  EXPECT_TRUE(absl::StrContains(status, "\"slices\":0,")) << status;
  std::printf("drain: a node of %zu objects emptied in %.1f s during %zu PUTs and %d GETs\n",
              objects.size(), absl::ToDoubleSeconds(took), written.size(), reads.load());
  ASSERT_GT(written.size(), 0u) << "no write succeeded during the drain";
  objects.insert(written.begin(), written.end());

  // No manifest names the drained node; every slice named is there with its bytes.
  std::unique_ptr<ObjectBackend> inspector = Inspector(cluster);
  ASSERT_NE(inspector, nullptr);
  const RedundancyReport report = CheckRedundancy(*inspector, {drained_id});
  EXPECT_EQ(report.full, report.stripes) << report.first_problem;
  EXPECT_EQ(CountBadSlices(*inspector, cluster), 0);

  // The metadata replicas leave the draining node too; then it is removed and stopped.
  ASSERT_TRUE(LayoutLeaves(*inspector, drained_id))
      << "the metadata layout still names the drained node";
  CommandResult removed =
      RunTesseraCli({"node", "remove", cluster.node_addresses()[drained], secret});
  ASSERT_EQ(removed.code, 0) << removed.err;
  cluster.KillNode(drained);
  const S3TestClient s3 = S3Client(cluster);
  ExpectAllReadable(s3, objects, "after the drained node was removed");
}

// The (version id, part, stripe, index) a slice file is named after.
v1::SliceId IdOfFile(const std::string& path) {
  const std::string hex = std::filesystem::path(path).stem().string();
  const std::string raw = absl::HexStringToBytes(hex);
  auto be32 = [&raw](size_t at) {
    return (static_cast<uint32_t>(static_cast<uint8_t>(raw[at])) << 24) |
           (static_cast<uint32_t>(static_cast<uint8_t>(raw[at + 1])) << 16) |
           (static_cast<uint32_t>(static_cast<uint8_t>(raw[at + 2])) << 8) |
           static_cast<uint32_t>(static_cast<uint8_t>(raw[at + 3]));
  };
  v1::SliceId id;
  if (raw.size() != 28) return id;
  id.set_version_id(raw.substr(0, 16));
  id.set_part(be32(16));
  id.set_stripe(be32(20));
  id.set_index(be32(24));
  return id;
}

TEST(RepairClusterTest, CorruptSlicesAreFoundByTheScrubberAndRewritten) {
  ProcessCluster cluster(Options({"--scrub_interval=2s"}));
  ASSERT_TRUE(cluster.client().CreateBucket(kBucket).ok());
  const std::map<std::string, std::string> objects = PutObjects(cluster, 100);
  std::unique_ptr<ObjectBackend> inspector = Inspector(cluster);
  ASSERT_NE(inspector, nullptr);

  const int node = 1;
  std::vector<std::string> files;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(cluster.root() + "/node1/slices")) {
    if (entry.is_regular_file() && entry.path().extension() == ".slice") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 60u);
  std::vector<v1::SliceId> corrupted;
  for (size_t i = 0; i < files.size(); i += 20) {  // 5%
    std::fstream f(files[i], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    f.seekg(size / 2);
    char c = 0;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(size / 2);
    f.write(&c, 1);
    corrupted.push_back(IdOfFile(files[i]));
    ASSERT_EQ(corrupted.back().version_id().size(), 16u) << files[i];
  }

  // Until every corrupted slice is served again, with its manifest's bytes: reads stay exact.
  const S3TestClient s3 = S3Client(cluster);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + absl::Seconds(180);
  size_t healed = 0;
  while (absl::Now() < deadline) {
    ExpectAllReadable(s3, objects, "while repairing");
    healed = 0;
    for (const v1::SliceId& id : corrupted) {
      auto got = inspector->grpc_slices().Get(cluster.node_addresses()[node], id, 0, 0);
      healed += got.ok() ? 1 : 0;
    }
    if (healed == corrupted.size()) break;
    absl::SleepFor(absl::Seconds(1));
  }
  ASSERT_EQ(healed, corrupted.size()) << "corrupt slices not rewritten after 180 s";
  std::printf("repair: %zu corrupted slices found by the scrubber and rewritten in %.1f s\n",
              corrupted.size(), absl::ToDoubleSeconds(absl::Now() - start));
  // Every slice of every manifest is where the manifest says, with its bytes.
  EXPECT_EQ(CountBadSlices(*inspector, cluster), 0);
  ExpectAllReadable(s3, objects, "after repair");
}

}  // namespace
}  // namespace tessera::testing
