// Readiness on the production path: tessera-s3 over 6 real tessera-node processes (k=4, m=2).
// /readyz answers 200 while k + m storage nodes are alive and writable, 503 ("not ready: ...")
// once a node is killed (writes could no longer be placed at full redundancy), and 200 again
// after the node is restarted; /healthz stays 200 throughout (the daemon itself is fine), so an
// orchestrator stops routing to it without restarting it.
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

struct Probe {
  int status = 0;
  std::string body;
};

Probe Get(int port, const std::string& path) {
  S3TestClient client(port, ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto r = client.Request("GET", path);
  if (!r.ok()) return Probe{0, r.status().ToString()};
  return Probe{r->status, r->body};
}

// Polls `path` until it answers `status`; generous deadline (membership notices a death only
// after its suspicion timeout, and the machine is shared).
bool WaitFor(int port, const std::string& path, int status, Probe* last) {
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline) {
    *last = Get(port, path);
    if (last->status == status) return true;
    absl::SleepFor(absl::Milliseconds(250));
  }
  return false;
}

TEST(ReadinessClusterTest, ReadyzFollowsWritableNodesAndHealthzStaysUp) {
  ProcessClusterOptions o;
  o.gateways = 0;
  o.s3_gateways = 1;
  ProcessCluster cluster(o);
  const int admin = cluster.s3_admin_port();
  ASSERT_GT(admin, 0);

  Probe p;
  ASSERT_TRUE(WaitFor(admin, "/readyz", 200, &p)) << p.status << " " << p.body;
  EXPECT_TRUE(absl::StrContains(p.body, "ready")) << p.body;

  cluster.KillNode(5);
  ASSERT_TRUE(WaitFor(admin, "/readyz", 503, &p)) << p.status << " " << p.body;
  EXPECT_TRUE(absl::StrContains(p.body, "not ready: 5 storage nodes alive and writable, 6 needed"))
      << p.body;
  Probe health = Get(admin, "/healthz");
  EXPECT_EQ(health.status, 200) << health.body;

  ASSERT_TRUE(cluster.RestartNode(5));
  ASSERT_TRUE(WaitFor(admin, "/readyz", 200, &p)) << p.status << " " << p.body;
}

}  // namespace
}  // namespace tessera::testing
