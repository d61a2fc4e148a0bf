// SIGTERM during uploads (issue 15, Operations): 6 tessera-node and one tessera-s3; four clients
// PUT multi-stripe objects as fast as they can while tessera-s3 gets SIGTERM. It must exit 0
// within its shutdown grace, the uploads in progress at the signal must be answered (drained,
// not cut), every acknowledged object must read back byte-exact from a new tessera-s3, and every
// PUT that was cut off must leave either nothing or the whole object (never a partial one)
// visible.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

constexpr char kBucket[] = "shutdown";
constexpr int kClients = 4;

struct Upload {
  std::string data;
  bool acknowledged = false;
  absl::Time finished;  // when the answer (or the error) came
};

TEST(ShutdownClusterTest, SigtermDuringUploadsLosesNothingAcknowledged) {
  ProcessClusterOptions o;
  o.gateways = 0;
  o.s3_gateways = 1;
  o.stripe_size = 256 << 10;
  ProcessCluster cluster(o);
  S3TestClient admin(cluster.s3_port(), ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto made = admin.Request("PUT", absl::StrCat("/", kBucket));
  ASSERT_TRUE(made.ok() && made->status == 200) << (made.ok() ? made->body : "");

  std::mutex mu;
  std::map<std::string, Upload> uploads;  // every PUT attempted
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      const S3TestClient s3(cluster.s3_port(), ProcessCluster::access_key(),
                            ProcessCluster::secret_key(), absl::Seconds(60));
      for (int i = 0; !stop.load(); ++i) {
        const std::string key = absl::StrCat("c", c, "-", i);
        // 0.6 .. 1.6 MiB: 3 to 7 stripes, so a PUT spans many slice writes.
        std::string data = TestBytes((600 << 10) + (i % 5) * (256 << 10), 100 * c + i);
        auto put = s3.Put(kBucket, key, data);
        std::lock_guard<std::mutex> lock(mu);
        Upload& u = uploads[key];
        u.data = std::move(data);
        u.acknowledged = put.ok() && put->status == 200;
        u.finished = absl::Now();
        if (u.acknowledged) ++acknowledged;
        if (!put.ok()) return;  // the server is gone: this client stops
      }
    });
  }
  const absl::Time warmup = absl::Now() + absl::Seconds(60);
  while (acknowledged.load() < 3 * kClients && absl::Now() < warmup) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_GE(acknowledged.load(), 3 * kClients) << "uploads did not get going";

  const absl::Time signalled = absl::Now();
  const int status = cluster.KillS3(0, SIGTERM);
  const absl::Duration exit_time = absl::Now() - signalled;
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  // --shutdown_grace is 10 s by default; leave room for a loaded machine.
  EXPECT_LT(exit_time, absl::Seconds(45));

  cluster.RestartS3(0);
  const S3TestClient s3(cluster.s3_port(), ProcessCluster::access_key(),
                        ProcessCluster::secret_key());
  int acked = 0, acked_after_signal = 0, cut_absent = 0, cut_whole = 0;
  for (const auto& [key, u] : uploads) {
    auto got = s3.Get(kBucket, key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    if (u.acknowledged) {
      ++acked;
      if (u.finished > signalled) ++acked_after_signal;
      ASSERT_EQ(got->status, 200) << "acknowledged " << key << " lost: " << got->body;
      EXPECT_TRUE(got->body == u.data) << "acknowledged " << key << " reads different bytes";
      continue;
    }
    // Cut off by the shutdown: absent, or (the commit happened, the answer was lost) whole.
    if (got->status == 404) {
      ++cut_absent;
    } else {
      ASSERT_EQ(got->status, 200) << key << ": " << got->body;
      EXPECT_TRUE(got->body == u.data) << "a cut-off PUT left a partial object at " << key;
      ++cut_whole;
    }
  }
  // The uploads in progress at the signal were drained, not cut: at least one was answered.
  EXPECT_GT(acked_after_signal, 0) << "no upload in progress finished after SIGTERM";
  std::printf(
      "SIGTERM during uploads: exit after %.2f s; %d acknowledged (%d answered after the "
      "signal), %d cut off (%d absent, %d whole)\n",
      absl::ToDoubleSeconds(exit_time), acked, acked_after_signal, cut_absent + cut_whole,
      cut_absent, cut_whole);
}

}  // namespace
}  // namespace tessera::testing
