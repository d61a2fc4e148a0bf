// Metrics checked by the real Prometheus tools (Debian's `prometheus` package), on the production
// binaries: 6 tessera-node processes, one tessera-gateway and one tessera-s3.
//
// 1. After real traffic (S3 and gRPC puts and gets), every daemon's /metrics passes
//    `promtool check metrics` (exposition syntax and naming conventions: _total counters, base
//    units, HELP on every family), and the counters moved by the amounts the traffic implies.
//    The alert rules and the Grafana dashboard in deploy/ name only metrics the daemons export.
// 2. A Prometheus server scrapes the cluster (every admin port, 1 s interval); its HTTP API shows
//    every target up and answers PromQL over our metrics with the values the daemons serve.
// The tools must be installed (setup.sh): a missing tool fails the test, it never skips.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/cluster/process_cluster.h"
#include "tests/cluster/s3_test_client.h"

namespace tessera::testing {
namespace {

struct Answer {
  int status = 0;
  std::string body;
};

Answer HttpGet(int port, const std::string& path, const std::string& query = "") {
  S3TestClient client(port, ProcessCluster::access_key(), ProcessCluster::secret_key());
  auto r = client.Request("GET", path, query);
  if (!r.ok()) return Answer{0, r.status().ToString()};
  return Answer{r->status, r->body};
}

// Runs `command` through the shell; its exit status (-1 if it could not run) and output.
int RunCommand(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t n;
  output->clear();
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) output->append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Sum of every sample of family `name` whose label set contains each of `labels` (e.g.
// `method="PutObject"`); 0 if none.
double SumOf(const std::string& exposition, const std::string& name,
             const std::vector<std::string>& labels = {}) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (!absl::StartsWith(line, name)) continue;
    const absl::string_view rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;  // a longer name
    bool match = true;
    for (const std::string& l : labels) match &= absl::StrContains(rest, l);
    if (!match) continue;
    double v = 0;
    if (absl::SimpleAtod(rest.substr(rest.rfind(' ') + 1), &v)) sum += v;
  }
  return sum;
}

// A TCP port that was free a moment ago on 127.0.0.1 (for a child that cannot report its own).
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

class PrometheusClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessClusterOptions o;
    o.gateways = 1;
    o.s3_gateways = 1;
    o.s3_flags = {"--site=site0"};  // nodes are in site0..site2 (node i in site i % 3)
    cluster_ = std::make_unique<ProcessCluster>(o);
    for (int i = 0; i < o.nodes; ++i) {
      targets_.push_back({absl::StrCat("node", i), cluster_->node_admin_port(i)});
    }
    targets_.push_back({"gateway", cluster_->gateway_admin_port()});
    targets_.push_back({"s3", cluster_->s3_admin_port()});
  }

  // Puts and gets `objects` objects through S3 and through gRPC.
  void Traffic(int objects) {
    S3TestClient s3(cluster_->s3_port(), ProcessCluster::access_key(),
                    ProcessCluster::secret_key());
    auto made = s3.Request("PUT", "/metrics-bucket");
    ASSERT_TRUE(made.ok() && made->status == 200) << (made.ok() ? made->body : "");
    for (int i = 0; i < objects; ++i) {
      const std::string data = TestBytes(100 << 10, i);
      auto put = s3.Put("metrics-bucket", absl::StrCat("s3-", i), data);
      ASSERT_TRUE(put.ok() && put->status == 200) << i;
      auto got = s3.Get("metrics-bucket", absl::StrCat("s3-", i));
      ASSERT_TRUE(got.ok() && got->status == 200 && got->body == data) << i;
      ASSERT_TRUE(
          cluster_->client().PutObject("metrics-bucket", absl::StrCat("grpc-", i), data).ok())
          << i;
      auto read = cluster_->client().GetObject("metrics-bucket", absl::StrCat("grpc-", i));
      ASSERT_TRUE(read.ok() && *read == data) << i;
    }
  }

  struct Target {
    std::string name;
    int port;
  };
  std::unique_ptr<ProcessCluster> cluster_;
  std::vector<Target> targets_;
};

TEST_F(PrometheusClusterTest, EveryDaemonPassesPromtoolAndCountsTraffic) {
  std::map<std::string, std::string> before;
  for (const Target& t : targets_) before[t.name] = HttpGet(t.port, "/metrics").body;
  constexpr int kObjects = 5;
  Traffic(kObjects);

  std::string out;
  ASSERT_EQ(RunCommand("promtool --version", &out), 0) << "promtool is not installed: " << out;
  std::map<std::string, std::string> after;
  for (const Target& t : targets_) {
    const Answer a = HttpGet(t.port, "/metrics");
    ASSERT_EQ(a.status, 200) << t.name;
    after[t.name] = a.body;
    const std::string file = absl::StrCat(cluster_->root(), "/", t.name, ".metrics");
    std::ofstream(file) << a.body;
    EXPECT_EQ(RunCommand("promtool check metrics < " + file, &out), 0) << t.name << ":\n" << out;
  }
  // Every metric the shipped alert rules and Grafana dashboard name is one these daemons export.
  std::string files;
  for (const Target& t : targets_)
    files += absl::StrCat(" ", cluster_->root(), "/", t.name, ".metrics");
  EXPECT_EQ(RunCommand(absl::StrCat("python3 ", Runfile("deploy/prometheus/check_monitoring.py"),
                                    " ", Runfile("deploy"), " --exposition", files),
                       &out),
            0)
      << out;

  // gRPC gateway: one PutObject and one GetObject per object, all OK.
  const std::string& gw = after["gateway"];
  EXPECT_EQ(SumOf(gw, "tessera_gateway_requests_total", {"method=\"PutObject\"", "code=\"OK\""}) -
                SumOf(before["gateway"], "tessera_gateway_requests_total",
                      {"method=\"PutObject\"", "code=\"OK\""}),
            kObjects)
      << gw;
  EXPECT_EQ(SumOf(gw, "tessera_gateway_requests_total", {"method=\"GetObject\"", "code=\"OK\""}),
            kObjects);
  EXPECT_GE(SumOf(gw, "tessera_gateway_received_bytes_total"), kObjects * (100 << 10));
  EXPECT_GE(SumOf(gw, "tessera_gateway_sent_bytes_total"), kObjects * (100 << 10));

  // S3 front end: the bucket, one PUT and one GET per object (200), bodies counted both ways.
  const std::string& s3_text = after["s3"];
  EXPECT_EQ(
      SumOf(s3_text, "tessera_s3_requests_total", {"operation=\"CreateBucket\"", "code=\"200\""}),
      1)
      << s3_text;
  EXPECT_EQ(
      SumOf(s3_text, "tessera_s3_requests_total", {"operation=\"PutObject\"", "code=\"200\""}),
      kObjects);
  EXPECT_EQ(
      SumOf(s3_text, "tessera_s3_requests_total", {"operation=\"GetObject\"", "code=\"200\""}),
      kObjects);
  EXPECT_EQ(SumOf(s3_text, "tessera_s3_received_bytes_total", {"operation=\"PutObject\""}),
            kObjects * (100 << 10));
  EXPECT_EQ(SumOf(s3_text, "tessera_s3_sent_bytes_total", {"operation=\"GetObject\""}),
            kObjects * (100 << 10));
  EXPECT_EQ(
      SumOf(s3_text, "tessera_s3_request_duration_seconds_count", {"operation=\"PutObject\""}),
      kObjects);

  // Slice traffic by reach: tessera-s3 runs in site0 and every stripe has exactly 2 of its 6
  // equal slices in each of the 3 sites (site cap m = 2), so a third of the bytes it sent stayed
  // in its site and two thirds crossed to another one; none is of unknown reach.
  const double same_site = SumOf(s3_text, "tessera_slice_traffic_bytes_total",
                                 {"direction=\"sent\"", "reach=\"same_zone\""});
  const double cross_site = SumOf(s3_text, "tessera_slice_traffic_bytes_total",
                                  {"direction=\"sent\"", "reach=\"cross_site\""});
  EXPECT_GE(same_site + cross_site, kObjects * 150.0 * 1024) << s3_text;
  EXPECT_EQ(cross_site, 2 * same_site);
  EXPECT_EQ(SumOf(s3_text, "tessera_slice_traffic_bytes_total", {"reach=\"unknown\""}), 0);
  EXPECT_GT(SumOf(s3_text, "tessera_slice_traffic_bytes_total",
                  {"direction=\"received\"", "reach=\"cross_site\""}),
            0);
  // The gRPC gateway was given no site: its traffic is of unknown reach.
  EXPECT_GT(SumOf(gw, "tessera_slice_traffic_bytes_total", {"reach=\"unknown\""}), 0);

  // Nodes: the slices of 2 * kObjects objects of 100 KiB (k=4, m=2: 150 KiB stored per object
  // and more, with padding) were written to, and read from, the six of them.
  double stored = 0, slice_puts = 0;
  for (int i = 0; i < 6; ++i) {
    const std::string& node = after[absl::StrCat("node", i)];
    stored += SumOf(node, "tessera_node_rpc_received_bytes_total");
    slice_puts += SumOf(node, "tessera_slice_store_puts_total");
  }
  EXPECT_GE(stored, 2 * kObjects * 150.0 * 1024);
  EXPECT_GE(slice_puts, 2 * kObjects * 6);

  // Health gauges: each node sees six alive members; both front ends see six writable nodes and
  // every metadata partition healthy under a decided layout.
  // Gossip membership converges eventually, not by a deadline (CI failed once with a node still
  // knowing 4 of the 6 right after the traffic): re-scrape a node that does not see all six yet.
  for (int i = 0; i < 6; ++i) {
    std::string node = after[absl::StrCat("node", i)];
    auto alive = [&node] {
      return SumOf(node, "tessera_membership_members", {"liveness=\"alive\"", "state=\"alive\""});
    };
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (alive() != 6 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(500));
      node = HttpGet(cluster_->node_admin_port(i), "/metrics").body;
    }
    EXPECT_EQ(alive(), 6) << node;
  }
  for (const char* front : {"gateway", "s3"}) {
    const std::string& m = after[front];
    EXPECT_EQ(SumOf(m, "tessera_cluster_storage_nodes", {"state=\"writable\""}), 6) << m;
    EXPECT_EQ(SumOf(m, "tessera_cluster_write_width"), 6);
    EXPECT_GE(SumOf(m, "tessera_meta_layout_epoch"), 1);
    EXPECT_GT(SumOf(m, "tessera_meta_partitions", {"quorum=\"healthy\""}), 0);
    EXPECT_EQ(SumOf(m, "tessera_meta_partitions", {"quorum=\"at_risk\""}), 0);
    EXPECT_EQ(SumOf(m, "tessera_meta_partitions", {"quorum=\"unavailable\""}), 0);
  }

  // Scrub: the first pass runs at start; its counters show up on every node.
  const absl::Time scrub_deadline = absl::Now() + absl::Seconds(60);
  double scrub_passes = 0;
  while (absl::Now() < scrub_deadline) {
    scrub_passes = 0;
    for (int i = 0; i < 6; ++i) {
      scrub_passes += SumOf(HttpGet(cluster_->node_admin_port(i), "/metrics").body,
                            "tessera_scrub_passes_total") > 0;
    }
    if (scrub_passes == 6) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(scrub_passes, 6);

  // A killed node: the front end counts it down, the survivors' detectors stop counting it alive.
  cluster_->KillNode(5);
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  std::string s3, node0;
  while (absl::Now() < deadline) {
    s3 = HttpGet(cluster_->s3_admin_port(), "/metrics").body;
    node0 = HttpGet(cluster_->node_admin_port(0), "/metrics").body;
    if (SumOf(s3, "tessera_cluster_storage_nodes", {"state=\"down\""}) == 1 &&
        SumOf(node0, "tessera_membership_members", {"liveness=\"alive\""}) == 5) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(SumOf(s3, "tessera_cluster_storage_nodes", {"state=\"down\""}), 1) << s3;
  EXPECT_EQ(SumOf(s3, "tessera_cluster_storage_nodes", {"state=\"writable\""}), 5);
  EXPECT_EQ(SumOf(node0, "tessera_membership_members", {"liveness=\"alive\""}), 5) << node0;

  // A second one: metadata replica sets (5 of the 6 nodes, write quorum 3) holding both dead
  // nodes are down to exactly their write quorum: at risk, still writable.
  cluster_->KillNode(4);
  const absl::Time deadline2 = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline2) {
    s3 = HttpGet(cluster_->s3_admin_port(), "/metrics").body;
    if (SumOf(s3, "tessera_cluster_storage_nodes", {"state=\"down\""}) == 2) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_EQ(SumOf(s3, "tessera_cluster_storage_nodes", {"state=\"down\""}), 2) << s3;
  EXPECT_GT(SumOf(s3, "tessera_meta_partitions", {"quorum=\"at_risk\""}), 0) << s3;
  EXPECT_EQ(SumOf(s3, "tessera_meta_partitions", {"quorum=\"unavailable\""}), 0) << s3;
}

TEST_F(PrometheusClusterTest, PrometheusServerScrapesTheCluster) {
  Traffic(2);
  std::string out;
  ASSERT_EQ(RunCommand("prometheus --version", &out), 0) << "prometheus is not installed: " << out;
  const std::string dir = absl::StrCat(cluster_->root(), "/prometheus");
  std::filesystem::create_directories(dir);
  {
    std::ofstream config(dir + "/prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
           << "scrape_configs:\n  - job_name: tessera\n    static_configs:\n";
    for (const Target& t : targets_) {
      config << "      - targets: ['127.0.0.1:" << t.port << "']\n        labels: {daemon: '"
             << t.name << "'}\n";
    }
  }
  ASSERT_EQ(RunCommand("promtool check config " + dir + "/prometheus.yml", &out), 0) << out;

  // The listen port is chosen here: Prometheus cannot report a port it picked itself. A port
  // taken meanwhile makes it exit; try a few.
  std::unique_ptr<Process> server;
  int port = 0;
  for (int attempt = 0; attempt < 5 && server == nullptr; ++attempt) {
    port = FreePort();
    auto p = std::make_unique<Process>(
        absl::StrCat("prometheus", attempt),
        std::vector<std::string>{"/usr/bin/prometheus", "--config.file=" + dir + "/prometheus.yml",
                                 "--storage.tsdb.path=" + dir + "/data",
                                 absl::StrCat("--web.listen-address=127.0.0.1:", port)});
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline && p->running() && HttpGet(port, "/-/ready").status != 200) {
      absl::SleepFor(absl::Milliseconds(200));
    }
    if (p->running() && HttpGet(port, "/-/ready").status == 200) server = std::move(p);
  }
  ASSERT_NE(server, nullptr) << "prometheus did not start";

  // Every target up, as Prometheus sees it.
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  Answer up;
  while (absl::Now() < deadline) {
    up = HttpGet(port, "/api/v1/query", "query=count%28up%3D%3D1%29");
    if (absl::StrContains(up.body, absl::StrCat("\"", targets_.size(), "\"]"))) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_TRUE(absl::StrContains(up.body, absl::StrCat("\"", targets_.size(), "\"]"))) << up.body;

  // PromQL over our metrics: the gRPC PutObject count the gateway serves, and the six nodes'
  // stored slices.
  const Answer puts =
      HttpGet(port, "/api/v1/query",
              "query=sum%28tessera_gateway_requests_total%7Bmethod%3D%22PutObject%22%7D%29");
  EXPECT_TRUE(absl::StrContains(puts.body, "\"2\"]")) << puts.body;
  const Answer nodes = HttpGet(port, "/api/v1/query", "query=count%28tessera_node_store_slices%29");
  EXPECT_TRUE(absl::StrContains(nodes.body, "\"6\"]")) << nodes.body;
  server->Kill(SIGTERM);
}

}  // namespace
}  // namespace tessera::testing
