// Faults against real processes (6 tessera-node in 3 sites, authenticated, metadata replicated
// on the nodes + tessera-gateway joined by --seeds), by kill -9. With k=4, m=2 the gateway
// replicates metadata on N = 2m+1 = 5 nodes with W = R = 3, so ANY m dead nodes leave a quorum of
// every partition; the dead nodes below are deliberately taken from two different sites:
//   - m = 2 nodes dead: every object reads back byte-exact;
//   - m + 1 dead: reads fail with a clear error, never wrong bytes;
//   - nodes killed during a write load: every acknowledged object reads back, and an upload
//     that failed is never visible;
//   - a whole site (2 nodes) dead: every object stays readable; new writes, which need k+1
//     live nodes, fail cleanly.
// Each test starts its own cluster.
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"

namespace tessera::testing {
namespace {

constexpr uint64_t kStripe = 256 << 10;

ProcessClusterOptions Options() {
  ProcessClusterOptions o;
  o.stripe_size = kStripe;
  return o;
}

// Writes objects of assorted sizes (inline, one stripe, several stripes); returns key -> data.
std::map<std::string, std::string> WriteObjects(sdk::Client& c, int count) {
  std::map<std::string, std::string> out;
  const uint64_t sizes[] = {10, 70 << 10, kStripe, 3 * kStripe + 999, 9 * kStripe + 1};
  for (int i = 0; i < count; ++i) {
    const std::string key = absl::StrCat("obj", i);
    std::string data = TestBytes(sizes[i % 5] + i, 1000 + i);
    auto put = c.PutObject("bkt", key, data);
    EXPECT_TRUE(put.ok()) << put.status();
    if (put.ok()) out[key] = std::move(data);
  }
  return out;
}

void ExpectAllReadable(sdk::Client& c, const std::map<std::string, std::string>& objects) {
  for (const auto& [key, data] : objects) {
    auto got = c.GetObject("bkt", key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_TRUE(*got == data) << key << ": bytes differ";
  }
}

TEST(FaultClusterTest, MDeadReadsExactMPlusOneDeadFailsClearly) {
  ProcessCluster cluster(Options());
  sdk::Client& c = cluster.client();
  ASSERT_TRUE(c.CreateBucket("bkt").ok());
  auto objects = WriteObjects(c, 10);
  ASSERT_EQ(objects.size(), 10u);

  cluster.KillNode(1);
  cluster.KillNode(2);  // m = 2, in sites 1 and 2
  ExpectAllReadable(c, objects);
  ASSERT_TRUE(cluster.WaitAlive(4));
  ExpectAllReadable(c, objects);

  cluster.KillNode(4);  // m + 1
  int failed = 0;
  for (const auto& [key, data] : objects) {
    std::string got;
    auto info = c.GetObjectToSink("bkt", key, [&](absl::string_view d) {
      got.append(d.data(), d.size());
      return absl::OkStatus();
    });
    // Whatever arrived is a prefix of the object: never a wrong byte.
    ASSERT_LE(got.size(), data.size());
    EXPECT_TRUE(got == data.substr(0, got.size())) << key << ": wrong bytes delivered";
    if (info.ok()) {
      // Inline objects and stripes whose slices avoided the dead nodes still read.
      EXPECT_TRUE(got == data) << key;
    } else {
      ++failed;
      EXPECT_TRUE(info.status().code() == absl::StatusCode::kUnavailable ||
                  info.status().code() == absl::StatusCode::kDataLoss)
          << info.status();
      EXPECT_NE(info.status().message().find(key), std::string::npos)
          << "the error names the object: " << info.status();
    }
  }
  EXPECT_GT(failed, 0) << "with 3 of 6 nodes dead some multi-stripe object must be unreadable";
}

TEST(FaultClusterTest, WholeSiteDeadKeepsEveryObjectReadable) {
  ProcessCluster cluster(Options());
  sdk::Client& c = cluster.client();
  ASSERT_TRUE(c.CreateBucket("bkt").ok());
  auto objects = WriteObjects(c, 10);
  ASSERT_EQ(objects.size(), 10u);
  // Site 1 = nodes 1 and 4.
  cluster.KillNode(1);
  cluster.KillNode(4);
  ExpectAllReadable(c, objects);
  ASSERT_TRUE(cluster.WaitAlive(4));
  // With 4 of 6 nodes left a stripe cannot get the k+1 = 5 durable slices a write needs:
  // uploads fail with a clear UNAVAILABLE and leave nothing visible.
  auto put = c.PutObject("bkt", "during-outage", TestBytes(2 * kStripe, 5));
  EXPECT_EQ(put.status().code(), absl::StatusCode::kUnavailable) << put.status();
  EXPECT_NE(put.status().message().find("bkt/during-outage"), std::string::npos) << put.status();
  EXPECT_EQ(c.HeadObject("bkt", "during-outage").status().code(), absl::StatusCode::kNotFound);
  ExpectAllReadable(c, objects);
}

TEST(FaultClusterTest, KillsDuringWriteLoadLoseNoAcknowledgedObject) {
  ProcessCluster cluster(Options());
  sdk::Client& c = cluster.client();
  ASSERT_TRUE(c.CreateBucket("bkt").ok());

  std::mutex mu;
  std::map<std::string, std::string> acked;
  std::vector<std::string> failed;
  std::atomic<int> written{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load() && i < 200; ++i) {
        const std::string key = absl::StrCat("w", w, "/", i);
        std::string data = TestBytes((i % 4 + 1) * kStripe + w * 13 + i, w * 1000 + i);
        auto put = c.PutObject("bkt", key, data);
        std::lock_guard<std::mutex> l(mu);
        if (put.ok()) {
          acked[key] = std::move(data);
        } else {
          failed.push_back(key);
        }
        ++written;
      }
    });
  }
  // Kill two nodes (in two sites) while writes are in flight. Each wait has a deadline (generous:
  // a busy 2-core machine), so a stalled writer fails the test instead of hanging it.
  const auto wait_written = [&](int n) {
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    while (written.load() < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
    return written.load() >= n;
  };
  const bool reached_8 = wait_written(8);
  if (reached_8) cluster.KillNode(1);
  const bool reached_16 = reached_8 && wait_written(16);
  if (reached_16) cluster.KillNode(2);
  const bool reached_40 = reached_16 && wait_written(40);
  stop = true;
  for (std::thread& t : writers) t.join();
  ASSERT_TRUE(reached_40) << "writers stalled at " << written.load() << " writes";

  // Writes succeed until the second kill (a stripe needs k+1 = 5 live nodes), then fail.
  ASSERT_GE(acked.size(), 8u);
  EXPECT_FALSE(failed.empty());
  ExpectAllReadable(c, acked);
  for (const std::string& key : failed) {
    // A failed upload is never visible (no partial object).
    EXPECT_EQ(c.HeadObject("bkt", key).status().code(), absl::StatusCode::kNotFound) << key;
  }
  // Listing shows exactly the acknowledged keys.
  std::vector<std::string> listed;
  ASSERT_TRUE(c.ListAllObjects("bkt", {}, [&](const sdk::ObjectInfo& o) {
                 listed.push_back(o.key);
                 auto it = acked.find(o.key);
                 EXPECT_TRUE(it != acked.end()) << o.key;
                 if (it != acked.end()) {
                   EXPECT_EQ(o.size, it->second.size());
                 }
                 return absl::OkStatus();
               }).ok());
  EXPECT_EQ(listed.size(), acked.size());
}

}  // namespace
}  // namespace tessera::testing
