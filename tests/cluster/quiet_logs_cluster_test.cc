// A healthy cluster logs no errors: operators alert on error lines, so one that appears while
// nothing is wrong trains them to ignore the real ones. 6 tessera-node, one tessera-gateway and one
// tessera-s3 serve S3 and gRPC traffic while every background pass runs often (node repair,
// slice GC, the orphan reclaimer); then no process's log has a line at level error.
//
// Before: each channel dialled by address alone (the orphan reclaimer's and the repairer's slice
// lister, the front ends' and repair workers' membership view asking a seed) sent the IP address
// as the TLS server name, which no node certificate holds, and every node logged gRPC's "No match
// found for server name" at level error for each such connection (the CI logs had hundreds).
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

TEST(QuietLogsClusterTest, AHealthyClusterLogsNoErrors) {
  ProcessClusterOptions o;
  o.gateways = 1;
  o.s3_gateways = 1;
  const std::vector<std::string> passes = {"--orphan_interval=1s", "--orphan_grace=4s",
                                           "--gc_interval=1s", "--gc_grace=0s"};
  o.s3_flags = passes;
  o.gateway_flags = passes;
  o.front_end_log_level = "info";
  o.node_args.assign(o.nodes, {"--repair_interval=1s", "--log_level=info"});
  ProcessCluster cluster(o);

  S3TestClient s3(cluster.s3_port(), ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto made = s3.Request("PUT", "/quiet");
  ASSERT_TRUE(made.ok() && made->status == 200) << (made.ok() ? made->body : "");
  for (int i = 0; i < 4; ++i) {
    const std::string key = absl::StrCat("obj", i);
    for (char fill : {'a', 'b'}) {  // an overwrite leaves garbage for the GC
      auto put = s3.Put("quiet", key, std::string(300 << 10, fill));
      ASSERT_TRUE(put.ok() && put->status == 200) << key;
    }
    auto got = s3.Get("quiet", key);
    ASSERT_TRUE(got.ok() && got->status == 200)
        << key << ": "
        << (got.ok() ? absl::StrCat(got->status, " ", got->body) : got.status().ToString());
  }
  auto gone = s3.Request("DELETE", "/quiet/obj0");
  ASSERT_TRUE(gone.ok() && gone->status == 204);
  ASSERT_TRUE(cluster.client().PutObject("quiet", "grpc", std::string(200 << 10, 'g')).ok());
  ASSERT_TRUE(cluster.client().GetObject("quiet", "grpc").ok());
  // Several passes of every background task.
  absl::SleepFor(absl::Seconds(8));

  std::vector<std::pair<std::string, std::string>> logs = {{"s3", cluster.s3_stderr(0)},
                                                           {"gateway", cluster.gateway_stderr(0)}};
  for (int i = 0; i < o.nodes; ++i) {
    logs.emplace_back(absl::StrCat("node", i), cluster.node_stderr(i));
  }
  size_t lines = 0;
  for (const auto& [name, text] : logs) {
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      ++lines;
      EXPECT_FALSE(absl::StrContains(line, "level=error")) << name << ": " << line;
    }
  }
  // The processes did log (startup, joins, passes): the check looked at real output.
  EXPECT_GT(lines, 30u);
  std::printf("quiet logs: %zu log lines of 8 processes, none at level error\n", lines);
}

}  // namespace
}  // namespace tessera::testing
